import { hex, type KernelAddr, type PhysAddr, type VirtAddr } from '../hal/addr.js';
import type { DescriptorFormat } from '../hal/descriptor.js';
import type { PageGeometry } from '../hal/geometry.js';
import type { LinearMap } from '../hal/linear-map.js';
import { KernelPanic } from '../hal/panic.js';
import type { PhysicalMemory } from '../hal/ram.js';
import type { Rights } from '../hal/rights.js';
import type { Tlb } from '../hal/tlb.js';
import type { AnonVmaIds } from './anon-vma.js';
import { type FrameAllocator, FrameUse } from './frame-allocator.js';

/** The hardware and allocator a page table works with; one per kernel. */
export interface MmuContext {
  readonly ram: PhysicalMemory;
  readonly frames: FrameAllocator;
  readonly format: DescriptorFormat;
  readonly geometry: PageGeometry;
  readonly tlb: Tlb;
  readonly linearMap: LinearMap;
  /** The kernel's anon_vma numbering (one counter per kernel). */
  readonly anonVmaIds: AnonVmaIds;
}

/**
 * The page tables of one address space, stored in simulated RAM in the architecture's real format.
 * The root's physical address is the task's `ttbr0` (CR3 on x86-64).
 *
 * Intermediate tables are allocated from the frame allocator on demand and freed as soon as their
 * last valid entry goes (the root stays until `destroy`). The number of valid entries of each table
 * is kept in the allocator's per-frame `count`, so emptiness is known without scanning.
 *
 * Every change to a present leaf is followed by a TLB invalidation of that page.
 */
export class PageTable {
  readonly root: PhysAddr;
  private readonly ctx: MmuContext;
  private readonly last: number;
  /** Table of each level on the most recent walk, used to reclaim emptied tables bottom-up. */
  private readonly pathTable: Float64Array;
  /** The leaf table that covers `cachedRegion` (VA divided by a leaf table's span), or -1. */
  private cachedRegion = -1;
  private cachedLeafTable = 0;
  private readonly leafDiv: number;
  /** Present leaves (pages mapped, the zero page included), kept as every change is made. */
  presentLeaves = 0;
  /** Table frames, the root included (`mm_pgtables_bytes` / page size). */
  tablePages = 1;

  private constructor(ctx: MmuContext, root: PhysAddr) {
    this.ctx = ctx;
    this.root = root;
    this.last = ctx.geometry.levels - 1;
    this.pathTable = new Float64Array(ctx.geometry.levels);
    this.leafDiv = this.last > 0 ? ctx.geometry.levelSpan[this.last - 1] : Number.POSITIVE_INFINITY;
  }

  /** A new, empty address space: one zeroed root table, or null when no frame is left. */
  static create(ctx: MmuContext): PageTable | null {
    const root = ctx.frames.allocPage(FrameUse.PageTable);
    if (root === null) return null;
    ctx.ram.zero(root, ctx.geometry.pageSize);
    return new PageTable(ctx, root);
  }

  private entryAddr(table: number, va: number, level: number): PhysAddr {
    const g = this.ctx.geometry;
    return (table + ((va / g.levelDiv[level]) & g.levelMask[level]) * 8) as PhysAddr;
  }

  /**
   * The physical address of the last-level entry for `va`, or -1 when a table on the way is missing.
   * With `create`, missing tables are allocated; -1 then means the allocator refused, and every table
   * this call created has been freed again.
   */
  private leafEntry(va: number, create: boolean): number {
    const region = Math.floor(va / this.leafDiv);
    if (region === this.cachedRegion) return this.entryAddr(this.cachedLeafTable, va, this.last);
    const { ram, format, frames } = this.ctx;
    let table: number = this.root;
    let created = false;
    for (let level = 0; level < this.last; level++) {
      this.pathTable[level] = table;
      const e = this.entryAddr(table, va, level);
      const lo = ram.readLo(e);
      if (format.isValid(lo)) {
        if (!format.isTable(lo)) throw new KernelPanic(`block descriptor at level ${level} for ${hex(va)}`);
        table = format.address(lo, ram.readHi(e));
        continue;
      }
      if (!create) return -1;
      const child = frames.allocPage(FrameUse.PageTable);
      if (child === null) {
        if (created) this.reclaimEmpty(va, level);
        return -1;
      }
      created = true;
      this.tablePages++;
      ram.zero(child, this.ctx.geometry.pageSize);
      ram.write64(e, format.tableLo(child), format.tableHi(child));
      frames.count[frames.frameIndex(table as PhysAddr)]++;
      table = child;
    }
    this.pathTable[this.last] = table;
    this.cachedRegion = region;
    this.cachedLeafTable = table;
    return this.entryAddr(table, va, this.last);
  }

