/**
 * VmaTree: the ordered set of an address space's mappings (the role Linux's maple tree plays for
 * `mm->mm_mt`).
 *
 * Items are the caller's objects (`V extends VmaBounds`), kept by identity and never copied. The tree
 * is an AVL tree keyed by `start` whose nodes live in a slab: node k is the 64-byte record k of one
 * ArrayBuffer, read through a Float64Array (its cached bounds and gap augmentation) and an Int32Array
 * view (links and height); `items[k]` is the caller's object. Each node is one cache line and holds raw
 * doubles, whereas an object node would hold pointers to boxed HeapNumbers (V8 no longer unboxes double
 * fields, and addresses above 2^31 are never Smis): see bench/vma-tree.bench.ts for the difference.
 *
 * Augmentation (purely local to a subtree, so rotations recompute only the two rotated nodes and an
 * insert/remove/setBounds recomputes at most the path to the root):
 *   lo  = the lowest start in the subtree (its leftmost item's start)
 *   hi  = the highest end in the subtree (its rightmost item's end)
 *   gap = the largest free range strictly between two consecutive items of the subtree (0 if none)
 * The free range below the first item ([0, first.start)) and the unbounded one above the last item
 * are handled at the top level. `highestGap`/`lowestGap` are O(log n): a subtree that lies wholly
 * inside the window and has gap >= length always contains an answer, so only the two boundary paths
 * are explored beyond that.
 *
 * Why AVL over a slab, not a sorted array: a sorted array with binary search is as fast for lookups,
 * but its insert/remove are O(n) memmoves and its gap search a linear scan (see the benchmark); the
 * tree stays O(log n) from 16 to 65,530 items (vm.max_map_count). AVL keeps the tree shallower than
 * red-black (<= 1.44 log2 n), which lookups, the dominant operation, pay for. Item -> node lookup
 * (`remove`, `next`, `prev`, `setBounds`) is a descent by `v.start` plus an identity check, so nothing
 * is attached to the caller's objects and no Map/WeakMap is maintained.
 *
 * Addresses are plain numbers: page-aligned user addresses below 2^57 are exact in a double, as are
 * their differences. Bounds are half-open [start, end) and must satisfy start < end.
 *
 * Mutation contract: an item's bounds may only be changed through `setBounds` while it is in the tree.
 * Iterators are invalidated by any mutation of the tree.
 */
import { hex } from '../hal/addr.js';

export interface VmaBounds {
  start: number;
  end: number;
}

// Float64Array offsets within node k's record (base k << 3).
const START = 0;
const END = 1;
const LO = 2;
const HI = 3;
const GAP = 4;
// Int32Array offsets within node k's record (base k << 4); doubles 5..7 hold these.
const LEFT = 10;
const RIGHT = 11;
const PARENT = 12;
const HEIGHT = 13;
const NIL = -1;
const INITIAL_CAPACITY = 16;

function checkLength(fn: string, length: number): void {
  if (!(length > 0)) throw new RangeError(`VmaTree.${fn}: length must be positive, got ${length}`);
}

export class VmaTree<V extends VmaBounds> {
  private f: Float64Array;
  private n: Int32Array;
  private items: (V | undefined)[] = [];
  private capacity = INITIAL_CAPACITY;
  /** Slots [0, used) have been handed out at least once; freed ones are on `freeList`. */
  private used = 0;
  private freeList: number[] = [];
  private root = NIL;
  private count = 0;

  constructor() {
    const buf = new ArrayBuffer(INITIAL_CAPACITY * 64);
    this.f = new Float64Array(buf);
    this.n = new Int32Array(buf);
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    const buf = new ArrayBuffer(INITIAL_CAPACITY * 64);
    this.f = new Float64Array(buf);
    this.n = new Int32Array(buf);
    this.items = [];
    this.capacity = INITIAL_CAPACITY;
    this.used = 0;
    this.freeList = [];
    this.root = NIL;
    this.count = 0;
  }

