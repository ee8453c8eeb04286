/**
 * VmaTree: the ordered set of an address space's mappings (the role Linux's maple tree plays for
 * `mm->mm_mt`).
 *
 * Items are the caller's objects (`V extends VmaBounds`), kept by identity and never copied. Each item
 * sits in an internal node of an AVL tree keyed by `start`; the node caches the item's bounds (so every
 * comparison is a monomorphic field read on one hidden class, whatever V is) and carries a gap
 * augmentation so that free-area searches (`unmapped_area`, `unmapped_area_topdown`) are O(log n):
 *
 *   lo  = the lowest start in the subtree (its leftmost item's start)
 *   hi  = the highest end in the subtree (its rightmost item's end)
 *   gap = the largest free range strictly between two consecutive items of the subtree (0 if none)
 *
 * These are purely local to a subtree, so rotations only recompute the two rotated nodes and an
 * insert/remove/setBounds only recomputes the path to the root. The free range below the first item
 * ([0, first.start)) and the unbounded one above the last item are handled at the top level.
 *
 * Why an AVL tree with internal nodes: see bench/vma-tree.bench.ts. A sorted array with binary search
 * wins lookups at tiny n but its insert/remove are O(n) memmoves and its gap search is a linear scan;
 * the tree stays flat from 16 to 65,530 items (vm.max_map_count). AVL keeps the tree shallower than
 * red-black (<= 1.44 log2 n), which is what lookups, the dominant operation, pay for. Node lookup by
 * item (`remove`, `next`, `prev`, `setBounds`) is a descent by `v.start` plus an identity check, so
 * nothing is attached to the caller's objects and no Map/WeakMap is maintained.
 *
 * Addresses are plain numbers: page-aligned user addresses below 2^57 are exact in a double, as are
 * their differences. Bounds are half-open [start, end) and must satisfy start < end.
 *
 * Mutation contract: an item's bounds may only be changed through `setBounds` while it is in the tree.
 * Iterators are invalidated by any mutation of the tree.
 */

export interface VmaBounds {
  start: number;
  end: number;
}

class Node<V> {
  item: V;
  start: number;
  end: number;
  left: Node<V> | null = null;
  right: Node<V> | null = null;
  parent: Node<V> | null;
  height = 1;
  lo: number;
  hi: number;
  gap = 0;

  constructor(item: V, start: number, end: number, parent: Node<V> | null) {
    this.item = item;
    this.start = start;
    this.end = end;
    this.parent = parent;
    this.lo = start;
    this.hi = end;
  }
}

/** Recomputes height and the gap augmentation of `x` from its children. */
function pull<V>(x: Node<V>): void {
  const l = x.left;
  const r = x.right;
  let h = 0;
  let gap = 0;
  if (l !== null) {
    h = l.height;
    gap = l.gap;
    const g = x.start - l.hi;
    if (g > gap) gap = g;
    x.lo = l.lo;
  } else {
    x.lo = x.start;
  }
  if (r !== null) {
    if (r.height > h) h = r.height;
    if (r.gap > gap) gap = r.gap;
    const g = r.lo - x.end;
    if (g > gap) gap = g;
    x.hi = r.hi;
  } else {
    x.hi = x.end;
  }
  x.height = h + 1;
  x.gap = gap;
}

function leftmost<V>(x: Node<V>): Node<V> {
  while (x.left !== null) x = x.left;
  return x;
}

function rightmost<V>(x: Node<V>): Node<V> {
  while (x.right !== null) x = x.right;
  return x;
}

function successor<V>(x: Node<V>): Node<V> | null {
  if (x.right !== null) return leftmost(x.right);
  let p = x.parent;
  while (p !== null && p.right === x) {
    x = p;
    p = p.parent;
  }
  return p;
}

function predecessor<V>(x: Node<V>): Node<V> | null {
  if (x.left !== null) return rightmost(x.left);
  let p = x.parent;
  while (p !== null && p.left === x) {
    x = p;
    p = p.parent;
  }
  return p;
}

/** End of the highest free range inside x's subtree (between two of its items) that, clipped to
 * [low, high), is at least `length` long; -1 if none. */
function searchRev<V>(x: Node<V>, low: number, high: number, length: number): number {
  if (x.gap < length) return -1;
  // Every internal gap of the subtree lies within [x.lo, x.hi].
  if (Math.min(x.hi, high) - Math.max(x.lo, low) < length) return -1;
  const r = x.right;
  if (r !== null) {
    const res = searchRev(r, low, high, length);
    if (res >= 0) return res;
    const b = Math.min(r.lo, high);
    if (b - Math.max(x.end, low) >= length) return b;
  }
  const l = x.left;
  if (l !== null) {
    const b = Math.min(x.start, high);
    if (b - Math.max(l.hi, low) >= length) return b;
    return searchRev(l, low, high, length);
  }
  return -1;
}

