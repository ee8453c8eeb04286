import type { UndoLog } from './undo-log.js';
import type { Vma } from './vma.js';

/**
 * Hands out anon_vma ids: one counter per kernel (in its `MmuContext`), so that two kernels built
 * the same way number their anon_vmas the same way.
 */
export class AnonVmaIds {
  private last = 0;

  next(): number {
    return ++this.last;
  }
}

/**
 * Linux's `struct anon_vma` (mm/rmap.c): the identity of a region of anonymous memory. VMAs split
 * from one VMA share it, and it decides which neighbours may merge. A fork gives each copied VMA
 * an anon_vma of its own whose `parent` is the parent VMA's (`anon_vma_fork`), while the copy stays
 * linked to its ancestors' anon_vmas through its chain, because it still maps their pages.
 *
 * Linux keeps `num_children` and `num_active_vmas` counters in the anon_vma; the model derives
 * them from the live VMAs when a fork needs them (see `AnonVmaCensus` in kernel/fork.ts), so no
 * VMA operation has to maintain them.
 */
export class AnonVma {
  /** The anon_vma this one was forked from; a root is its own parent, as in Linux. */
  readonly parent: AnonVma;
  /** The root of the fork tree (whose lock Linux takes for the whole tree). */
  readonly root: AnonVma;

  constructor(
    readonly id: number,
    parent: AnonVma | null,
  ) {
    this.parent = parent ?? this;
    this.root = parent?.root ?? this;
  }
}

/**
 * A VMA's `anon_vma_chain`, newest first: the anon_vma its new pages go to and those of the
 * ancestors it is still linked to. A VMA whose chain was never set (an anon_vma assigned directly)
 * has the one-entry chain of that anon_vma.
 */
export function anonChain(vma: Vma): readonly AnonVma[] {
  if (vma.chain.length > 0) return vma.chain;
  return vma.anon === null ? [] : [vma.anon];
}

/**
 * `vma_is_fork_child` (mm/vma.c, 6.18; `vma_had_uncowed_parents` before): the VMA has an anon_vma
 * and its chain is not singular, i.e. it was copied by a fork and may still share pages with an
 * ancestor. Such a VMA never lends or takes an anon_vma in a merge.
 */
export function isForkChild(vma: Vma | null | undefined): boolean {
  return vma !== null && vma !== undefined && vma.anon !== null && anonChain(vma).length !== 1;
}

/**
 * `is_mergeable_anon_vma` (mm/vma.c, 6.18): whether the merge target `tgt` (the neighbour that would
 * grow) can take a range whose anon_vma is `srcAnon`. `src` is the existing VMA being changed
 * (mprotect, madvise), null for a new range; `copiedFrom` is the VMA mremap is copying.
 * - only the range has an anon_vma: it is duplicated into `tgt`, unless it comes from a fork child;
 * - only `tgt` has one: the range takes it, unless `tgt` is a fork child;
 * - both: they must be the same.
 */
export function anonMergeable(
  tgt: Vma,
  srcAnon: AnonVma | null,
  src: Vma | null,
  copiedFrom: Vma | null,
): boolean {
  if (tgt.anon === null && srcAnon !== null) return !isForkChild(src) && !isForkChild(copiedFrom);
  if (tgt.anon !== null && srcAnon === null) return !isForkChild(tgt);
  return srcAnon === tgt.anon;
}

/**
 * Whether two adjacent VMAs' anon_vmas would let Linux merge them, seen from either side (the
 * invariant checker's question): the same anon_vma, or one without any and the other not a fork child.
 */
export function anonNeighboursMergeable(a: Vma, b: Vma): boolean {
  if (a.anon === b.anon) return true;
  if (a.anon === null) return !isForkChild(b);
  if (b.anon === null) return !isForkChild(a);
  return false;
}

/**
 * `dup_anon_vma`: when `dst` grows over memory of a VMA with an anon_vma and has none itself, it
 * takes that anon_vma and a copy of its chain (`anon_vma_clone`). Recorded in `undo` when given.
 */
export function dupAnon(dst: Vma, src: Vma | null, undo: UndoLog | null): void {
  if (dst.anon !== null || src === null || src.anon === null) return;
  setAnonChain(dst, src.anon, anonChain(src), undo);
}

/** Sets a VMA's anon_vma and chain, recording the old ones in `undo` when given. */
export function setAnonChain(
  vma: Vma,
  anon: AnonVma | null,
  chain: readonly AnonVma[],
  undo: UndoLog | null,
): void {
  const oldAnon = vma.anon;
  const oldChain = vma.chain;
  vma.anon = anon;
  vma.chain = anon === null ? [] : chain;
  undo?.record(() => {
    vma.anon = oldAnon;
    vma.chain = oldChain;
  });
}
