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
 * Ranges are kept sorted and disjoint in three parallel arrays (numbers: user addresses are below
 * 2^53), so lookups are binary searches and the memory is proportional to the live ranges.
 */
export class AddressMap {
  private starts: number[] = [];
  private ends: number[] = [];
  private deltas: number[] = [];
  /** The input line that created each range (0 for the snapshot). */
  private lines: number[] = [];

  get size(): number {
    return this.starts.length;
  }

  /** Index of the first range whose end is above `addr`. */
  private firstEndAbove(addr: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid] <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The range containing `addr`, or undefined. */
  find(addr: number): { start: number; end: number; delta: number; line: number } | undefined {
    const i = this.firstEndAbove(addr);
    if (i < this.starts.length && this.starts[i] <= addr) {
      return { start: this.starts[i], end: this.ends[i], delta: this.deltas[i], line: this.lines[i] };
    }
    return undefined;
  }

  /** The delta of the range containing `addr`, or undefined (NaN: the model lacks that memory). */
  deltaAt(addr: number): number | undefined {
    const i = this.firstEndAbove(addr);
    return i < this.starts.length && this.starts[i] <= addr ? this.deltas[i] : undefined;
  }

  /** Forget [start, end): ranges overlapping it are cut. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    let i = this.firstEndAbove(start);
    const newStarts: number[] = [];
    const newEnds: number[] = [];
    const newDeltas: number[] = [];
    const newLines: number[] = [];
    const from = i;
    for (; i < this.starts.length && this.starts[i] < end; i++) {
      if (this.starts[i] < start) {
        newStarts.push(this.starts[i]);
        newEnds.push(start);
        newDeltas.push(this.deltas[i]);
        newLines.push(this.lines[i]);
      }
      if (this.ends[i] > end) {
        newStarts.push(end);
        newEnds.push(this.ends[i]);
        newDeltas.push(this.deltas[i]);
        newLines.push(this.lines[i]);
      }
    }
    const count = i - from;
    if (count === 0) return;
    this.starts.splice(from, count, ...newStarts);
    this.ends.splice(from, count, ...newEnds);
    this.deltas.splice(from, count, ...newDeltas);
    this.lines.splice(from, count, ...newLines);
  }

  /** Record [start, end) with `delta`, replacing whatever overlapped it. */
  set(start: number, end: number, delta: number, line: number): void {
    if (end <= start) return;
    this.remove(start, end);
    const i = this.firstEndAbove(start);
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, end);
    this.deltas.splice(i, 0, delta);
    this.lines.splice(i, 0, line);
  }

  /**
   * What [start, end) touches: whether all of it is known, and the first range in it whose memory
   * the model lacks or holds elsewhere (`delta !== 0` counts only when `strict`, i.e. without relocation).
   */
  inspect(start: number, end: number, strict: boolean): { covered: boolean; mismatchLine?: number } {
    let i = this.firstEndAbove(start);
    let at = start;
    let covered = true;
    let mismatchLine: number | undefined;
    for (; i < this.starts.length && this.starts[i] < end; i++) {
      if (this.starts[i] > at) covered = false;
      at = this.ends[i];
      const d = this.deltas[i];
      if (mismatchLine === undefined && (Number.isNaN(d) || (strict && d !== 0)))
        mismatchLine = this.lines[i];
    }
    if (at < end) covered = false;
    return mismatchLine === undefined ? { covered } : { covered, mismatchLine };
  }

  /** The first range overlapping [start, end), or undefined. */
  firstOverlap(
    start: number,
    end: number,
  ): { start: number; end: number; delta: number; line: number } | undefined {
    const i = this.firstEndAbove(start);
    if (i < this.starts.length && this.starts[i] < end) {
      return { start: this.starts[i], end: this.ends[i], delta: this.deltas[i], line: this.lines[i] };
    }
    return undefined;
  }

  /** The lowest range starting at or above `addr`, or undefined. */
  above(addr: number): { start: number; end: number; delta: number; line: number } | undefined {
    let i = this.firstEndAbove(addr);
    if (i < this.starts.length && this.starts[i] < addr) i++;
    if (i >= this.starts.length) return undefined;
    return { start: this.starts[i], end: this.ends[i], delta: this.deltas[i], line: this.lines[i] };
  }

  /** The highest range ending at or below `addr`, or undefined. */
  below(addr: number): { start: number; end: number; delta: number; line: number } | undefined {
    const i = this.firstEndAbove(addr) - 1;
    if (i < 0) return undefined;
    return { start: this.starts[i], end: this.ends[i], delta: this.deltas[i], line: this.lines[i] };
  }

  /**
   * The range whose memory the model holds at `modelAddr` (at `start + delta`), by a scan of every
   * range: for explaining a difference, never on the path of a matching call.
   */
  holding(modelAddr: number): { start: number; end: number; delta: number; line: number } | undefined {
    for (let i = 0; i < this.starts.length; i++) {
      const d = this.deltas[i];
      if (this.starts[i] + d <= modelAddr && modelAddr < this.ends[i] + d) {
        return { start: this.starts[i], end: this.ends[i], delta: d, line: this.lines[i] };
      }
    }
    return undefined;
  }

  /** An independent copy (a forked process's view). */
  clone(): AddressMap {
    const m = new AddressMap();
    m.starts = this.starts.slice();
    m.ends = this.ends.slice();
    m.deltas = this.deltas.slice();
    m.lines = this.lines.slice();
    return m;
  }
}
