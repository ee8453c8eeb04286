import type { PhysAddr } from '../hal/addr.js';
import { VmaTree } from './vma-tree.js';

/** One run of pages: [start, end), with the frame each page held when it was marked (or none). */
interface Run {
  start: number;
  end: number;
  /**
   * Per page of the run from index `base` on (and spare room at the end): its frame, NaN for a
   * page of the run that is not marked. Null for a run of plain marks (every page of it marked, no
   * frame).
   */
  frames: Float64Array | null;
  /**
   * Index in `frames` of the page at `start`: trimming the start of a run moves it instead of
   * copying the rest of the run.
   */
  base: number;
  /** Pages of the run that are marked. */
  marked: number;
  treeNode: unknown;
}

/** Marks of one run, copied out (see `runsIn`): [start, end), with per-page frames or none. */
export interface MarkRun {
  readonly start: number;
  readonly end: number;
  /** One entry per page of [start, end): its frame, NaN where the page is not marked; null: all marked. */
  readonly frames: Float64Array | null;
}

/**
 * A set of pages of one address space kept as runs of consecutive pages, each page optionally
 * carrying the frame it held when it was marked: the guard markers (MADV_GUARD_INSTALL, plain
 * marks) and the pages given up with MADV_FREE (each with its frame). Marking or clearing a range
 * costs O(log runs + pages it changes), whatever else is marked elsewhere; a page-by-page Set or
 * Map had to be copied whole to clear any range.
 *
 * The runs live in the same interval B-tree as the VMAs (vma-tree.ts).
 */
export class PageRuns {
  private readonly runs = new VmaTree<Run>();
  private count = 0;

  constructor(readonly pageSize: number) {}

  /** Marked pages. */
  get size(): number {
    return this.count;
  }

  /** Whether the page at `va` is marked. */
  has(va: number): boolean {
    if (this.count === 0) return false;
    const r = this.runs.find(va);
    if (r === undefined) return false;
    return r.frames === null || !Number.isNaN(r.frames[r.base + (va - r.start) / this.pageSize]);
  }

  /** The frame recorded for the page at `va`, or undefined when it is not marked with one. */
  get(va: number): number | undefined {
    if (this.count === 0) return undefined;
    const r = this.runs.find(va);
    if (r === undefined || r.frames === null) return undefined;
    const f = r.frames[r.base + (va - r.start) / this.pageSize];
    return Number.isNaN(f) ? undefined : f;
  }

  /** Marks every page of [start, end) (plain marks, no frames), joining the runs it touches. */
  addRange(start: number, end: number): void {
    if (!(start < end)) return;
    this.deleteRange(start, end);
    const t = this.runs;
    let lo = start;
    let hi = end;
    const below = t.prevBefore(start);
    if (below !== undefined && below.end === start && below.frames === null) {
      lo = below.start;
      this.dropRun(below);
    }
    const above = t.lowerBound(end);
    if (above !== undefined && above.start === end && above.frames === null) {
      hi = above.end;
      this.dropRun(above);
    }
    t.insert({
      start: lo,
      end: hi,
      frames: null,
      base: 0,
      marked: (hi - lo) / this.pageSize,
      treeNode: undefined,
    });
    this.count += (hi - lo) / this.pageSize;
  }