  /**
   * Frees the tables on the path of `va`, from `fromLevel` towards the root, for as long as they have
   * no valid entry left, clearing their parents' entries. The root is never freed. Relies on
   * `pathTable` from the last walk. Stops at the first non-empty table: every table that existed
   * before the operation holds at least one entry, so only tables it emptied or created go.
   */
  private reclaimEmpty(va: number, fromLevel: number): void {
    const { ram, frames } = this.ctx;
    for (let level = fromLevel; level > 0; level--) {
      const table = this.pathTable[level] as PhysAddr;
      if (frames.count[frames.frameIndex(table)] !== 0) return;
      const parent = this.pathTable[level - 1] as PhysAddr;
      ram.write64(this.entryAddr(parent, va, level - 1), 0, 0);
      frames.count[frames.frameIndex(parent)]--;
      frames.freePage(table);
      this.tablePages--;
      this.cachedRegion = -1;
    }
  }

  /** Whether a last-level table covers `va` (Linux's `!pmd_none` for 4 KiB pages). */
  hasLeafTable(va: VirtAddr): boolean {
    return this.leafEntry(va, false) >= 0;
  }

  /**
   * Maps the page at `va` to `frame` with the rights of `prot`. The page must not be mapped.
   * Returns false, having changed nothing, when a needed table could not be allocated.
   */
  map(va: VirtAddr, frame: PhysAddr, prot: number): boolean {
    const e = this.leafEntry(va, true);
    if (e < 0) return false;
    const { ram, format, frames } = this.ctx;
    if (format.isValid(ram.readLo(e as PhysAddr))) {
      throw new KernelPanic(`map: ${hex(va)} is already mapped`);
    }
    ram.write64(e as PhysAddr, format.leafLo(frame, prot), format.leafHi(frame, prot));
    frames.count[frames.frameIndex(this.cachedLeafTable as PhysAddr)]++;
    frames.count[frames.frameIndex(frame)]++;
    this.presentLeaves++;
    return true;
  }

  /**
   * Replaces a present leaf in place (no table can be needed) and returns its old halves in `old`.
   * Used by MAP_FIXED so that a failed replacement can put the old entry back without allocating.
   */
  replace(va: VirtAddr, frame: PhysAddr, prot: number, old: Uint32Array): void {
    const e = this.leafEntry(va, false);
    const { ram, format } = this.ctx;
    if (e < 0 || !format.isValid(ram.readLo(e as PhysAddr))) {
      throw new KernelPanic(`replace: ${hex(va)} is not mapped`);
    }
    old[0] = ram.readLo(e as PhysAddr);
    old[1] = ram.readHi(e as PhysAddr);
    ram.write64(e as PhysAddr, format.leafLo(frame, prot), format.leafHi(frame, prot));
    const { frames } = this.ctx;
    frames.count[frames.frameIndex(frame)]++;
    frames.count[frames.frameIndex(format.address(old[0], old[1]))]--;
    this.ctx.tlb.invalidatePage(this.root, va);
  }

  /** Writes back a leaf saved by `replace`, returning the frame that the entry mapped until now. */
  restore(va: VirtAddr, lo: number, hi: number): PhysAddr {
    const e = this.leafEntry(va, false);
    const { ram, format, frames } = this.ctx;
    if (e < 0 || !format.isValid(ram.readLo(e as PhysAddr))) {
      throw new KernelPanic(`restore: ${hex(va)} is not mapped`);
    }
    const current = format.address(ram.readLo(e as PhysAddr), ram.readHi(e as PhysAddr));
    ram.write64(e as PhysAddr, lo, hi);
    frames.count[frames.frameIndex(current)]--;
    frames.count[frames.frameIndex(format.address(lo, hi))]++;
    this.ctx.tlb.invalidatePage(this.root, va);
    return current;
  }

  /** Whether a valid leaf maps `va`. */
  isMapped(va: VirtAddr): boolean {
    const e = this.leafEntry(va, false);
    return e >= 0 && this.ctx.format.isValid(this.ctx.ram.readLo(e as PhysAddr));
  }

  /**
   * The frame mapped at `va` and its user rights (written to `rightsOut[0]`), or -1 if unmapped.
   * A software walk: it neither reads nor fills the TLB.
   */
  translate(va: VirtAddr, rightsOut?: Uint8Array): number {
    const e = this.leafEntry(va, false);
    if (e < 0) return -1;
    const { ram, format } = this.ctx;
    const lo = ram.readLo(e as PhysAddr);
    if (!format.isValid(lo)) return -1;
    const hi = ram.readHi(e as PhysAddr);
    if (rightsOut) rightsOut[0] = format.userRights(lo, hi);
    return format.address(lo, hi);
  }

