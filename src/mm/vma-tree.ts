/**
 * VmaTree: the ordered set of an address space's mappings (the role Linux's maple tree plays for
 * `mm->mm_mt`).
 *
 * Like the maple tree, it is a B-tree with 16-way nodes: every item lives in a leaf of up to 16
 * items in address order, leaves are chained both ways, and an inner node holds up to 16 children
 * with, for each, the lowest start, the highest end and the largest gap of its subtree. A lookup
 * reads 4 nodes at 65,530 mappings (vm.max_map_count) where a binary tree reads 17 to 20, and each
 * node's bounds are two Float64Arrays scanned in order, not pointers to chase.
 *
 * Items are the caller's objects (`V extends VmaBounds`), kept by identity and never copied. The
 * tree keeps its node handle on each item (`treeNode`, as Linux keeps a VMA's place in the maple
 * tree through its iterator state), so `remove`, `next`, `prev` and `setBounds` go straight to the
 * item's leaf instead of descending from the root. An item is in at most one tree at a time.
 *
 * Augmentation: for each node, `lo` = its lowest start, `hi` = its highest end, `gap` = the largest
 * free range strictly between two consecutive items of its subtree (0 if none); a parent holds a
 * copy of each child's three in its own arrays. The free range below the first item ([0, lo)) and
 * the unbounded one above the last item are handled at the top level. `highestGap`/`lowestGap`
 * descend only into children whose gap is large enough and which meet the window, so a search costs
 * O(16 log16 n). A change recomputes its leaf, then each ancestor only while the child's
 * (lo, hi, gap) actually changed: most splits and merges stop at the leaf.
 *
 * Nodes hold at least 4 entries (the root excepted): a node that falls below merges with a
 * neighbour when both together hold at most 12, else takes entries from it (the slack keeps a
 * split and a merge from following each other on every insert and remove at one place).
 *
 * Addresses are plain numbers: page-aligned user addresses below 2^57 are exact in a double, as are
 * their differences. Bounds are half-open [start, end) and must satisfy start < end.
 *
 * Mutation contract: an item's bounds may only be changed through `setBounds` while it is in the tree,
 * and its `treeNode` belongs to the tree. Iterators are invalidated by any mutation of the tree.
 */
import { hex } from '../hal/addr.js';

export interface VmaBounds {
  start: number;
  end: number;
  /** The tree's handle on the item while it is in a tree (its leaf); owned by the tree. */
  treeNode?: unknown;
}

/** Entries per node (Linux's maple_range_64 has 16 slots). */
const B = 16;
/** Fewest entries in a node other than the root. */
const MIN = 4;
/**
 * Most entries two neighbours may have together to be merged into one node; more are shared out
 * between them instead. The slack keeps a node that was just merged from splitting again on the
 * next insert (a split leaves as few as MIN entries on one side).
 */
const MERGE_MAX = B - MIN;

class TreeNode<V extends VmaBounds> {
  /** Entries in use: items (leaf) or children (inner node). */
  count = 0;
  parent: TreeNode<V> | null = null;
  /** The augmentation of the whole subtree (see the file comment). */
  lo = 0;
  hi = 0;
  gap = 0;
  /** Per entry: the item's bounds (leaf), the child's lo and hi (inner node). */
  readonly starts = new Float64Array(B);
  readonly ends = new Float64Array(B);
  /** Per child: its gap (inner nodes only). */
  readonly gaps: Float64Array | null;
  readonly items: (V | undefined)[] | null;
  readonly kids: (TreeNode<V> | undefined)[] | null;
  /** The index of this node among its parent's children. */
  slot = 0;
  /** The neighbouring leaves (leaves only). */
  prev: TreeNode<V> | null = null;
  next: TreeNode<V> | null = null;

  constructor(
    readonly leaf: boolean,
    readonly tree: VmaTree<V>,
  ) {
    this.gaps = leaf ? null : new Float64Array(B);
    this.items = leaf ? new Array<V | undefined>(B).fill(undefined) : null;
    this.kids = leaf ? null : new Array<TreeNode<V> | undefined>(B).fill(undefined);
  }
}