/** Start of the lowest free range inside x's subtree that, clipped to [low, high), is at least
 * `length` long; -1 if none. */
function searchFwd<V>(x: Node<V>, low: number, high: number, length: number): number {
  if (x.gap < length) return -1;
  if (Math.min(x.hi, high) - Math.max(x.lo, low) < length) return -1;
  const l = x.left;
  if (l !== null) {
    const res = searchFwd(l, low, high, length);
    if (res >= 0) return res;
    const a = Math.max(l.hi, low);
    if (Math.min(x.start, high) - a >= length) return a;
  }
  const r = x.right;
  if (r !== null) {
    const a = Math.max(x.end, low);
    if (Math.min(r.lo, high) - a >= length) return a;
    return searchFwd(r, low, high, length);
  }
  return -1;
}

function checkLength(fn: string, length: number): void {
  if (!(length > 0)) throw new RangeError(`VmaTree.${fn}: length must be positive, got ${length}`);
}

export class VmaTree<V extends VmaBounds> {
  private root: Node<V> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.root = null;
    this.count = 0;
  }

  // ---- lookups -------------------------------------------------------------------------------------

  /** The item with start <= addr < end, if any. */
  find(addr: number): V | undefined {
    let x = this.root;
    while (x !== null) {
      if (addr < x.start) x = x.left;
      else if (addr >= x.end) x = x.right;
      else return x.item;
    }
    return undefined;
  }

  /** The first item whose end > addr: the one containing addr, else the next one above it.
   * This is Linux's `find_vma(mm, addr)`. */
  lowerBound(addr: number): V | undefined {
    const n = this.lowerBoundNode(addr);
    return n === null ? undefined : n.item;
  }

  /** The last item whose end <= addr, i.e. the item just below `lowerBound(addr)` (the last item if
   * lowerBound is undefined). This is the `*pprev` of Linux's `find_vma_prev(mm, addr, &pprev)`:
   * when addr lies inside an item, that item is NOT returned but the one before it. */
  prevBefore(addr: number): V | undefined {
    let x = this.root;
    let best: Node<V> | null = null;
    while (x !== null) {
      if (x.end <= addr) {
        best = x;
        x = x.right;
      } else {
        x = x.left;
      }
    }
    return best === null ? undefined : best.item;
  }

  /** The lowest item that intersects [start, end); undefined if none or if the range is empty. */
  firstIntersecting(start: number, end: number): V | undefined {
    const n = this.lowerBoundNode(start);
    return n !== null && n.start < end && start < end ? n.item : undefined;
  }

  first(): V | undefined {
    return this.root === null ? undefined : leftmost(this.root).item;
  }

  last(): V | undefined {
    return this.root === null ? undefined : rightmost(this.root).item;
  }

  /** The item after v in address order. Throws if v is not in the tree. */
  next(v: V): V | undefined {
    const s = successor(this.nodeOf(v, 'next'));
    return s === null ? undefined : s.item;
  }

  /** The item before v in address order. Throws if v is not in the tree. */
  prev(v: V): V | undefined {
    const p = predecessor(this.nodeOf(v, 'prev'));
    return p === null ? undefined : p.item;
  }

  /** Whether v (by identity) is in the tree. */
  has(v: V): boolean {
    const n = this.lookupNode(v.start);
    return n !== null && n.item === v;
  }

  *[Symbol.iterator](): IterableIterator<V> {
    let x = this.root === null ? null : leftmost(this.root);
    while (x !== null) {
      yield x.item;
      x = successor(x);
    }
  }

  /** The items intersecting [start, end), in address order (none if the range is empty). */
  *range(start: number, end: number): IterableIterator<V> {
    if (!(start < end)) return;
    let x = this.lowerBoundNode(start);
    while (x !== null && x.start < end) {
      yield x.item;
      x = successor(x);
    }
  }

  /** Calls fn on each item intersecting [start, end) in address order (no iterator allocation).
   * The tree must not be mutated during the walk. */
  forEachInRange(start: number, end: number, fn: (v: V) => void): void {
    if (!(start < end)) return;
    let x = this.lowerBoundNode(start);
    while (x !== null && x.start < end) {
      fn(x.item);
      x = successor(x);
    }
  }

  /** The items as an array, in address order. */
  toArray(): V[] {
    const out: V[] = [];
    let x = this.root === null ? null : leftmost(this.root);
    while (x !== null) {
      out.push(x.item);
      x = successor(x);
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
    if (root === null) return high - low >= length ? high : -1;
    // Above the last item: [root.hi, +inf).
    if (high - Math.max(root.hi, low) >= length) return high;
    const res = searchRev(root, low, high, length);
    if (res >= 0) return res;
    // Below the first item: [0, root.lo).
    const b = Math.min(root.lo, high);
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
    if (root === null) return high - low >= length ? low : -1;
    if (Math.min(root.lo, high) - low >= length) return low;
    const res = searchFwd(root, low, high, length);
    if (res >= 0) return res;
    const a = Math.max(root.hi, low);
    return high - a >= length ? a : -1;
  }

  // ---- mutation ------------------------------------------------------------------------------------

  /** Inserts v. Throws `VmaTree.insert: overlap ...` if v overlaps an item already present. */
  insert(v: V): void {
    const start = v.start;
    const end = v.end;
    if (!(start < end)) throw new Error(`VmaTree.insert: invalid bounds [${start}, ${end})`);
    let x = this.root;
    if (x === null) {
      this.root = new Node(v, start, end, null);
      this.count = 1;
      return;
    }
    for (;;) {
      if (end <= x.start) {
        if (x.left === null) {
          x.left = new Node(v, start, end, x);
          break;
        }
        x = x.left;
      } else if (start >= x.end) {
        if (x.right === null) {
          x.right = new Node(v, start, end, x);
          break;
        }
        x = x.right;
      } else {
        throw new Error(
          `VmaTree.insert: overlap: [${hex(start)}, ${hex(end)}) overlaps [${hex(x.start)}, ${hex(x.end)})`,
        );
      }
    }
    this.count++;
    this.fixup(x, null);
  }

  /** Removes v (by identity). Throws `VmaTree.remove: not present` if v is not in the tree. */
  remove(v: V): void {
    let x = this.nodeOf(v, 'remove');
    let changed: Node<V> | null = null;
    if (x.left !== null && x.right !== null) {
      // Move the successor's item into x, then unlink the successor node (which has no left child).
      const s = leftmost(x.right);
      x.item = s.item;
      x.start = s.start;
      x.end = s.end;
      changed = x;
      x = s;
    }
    const child = x.left !== null ? x.left : x.right;
    const p = x.parent;
    if (child !== null) child.parent = p;
    if (p === null) this.root = child;
    else if (p.left === x) p.left = child;
    else p.right = child;
    this.count--;
    if (p !== null) this.fixup(p, changed);
  }

  /**
   * Changes v's bounds in place (assigns v.start and v.end) for VMA split/merge/expand. The new bounds
   * must still lie strictly between v's neighbours (no overlap, same order); otherwise throws
   * `VmaTree.setBounds: overlap ...` and nothing changes. O(log n).
   */
  setBounds(v: V, start: number, end: number): void {
    const x = this.nodeOf(v, 'setBounds');
    if (!(start < end)) throw new Error(`VmaTree.setBounds: invalid bounds [${start}, ${end})`);
    if (start < x.start) {
      const p = predecessor(x);
      if (p !== null && p.end > start) throw overlapError('setBounds', start, end, p);
    }
    if (end > x.end) {
      const s = successor(x);
      if (s !== null && s.start < end) throw overlapError('setBounds', start, end, s);
    }
    v.start = start;
    v.end = end;
    x.start = start;
    x.end = end;
    // No rotation needed: only the augmentation on the path to the root can change.
    for (let y: Node<V> | null = x; y !== null; y = y.parent) {
      const lo = y.lo;
      const hi = y.hi;
      const gap = y.gap;
      pull(y);
      if (y.lo === lo && y.hi === hi && y.gap === gap) break;
    }
  }

  // ---- debugging -----------------------------------------------------------------------------------

  /** Verifies every invariant against a recomputation; returns the violations ([] when sound). */
  check(): string[] {
    const errs: string[] = [];
    let seen = 0;
    let prevEnd = Number.NEGATIVE_INFINITY;
    let prevStart = Number.NEGATIVE_INFINITY;
    const walk = (x: Node<V>, parent: Node<V> | null): { lo: number; hi: number; gap: number; h: number } => {
      if (x.parent !== parent) errs.push(`node [${x.start}, ${x.end}): wrong parent pointer`);
      const l = x.left === null ? null : walk(x.left, x);
      seen++;
      const where = `node [${x.start}, ${x.end})`;
      if (x.item.start !== x.start || x.item.end !== x.end)
        errs.push(`${where}: item bounds [${x.item.start}, ${x.item.end}) changed behind the tree's back`);
      if (!(x.start < x.end)) errs.push(`${where}: empty or inverted`);
      if (!(x.start > prevStart)) errs.push(`${where}: out of order (previous start ${prevStart})`);
      if (x.start < prevEnd) errs.push(`${where}: overlaps previous item ending at ${prevEnd}`);
      prevStart = x.start;
      prevEnd = x.end;
      const r = x.right === null ? null : walk(x.right, x);
      const lh = l === null ? 0 : l.h;
      const rh = r === null ? 0 : r.h;
      const h = 1 + Math.max(lh, rh);
      const lo = l === null ? x.start : l.lo;
      const hi = r === null ? x.end : r.hi;
      let gap = 0;
      if (l !== null) gap = Math.max(gap, l.gap, x.start - l.hi);
      if (r !== null) gap = Math.max(gap, r.gap, r.lo - x.end);
      if (x.height !== h) errs.push(`${where}: cached height ${x.height}, actual ${h}`);
      if (Math.abs(lh - rh) > 1) errs.push(`${where}: AVL imbalance ${lh} vs ${rh}`);
      if (x.lo !== lo) errs.push(`${where}: cached lo ${x.lo}, actual ${lo}`);
      if (x.hi !== hi) errs.push(`${where}: cached hi ${x.hi}, actual ${hi}`);
      if (x.gap !== gap) errs.push(`${where}: cached gap ${x.gap}, actual ${gap}`);
      return { lo, hi, gap, h };
    };
    if (this.root !== null) walk(this.root, null);
    if (seen !== this.count) errs.push(`size is ${this.count} but the tree holds ${seen} items`);
    return errs;
  }

  // ---- internals -----------------------------------------------------------------------------------

  private lowerBoundNode(addr: number): Node<V> | null {
    let x = this.root;
    let best: Node<V> | null = null;
    while (x !== null) {
      if (x.end > addr) {
        best = x;
        x = x.left;
      } else {
        x = x.right;
      }
    }
    return best;
  }

  private lookupNode(start: number): Node<V> | null {
    let x = this.root;
    while (x !== null) {
      if (start < x.start) x = x.left;
      else if (start > x.start) x = x.right;
      else return x;
    }
    return null;
  }

  private nodeOf(v: V, fn: string): Node<V> {
    const x = this.lookupNode(v.start);
    if (x === null || x.item !== v) throw new Error(`VmaTree.${fn}: not present`);
    return x;
  }

  /**
   * Walks from x towards the root, recomputing the augmentation and restoring AVL balance. Stops as
   * soon as a subtree's height and augmentation come out unchanged (its ancestors are then still
   * right), but never before `mustReach` (a node whose own bounds changed) has been recomputed.
   */
  private fixup(x: Node<V> | null, mustReach: Node<V> | null): void {
    while (x !== null) {
      const { height, lo, hi, gap } = x;
      if (x === mustReach) mustReach = null;
      const l = x.left;
      const r = x.right;
      const lh = l === null ? 0 : l.height;
      const rh = r === null ? 0 : r.height;
      if (lh > rh + 1) {
        const ll = l!.left;
        const lr = l!.right;
        if ((ll === null ? 0 : ll.height) < (lr === null ? 0 : lr.height)) this.rotateLeft(l!);
        x = this.rotateRight(x);
      } else if (rh > lh + 1) {
        const rl = r!.left;
        const rr = r!.right;
        if ((rr === null ? 0 : rr.height) < (rl === null ? 0 : rl.height)) this.rotateRight(r!);
        x = this.rotateLeft(x);
      } else {
        pull(x);
      }
      if (mustReach === null && x.height === height && x.lo === lo && x.hi === hi && x.gap === gap) return;
      x = x.parent;
    }
  }

  private replaceChild(p: Node<V> | null, old: Node<V>, y: Node<V>): void {
    if (p === null) this.root = y;
    else if (p.left === old) p.left = y;
    else p.right = y;
  }

  private rotateLeft(x: Node<V>): Node<V> {
    const y = x.right!;
    const b = y.left;
    x.right = b;
    if (b !== null) b.parent = x;
    const p = x.parent;
    y.parent = p;
    this.replaceChild(p, x, y);
    y.left = x;
    x.parent = y;
    pull(x);
    pull(y);
    return y;
  }

  private rotateRight(x: Node<V>): Node<V> {
    const y = x.left!;
    const b = y.right;
    x.left = b;
    if (b !== null) b.parent = x;
    const p = x.parent;
    y.parent = p;
    this.replaceChild(p, x, y);
    y.right = x;
    x.parent = y;
    pull(x);
    pull(y);
    return y;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function overlapError<V>(fn: string, start: number, end: number, n: Node<V>): Error {
  return new Error(
    `VmaTree.${fn}: overlap: [${hex(start)}, ${hex(end)}) overlaps [${hex(n.start)}, ${hex(n.end)})`,
  );
}
