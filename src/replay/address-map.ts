/**
 * The log's view of a task's address space, in the log's own coordinates: every range the log
 * created (a successful mmap, mremap or brk) or that the starting snapshot holds, each with the
 * offset to where the model has the same memory (`delta` = model address - log address), or NaN when
 * the model does not have it (its call failed while Linux's succeeded).
 *
 * It serves two purposes: with `--relocate`, an address argument inside a range is translated by its
 * delta (ASLR moved everything); and a differing call is classified by what it touched (memory the
 * log never showed being created, or memory an earlier differing call left out of the model).
 *
 * Ranges are disjoint and kept in the interval B-tree the address spaces use (mm/vma-tree.ts), so
 * a lookup or a change costs O(log n) however many mappings the log has live, and the memory is
 * proportional to the live ranges (numbers: user addresses are below 2^53).
 */
import { VmaTree } from '../mm/vma-tree.js';

/** One range of the log's address space. */
export interface LogRange {
  readonly start: number;
  readonly end: number;
  /** Model address minus log address; NaN when the model lacks this memory. */
  readonly delta: number;
  /** The input line that created the range (0 for the snapshot). */
  readonly line: number;
}

interface Range {
  start: number;
  end: number;
  delta: number;
  line: number;
  treeNode: unknown;
}

/** A range as the map's callers see it: a copy, without the tree's handle. */
function copy(r: LogRange | undefined): LogRange | undefined {
  return r === undefined ? undefined : { start: r.start, end: r.end, delta: r.delta, line: r.line };
}

export class AddressMap {
  private tree = new VmaTree<Range>();

  get size(): number {
    return this.tree.size;
  }

  /** The range containing `addr`, or undefined. */
  find(addr: number): LogRange | undefined {
    return copy(this.tree.find(addr));
  }

  /** The delta of the range containing `addr`, or undefined (NaN: the model lacks that memory). */
  deltaAt(addr: number): number | undefined {
    return this.tree.find(addr)?.delta;
  }

  /** Forget [start, end): ranges overlapping it are cut. */
  remove(start: number, end: number): void {
    if (!(start < end)) return;
    const t = this.tree;
    let r = t.firstIntersecting(start, end);
    while (r !== undefined && r.start < end) {
      const next = t.next(r);
      if (r.start < start && r.end > end) {
        // A hole in the middle: the part above it becomes a range of its own.
        const above: Range = { start: end, end: r.end, delta: r.delta, line: r.line, treeNode: undefined };
        t.setBounds(r, r.start, start);
        t.insert(above);
        return;
      }
      if (r.start < start) t.setBounds(r, r.start, start);
      else if (r.end > end) t.setBounds(r, end, r.end);
      else t.remove(r);
      r = next;
    }
  }

  /** Record [start, end) with `delta`, replacing whatever overlapped it. */
  set(start: number, end: number, delta: number, line: number): void {
    if (!(start < end)) return;
    this.remove(start, end);
    this.tree.insert({ start, end, delta, line, treeNode: undefined });
  }

  /**
   * What [start, end) touches: whether all of it is known, and the first range in it whose memory
   * the model lacks or holds elsewhere (`delta !== 0` counts only when `strict`, i.e. without relocation).
   */
  inspect(start: number, end: number, strict: boolean): { covered: boolean; mismatchLine?: number } {
    let at = start;
    let covered = true;
    let mismatchLine: number | undefined;
    const t = this.tree;
    for (let r = t.firstIntersecting(start, end); r !== undefined && r.start < end; r = t.next(r)) {
      if (r.start > at) covered = false;
      at = r.end;
      const d = r.delta;
      if (mismatchLine === undefined && (Number.isNaN(d) || (strict && d !== 0))) mismatchLine = r.line;
    }
    if (at < end) covered = false;
    return mismatchLine === undefined ? { covered } : { covered, mismatchLine };
  }

  /** The first range overlapping [start, end), or undefined. */
  firstOverlap(start: number, end: number): LogRange | undefined {
    return copy(this.overlapping(start, end));
  }

  /** The lowest range starting at or above `addr`, or undefined. */
  above(addr: number): LogRange | undefined {
    return copy(this.nextFrom(addr));
  }

  /** The highest range ending at or below `addr`, or undefined. */
  below(addr: number): LogRange | undefined {
    return copy(this.prevTo(addr));
  }

  // `firstOverlap`, `above` and `below` without the copy, for the checks the replay makes on every
  // call: the map's own range, read-only, and valid only until the map next changes.

  /** The first range overlapping [start, end), not copied (see above). */
  overlapping(start: number, end: number): LogRange | undefined {
    return this.tree.firstIntersecting(start, end);
  }

  /** The lowest range starting at or above `addr`, not copied (see above). */
  nextFrom(addr: number): LogRange | undefined {
    const r = this.tree.lowerBound(addr);
    return r !== undefined && r.start < addr ? this.tree.next(r) : r;
  }

  /** The highest range ending at or below `addr`, not copied (see above). */
  prevTo(addr: number): LogRange | undefined {
    return this.tree.prevBefore(addr);
  }

  /**
   * The range whose memory the model holds at `modelAddr` (at `start + delta`), by a scan of every
   * range: for explaining a difference, never on the path of a matching call.
   */
  holding(modelAddr: number): LogRange | undefined {
    for (const r of this.tree)
      if (r.start + r.delta <= modelAddr && modelAddr < r.end + r.delta) return copy(r);
    return undefined;
  }

  /** An independent copy (a forked process's view). */
  clone(): AddressMap {
    const m = new AddressMap();
    for (const r of this.tree)
      m.tree.insert({ start: r.start, end: r.end, delta: r.delta, line: r.line, treeNode: undefined });
    return m;
  }
}