function checkLength(fn: string, length: number): void {
  if (!(length > 0)) throw new RangeError(`VmaTree.${fn}: length must be positive, got ${length}`);
}

type Node<V extends VmaBounds> = TreeNode<V>;

/** How the tree's check names a node and an item: formatted only for a message. */
const nodeName = (x: { lo: number; hi: number }) => `node [${x.lo}, ${x.hi})`;
const itemName = (x: { starts: ArrayLike<number>; ends: ArrayLike<number> }, i: number) =>
  `item [${x.starts[i]}, ${x.ends[i]})`;
export class VmaTree<V extends VmaBounds> {
  private root: Node<V>;
  private head: Node<V>;
  private tail: Node<V>;
  private count = 0;
  /** The entry index that the last `locate`/`lowerLeaf` found in the leaf it returned. */
  private at = 0;
  /**
   * The leaf of the last lookup: the next one is usually in the same place (a syscall looks up its
   * range, its neighbours, then changes them), and whether it is there costs two comparisons.
   */
  private finger: Node<V>;

  constructor() {
    this.root = this.head = this.tail = this.finger = new TreeNode<V>(true, this);
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    for (let l: Node<V> | null = this.head; l !== null; l = l.next) {
      for (let j = 0; j < l.count; j++) l.items![j]!.treeNode = undefined;
    }
    this.root = this.head = this.tail = this.finger = new TreeNode<V>(true, this);
    this.count = 0;
  }

  // ---- lookups -------------------------------------------------------------------------------------

  /** The item with start <= addr < end, if any. */
  find(addr: number): V | undefined {
    const l = this.lowerLeaf(addr);
    if (l === null || l.starts[this.at] > addr) return undefined;
    return l.items![this.at];
  }

  /** The first item whose end > addr: the one containing addr, else the next one above it.
   * This is Linux's `find_vma(mm, addr)`. */
  lowerBound(addr: number): V | undefined {
    const l = this.lowerLeaf(addr);
    return l === null ? undefined : l.items![this.at];
  }

  /** The last item whose end <= addr, i.e. the item just below `lowerBound(addr)` (the last item if
   * lowerBound is undefined). This is the `*pprev` of Linux's `find_vma_prev(mm, addr, &pprev)`:
   * when addr lies inside an item, that item is NOT returned but the one before it. */
  prevBefore(addr: number): V | undefined {
    const l = this.lowerLeaf(addr);
    if (l === null) return this.last();
    if (this.at > 0) return l.items![this.at - 1];
    const p = l.prev;
    return p === null ? undefined : p.items![p.count - 1];
  }

  /** The lowest item that intersects [start, end); undefined if none or if the range is empty. */
  firstIntersecting(start: number, end: number): V | undefined {
    if (!(start < end)) return undefined;
    const l = this.lowerLeaf(start);
    return l !== null && l.starts[this.at] < end ? l.items![this.at] : undefined;
  }

  first(): V | undefined {
    return this.count === 0 ? undefined : this.head.items![0];
  }

  last(): V | undefined {
    return this.count === 0 ? undefined : this.tail.items![this.tail.count - 1];
  }

  /** The item after v in address order. Throws if v is not in the tree. */
  next(v: V): V | undefined {
    const l = this.locate(v, 'next');
    const j = this.at + 1;
    if (j < l.count) return l.items![j];
    const n = l.next;
    return n === null ? undefined : n.items![0];
  }

  /** The item before v in address order. Throws if v is not in the tree. */
  prev(v: V): V | undefined {
    const l = this.locate(v, 'prev');
    if (this.at > 0) return l.items![this.at - 1];
    const p = l.prev;
    return p === null ? undefined : p.items![p.count - 1];
  }