  /** Marks the page at `va` with `frame`; marking pages in increasing order extends one run. */
  set(va: number, frame: number): void {
    const page = this.pageSize;
    const t = this.runs;
    const r = t.find(va);
    if (r !== undefined) {
      if (r.frames === null) {
        // A plain mark becomes one with a frame: the page gets a run of its own.
        this.deleteRange(va, va + page);
        this.set(va, frame);
        return;
      }
      const i = r.base + (va - r.start) / page;
      if (Number.isNaN(r.frames[i])) {
        r.marked++;
        this.count++;
      }
      r.frames[i] = frame;
      return;
    }
    const below = t.prevBefore(va);
    if (below !== undefined && below.end === va && below.frames !== null) {
      let n = below.base + (va - below.start) / page;
      if (n >= below.frames.length) {
        // Grown to twice the run, its pages copied to the start (what was trimmed off is left behind).
        const kept = below.frames.subarray(below.base, n);
        const grown = new Float64Array(Math.max(16, kept.length * 2)).fill(Number.NaN);
        grown.set(kept);
        below.frames = grown;
        below.base = 0;
        n = kept.length;
      }
      below.frames[n] = frame;
      below.marked++;
      t.setBounds(below, below.start, va + page);
    } else {
      const frames = new Float64Array(16).fill(Number.NaN);
      frames[0] = frame;
      t.insert({ start: va, end: va + page, frames, base: 0, marked: 1, treeNode: undefined });
    }
    this.count++;
  }

  /** Unmarks the page at `va`; whether it was marked. */
  delete(va: number): boolean {
    if (!this.has(va)) return false;
    this.deleteRange(va, va + this.pageSize);
    return true;
  }

  /** Unmarks every page of [start, end) (page-aligned). */
  deleteRange(start: number, end: number): void {
    if (this.count === 0 || !(start < end)) return;
    const t = this.runs;
    let r = t.firstIntersecting(start, end);
    while (r !== undefined && r.start < end) {
      const next = t.next(r);
      const from = Math.max(r.start, start);
      const to = Math.min(r.end, end);
      const gone = this.markedIn(r, from, to);
      this.count -= gone;
      r.marked -= gone;
      if (r.marked === 0) t.remove(r);
      else if (r.start < start && r.end > end) {
        // A hole in the middle: the part above it becomes a run of its own, taking its marks
        // with it; r keeps the rest of its count.
        const above = this.tail(r, end);
        r.marked -= above.marked;
        this.trimEnd(r, start);
        t.insert(above);
      } else if (r.start < start) this.trimEnd(r, start);
      else if (r.end > end) this.trimStart(r, end);
      else t.remove(r);
      r = next;
    }
  }

  clear(): void {
    this.runs.clear();
    this.count = 0;
  }

  /** Copies of the marks within [start, end), in address order. */
  runsIn(start: number, end: number): MarkRun[] {
    const out: MarkRun[] = [];
    if (this.count === 0 || !(start < end)) return out;
    const page = this.pageSize;
    const t = this.runs;
    for (let r = t.firstIntersecting(start, end); r !== undefined && r.start < end; r = t.next(r)) {
      const from = Math.max(r.start, start);
      const to = Math.min(r.end, end);
      const frames =
        r.frames === null
          ? null
          : r.frames.slice(r.base + (from - r.start) / page, r.base + (to - r.start) / page);
      out.push({ start: from, end: to, frames });
    }
    return out;
  }

  /** Removes the marks of [start, end) and returns them (for `put`, to undo or to move them). */
  take(start: number, end: number): MarkRun[] {
    const out = this.runsIn(start, end);
    if (out.length > 0) this.deleteRange(start, end);
    return out;
  }

  /** Adds marks copied out by `runsIn`/`take`, `by` bytes further on. */
  put(runs: readonly MarkRun[], by = 0): void {
    this.eachShifted(
      runs,
      by,
      (start, end) => this.addRange(start, end),
      (va, frame) => this.set(va, frame),
    );
  }

  /** Removes exactly the marks `put(runs, by)` added. */
  drop(runs: readonly MarkRun[], by = 0): void {
    this.eachShifted(
      runs,
      by,
      (start, end) => this.deleteRange(start, end),
      (va) => this.delete(va),
    );
  }

