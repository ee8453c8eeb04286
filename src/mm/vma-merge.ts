import { type AddressSpace, setUnmergedWith } from './address-space.js';
import { type AnonVma, anonMergeable, anonNeighboursMergeable, dupAnon, isForkChild } from './anon-vma.js';
import type { OpenFile } from './memory-object.js';
import type { UndoLog } from './undo-log.js';
import { VM_ACCESS_FLAGS, VM_SOFTDIRTY, VM_SPECIAL } from './vm-flags.js';
import { type MappedFile, sameFile, type Vma } from './vma.js';

/** The attributes of a range about to become (part of) a VMA (Linux's `struct vma_merge_struct`). */
export interface VmaMergeOp {
  start: number;
  end: number;
  flags: number;
  pgoff: number;
  file: MappedFile | null;
  /** The open file it comes through (`vm_file`). */
  description?: OpenFile | null;
  anon: AnonVma | null;
  droppable: boolean;
  /** The anonymous name (`[anon:NAME]`), '' for none. */
  name?: string;
  /**
   * The VMA mremap is copying to this range (`vmg->copied_from`): its anon_vma and chain come
   * along, and a fork child's never merge into a neighbour without one.
   */
  copiedFrom?: Vma;
}

/**
 * The test `can_vma_merge_right` adds when a range would merge on both sides: prev's and next's
 * anon_vmas must be compatible with each other (the same, or one of them missing).
 */
export function anonCompatible(a: AnonVma | null, b: AnonVma | null): boolean {
  return a === null || b === null || a === b;
}

/** `is_mergeable_vma`: equal flags apart from soft-dirty, same file, same droppable state. */
function attributesMatch(vma: Vma, op: VmaMergeOp): boolean {
  return (
    ((vma.flags ^ op.flags) & ~VM_SOFTDIRTY) === 0 &&
    sameFile(vma, op) &&
    vma.droppable === op.droppable &&
    vma.name === (op.name ?? '')
  );
}

/**
 * `vma_merge_new_range` (mm/vma.c): tries to make [op.start, op.end) part of the VMA before it,
 * the one after it, or both, as Linux does for a new mapping, brk growth and mremap targets.
 * Returns the VMA that now covers the range, or null when no merge applies. With `expandOnly` it is
 * `just_expand` mode: only `expandOnly.prev` may grow over the range.
 */
export function mergeNewRange(
  space: AddressSpace,
  op: VmaMergeOp,
  undo: UndoLog,
  expandOnly?: { prev: Vma | undefined },
): Vma | null {
  if (op.flags & VM_SPECIAL) return null;
  const pageSize = space.pageSize;
  // `just_expand` (brk): only the given VMA below may grow; the one above is never merged.
  const prev = expandOnly !== undefined ? expandOnly.prev : space.vmas.prevBefore(op.start);
  const next = expandOnly !== undefined ? undefined : space.vmas.lowerBound(op.end);
  const copiedFrom = op.copiedFrom ?? null;
  const canLeft =
    prev !== undefined &&
    prev.end === op.start &&
    attributesMatch(prev, op) &&
    anonMergeable(prev, op.anon, null, copiedFrom) &&
    prev.pgoff + (prev.end - prev.start) / pageSize === op.pgoff;
  let canRight =
    next !== undefined &&
    next.start === op.end &&
    attributesMatch(next, op) &&
    anonMergeable(next, op.anon, null, copiedFrom) &&
    next.pgoff === op.pgoff + (op.end - op.start) / pageSize;
  if (canLeft && canRight) canRight = anonCompatible(prev!.anon, next!.anon);
  // vma_expand: the target takes the anon_vma of a next VMA it swallows, then the copied one's.
  if (canLeft && canRight) {
    const end = next!.end;
    const above = space.vmas.next(next!);
    space.removeVma(next!, undo);
    space.setBounds(prev!, prev!.start, end, undo);
    if (above !== undefined) handOverApart(above, next!, prev!, undo);
    dupAnon(prev!, next!, undo);
    dupAnon(prev!, copiedFrom, undo);
    markSoftDirty(space, prev!, undo);
    return prev!;
  }
  if (canLeft) {
    space.setBounds(prev!, prev!.start, op.end, undo);
    dupAnon(prev!, copiedFrom, undo);
    markSoftDirty(space, prev!, undo);
    return prev!;
  }
  if (canRight) {
    space.setBounds(next!, op.start, next!.end, undo);
    dupAnon(next!, copiedFrom, undo);
    markSoftDirty(space, next!, undo);
    return next!;
  }
  return null;
}

