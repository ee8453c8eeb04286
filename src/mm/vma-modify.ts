import { ENOMEM } from '../abi/errno.js';
import type { AddressSpace } from './address-space.js';
import { anonMergeable, dupAnon } from './anon-vma.js';
import type { UndoLog } from './undo-log.js';
import { VM_SOFTDIRTY, VM_SPECIAL } from './vm-flags.js';
import { maySplit, sameFile, type Vma } from './vma.js';
import { anonCompatible, handOverApart, keepApart } from './vma-merge.js';

/** What the modified range [start, end) of `middle` would be, as a merge candidate. */
interface Proposed {
  start: number;
  end: number;
  flags: number;
  pgoff: number;
  middle: Vma;
}

function attributesMatch(neighbour: Vma, p: Proposed): boolean {
  return (
    ((neighbour.flags ^ p.flags) & ~VM_SOFTDIRTY) === 0 &&
    sameFile(neighbour, p.middle) &&
    neighbour.name === p.middle.name &&
    neighbour.droppable === p.middle.droppable &&
    anonMergeable(neighbour, p.middle.anon, p.middle, null)
  );
}

/**
 * `vma_merge_existing_range` (mm/vma.c, 6.18): when [start, end) touches an end of `middle`, try to
 * give it to the neighbour on that side (or to both, deleting `middle`). Returns the VMA that now
 * covers [start, end), or null when no merge applies.
 */
function mergeExistingRange(space: AddressSpace, p: Proposed, undo: UndoLog): Vma | null {
  const { middle } = p;
  const leftSide = p.start === middle.start;
  const rightSide = p.end === middle.end;
  if (p.flags & VM_SPECIAL || (!leftSide && !rightSide)) return null;
  const pageSize = space.pageSize;
  const prev = leftSide ? space.vmas.prev(middle) : undefined;
  const next = rightSide ? space.vmas.next(middle) : undefined;
  const mergeLeft =
    prev !== undefined &&
    prev.end === p.start &&
    attributesMatch(prev, p) &&
    prev.pgoff + (prev.end - prev.start) / pageSize === p.pgoff;
  let mergeRight =
    next !== undefined &&
    next.start === p.end &&
    attributesMatch(next, p) &&
    next.pgoff === p.pgoff + (p.end - p.start) / pageSize;
  if (mergeLeft && mergeRight) mergeRight = anonCompatible(prev!.anon, next!.anon);
  if (!mergeLeft && !mergeRight) return null;
  const removeMiddle = leftSide && rightSide;
  // The neighbour that grows takes the anon_vma (and chain) of what it swallows (`dup_anon_vma`).
  if (mergeLeft && mergeRight) {
    const end = next!.end;
    const above = space.vmas.next(next!);
    space.removeVma(middle, undo);
    space.removeVma(next!, undo);
    space.setBounds(prev!, prev!.start, end, undo);
    if (above !== undefined) handOverApart(above, next!, prev!, undo);
    dupAnon(prev!, next!.anon !== null ? next! : middle, undo);
    return prev!;
  }
  if (mergeLeft) {
    const above = space.vmas.next(middle);
    if (removeMiddle) space.removeVma(middle, undo);
    else space.setBounds(middle, p.end, middle.end, undo);
    space.setBounds(prev!, prev!.start, p.end, undo);
    if (removeMiddle && above !== undefined) handOverApart(above, middle, prev!, undo);
    dupAnon(prev!, middle, undo);
    return prev!;
  }
  if (removeMiddle) space.removeVma(middle, undo);
  else space.setBounds(middle, middle.start, p.start, undo);
  space.setBounds(next!, p.start, next!.end, undo);
  dupAnon(next!, middle, undo);
  return next!;
}

/**
 * `vma_modify` (mm/vma.c): isolates [start, end) of `vma` as one VMA that the caller may then give
 * new flags, merging it into a neighbour when the new flags allow, otherwise splitting off the
 * parts outside the range (each split refused at max_map_count, or by a special mapping's
 * `may_split`). Returns that VMA, -ENOMEM or -EINVAL.
 * Merges are recorded in the caller's undo log; splits are kept even when the call then fails, as
 * in Linux, where a first split survives a refused second one as two look-alike lines.
 */
export function modifyVmaRange(
  space: AddressSpace,
  vma: Vma,
  start: number,
  end: number,
  flags: number,
  undo: UndoLog,
): Vma | number {
  const merged = mergeExistingRange(
    space,
    { start, end, flags, pgoff: vma.pgoff + (start - vma.start) / space.pageSize, middle: vma },
    undo,
  );
  if (merged !== null) return merged;
  let target = vma;
  // split_vma: max_map_count first, then the VMA's own say (`may_split` in __split_vma).
  if (target.start < start) {
    if (space.mapCount >= space.layout.maxMapCount) return -ENOMEM;
    const refused = maySplit(target, start);
    if (refused < 0) return refused;
    // Splits are never undone, in Linux as here: nothing after them can fail but the next split.
    target = space.splitVma(target, start, null);
  }
  if (target.end > end) {
    const refused = space.mapCount >= space.layout.maxMapCount ? -ENOMEM : maySplit(target, end);
    if (refused < 0) {
      // Linux keeps a first split when the second is refused: two look-alike VMAs remain.
      if (target !== vma) keepApart(space, target, null, 'below');
      return refused;
    }
    space.splitVma(target, end, null);
  }
  return target;
}