  /**
   * `user_va_to_kernel_ptr`: the kernel's own address (in the linear map) of the byte at user
   * address `va`, or null when the page is not mapped. No rights are checked: it is the kernel's
   * view, as in the seed's `mm_user` helper.
   */
  userVaToKernelPtr(va: VirtAddr): KernelAddr | null {
    const frame = this.translate(va);
    if (frame < 0) return null;
    return this.ctx.linearMap.physToVirt((frame + (va % this.ctx.geometry.pageSize)) as PhysAddr);
  }

  /** The halves of the leaf for `va` (zero when unmapped). */
  leaf(va: VirtAddr): { lo: number; hi: number } {
    const e = this.leafEntry(va, false);
    if (e < 0) return { lo: 0, hi: 0 };
    return { lo: this.ctx.ram.readLo(e as PhysAddr), hi: this.ctx.ram.readHi(e as PhysAddr) };
  }

  /** Updates the leaf's accessed/dirty bits as the MMU would after a permitted access. */
  touch(va: VirtAddr, write: boolean): void {
    const e = this.leafEntry(va, false);
    if (e < 0) return;
    const { ram, format } = this.ctx;
    const lo = ram.readLo(e as PhysAddr);
    const next = format.touchedLo(lo, write);
    if (next !== lo) ram.write64(e as PhysAddr, next, ram.readHi(e as PhysAddr));
  }

  /**
   * Clears the leaf at `va`, invalidates the TLB and frees any table left empty. Returns the frame
   * that was mapped, its reference count already dropped (the caller frees it when that reaches
   * zero), or -1 if nothing was mapped.
   */
  unmap(va: VirtAddr): number {
    const e = this.leafEntry(va, false);
    if (e < 0) return -1;
    const { ram, format, frames, tlb } = this.ctx;
    const lo = ram.readLo(e as PhysAddr);
    if (!format.isValid(lo)) return -1;
    const frame = format.address(lo, ram.readHi(e as PhysAddr));
    ram.write64(e as PhysAddr, 0, 0);
    frames.count[frames.frameIndex(frame)]--;
    this.presentLeaves--;
    tlb.invalidatePage(this.root, va);
    const leafTable = this.cachedLeafTable as PhysAddr;
    const f = frames.frameIndex(leafTable);
    if (--frames.count[f] === 0) {
      // Re-walk to fill the path (the cache may have skipped it), then free bottom-up.
      this.cachedRegion = -1;
      this.leafEntry(va, false);
      this.reclaimEmpty(va, this.last);
    }
    return frame;
  }

  /**
   * Clears every present leaf in [start, end), calling `onFrame(va, frame)` for each with the frame's
   * reference count already dropped, and frees the
   * tables left empty. Skips absent subtrees, so a huge sparse range costs only what is mapped.
   */
  unmapRange(start: number, end: number, onFrame: (va: number, frame: PhysAddr) => void): void {
    // Nothing mapped and no table below the root (a replay without faults): nothing to walk.
    if (start >= end || (this.presentLeaves === 0 && this.tablePages === 1)) return;
    this.cachedRegion = -1;
    this.clearRange(this.root, 0, 0, start, end, onFrame);
  }

  /** Recursive worker of unmapRange; returns the number of valid entries left in `table`. */
  private clearRange(
    table: number,
    level: number,
    tableBase: number,
    start: number,
    end: number,
    onFrame: (va: number, frame: PhysAddr) => void,
  ): number {
    const { ram, format, frames, tlb, geometry } = this.ctx;
    const span = geometry.levelSpan[level];
    const first = Math.max(0, Math.floor((start - tableBase) / span));
    const lastIdx = Math.min(geometry.levelMask[level], Math.ceil((end - tableBase) / span) - 1);
    const tf = frames.frameIndex(table as PhysAddr);
    for (let i = first; i <= lastIdx; i++) {
      const e = (table + i * 8) as PhysAddr;
      const lo = ram.readLo(e);
      if (!format.isValid(lo)) continue;
      const entryBase = tableBase + i * span;
      const child = format.address(lo, ram.readHi(e));
      if (level === this.last) {
        ram.write64(e, 0, 0);
        frames.count[tf]--;
        frames.count[frames.frameIndex(child)]--;
        this.presentLeaves--;
        tlb.invalidatePage(this.root, entryBase as VirtAddr);
        onFrame(entryBase, child);
        continue;
      }
      const left = this.clearRange(child, level + 1, entryBase, start, end, onFrame);
      if (left === 0) {
        ram.write64(e, 0, 0);
        frames.count[tf]--;
        frames.freePage(child);
        this.tablePages--;
      }
    }
    return frames.count[tf];
  }

