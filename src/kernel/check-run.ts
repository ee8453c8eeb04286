import { hex, type PhysAddr } from '../hal/addr.js';
import type { DescriptorFormat } from '../hal/descriptor.js';
import type { PageGeometry } from '../hal/geometry.js';
import type { PhysicalMemory } from '../hal/ram.js';
import type { Tlb } from '../hal/tlb.js';
import type { FrameAllocator } from '../mm/frame-allocator.js';
import type { MemoryObject } from '../mm/memory-object.js';
import type { CommitAccounting } from '../mm/overcommit.js';

/** What the invariant checker reads: the kernel's allocator, hardware and kernel-wide state. */
export interface CheckedKernel {
  readonly frames: FrameAllocator;
  readonly format: DescriptorFormat;
  readonly geometry: PageGeometry;
  readonly ram: PhysicalMemory;
  readonly tlb: Tlb;
  readonly accounting: CommitAccounting;
  /** The frames the kernel itself holds (the zero page); every other frame belongs to a task. */
  readonly kernelFrames: readonly PhysAddr[];
}

/** What a frame was found to be during one check. */
export const Owner = { Free: 1, Table: 2, User: 3, Kernel: 4 } as const;

/**
 * What a violation is about: its words, or an object that makes them when asked (`toString`), so
 * that the walks format no address (a third of a check's time) until something is wrong.
 */
export type Described = string | { toString(): string };
const described = (what: Described): string => String(what);

/** `page 0x…` of whatever address is set last: one object reused by a walk. */
export class PageName {
  va = 0;
  constructor(private readonly prefix = 'page') {}
  toString(): string {
    return `${this.prefix} ${hex(this.va)}`;
  }
}
export type Owner = (typeof Owner)[keyof typeof Owner];

const NAMES: Record<Owner, string> = {
  [Owner.Free]: 'free',
  [Owner.Table]: 'a page table',
  [Owner.User]: 'user memory',
  [Owner.Kernel]: 'the kernel',
};

/** The valid entries the checker read from one host page of a table, and the page's write stamp then. */
interface TablePage {
  stamp: number;
  /** Bytes read from the page (a root table may be smaller than a host page). */
  len: number;
  /** Each valid entry decoded: see `tableEntries`. */
  entries: number[];
}

/**
 * What the checker keeps from run to run. Per-frame arrays, one slot per frame: an entry counts
 * only when its stamp is the run's epoch, so no run clears them. And the valid entries of each
 * host page of RAM last read as a page table, with the page's write stamp then: a page not written
 * since holds the same entries, so it is not read again.
 */
export interface CheckState {
  tablePages: Map<number, TablePage>;
  /** The epoch of the run that found the frame's owner, which `owner` then holds. */
  stamp: Uint32Array;
  owner: Uint8Array;
  /** Mappings seen (valid once the frame is stamped). */
  refs: Uint32Array;
  /** The epoch of the run that found the frame mapped privately writable, at `writableVa`. */
  writableStamp: Uint32Array;
  writableVa: Float64Array;
}

/**
 * One run of the checker: the violations found so far and, per frame, what owns it and how many
 * mappings were seen. The per-frame arrays live as long as the kernel and are stamped with the
 * run's epoch instead of being cleared, so a run costs what is in use, not what RAM holds.
 */
export class CheckRun {
  readonly out: string[] = [];
  /** Frames found owned (tables, user frames, kernel frames), each counted once. */
  owned = 0;
  /** Frames the free lists hold. */
  free = 0;
  /** User and kernel frames, whose reference counts are compared at the end. */
  readonly counted: number[] = [];
  /** Private frames found mapped writable, each once (`writableAt` says where). */
  readonly writable: number[] = [];
  /** Memory objects mapped by some VMA, with the number of VMAs mapping them. */
  readonly objects = new Map<MemoryObject, number>();

  private readonly stamp: Uint32Array;
  private readonly owner: Uint8Array;
  readonly refs: Uint32Array;
  private readonly writableStamp: Uint32Array;
  private readonly writableVa: Float64Array;

  constructor(
    readonly k: CheckedKernel,
    private readonly epoch: number,
    private readonly state: CheckState,
  ) {
    this.stamp = state.stamp;
    this.owner = state.owner;
    this.refs = state.refs;
    this.writableStamp = state.writableStamp;
    this.writableVa = state.writableVa;
  }