  /** Whether v (by identity) is in the tree. */
  has(v: V): boolean {
    const l = v.treeNode;
    if (!(l instanceof TreeNode) || l.tree !== this) return false;
    const items = l.items!;
    for (let j = 0; j < l.count; j++) if (items[j] === v) return true;
    return false;
  }

  *[Symbol.iterator](): IterableIterator<V> {
    for (let l: Node<V> | null = this.head; l !== null; l = l.next) {
      for (let j = 0; j < l.count; j++) yield l.items![j]!;
    }
  }

  /** The items intersecting [start, end), in address order (none if the range is empty). */
  *range(start: number, end: number): IterableIterator<V> {
    if (!(start < end)) return;
    let l = this.lowerLeaf(start);
    let j = this.at;
    while (l !== null && l.starts[j] < end) {
      yield l.items![j]!;
      if (++j === l.count) {
        l = l.next;
        j = 0;
      }
    }
  }

  /** Calls fn on each item intersecting [start, end) in address order (no iterator allocation).
   * The tree must not be mutated during the walk. */
  forEachInRange(start: number, end: number, fn: (v: V) => void): void {
    if (!(start < end)) return;
    let l = this.lowerLeaf(start);
    let j = this.at;
    while (l !== null && l.starts[j] < end) {
      fn(l.items![j]!);
      if (++j === l.count) {
        l = l.next;
        j = 0;
      }
    }
  }

  /** The items as an array, in address order. */
  toArray(): V[] {
    return [...this];
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
    if (this.count === 0) return high - low >= length ? high : -1;
    // Above the last item: [root.hi, +inf).
    if (high - Math.max(root.hi, low) >= length) return high;
    const res = this.searchRev(root, low, high, length);
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
    if (this.count === 0) return high - low >= length ? low : -1;
    if (Math.min(root.lo, high) - low >= length) return low;
    const res = this.searchFwd(root, low, high, length);
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
    const h = v.treeNode;
    if (h instanceof TreeNode && h.tree.has(v)) {
      if (h.tree !== this) throw new Error('VmaTree.insert: the item is in another tree');
      throw this.overlapError('insert', start, end, start, end);
    }
    // v goes right before the first item ending above its start, or after the last item.
    let l = this.lowerLeaf(start);
    let j = this.at;
    if (l === null) {
      l = this.tail;
      j = l.count;
    } else if (l.starts[j] < end) throw this.overlapError('insert', start, end, l.starts[j], l.ends[j]);
    this.count++;
    if (l.count === B) {
      const right = this.splitNode(l, j);
      if (j > l.count) {
        j -= l.count;
        l = right;
      }
    }
    this.insertEntry(l, j, start, end);
    l.items![j] = v;
    v.treeNode = l;
    this.update(l);
  }

  /** Removes v (by identity). Throws `VmaTree.remove: not present` if v is not in the tree. */
  remove(v: V): void {
    const l = this.locate(v, 'remove');
    const j = this.at;
    const items = l.items!;
    for (let k = j; k < l.count - 1; k++) items[k] = items[k + 1];
    items[l.count - 1] = undefined;
    this.removeEntry(l, j);
    v.treeNode = undefined;
    this.count--;
    this.rebalance(l);
  }

  /**
   * Changes v's bounds in place (assigns v.start and v.end) for VMA split/merge/expand. The new bounds
   * must still lie strictly between v's neighbours (no overlap, same order); otherwise throws
   * `VmaTree.setBounds: overlap ...` and nothing changes. O(log n).
   */
  setBounds(v: V, start: number, end: number): void {
    const l = this.locate(v, 'setBounds');
    const j = this.at;
    if (!(start < end)) throw new Error(`VmaTree.setBounds: invalid bounds [${start}, ${end})`);
    if (start < l.starts[j]) {
      const p = j > 0 ? l : l.prev;
      const pj = j > 0 ? j - 1 : p === null ? 0 : p.count - 1;
      if (p !== null && p.ends[pj] > start)
        throw this.overlapError('setBounds', start, end, p.starts[pj], p.ends[pj]);
    }
    if (end > l.ends[j]) {
      const s = j + 1 < l.count ? l : l.next;
      const sj = j + 1 < l.count ? j + 1 : 0;
      if (s !== null && s.starts[sj] < end)
        throw this.overlapError('setBounds', start, end, s.starts[sj], s.ends[sj]);
    }
    const s = l.starts[j];
    const e = l.ends[j];
    v.start = start;
    v.end = end;
    l.starts[j] = start;
    l.ends[j] = end;
    if (this.refresh(l, j, s, e, 0)) this.propagate(l);
  }