  /**
   * Rewrites the rights of every present leaf in [start, end) to those of the prot `protFor` gives
   * for its frame (mprotect), invalidating each changed page. Allocates nothing.
   */
  protectRange(start: number, end: number, protFor: (frame: PhysAddr, va: number) => number): void {
    const { ram, format, tlb } = this.ctx;
    this.visitLeaves(start, end, (e, va) => {
      const lo = ram.readLo(e);
      const hi = ram.readHi(e);
      const frame = format.address(lo, hi);
      const prot = protFor(frame, va);
      const nlo = format.leafLo(frame, prot);
      const nhi = format.leafHi(frame, prot);
      if (nlo === lo && nhi === hi) return;
      ram.write64(e, nlo, nhi);
      tlb.invalidatePage(this.root, va as VirtAddr);
    });
  }

  /**
   * Moves the present leaves of [from, from+len) to the same offsets at `to` (mremap's
   * `move_page_tables`): frames keep their references, no data is copied. Tables the destination
   * needs are allocated; when one cannot be, the move stops there. Emptied source tables are kept
   * (so a move back can never need memory) until `prune`. Returns the number of bytes of the range
   * fully handled: `len` on success.
   */
  moveRange(from: number, to: number, len: number): number {
    const { ram, format, frames, tlb } = this.ctx;
    const moves: number[] = [];
    this.visitLeaves(from, from + len, (_e, va) => moves.push(va));
    for (const va of moves) {
      const src = this.leafEntry(va, false) as PhysAddr;
      const srcTable = this.cachedLeafTable;
      const lo = ram.readLo(src);
      const hi = ram.readHi(src);
      const dst = this.leafEntry(to + (va - from), true);
      if (dst < 0) return va - from;
      const dstTable = this.cachedLeafTable;
      if (format.isValid(ram.readLo(dst as PhysAddr)))
        throw new KernelPanic(`moveRange: ${hex(to + va - from)} is mapped`);
      ram.write64(dst as PhysAddr, lo, hi);
      frames.count[frames.frameIndex(dstTable as PhysAddr)]++;
      ram.write64(src, 0, 0);
      frames.count[frames.frameIndex(srcTable as PhysAddr)]--;
      tlb.invalidatePage(this.root, va as VirtAddr);
    }
    return len;
  }

  /**
   * Takes the present leaves of [start, end) out of the tables without dropping their frames'
   * references. Each leaf table they came from is held (its entry count raised by one) so that
   * nothing frees it while the leaves are away; `reattachLeaves` puts them back exactly and
   * `releaseTables` drops the holds. This lets an unmap be undone until its commit.
   */
  detachLeaves(start: number, end: number): { leaves: number[]; tables: number[] } {
    const { ram, frames, tlb } = this.ctx;
    const pageSize = this.ctx.geometry.pageSize;
    const leaves: number[] = [];
    const tables: number[] = [];
    this.visitLeaves(start, end, (e, va) => {
      const table = e - (e % pageSize);
      const f = frames.frameIndex(table as PhysAddr);
      if (tables[tables.length - 1] !== table) {
        tables.push(table);
        frames.count[f]++;
      }
      leaves.push(va, ram.readLo(e), ram.readHi(e));
      ram.write64(e, 0, 0);
      frames.count[f]--;
      this.presentLeaves--;
      tlb.invalidatePage(this.root, va as VirtAddr);
    });
    this.cachedRegion = -1;
    return { leaves, tables };
  }

  /** Writes back leaves taken out by `detachLeaves` (their tables are held, so they still exist). */
  reattachLeaves(leaves: readonly number[]): void {
    const { ram, frames } = this.ctx;
    for (let i = 0; i < leaves.length; i += 3) {
      const e = this.leafEntry(leaves[i], false);
      if (e < 0) throw new KernelPanic(`reattachLeaves: no table for ${hex(leaves[i])}`);
      ram.write64(e as PhysAddr, leaves[i + 1], leaves[i + 2]);
      frames.count[frames.frameIndex(this.cachedLeafTable as PhysAddr)]++;
      this.presentLeaves++;
    }
  }