  /**
   * The valid entries of the `len` bytes of a table at `pa` (within one host page), four numbers
   * each: the index in the page, the output address, the user rights (as a leaf grants them) and
   * 1 when it points at a table (at a non-last level). Read from RAM unless the page was not written
   * since the last read (its write stamp is the same): then they are the entries read then.
   */
  tableEntries(pa: number, len: number): readonly number[] {
    const { ram, format } = this.k;
    const stamp = ram.writeStamp(pa as PhysAddr);
    const known = this.state.tablePages.get(pa);
    if (known !== undefined && known.stamp === stamp && known.len === len) return known.entries;
    const entries: number[] = [];
    const view = ram.wordsAt(pa as PhysAddr, len);
    if (view !== null) {
      const { words, index } = view;
      for (let i = 0; i < len / 8; i++) {
        const lo = words[index + 2 * i];
        // Most entries are zero, which is never valid (bit 0 is clear).
        if (lo === 0 || !format.isValid(lo)) continue;
        const hi = words[index + 2 * i + 1];
        entries.push(i, format.address(lo, hi), format.userRights(lo, hi), format.isTable(lo) ? 1 : 0);
      }
    }
    this.state.tablePages.set(pa, { stamp, len, entries });
    return entries;
  }

  /**
   * Records a private writable mapping of frame `f` at `va`. Returns -1 the first time, then the
   * address of the first such mapping once (a violation to report), then -1 again.
   */
  markWritable(f: number, va: number): number {
    if (this.writableStamp[f] !== this.epoch) {
      this.writableStamp[f] = this.epoch;
      this.writableVa[f] = va;
      this.writable.push(f);
      return -1;
    }
    const first = this.writableVa[f];
    this.writableVa[f] = -1;
    return first;
  }

  /** Where private frame `f` (one of `writable`) was found mapped writable; -1 once reported twice. */
  writableAt(f: number): number {
    return this.writableVa[f];
  }

  /** What frame number `f` was found to be in this run (0: nothing yet). */
  ownerOf(f: number): Owner | 0 {
    return this.stamp[f] === this.epoch ? (this.owner[f] as Owner) : 0;
  }

  /** Records `f` as listed free; false when it was listed already. */
  markFree(f: number): boolean {
    if (this.stamp[f] === this.epoch) return false;
    this.stamp[f] = this.epoch;
    this.owner[f] = Owner.Free;
    return true;
  }

  /** The frame number of `pa`, or -1 (reported as a violation of `what`) when it is no frame of RAM. */
  frameNumber(pa: number, what: Described): number {
    const { frames, ram } = this.k;
    // A division and a floor, not `%`: a remainder of numbers past 2^32 is a slow library call.
    const n = (pa - ram.base) / frames.pageSize;
    if (!ram.contains(pa, frames.pageSize) || n !== Math.floor(n)) {
      this.out.push(`${described(what)} points at ${hex(pa)}, which is not a frame of RAM`);
      return -1;
    }
    return frames.frameIndex(pa as PhysAddr);
  }

  /**
   * Records `what`'s claim of frame `f` as `as`. A frame may be claimed many times as user memory
   * or by the kernel (each leaf or page cache that holds it), but only once as a table, and never
   * as two different things. Returns whether this was the first claim.
   */
  claim(f: number, as: Owner, what: Described): boolean {
    const { frames } = this.k;
    const seen = this.ownerOf(f);
    if (seen === 0) {
      this.stamp[f] = this.epoch;
      this.owner[f] = as;
      this.refs[f] = 0;
      this.owned++;
      if (!frames.allocatedAt(f))
        this.out.push(`${described(what)} is frame ${hex(frames.frameAddress(f))}, which is free`);
      if (as !== Owner.Table) this.counted.push(f);
      return true;
    }
    if (seen === Owner.Free)
      this.out.push(`${described(what)} is frame ${hex(frames.frameAddress(f))}, which is free`);
    else if (seen !== as || as === Owner.Table)
      this.out.push(
        `frame ${hex(frames.frameAddress(f))} is owned twice: by ${NAMES[seen]} and as ${described(what)}`,
      );
    return false;
  }

  /** Counts one mapping (a leaf or a page-cache entry) of frame `f`. */
  reference(f: number): void {
    this.refs[f]++;
  }
}