  // ---- lookups -------------------------------------------------------------------------------------

  /** The item with start <= addr < end, if any. */
  find(addr: number): V | undefined {
    const f = this.f;
    const n = this.n;
    let x = this.root;
    while (x !== NIL) {
      const b = x << 3;
      if (addr < f[b + START]) x = n[(x << 4) + LEFT];
      else if (addr >= f[b + END]) x = n[(x << 4) + RIGHT];
      else return this.items[x];
    }
    return undefined;
  }

  /** The first item whose end > addr: the one containing addr, else the next one above it.
   * This is Linux's `find_vma(mm, addr)`. */
  lowerBound(addr: number): V | undefined {
    const x = this.lowerBoundNode(addr);
    return x === NIL ? undefined : this.items[x];
  }

  /** The last item whose end <= addr, i.e. the item just below `lowerBound(addr)` (the last item if
   * lowerBound is undefined). This is the `*pprev` of Linux's `find_vma_prev(mm, addr, &pprev)`:
   * when addr lies inside an item, that item is NOT returned but the one before it. */
  prevBefore(addr: number): V | undefined {
    const f = this.f;
    const n = this.n;
    let x = this.root;
    let best = NIL;
    while (x !== NIL) {
      if (f[(x << 3) + END] <= addr) {
        best = x;
        x = n[(x << 4) + RIGHT];
      } else {
        x = n[(x << 4) + LEFT];
      }
    }
    return best === NIL ? undefined : this.items[best];
  }

  /** The lowest item that intersects [start, end); undefined if none or if the range is empty. */
  firstIntersecting(start: number, end: number): V | undefined {
    if (!(start < end)) return undefined;
    const x = this.lowerBoundNode(start);
    return x !== NIL && this.f[(x << 3) + START] < end ? this.items[x] : undefined;
  }

  first(): V | undefined {
    return this.root === NIL ? undefined : this.items[this.leftmost(this.root)];
  }

  last(): V | undefined {
    return this.root === NIL ? undefined : this.items[this.rightmost(this.root)];
  }

  /** The item after v in address order. Throws if v is not in the tree. */
  next(v: V): V | undefined {
    const s = this.successor(this.nodeOf(v, 'next'));
    return s === NIL ? undefined : this.items[s];
  }

  /** The item before v in address order. Throws if v is not in the tree. */
  prev(v: V): V | undefined {
    const p = this.predecessor(this.nodeOf(v, 'prev'));
    return p === NIL ? undefined : this.items[p];
  }

  /** Whether v (by identity) is in the tree. */
  has(v: V): boolean {
    const x = this.lookupNode(v.start);
    return x !== NIL && this.items[x] === v;
  }

  *[Symbol.iterator](): IterableIterator<V> {
    let x = this.root === NIL ? NIL : this.leftmost(this.root);
    while (x !== NIL) {
      yield this.items[x]!;
      x = this.successor(x);
    }
  }

  /** The items intersecting [start, end), in address order (none if the range is empty). */
  *range(start: number, end: number): IterableIterator<V> {
    if (!(start < end)) return;
    let x = this.lowerBoundNode(start);
    while (x !== NIL && this.f[(x << 3) + START] < end) {
      yield this.items[x]!;
      x = this.successor(x);
    }
  }

  /** Calls fn on each item intersecting [start, end) in address order (no iterator allocation).
   * The tree must not be mutated during the walk. */
  forEachInRange(start: number, end: number, fn: (v: V) => void): void {
    if (!(start < end)) return;
    let x = this.lowerBoundNode(start);
    while (x !== NIL && this.f[(x << 3) + START] < end) {
      fn(this.items[x]!);
      x = this.successor(x);
    }
  }

  /** The items as an array, in address order. */
  toArray(): V[] {
    const out: V[] = [];
    let x = this.root === NIL ? NIL : this.leftmost(this.root);
    while (x !== NIL) {
      out.push(this.items[x]!);
      x = this.successor(x);
    }
    return out;
  }

