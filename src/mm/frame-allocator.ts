import { hex, type PhysAddr } from '../hal/addr.js';
import { KernelPanic } from '../hal/panic.js';
import type { PhysicalMemory } from '../hal/ram.js';

/** What an allocated frame holds; recorded per frame so the invariant checker can account for it. */
export const FrameUse = {
  Free: 0,
  PageTable: 1,
  UserData: 2,
  Kernel: 3,
} as const;
export type FrameUse = (typeof FrameUse)[keyof typeof FrameUse];

/** Frames kept on the single-page fast path before they go back to the buddy lists. */
const PCP_HIGH = 64;
/** Frames moved between the fast path and the buddy lists at once. */
const PCP_BATCH = 16;

/**
 * The physical frame allocator: a binary buddy allocator over all of RAM (Knuth's, as Linux's
 * mm/page_alloc.c), plus a per-CPU-style stack of single frames in front of it so the common
 * one-page allocation and free are O(1).
 *
 * Per-frame state lives in typed arrays indexed by frame number (Linux's `mem_map`):
 * - `freeOrder[f]` is the order of the free buddy block headed by f, or -1;
 * - `allocOrder[f]` is 1 + the order of the allocated block headed by f, or 0. Freeing a frame whose
 *   allocOrder is 0 (already free, on the fast path, never handed out, or the tail of a block) is a
 *   `KernelPanic`;
 * - `use[f]` and `count[f]`: what the frame holds, and its reference count (PTEs mapping a user frame,
 *   valid entries of a page-table frame), maintained by the page-table layer.
 *
 * Fault injection is part of the allocator: `failAfter(n)` lets n more allocations succeed and makes
 * the next one fail, once, whatever its size or use.
 */
export class FrameAllocator {
  readonly pageSize: number;
  readonly totalPages: number;
  readonly maxOrder: number;
  private readonly base: number;
  private readonly freeOrder: Int8Array;
  private readonly allocOrder: Uint8Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly heads: Int32Array;
  /** @internal per-frame use, read by the page tables and the checker. */
  readonly use: Uint8Array;
  /** @internal per-frame reference or entry count, maintained by the page tables. */
  readonly count: Uint32Array;
  private readonly pcp: Int32Array;
  private pcpCount = 0;
  private free = 0;
  private failCountdown = -1;

  /** Successful allocations since boot. */
  allocations = 0;
  /** Frees since boot. */
  frees = 0;
  /** Allocations refused, by injection or because RAM ran out. */
  failures = 0;
  /**
   * Frames the reclaim hook freed since boot. Reclaim runs inside an allocation that finds RAM
   * exhausted, and that allocation may then succeed: a call can lose MADV_FREE pages (its own task's
   * or another's) with no allocation refused, and keeps that loss whatever it answers.
   */
  reclaimed = 0;
  /**
   * Called when RAM has really run out (never for an injected failure): frees what memory can be
   * reclaimed (pages given up with MADV_FREE) and returns how many frames it freed.
   */
  reclaim: (() => number) | null = null;

  constructor(ram: PhysicalMemory, pageSize: number) {
    this.pageSize = pageSize;
    this.base = ram.base;
    const n = ram.size / pageSize;
    if (!Number.isInteger(n) || n < 1) throw new RangeError('RAM must hold at least one whole frame');
    this.totalPages = n;
    this.maxOrder = Math.floor(Math.log2(n));
    this.freeOrder = new Int8Array(n).fill(-1);
    this.allocOrder = new Uint8Array(n);
    this.next = new Int32Array(n).fill(-1);
    this.prev = new Int32Array(n).fill(-1);
    this.heads = new Int32Array(this.maxOrder + 1).fill(-1);
    this.use = new Uint8Array(n);
    this.count = new Uint32Array(n);
    this.pcp = new Int32Array(PCP_HIGH);
    // Carve RAM into the largest naturally aligned blocks, lowest addresses first.
    let f = 0;
    while (f < n) {
      let order = this.maxOrder;
      while (order > 0 && (f % 2 ** order !== 0 || f + 2 ** order > n)) order--;
      this.pushFree(f, order);
      this.free += 2 ** order;
      f += 2 ** order;
    }
  }

  /** Frames free right now (on the buddy lists and on the fast path). */
  get freePages(): number {
    return this.free;
  }

  /** Frames handed out right now. */
  get usedPages(): number {
    return this.totalPages - this.free;
  }

  /**
   * Arms fault injection: `n` more allocations succeed and the one after fails, once. Page-table
   * pages count like any other frame. `failAfter(-1)` disarms.
   */
  failAfter(n: number): void {
    if (!Number.isInteger(n) || n < -1) throw new RangeError('failAfter takes an integer >= -1');
    this.failCountdown = n;
  }