  // ---- debugging -----------------------------------------------------------------------------------

  /** Verifies every invariant against a recomputation; returns the violations ([] when sound). */
  check(): string[] {
    const errs: string[] = [];
    let seen = 0;
    let prevEnd = Number.NEGATIVE_INFINITY;
    let prevStart = Number.NEGATIVE_INFINITY;
    let leafDepth = -1;
    let prevLeaf: Node<V> | null = null;
    let fingerSeen = false;
    const walk = (x: Node<V>, parent: Node<V> | null, depth: number): void => {
      if (x.parent !== parent) errs.push(`${nodeName(x)}: wrong parent link`);
      if (x.tree !== this) errs.push(`${nodeName(x)}: belongs to another tree`);
      if (x.count > B) errs.push(`${nodeName(x)}: ${x.count} entries`);
      if (parent !== null && x.count < MIN) errs.push(`${nodeName(x)}: underfull (${x.count} entries)`);
      if (parent === null && !x.leaf && x.count < 2)
        errs.push(`${nodeName(x)}: inner root with ${x.count} child`);
      let gap = 0;
      for (let i = 0; i < x.count; i++) {
        if (i > 0) gap = Math.max(gap, x.starts[i] - x.ends[i - 1]);
        if (x.leaf) {
          const item = x.items![i];
          if (item === undefined) {
            errs.push(`${itemName(x, i)}: no item`);
            continue;
          }
          seen++;
          if (item.start !== x.starts[i] || item.end !== x.ends[i])
            errs.push(
              `${itemName(x, i)}: item bounds [${item.start}, ${item.end}) changed behind the tree's back`,
            );
          if (item.treeNode !== x) errs.push(`${itemName(x, i)}: the item's handle is not its leaf`);
          if (!(item.start < item.end)) errs.push(`${itemName(x, i)}: empty or inverted`);
          if (!(item.start > prevStart))
            errs.push(`${itemName(x, i)}: out of order (previous start ${prevStart})`);
          if (item.start < prevEnd)
            errs.push(`${itemName(x, i)}: overlaps previous item ending at ${prevEnd}`);
          prevStart = item.start;
          prevEnd = item.end;
        } else {
          const kid = x.kids![i];
          if (kid === undefined) {
            errs.push(`${nodeName(x)}: no child ${i}`);
            continue;
          }
          if (kid.slot !== i) errs.push(`${nodeName(x)}: child ${i} thinks it is child ${kid.slot}`);
          walk(kid, x, depth + 1);
          if (x.starts[i] !== kid.lo || x.ends[i] !== kid.hi || x.gaps![i] !== kid.gap)
            errs.push(`${nodeName(x)}: stale copy of child ${i}'s augmentation`);
          gap = Math.max(gap, x.gaps![i]);
        }
      }
      for (let i = x.count; i < B; i++) {
        if (x.leaf ? x.items![i] !== undefined : x.kids![i] !== undefined)
          errs.push(`${nodeName(x)}: entry ${i} beyond the count is still referenced`);
      }
      if (x.count > 0) {
        if (x.lo !== x.starts[0]) errs.push(`${nodeName(x)}: cached lo ${x.lo}, actual ${x.starts[0]}`);
        if (x.hi !== x.ends[x.count - 1])
          errs.push(`${nodeName(x)}: cached hi ${x.hi}, actual ${x.ends[x.count - 1]}`);
        if (x.gap !== gap) errs.push(`${nodeName(x)}: cached gap ${x.gap}, actual ${gap}`);
      }
      if (x.leaf) {
        if (leafDepth < 0) leafDepth = depth;
        else if (depth !== leafDepth)
          errs.push(`${nodeName(x)}: leaf at depth ${depth}, others at ${leafDepth}`);
        if (x.prev !== prevLeaf) errs.push(`${nodeName(x)}: wrong previous-leaf link`);
        if (prevLeaf !== null && prevLeaf.next !== x) errs.push(`${nodeName(x)}: wrong next-leaf link`);
        if (prevLeaf === null && this.head !== x) errs.push(`${nodeName(x)}: first leaf is not the head`);
        if (x === this.finger) fingerSeen = true;
        prevLeaf = x;
      }
    };
    walk(this.root, null, 0);
    if (prevLeaf !== this.tail) errs.push('the last leaf is not the tail');
    if (!fingerSeen) errs.push('the lookup finger is not a leaf of the tree');
    if (prevLeaf !== null && (prevLeaf as Node<V>).next !== null) errs.push('the last leaf has a next link');
    if (seen !== this.count) errs.push(`size is ${this.count} but the tree holds ${seen} items`);
    return errs;
  }