  // ---- gap search ----------------------------------------------------------------------------------

  /**
   * Top-down free-area search (Linux `mas_empty_area_rev(low, high - 1, length)` as used by
   * `unmapped_area_topdown`). The free ranges are the complement of the items in [0, +inf); each is
   * clipped to [low, high). Returns the END of the highest clipped free range of length >= `length`
   * (that is, min(freeEnd, high)), or -1 if there is none. `length` must be positive.
   */
  highestGap(low: number, high: number, length: number): number {
    checkLength('highestGap', length);
    if (low < 0) low = 0;
    const root = this.root;
    if (root === NIL) return high - low >= length ? high : -1;
    const f = this.f;
    const rb = root << 3;
    // Above the last item: [root.hi, +inf).
    if (high - Math.max(f[rb + HI], low) >= length) return high;
    const res = this.searchRev(root, low, high, length);
    if (res >= 0) return res;
    // Below the first item: [0, root.lo).
    const b = Math.min(f[rb + LO], high);
    return b - low >= length ? b : -1;
  }

  /**
   * Bottom-up free-area search (Linux `mas_empty_area(low, high - 1, length)` as used by
   * `unmapped_area`). Returns the START of the lowest clipped free range of length >= `length`
   * (that is, max(freeStart, low)), or -1 if there is none. `length` must be positive.
   */
  lowestGap(low: number, high: number, length: number): number {
    checkLength('lowestGap', length);
    if (low < 0) low = 0;
    const root = this.root;
    if (root === NIL) return high - low >= length ? low : -1;
    const f = this.f;
    const rb = root << 3;
    if (Math.min(f[rb + LO], high) - low >= length) return low;
    const res = this.searchFwd(root, low, high, length);
    if (res >= 0) return res;
    const a = Math.max(f[rb + HI], low);
    return high - a >= length ? a : -1;
  }

  // ---- mutation ------------------------------------------------------------------------------------

  /** Inserts v. Throws `VmaTree.insert: overlap ...` if v overlaps an item already present. */
  insert(v: V): void {
    const start = v.start;
    const end = v.end;
    if (!(start < end)) throw new Error(`VmaTree.insert: invalid bounds [${start}, ${end})`);
    let x = this.root;
    if (x === NIL) {
      this.root = this.alloc(v, start, end, NIL);
      this.count = 1;
      return;
    }
    const f = this.f;
    let n = this.n;
    for (;;) {
      const b = x << 3;
      const xi = x << 4;
      if (end <= f[b + START]) {
        const l = n[xi + LEFT];
        if (l === NIL) {
          const k = this.alloc(v, start, end, x);
          n = this.n; // alloc may have grown the slab
          n[(x << 4) + LEFT] = k;
          break;
        }
        x = l;
      } else if (start >= f[b + END]) {
        const r = n[xi + RIGHT];
        if (r === NIL) {
          const k = this.alloc(v, start, end, x);
          n = this.n;
          n[(x << 4) + RIGHT] = k;
          break;
        }
        x = r;
      } else {
        throw this.overlapError('insert', start, end, x);
      }
    }
    this.count++;
    this.fixup(x, NIL);
  }

  /** Removes v (by identity). Throws `VmaTree.remove: not present` if v is not in the tree. */
  remove(v: V): void {
    const f = this.f;
    const n = this.n;
    let x = this.nodeOf(v, 'remove');
    let changed = NIL;
    if (n[(x << 4) + LEFT] !== NIL && n[(x << 4) + RIGHT] !== NIL) {
      // Move the successor's item into x, then unlink the successor node (which has no left child).
      const s = this.leftmost(n[(x << 4) + RIGHT]);
      this.items[x] = this.items[s];
      f[(x << 3) + START] = f[(s << 3) + START];
      f[(x << 3) + END] = f[(s << 3) + END];
      changed = x;
      x = s;
    }
    const xi = x << 4;
    const child = n[xi + LEFT] !== NIL ? n[xi + LEFT] : n[xi + RIGHT];
    const p = n[xi + PARENT];
    if (child !== NIL) n[(child << 4) + PARENT] = p;
    if (p === NIL) this.root = child;
    else if (n[(p << 4) + LEFT] === x) n[(p << 4) + LEFT] = child;
    else n[(p << 4) + RIGHT] = child;
    this.release(x);
    this.count--;
    if (p !== NIL) this.fixup(p, changed);
  }