  /** Calls `plain` for each run of plain marks, `framed` for each marked page of the others, `by` on. */
  private eachShifted(
    runs: readonly MarkRun[],
    by: number,
    plain: (start: number, end: number) => void,
    framed: (va: number, frame: number) => void,
  ): void {
    const page = this.pageSize;
    for (const r of runs) {
      if (r.frames === null) plain(r.start + by, r.end + by);
      else {
        for (let i = 0, va = r.start + by; va < r.end + by; i++, va += page) {
          if (!Number.isNaN(r.frames[i])) framed(va, r.frames[i]);
        }
      }
    }
  }

  /** The [start, end) of every run, in address order (a run of frames may have unmarked pages). */
  *ranges(): IterableIterator<[number, number]> {
    for (const r of this.runs) yield [r.start, r.end];
  }

  /** Every marked page in address order, with its frame (NaN for a plain mark). */
  *marks(): IterableIterator<[number, number]> {
    const page = this.pageSize;
    for (const r of this.runs) {
      for (let va = r.start, i = 0; va < r.end; va += page, i++) {
        const f = r.frames === null ? Number.NaN : r.frames[r.base + i];
        if (r.frames === null || !Number.isNaN(f)) yield [va, f];
      }
    }
  }

  /** Marked pages of run r within [from, to). */
  private markedIn(r: Run, from: number, to: number): number {
    const page = this.pageSize;
    if (r.frames === null) return (to - from) / page;
    if (from === r.start && to === r.end) return r.marked;
    let n = 0;
    for (let i = r.base + (from - r.start) / page, e = r.base + (to - r.start) / page; i < e; i++) {
      if (!Number.isNaN(r.frames[i])) n++;
    }
    return n;
  }

  /** A new run for the part of r from `at` on, with its marks (r keeps its own until trimmed). */
  private tail(r: Run, at: number): Run {
    const page = this.pageSize;
    const frames =
      r.frames === null
        ? null
        : r.frames.slice(r.base + (at - r.start) / page, r.base + (r.end - r.start) / page);
    const marked = frames === null ? (r.end - at) / page : this.markedIn(r, at, r.end);
    return { start: at, end: r.end, frames, base: 0, marked, treeNode: undefined };
  }

  /**
   * Cuts r to end at `at`. The marks above it are already counted off `r.marked` (or moved to a
   * run of their own), so the count stands: recounting what is left would cost the run's length.
   */
  private trimEnd(r: Run, at: number): void {
    const page = this.pageSize;
    if (r.frames !== null)
      r.frames.fill(Number.NaN, r.base + (at - r.start) / page, r.base + (r.end - r.start) / page);
    this.runs.setBounds(r, r.start, at);
  }

  /** Cuts r to start at `at` (the marks below it already counted off). */
  private trimStart(r: Run, at: number): void {
    if (r.frames !== null) r.base += (at - r.start) / this.pageSize;
    this.runs.setBounds(r, at, r.end);
  }

  /** Removes run r with its marks. */
  private dropRun(r: Run): void {
    this.count -= r.marked;
    this.runs.remove(r);
  }
}

/** The guard markers of an address space: a set of pages (as a Set<number> reads), kept as runs. */
export class GuardPages extends PageRuns {
  /** Marks one page. */
  add(va: number): this {
    this.addRange(va, va + this.pageSize);
    return this;
  }

  /** The marked pages in address order. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (const [va] of this.marks()) yield va;
  }
}

/**
 * The pages of an address space given up with MADV_FREE, each with the frame it held then (as a
 * Map<number, PhysAddr> reads), kept as runs.
 */
export class LazyFreePages extends PageRuns {
  /** [page, frame] pairs in address order. */
  *[Symbol.iterator](): IterableIterator<[number, PhysAddr]> {
    yield* this.marks() as IterableIterator<[number, PhysAddr]>;
  }

  /** The marked pages in address order. */
  *keys(): IterableIterator<number> {
    for (const [va] of this.marks()) yield va;
  }

  /** The frame recorded for the page at `va`. */
  override get(va: number): PhysAddr | undefined {
    return super.get(va) as PhysAddr | undefined;
  }
}