  // ---- internals -----------------------------------------------------------------------------------

  /** The leaf holding the first item with end > addr (its index in `this.at`), or null if none. */
  private lowerLeaf(addr: number): Node<V> | null {
    let x = this.finger;
    if (x.count > 0 && x.hi > addr && (x.prev === null || x.prev.hi <= addr)) {
      let j = 0;
      while (x.ends[j] <= addr) j++;
      this.at = j;
      return x;
    }
    x = this.root;
    if (this.count === 0 || !(x.hi > addr)) return null;
    while (!x.leaf) {
      // Some child ends above addr (x.hi does): the first one that does holds the answer.
      let i = 0;
      while (x.ends[i] <= addr) i++;
      x = x.kids![i]!;
    }
    let j = 0;
    while (x.ends[j] <= addr) j++;
    this.at = j;
    this.finger = x;
    return x;
  }

  /** The leaf holding v (its index in `this.at`); throws `VmaTree.<fn>: not present` if none. */
  private locate(v: V, fn: string): Node<V> {
    const l = v.treeNode;
    if (l instanceof TreeNode && l.tree === this) {
      const items = (l as Node<V>).items!;
      for (let j = 0; j < l.count; j++) {
        if (items[j] === v) {
          this.at = j;
          return l as Node<V>;
        }
      }
    }
    throw new Error(`VmaTree.${fn}: not present`);
  }

  private overlapError(fn: string, start: number, end: number, s: number, e: number): Error {
    return new Error(`VmaTree.${fn}: overlap: [${hex(start)}, ${hex(end)}) overlaps [${hex(s)}, ${hex(e)})`);
  }

  /** Opens entry j of x (which has room) with the given bounds; items/kids are the caller's. */
  private insertEntry(x: Node<V>, j: number, start: number, end: number): void {
    const { starts, ends } = x;
    for (let k = x.count; k > j; k--) {
      starts[k] = starts[k - 1];
      ends[k] = ends[k - 1];
    }
    starts[j] = start;
    ends[j] = end;
    if (x.leaf) {
      const items = x.items!;
      for (let k = x.count; k > j; k--) items[k] = items[k - 1];
    } else {
      const kids = x.kids!;
      const gaps = x.gaps!;
      for (let k = x.count; k > j; k--) {
        const kid = kids[k - 1]!;
        kids[k] = kid;
        kid.slot = k;
        gaps[k] = gaps[k - 1];
      }
    }
    x.count++;
  }