  /**
   * Changes v's bounds in place (assigns v.start and v.end) for VMA split/merge/expand. The new bounds
   * must still lie strictly between v's neighbours (no overlap, same order); otherwise throws
   * `VmaTree.setBounds: overlap ...` and nothing changes. O(log n).
   */
  setBounds(v: V, start: number, end: number): void {
    const x = this.nodeOf(v, 'setBounds');
    if (!(start < end)) throw new Error(`VmaTree.setBounds: invalid bounds [${start}, ${end})`);
    const f = this.f;
    const n = this.n;
    const xb = x << 3;
    if (start < f[xb + START]) {
      const p = this.predecessor(x);
      if (p !== NIL && f[(p << 3) + END] > start) throw this.overlapError('setBounds', start, end, p);
    }
    if (end > f[xb + END]) {
      const s = this.successor(x);
      if (s !== NIL && f[(s << 3) + START] < end) throw this.overlapError('setBounds', start, end, s);
    }
    v.start = start;
    v.end = end;
    f[xb + START] = start;
    f[xb + END] = end;
    // No rotation needed: only the augmentation on the path to the root can change.
    for (let y = x; y !== NIL; y = n[(y << 4) + PARENT]) {
      const yb = y << 3;
      const lo = f[yb + LO];
      const hi = f[yb + HI];
      const gap = f[yb + GAP];
      this.pull(y);
      if (f[yb + LO] === lo && f[yb + HI] === hi && f[yb + GAP] === gap) break;
    }
  }

  // ---- debugging -----------------------------------------------------------------------------------

  /** Verifies every invariant against a recomputation; returns the violations ([] when sound). */
  check(): string[] {
    const errs: string[] = [];
    const f = this.f;
    const n = this.n;
    let seen = 0;
    let prevEnd = Number.NEGATIVE_INFINITY;
    let prevStart = Number.NEGATIVE_INFINITY;
    const live = new Set<number>();
    const walk = (x: number, parent: number): { lo: number; hi: number; gap: number; h: number } => {
      const xb = x << 3;
      const xi = x << 4;
      const start = f[xb + START];
      const end = f[xb + END];
      const where = `node [${start}, ${end})`;
      if (x < 0 || x >= this.used) errs.push(`${where}: slot ${x} out of range`);
      if (live.has(x)) errs.push(`${where}: slot ${x} reached twice`);
      live.add(x);
      if (n[xi + PARENT] !== parent) errs.push(`${where}: wrong parent link`);
      const l = n[xi + LEFT] === NIL ? null : walk(n[xi + LEFT], x);
      seen++;
      const item = this.items[x];
      if (item === undefined) errs.push(`${where}: no item`);
      else if (item.start !== start || item.end !== end)
        errs.push(`${where}: item bounds [${item.start}, ${item.end}) changed behind the tree's back`);
      if (!(start < end)) errs.push(`${where}: empty or inverted`);
      if (!(start > prevStart)) errs.push(`${where}: out of order (previous start ${prevStart})`);
      if (start < prevEnd) errs.push(`${where}: overlaps previous item ending at ${prevEnd}`);
      prevStart = start;
      prevEnd = end;
      const r = n[xi + RIGHT] === NIL ? null : walk(n[xi + RIGHT], x);
      const lh = l === null ? 0 : l.h;
      const rh = r === null ? 0 : r.h;
      const h = 1 + Math.max(lh, rh);
      const lo = l === null ? start : l.lo;
      const hi = r === null ? end : r.hi;
      let gap = 0;
      if (l !== null) gap = Math.max(gap, l.gap, start - l.hi);
      if (r !== null) gap = Math.max(gap, r.gap, r.lo - end);
      if (n[xi + HEIGHT] !== h) errs.push(`${where}: cached height ${n[xi + HEIGHT]}, actual ${h}`);
      if (Math.abs(lh - rh) > 1) errs.push(`${where}: AVL imbalance ${lh} vs ${rh}`);
      if (f[xb + LO] !== lo) errs.push(`${where}: cached lo ${f[xb + LO]}, actual ${lo}`);
      if (f[xb + HI] !== hi) errs.push(`${where}: cached hi ${f[xb + HI]}, actual ${hi}`);
      if (f[xb + GAP] !== gap) errs.push(`${where}: cached gap ${f[xb + GAP]}, actual ${gap}`);
      return { lo, hi, gap, h };
    };
    if (this.root !== NIL) walk(this.root, NIL);
    if (seen !== this.count) errs.push(`size is ${this.count} but the tree holds ${seen} items`);
    if (seen + this.freeList.length !== this.used)
      errs.push(`slab leak: ${seen} live + ${this.freeList.length} free != ${this.used} used slots`);
    for (const k of this.freeList) {
      if (live.has(k)) errs.push(`slot ${k} is both live and free`);
      if (this.items[k] !== undefined) errs.push(`free slot ${k} still references an item`);
    }
    return errs;
  }