  /** Whether an injected failure is still pending. */
  get failureArmed(): boolean {
    return this.failCountdown >= 0;
  }

  frameIndex(pa: PhysAddr): number {
    const f = (pa - this.base) / this.pageSize;
    if (!Number.isInteger(f) || f < 0 || f >= this.totalPages) {
      throw new KernelPanic(`${hex(pa)} is not a frame of RAM`);
    }
    return f;
  }

  frameAddress(f: number): PhysAddr {
    return (this.base + f * this.pageSize) as PhysAddr;
  }

  private injectFailure(): boolean {
    if (this.failCountdown < 0) return false;
    if (this.failCountdown === 0) {
      this.failCountdown = -1;
      this.failures++;
      return true;
    }
    this.failCountdown--;
    return false;
  }

  /** One frame, or null when RAM is exhausted or a failure was injected. The frame is not zeroed. */
  allocPage(use: FrameUse): PhysAddr | null {
    if (this.injectFailure()) return null;
    // Reclaim runs only for user pages: those are never requested in the middle of a page-table
    // walk, which reclaim (freeing emptied tables) could otherwise pull the ground from under.
    if (this.pcpCount === 0 && !this.refillPcp() && !(use === FrameUse.UserData && this.reclaimedSome())) {
      this.failures++;
      return null;
    }
    const f = this.pcp[--this.pcpCount];
    this.allocOrder[f] = 1;
    this.use[f] = use;
    this.count[f] = 0;
    this.free--;
    this.allocations++;
    return (this.base + f * this.pageSize) as PhysAddr;
  }

  /** Returns one frame obtained from `allocPage`. */
  freePage(pa: PhysAddr): void {
    const f = this.frameIndex(pa);
    if (this.allocOrder[f] !== 1) this.badFree(f, pa);
    this.allocOrder[f] = 0;
    this.use[f] = FrameUse.Free;
    this.count[f] = 0;
    this.free++;
    this.frees++;
    if (this.pcpCount === PCP_HIGH) this.drainPcp(PCP_BATCH);
    this.pcp[this.pcpCount++] = f;
  }