  /** Closes entry j of x (bounds, gaps and children; a leaf's items are shifted by the caller). */
  private removeEntry(x: Node<V>, j: number): void {
    const n = x.count;
    const { starts, ends } = x;
    for (let k = j; k < n - 1; k++) {
      starts[k] = starts[k + 1];
      ends[k] = ends[k + 1];
    }
    if (!x.leaf) {
      const kids = x.kids!;
      const gaps = x.gaps!;
      for (let k = j; k < n - 1; k++) {
        const kid = kids[k + 1]!;
        kids[k] = kid;
        kid.slot = k;
        gaps[k] = gaps[k + 1];
      }
      kids[n - 1] = undefined;
    }
    x.count = n - 1;
  }

  /** Puts `kid` in slot k of the inner node p, with a copy of its augmentation. */
  private setKid(p: Node<V>, k: number, kid: Node<V>): void {
    p.kids![k] = kid;
    kid.parent = p;
    kid.slot = k;
    p.starts[k] = kid.lo;
    p.ends[k] = kid.hi;
    p.gaps![k] = kid.gap;
  }

  /** Recomputes x's (lo, hi, gap) from all its entries. */
  private pull(x: Node<V>): void {
    const n = x.count;
    if (n === 0) {
      x.lo = x.hi = x.gap = 0;
      return;
    }
    const { starts, ends } = x;
    let gap = 0;
    if (x.leaf) {
      for (let i = 1; i < n; i++) {
        const g = starts[i] - ends[i - 1];
        if (g > gap) gap = g;
      }
    } else {
      const gaps = x.gaps!;
      gap = gaps[0];
      for (let i = 1; i < n; i++) {
        const g = starts[i] - ends[i - 1];
        if (g > gap) gap = g;
        if (gaps[i] > gap) gap = gaps[i];
      }
    }
    x.lo = starts[0];
    x.hi = ends[n - 1];
    x.gap = gap;
  }

  /** The largest of entry j's own gap and the free ranges on either side of it, for bounds s, e. */
  private around(x: Node<V>, j: number, s: number, e: number, own: number): number {
    let g = own;
    if (j > 0 && s - x.ends[j - 1] > g) g = s - x.ends[j - 1];
    if (j + 1 < x.count && x.starts[j + 1] - e > g) g = x.starts[j + 1] - e;
    return g;
  }

  /**
   * Entry j of x changed from (s, e, own gap g) to what its arrays now hold: refreshes x's
   * augmentation without a rescan unless the old maximum may have been lost. Whether it changed.
   */
  private refresh(x: Node<V>, j: number, s: number, e: number, g: number): boolean {
    const gaps = x.gaps;
    const now = this.around(x, j, x.starts[j], x.ends[j], gaps === null ? 0 : gaps[j]);
    const lo = x.lo;
    const hi = x.hi;
    const gap = x.gap;
    if (now >= gap) x.gap = now;
    else if (this.around(x, j, s, e, g) >= gap) this.pull(x);
    x.lo = x.starts[0];
    x.hi = x.ends[x.count - 1];
    return x.lo !== lo || x.hi !== hi || x.gap !== gap;
  }

  /** Carries x's augmentation up the tree, stopping at the first ancestor it leaves unchanged. */
  private propagate(x: Node<V>): void {
    let y = x;
    for (let p = y.parent; p !== null; p = y.parent) {
      const i = y.slot;
      const s = p.starts[i];
      const e = p.ends[i];
      const g = p.gaps![i];
      if (s === y.lo && e === y.hi && g === y.gap) return;
      p.starts[i] = y.lo;
      p.ends[i] = y.hi;
      p.gaps![i] = y.gap;
      if (!this.refresh(p, i, s, e, g)) return;
      y = p;
    }
  }

  /** After a structural change of x: recomputes it and carries the result up. */
  private update(x: Node<V>): void {
    this.pull(x);
    this.propagate(x);
  }