  // ---- internals -----------------------------------------------------------------------------------

  private alloc(v: V, start: number, end: number, parent: number): number {
    let k = this.freeList.pop();
    if (k === undefined) {
      if (this.used === this.capacity) this.grow();
      k = this.used++;
    }
    const f = this.f;
    const n = this.n;
    const b = k << 3;
    f[b + START] = start;
    f[b + END] = end;
    f[b + LO] = start;
    f[b + HI] = end;
    f[b + GAP] = 0;
    const i = k << 4;
    n[i + LEFT] = NIL;
    n[i + RIGHT] = NIL;
    n[i + PARENT] = parent;
    n[i + HEIGHT] = 1;
    this.items[k] = v;
    return k;
  }

  private release(k: number): void {
    this.items[k] = undefined;
    this.freeList.push(k);
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const buf = new ArrayBuffer(cap * 64);
    const f = new Float64Array(buf);
    f.set(this.f);
    this.f = f;
    this.n = new Int32Array(buf);
    this.capacity = cap;
  }

  private overlapError(fn: string, start: number, end: number, x: number): Error {
    const b = x << 3;
    return new Error(
      `VmaTree.${fn}: overlap: [${hex(start)}, ${hex(end)}) overlaps [${hex(this.f[b + START])}, ${hex(this.f[b + END])})`,
    );
  }

  /** Recomputes height and the gap augmentation of x from its children. */
  private pull(x: number): void {
    const f = this.f;
    const n = this.n;
    const xb = x << 3;
    const xi = x << 4;
    const l = n[xi + LEFT];
    const r = n[xi + RIGHT];
    let h = 0;
    let gap = 0;
    if (l !== NIL) {
      const lb = l << 3;
      h = n[(l << 4) + HEIGHT];
      gap = f[lb + GAP];
      const g = f[xb + START] - f[lb + HI];
      if (g > gap) gap = g;
      f[xb + LO] = f[lb + LO];
    } else {
      f[xb + LO] = f[xb + START];
    }
    if (r !== NIL) {
      const rb = r << 3;
      const rh = n[(r << 4) + HEIGHT];
      if (rh > h) h = rh;
      const rg = f[rb + GAP];
      if (rg > gap) gap = rg;
      const g = f[rb + LO] - f[xb + END];
      if (g > gap) gap = g;
      f[xb + HI] = f[rb + HI];
    } else {
      f[xb + HI] = f[xb + END];
    }
    n[xi + HEIGHT] = h + 1;
    f[xb + GAP] = gap;
  }