  /** 2^order physically contiguous frames, naturally aligned, or null. */
  allocBlock(order: number, use: FrameUse): PhysAddr | null {
    if (order === 0) return this.allocPage(use);
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) return null;
    if (this.injectFailure()) return null;
    let f = this.takeBlock(order);
    if (f < 0 && this.pcpCount > 0) {
      this.drainPcp(this.pcpCount);
      f = this.takeBlock(order);
    }
    if (f < 0) {
      this.failures++;
      return null;
    }
    this.allocOrder[f] = order + 1;
    for (let i = 0; i < 2 ** order; i++) {
      this.use[f + i] = use;
      this.count[f + i] = 0;
    }
    this.free -= 2 ** order;
    this.allocations++;
    return (this.base + f * this.pageSize) as PhysAddr;
  }

  /** Returns a block obtained from `allocBlock` (or `allocPage`). */
  freeBlock(pa: PhysAddr): void {
    const f = this.frameIndex(pa);
    const stored = this.allocOrder[f];
    if (stored === 0) this.badFree(f, pa);
    if (stored === 1) {
      this.freePage(pa);
      return;
    }
    const order = stored - 1;
    this.allocOrder[f] = 0;
    for (let i = 0; i < 2 ** order; i++) {
      this.use[f + i] = FrameUse.Free;
      this.count[f + i] = 0;
    }
    this.free += 2 ** order;
    this.frees++;
    this.releaseBlock(f, order);
  }

  /** Whether `pa` heads a block that is currently handed out. */
  isAllocated(pa: PhysAddr): boolean {
    return this.allocOrder[this.frameIndex(pa)] !== 0;
  }

  /** Every free frame index exactly once (buddy blocks expanded, then the fast path), for the checker. */
  *freeFrameIndexes(): IterableIterator<number> {
    for (let order = 0; order <= this.maxOrder; order++) {
      for (let f = this.heads[order]; f >= 0; f = this.next[f]) {
        for (let i = 0; i < 2 ** order; i++) yield f + i;
      }
    }
    for (let i = 0; i < this.pcpCount; i++) yield this.pcp[i];
  }

  /** Whether frame number `f` heads a block that is handed out, for the checker. */
  allocatedAt(f: number): boolean {
    return this.allocOrder[f] !== 0;
  }

  /**
   * Calls `fn(head, order, false)` for every free buddy block, then `fn(frame, 0, true)` for every
   * frame on the single-page fast path, for the checker and the view: what the free structures hold, in time proportional to their
   * number of blocks rather than to RAM. A list longer than RAM (a cycle) is cut there.
   */
  forEachFreeBlock(fn: (head: number, order: number, cached: boolean) => void): void {
    for (let order = 0; order <= this.maxOrder; order++) {
      let n = 0;
      for (let f = this.heads[order]; f >= 0 && n <= this.totalPages; f = this.next[f], n++)
        fn(f, order, false);
    }
    for (let i = 0; i < this.pcpCount; i++) fn(this.pcp[i], 0, true);
  }

  /** Heads of allocated blocks with their order, for the checker. */
  *allocatedBlocks(): IterableIterator<{ frame: number; order: number }> {
    for (let f = 0; f < this.totalPages; f++) {
      if (this.allocOrder[f] !== 0) yield { frame: f, order: this.allocOrder[f] - 1 };
    }
  }

  /** Free blocks per order, as /proc/buddyinfo shows them (fast-path frames counted at order 0). */
  buddyInfo(): number[] {
    const out: number[] = [];
    for (let order = 0; order <= this.maxOrder; order++) {
      let n = 0;
      for (let f = this.heads[order]; f >= 0; f = this.next[f]) n++;
      out.push(n);
    }
    out[0] += this.pcpCount;
    return out;
  }

  private badFree(f: number, pa: PhysAddr): never {
    const onPcp = this.pcp.subarray(0, this.pcpCount).includes(f);
    const why =
      onPcp || this.freeOrder[f] >= 0 || this.insideFreeBlock(f)
        ? 'double free'
        : 'free of a frame never handed out';
    throw new KernelPanic(`${why} of frame ${hex(pa)}`);
  }

  private insideFreeBlock(f: number): boolean {
    for (let order = 0; order <= this.maxOrder; order++) {
      const head = f - (f % 2 ** order);
      if (this.freeOrder[head] === order) return true;
    }
    return false;
  }

  /** Runs the reclaim hook after RAM ran out; true when a frame is on the fast path again. */
  private reclaimedSome(): boolean {
    if (this.reclaim === null) return false;
    const freed = this.reclaim();
    if (freed === 0) return false;
    this.reclaimed += freed;
    return this.pcpCount > 0 || this.refillPcp();
  }

  private refillPcp(): boolean {
    let got = 0;
    while (got < PCP_BATCH) {
      const f = this.takeBlock(0);
      if (f < 0) break;
      this.pcp[this.pcpCount++] = f;
      got++;
    }
    // Hand frames out lowest address first, as a fresh buddy split would.
    if (got > 1)
      this.pcp
        .subarray(this.pcpCount - got, this.pcpCount)
        .sort()
        .reverse();
    return got > 0;
  }

  private drainPcp(n: number): void {
    for (let i = 0; i < n && this.pcpCount > 0; i++) {
      this.releaseBlock(this.pcp[--this.pcpCount], 0);
    }
  }

  /** Removes and returns the head of a free block of exactly `order`, splitting a larger one if needed. */
  private takeBlock(order: number): number {
    let o = order;
    while (o <= this.maxOrder && this.heads[o] < 0) o++;
    if (o > this.maxOrder) return -1;
    const f = this.heads[o];
    this.unlinkFree(f, o);
    while (o > order) {
      o--;
      this.pushFree(f + 2 ** o, o);
    }
    return f;
  }

  /** Puts a block back, merging with its buddy for as long as the buddy is a free block of the same order. */
  private releaseBlock(f: number, order: number): void {
    let head = f;
    let o = order;
    while (o < this.maxOrder) {
      const buddy = head ^ (2 ** o);
      if (buddy >= this.totalPages || this.freeOrder[buddy] !== o) break;
      this.unlinkFree(buddy, o);
      head = Math.min(head, buddy);
      o++;
    }
    this.pushFree(head, o);
  }

  private pushFree(f: number, order: number): void {
    this.freeOrder[f] = order;
    const h = this.heads[order];
    this.next[f] = h;
    this.prev[f] = -1;
    if (h >= 0) this.prev[h] = f;
    this.heads[order] = f;
  }

  private unlinkFree(f: number, order: number): void {
    const n = this.next[f];
    const p = this.prev[f];
    if (p >= 0) this.next[p] = n;
    else this.heads[order] = n;
    if (n >= 0) this.prev[n] = p;
    this.freeOrder[f] = -1;
    this.next[f] = -1;
    this.prev[f] = -1;
  }
}