  /**
   * Splits the full node x, about to receive an entry at `j`: its upper part moves to a new right
   * sibling, linked into the parent (which may split in turn, up to a new root). An entry going to
   * either end (mappings placed one after the other) leaves the other node nearly full, as the
   * maple tree's rightmost split does; otherwise each gets half. Returns the new node.
   */
  private splitNode(x: Node<V>, j: number): Node<V> {
    const r = new TreeNode<V>(x.leaf, this);
    const keep = j === B ? B - MIN + 1 : j === 0 ? MIN - 1 : B >> 1;
    const moved = B - keep;
    for (let k = 0; k < moved; k++) {
      r.starts[k] = x.starts[keep + k];
      r.ends[k] = x.ends[keep + k];
    }
    if (x.leaf) {
      const from = x.items!;
      const to = r.items!;
      for (let k = 0; k < moved; k++) {
        const item = from[keep + k]!;
        to[k] = item;
        item.treeNode = r;
        from[keep + k] = undefined;
      }
      r.next = x.next;
      r.prev = x;
      if (x.next !== null) x.next.prev = r;
      else this.tail = r;
      x.next = r;
    } else {
      const from = x.kids!;
      for (let k = 0; k < moved; k++) {
        r.gaps![k] = x.gaps![keep + k];
        const kid = from[keep + k]!;
        r.kids![k] = kid;
        kid.parent = r;
        kid.slot = k;
        from[keep + k] = undefined;
      }
    }
    r.count = moved;
    x.count = keep;
    this.pull(x);
    this.pull(r);
    let p = x.parent;
    if (p === null) {
      p = new TreeNode<V>(false, this);
      this.setKid(p, 0, x);
      p.count = 1;
      this.root = p;
    }
    if (p.count === B) {
      this.splitNode(p, x.slot + 1);
      p = x.parent!;
    }
    const i = x.slot;
    p.starts[i] = x.lo;
    p.ends[i] = x.hi;
    p.gaps![i] = x.gap;
    this.insertEntry(p, i + 1, r.lo, r.hi);
    this.setKid(p, i + 1, r);
    this.update(p);
    return r;
  }

  /** After x lost an entry: merges it with a neighbour or refills it from one, up the tree. */
  private rebalance(x: Node<V>): void {
    const p = x.parent;
    if (p === null) {
      if (!x.leaf && x.count === 1) {
        // The root has one child left: that child becomes the root.
        const only = x.kids![0]!;
        only.parent = null;
        only.slot = 0;
        this.root = only;
      } else this.pull(x);
      return;
    }
    if (x.count >= MIN) {
      this.update(x);
      return;
    }
    const i = x.slot;
    // The neighbour under the same parent: the right one, or the left one for the last child.
    const li = i + 1 < p.count ? i : i - 1;
    const left = p.kids![li]!;
    const right = p.kids![li + 1]!;
    if (left.count + right.count <= MERGE_MAX) {
      this.mergeInto(left, right);
      this.removeEntry(p, li + 1);
      this.pull(left);
      this.setKid(p, li, left);
      this.rebalance(p);
      return;
    }
    // Too many to merge: even them out.
    const want = (left.count + right.count) >> 1;
    if (left.count < want) this.shiftLeft(left, right, want - left.count);
    else this.shiftRight(left, right, left.count - want);
    this.pull(left);
    this.pull(right);
    this.setKid(p, li, left);
    this.setKid(p, li + 1, right);
    this.update(p);
  }

  /** Appends every entry of `right` to `left` (its left neighbour) and unlinks `right`. */
  private mergeInto(left: Node<V>, right: Node<V>): void {
    const at = left.count;
    this.moveEntries(right, 0, left, at, right.count);
    if (left.leaf) {
      left.next = right.next;
      if (right.next !== null) right.next.prev = left;
      else this.tail = left;
      if (this.finger === right) this.finger = left;
    }
    left.count = at + right.count;
    right.count = 0;
  }

  /** Moves the first `k` entries of `right` to the end of `left`. */
  private shiftLeft(left: Node<V>, right: Node<V>, k: number): void {
    const n = right.count;
    this.moveEntries(right, 0, left, left.count, k);
    this.moveEntries(right, k, right, 0, n - k);
    this.clearEntries(right, n - k, n);
    left.count += k;
    right.count = n - k;
  }