  private leftmost(x: number): number {
    const n = this.n;
    for (let l = n[(x << 4) + LEFT]; l !== NIL; l = n[(x << 4) + LEFT]) x = l;
    return x;
  }

  private rightmost(x: number): number {
    const n = this.n;
    for (let r = n[(x << 4) + RIGHT]; r !== NIL; r = n[(x << 4) + RIGHT]) x = r;
    return x;
  }

  private successor(x: number): number {
    const n = this.n;
    const r = n[(x << 4) + RIGHT];
    if (r !== NIL) return this.leftmost(r);
    let p = n[(x << 4) + PARENT];
    while (p !== NIL && n[(p << 4) + RIGHT] === x) {
      x = p;
      p = n[(p << 4) + PARENT];
    }
    return p;
  }

  private predecessor(x: number): number {
    const n = this.n;
    const l = n[(x << 4) + LEFT];
    if (l !== NIL) return this.rightmost(l);
    let p = n[(x << 4) + PARENT];
    while (p !== NIL && n[(p << 4) + LEFT] === x) {
      x = p;
      p = n[(p << 4) + PARENT];
    }
    return p;
  }

  private lowerBoundNode(addr: number): number {
    const f = this.f;
    const n = this.n;
    let x = this.root;
    let best = NIL;
    while (x !== NIL) {
      if (f[(x << 3) + END] > addr) {
        best = x;
        x = n[(x << 4) + LEFT];
      } else {
        x = n[(x << 4) + RIGHT];
      }
    }
    return best;
  }

  private lookupNode(start: number): number {
    const f = this.f;
    const n = this.n;
    let x = this.root;
    while (x !== NIL) {
      const s = f[x << 3];
      if (start < s) x = n[(x << 4) + LEFT];
      else if (start > s) x = n[(x << 4) + RIGHT];
      else return x;
    }
    return NIL;
  }

  private nodeOf(v: V, fn: string): number {
    const x = this.lookupNode(v.start);
    if (x === NIL || this.items[x] !== v) throw new Error(`VmaTree.${fn}: not present`);
    return x;
  }

  /** End of the highest free range inside x's subtree (between two of its items) that, clipped to
   * [low, high), is at least `length` long; -1 if none. */
  private searchRev(x: number, low: number, high: number, length: number): number {
    const f = this.f;
    const n = this.n;
    const xb = x << 3;
    if (f[xb + GAP] < length) return -1;
    // Every internal gap of the subtree lies within [lo, hi].
    if (Math.min(f[xb + HI], high) - Math.max(f[xb + LO], low) < length) return -1;
    // Everything right of x lies above x.end, everything left of it below x.start: skip a side (without
    // touching its cache lines) when the window leaves no room for `length` there.
    const r = n[(x << 4) + RIGHT];
    if (r !== NIL && high - Math.max(f[xb + END], low) >= length) {
      const res = this.searchRev(r, low, high, length);
      if (res >= 0) return res;
      const b = Math.min(f[(r << 3) + LO], high);
      if (b - Math.max(f[xb + END], low) >= length) return b;
    }
    const l = n[(x << 4) + LEFT];
    if (l !== NIL && Math.min(f[xb + START], high) - low >= length) {
      const b = Math.min(f[xb + START], high);
      if (b - Math.max(f[(l << 3) + HI], low) >= length) return b;
      return this.searchRev(l, low, high, length);
    }
    return -1;
  }

  /** Start of the lowest free range inside x's subtree that, clipped to [low, high), is at least
   * `length` long; -1 if none. */
  private searchFwd(x: number, low: number, high: number, length: number): number {
    const f = this.f;
    const n = this.n;
    const xb = x << 3;
    if (f[xb + GAP] < length) return -1;
    if (Math.min(f[xb + HI], high) - Math.max(f[xb + LO], low) < length) return -1;
    const l = n[(x << 4) + LEFT];
    if (l !== NIL && Math.min(f[xb + START], high) - low >= length) {
      const res = this.searchFwd(l, low, high, length);
      if (res >= 0) return res;
      const a = Math.max(f[(l << 3) + HI], low);
      if (Math.min(f[xb + START], high) - a >= length) return a;
    }
    const r = n[(x << 4) + RIGHT];
    if (r !== NIL && high - Math.max(f[xb + END], low) >= length) {
      const a = Math.max(f[xb + END], low);
      if (Math.min(f[(r << 3) + LO], high) - a >= length) return a;
      return this.searchFwd(r, low, high, length);
    }
    return -1;
  }