/**
 * `above` was left unmerged with `from` (see Vma.unmergedWith), and a merge that swallowed `from`
 * grew `to` to where `from` ended. `vma_merge_new_range` and `vma_merge_existing_range` merge only
 * with the VMAs next to the range they act on, never at that boundary, so `above` stays apart from
 * `to` (checked on Linux 6.18: tools/fuzz/linux/unmerged-after-merge.c). A split hands the mark
 * on the same way (`AddressSpace.splitVma`).
 */
export function handOverApart(above: Vma, from: Vma, to: Vma, undo: UndoLog): void {
  if (above.unmergedWith !== from || to.end !== above.start) return;
  above.unmergedWith = to;
  undo.recordCall(setUnmergedWith, above, from, undefined, undefined, undefined);
}

/**
 * Whether `a` and the VMA `b` right above it are ones Linux would merge, were a merge tried at
 * their boundary: `is_mergeable_vma` (flags but soft-dirty, file, name, droppable, not special),
 * contiguous page offsets and anon_vmas either of them could take.
 */
export function mergeableNeighbours(a: Vma, b: Vma, pageSize: number): boolean {
  return (
    a.end === b.start &&
    !(a.flags & VM_SPECIAL) &&
    ((a.flags ^ b.flags) & ~VM_SOFTDIRTY) === 0 &&
    sameFile(a, b) &&
    a.name === b.name &&
    a.droppable === b.droppable &&
    b.pgoff === a.pgoff + (a.end - a.start) / pageSize &&
    anonNeighboursMergeable(a, b)
  );
}

/**
 * Records that Linux leaves `vma` apart from the VMA below it (and, with 'both', the one above
 * from it) where the two are mergeable: the operation that made them so tried no merge at their
 * boundary. What Linux does there: a split kept after the second split was refused (`vma_modify`),
 * a stack grown down to the VMA below (`expand_downwards`), the heap grown from start_brk next to
 * a VMA ending there, or up to one starting right above (`do_brk_flags` looks no lower than
 * start_brk and never above), the source of an MREMAP_DONTUNMAP that lost its anon_vma
 * (`unlink_anon_vmas`), the copies a fork makes (`dup_mmap` merges nothing), a snapshot. The mark
 * lasts until the boundary moves; a later merge attempt there merges them as usual.
 */
export function keepApart(
  space: AddressSpace,
  vma: Vma,
  undo: UndoLog | null,
  sides: 'below' | 'both',
): void {
  const mark = (upper: Vma, lower: Vma | undefined) => {
    if (lower === undefined || upper.unmergedWith === lower) return;
    if (!mergeableNeighbours(lower, upper, space.pageSize)) return;
    const old = upper.unmergedWith;
    upper.unmergedWith = lower;
    undo?.record(() => {
      upper.unmergedWith = old;
    });
  };
  mark(vma, space.vmas.prev(vma));
  if (sides === 'both') {
    const next = space.vmas.next(vma);
    if (next !== undefined) mark(next, vma);
  }
}

/** New and grown VMAs are soft-dirty (CONFIG_MEM_SOFT_DIRTY). */
export function markSoftDirty(space: AddressSpace, vma: Vma, undo: UndoLog): void {
  if (space.softDirty && !(vma.flags & VM_SOFTDIRTY)) space.setFlags(vma, vma.flags | VM_SOFTDIRTY, undo);
}

/** `anon_vma_compatible`: adjacent, same file, flags equal but for access rights and soft-dirty, contiguous pgoff. */
function identityShareable(a: Vma, b: Vma, pageSize: number): boolean {
  return (
    a.end === b.start &&
    sameFile(a, b) &&
    ((a.flags ^ b.flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) === 0 &&
    b.pgoff === a.pgoff + (b.start - a.start) / pageSize
  );
}

/**
 * `find_mergeable_anon_vma` and `reusable_anon_vma`: when a VMA gets its first anonymous page, it
 * reuses the anon_vma of a neighbour it could later merge with (next first, then prev), so that
 * mprotect and friends can merge them back; a neighbour copied by a fork (its chain not singular)
 * lends nothing.
 */
export function findMergeableAnon(space: AddressSpace, vma: Vma): AnonVma | null {
  const next = space.vmas.next(vma);
  if (next?.anon && !isForkChild(next) && identityShareable(vma, next, space.pageSize)) return next.anon;
  const prev = space.vmas.prev(vma);
  if (prev?.anon && !isForkChild(prev) && identityShareable(prev, vma, space.pageSize)) return prev.anon;
  return null;
}