  /** Drops the holds `detachLeaves` put on tables; the caller prunes the ones left empty. */
  releaseTables(tables: readonly number[]): void {
    const { frames } = this.ctx;
    for (const t of tables) frames.count[frames.frameIndex(t as PhysAddr)]--;
  }

  /** Frees every intermediate table under [start, end) that holds no valid entry. */
  prune(start: number, end: number): void {
    // No table below the root: none to free.
    if (start >= end || this.tablePages === 1) return;
    this.cachedRegion = -1;
    const { ram, format, frames, geometry } = this.ctx;
    const walk = (table: number, level: number, base: number): number => {
      const span = geometry.levelSpan[level];
      const first = Math.max(0, Math.floor((start - base) / span));
      const lastIdx = Math.min(geometry.levelMask[level], Math.ceil((end - base) / span) - 1);
      const tf = frames.frameIndex(table as PhysAddr);
      if (level < this.last) {
        for (let i = first; i <= lastIdx; i++) {
          const e = (table + i * 8) as PhysAddr;
          const lo = ram.readLo(e);
          if (!format.isValid(lo)) continue;
          const child = format.address(lo, ram.readHi(e));
          if (walk(child, level + 1, base + i * span) === 0) {
            ram.write64(e, 0, 0);
            frames.count[tf]--;
            frames.freePage(child);
            this.tablePages--;
          }
        }
      }
      return frames.count[tf];
    };
    walk(this.root, 0, 0);
  }

  /** Calls `fn(entryAddress, va)` for each present leaf in [start, end), in address order. */
  visitLeaves(start: number, end: number, fn: (entry: PhysAddr, va: number) => void): void {
    // No present leaf anywhere (a replay without faults): no walk to set up, for every caller
    // (mprotect's protectRange, mremap's moveRange, munmap's detachLeaves, checkpoints).
    if (this.presentLeaves === 0) return;
    const { ram, format, geometry } = this.ctx;
    const walk = (table: number, level: number, base: number): void => {
      const span = geometry.levelSpan[level];
      const first = Math.max(0, Math.floor((start - base) / span));
      const lastIdx = Math.min(geometry.levelMask[level], Math.ceil((end - base) / span) - 1);
      // The table's words read in place (a table never crosses a slab); `fn` may rewrite the leaf
      // it is given, which the view then shows. A table RAM never wrote holds nothing valid.
      const view = ram.wordsAt(table as PhysAddr, (geometry.levelMask[level] + 1) * 8);
      if (view === null) return;
      const { words, index } = view;
      for (let i = first; i <= lastIdx; i++) {
        const lo = words[index + 2 * i];
        if (lo === 0 || !format.isValid(lo)) continue;
        if (level === this.last) fn((table + i * 8) as PhysAddr, base + i * span);
        else walk(format.address(lo, words[index + 2 * i + 1]), level + 1, base + i * span);
      }
    };
    walk(this.root, 0, 0);
  }

  /** Every table frame of this address space with its level and actual count of valid entries. */
  tables(): { table: PhysAddr; level: number; valid: number }[] {
    const out: { table: PhysAddr; level: number; valid: number }[] = [];
    const { ram, format, geometry } = this.ctx;
    const walk = (table: number, level: number): void => {
      let valid = 0;
      for (let i = 0; i <= geometry.levelMask[level]; i++) {
        const e = (table + i * 8) as PhysAddr;
        const lo = ram.readLo(e);
        if (!format.isValid(lo)) continue;
        valid++;
        if (level < this.last) walk(format.address(lo, ram.readHi(e)), level + 1);
      }
      out.push({ table: table as PhysAddr, level, valid });
    };
    walk(this.root, 0);
    return out;
  }

  /** Every present leaf: its page, frame and user rights. */
  leaves(): { va: number; frame: PhysAddr; rights: Rights }[] {
    const out: { va: number; frame: PhysAddr; rights: Rights }[] = [];
    const { ram, format } = this.ctx;
    this.visitLeaves(0, this.ctx.geometry.vaSpan, (e, va) => {
      const lo = ram.readLo(e);
      const hi = ram.readHi(e);
      out.push({ va, frame: format.address(lo, hi), rights: format.userRights(lo, hi) });
    });
    return out;
  }

  /** Frees every frame and table, root included (task exit). User frames go through `onFrame`. */
  destroy(onFrame: (va: number, frame: PhysAddr) => void): void {
    this.unmapRange(0, this.ctx.geometry.vaSpan, onFrame);
    this.ctx.tlb.invalidateRoot(this.root);
    this.ctx.frames.freePage(this.root);
    this.tablePages = 0;
  }
}