  /** Moves the last `k` entries of `left` to the front of `right`. */
  private shiftRight(left: Node<V>, right: Node<V>, k: number): void {
    const n = right.count;
    const from = left.count - k;
    this.moveEntries(right, 0, right, k, n);
    this.moveEntries(left, from, right, 0, k);
    left.count = from;
    right.count = n + k;
  }

  /**
   * Copies entries [a, a+k) of `src` to [b, b+k) of `dst` (the same node or a neighbour at the same
   * level), fixing the moved items' handles or children's links; overlapping ranges are fine.
   */
  private moveEntries(src: Node<V>, a: number, dst: Node<V>, b: number, k: number): void {
    const down = b > a || src !== dst;
    for (let m = 0; m < k; m++) {
      const q = down ? k - 1 - m : m;
      dst.starts[b + q] = src.starts[a + q];
      dst.ends[b + q] = src.ends[a + q];
      if (src.leaf) {
        const item = src.items![a + q]!;
        dst.items![b + q] = item;
        item.treeNode = dst;
      } else {
        const kid = src.kids![a + q]!;
        dst.kids![b + q] = kid;
        dst.gaps![b + q] = src.gaps![a + q];
        kid.parent = dst;
        kid.slot = b + q;
      }
    }
    if (src !== dst) this.clearEntries(src, a, a + k);
  }

  /** Drops the references held by entries [a, b) of x. */
  private clearEntries(x: Node<V>, a: number, b: number): void {
    const refs = x.leaf ? x.items! : x.kids!;
    for (let m = a; m < b; m++) refs[m] = undefined;
  }

  /** End of the highest free range between two items of x's subtree that, clipped to [low, high),
   * is at least `length` long; -1 if none. */
  private searchRev(x: Node<V>, low: number, high: number, length: number): number {
    if (x.gap < length) return -1;
    // Every internal gap of the subtree lies within [lo, hi].
    if (Math.min(x.hi, high) - Math.max(x.lo, low) < length) return -1;
    const { starts, ends } = x;
    if (x.leaf) {
      for (let i = x.count - 1; i > 0; i--) {
        const b = Math.min(starts[i], high);
        if (b - low < length) return -1;
        if (b - Math.max(ends[i - 1], low) >= length) return b;
      }
      return -1;
    }
    const gaps = x.gaps!;
    const kids = x.kids!;
    for (let i = x.count - 1; i >= 0; i--) {
      if (gaps[i] >= length && starts[i] < high) {
        const res = this.searchRev(kids[i]!, low, high, length);
        if (res >= 0) return res;
      }
      if (i === 0) break;
      // The free range between child i-1 and child i.
      const b = Math.min(starts[i], high);
      if (b - low < length) return -1;
      if (b - Math.max(ends[i - 1], low) >= length) return b;
    }
    return -1;
  }

  /** Start of the lowest free range between two items of x's subtree that, clipped to [low, high),
   * is at least `length` long; -1 if none. */
  private searchFwd(x: Node<V>, low: number, high: number, length: number): number {
    if (x.gap < length) return -1;
    if (Math.min(x.hi, high) - Math.max(x.lo, low) < length) return -1;
    const { starts, ends } = x;
    const n = x.count;
    if (x.leaf) {
      for (let i = 0; i < n - 1; i++) {
        const a = Math.max(ends[i], low);
        if (high - a < length) return -1;
        if (Math.min(starts[i + 1], high) - a >= length) return a;
      }
      return -1;
    }
    const gaps = x.gaps!;
    const kids = x.kids!;
    for (let i = 0; i < n; i++) {
      if (gaps[i] >= length && ends[i] > low) {
        const res = this.searchFwd(kids[i]!, low, high, length);
        if (res >= 0) return res;
      }
      if (i === n - 1) break;
      const a = Math.max(ends[i], low);
      if (high - a < length) return -1;
      if (Math.min(starts[i + 1], high) - a >= length) return a;
    }
    return -1;
  }
}