  /**
   * Walks from x towards the root, recomputing the augmentation and restoring AVL balance. Stops as
   * soon as a subtree's height and augmentation come out unchanged (its ancestors are then still
   * right), but never before `mustReach` (a node whose own bounds changed) has been recomputed.
   */
  private fixup(x: number, mustReach: number): void {
    const f = this.f;
    const n = this.n;
    while (x !== NIL) {
      const xi = x << 4;
      const xb = x << 3;
      const height = n[xi + HEIGHT];
      const lo = f[xb + LO];
      const hi = f[xb + HI];
      const gap = f[xb + GAP];
      if (x === mustReach) mustReach = NIL;
      const l = n[xi + LEFT];
      const r = n[xi + RIGHT];
      const lh = l === NIL ? 0 : n[(l << 4) + HEIGHT];
      const rh = r === NIL ? 0 : n[(r << 4) + HEIGHT];
      if (lh > rh + 1) {
        const ll = n[(l << 4) + LEFT];
        const lr = n[(l << 4) + RIGHT];
        if ((ll === NIL ? 0 : n[(ll << 4) + HEIGHT]) < (lr === NIL ? 0 : n[(lr << 4) + HEIGHT]))
          this.rotateLeft(l);
        x = this.rotateRight(x);
      } else if (rh > lh + 1) {
        const rl = n[(r << 4) + LEFT];
        const rr = n[(r << 4) + RIGHT];
        if ((rr === NIL ? 0 : n[(rr << 4) + HEIGHT]) < (rl === NIL ? 0 : n[(rl << 4) + HEIGHT]))
          this.rotateRight(r);
        x = this.rotateLeft(x);
      } else {
        this.pull(x);
      }
      const b = x << 3;
      if (
        mustReach === NIL &&
        n[(x << 4) + HEIGHT] === height &&
        f[b + LO] === lo &&
        f[b + HI] === hi &&
        f[b + GAP] === gap
      )
        return;
      x = n[(x << 4) + PARENT];
    }
  }

  private replaceChild(p: number, old: number, y: number): void {
    const n = this.n;
    if (p === NIL) this.root = y;
    else if (n[(p << 4) + LEFT] === old) n[(p << 4) + LEFT] = y;
    else n[(p << 4) + RIGHT] = y;
  }

  private rotateLeft(x: number): number {
    const n = this.n;
    const y = n[(x << 4) + RIGHT];
    const b = n[(y << 4) + LEFT];
    n[(x << 4) + RIGHT] = b;
    if (b !== NIL) n[(b << 4) + PARENT] = x;
    const p = n[(x << 4) + PARENT];
    n[(y << 4) + PARENT] = p;
    this.replaceChild(p, x, y);
    n[(y << 4) + LEFT] = x;
    n[(x << 4) + PARENT] = y;
    this.pull(x);
    this.pull(y);
    return y;
  }

  private rotateRight(x: number): number {
    const n = this.n;
    const y = n[(x << 4) + LEFT];
    const b = n[(y << 4) + RIGHT];
    n[(x << 4) + LEFT] = b;
    if (b !== NIL) n[(b << 4) + PARENT] = x;
    const p = n[(x << 4) + PARENT];
    n[(y << 4) + PARENT] = p;
    this.replaceChild(p, x, y);
    n[(y << 4) + RIGHT] = x;
    n[(x << 4) + PARENT] = y;
    this.pull(x);
    this.pull(y);
    return y;
  }
}
