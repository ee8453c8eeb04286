import { EACCES, EAGAIN, EFAULT, EINVAL, ENOMEM } from '../abi/errno.js';
import * as M from '../abi/mman.js';
import type { Access } from '../hal/rights.js';
import type { AddressSpace } from '../mm/address-space.js';
import { copyOnWriteProt, populateRange } from '../mm/fault.js';
import { UndoLog } from '../mm/undo-log.js';
import {
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MERGEABLE,
  VM_MIXEDMAP,
  VM_NOHUGEPAGE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_SPECIAL,
  VM_WIPEONFORK,
  VM_WRITE,
} from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';
import { modifyVmaRange } from '../mm/vma-modify.js';
import { add, addOverflows, low32, modPow2, num, pageAlign, type SyscallArg, toWords } from './args.js';
import type { SyscallContext } from './context.js';

/**
 * Advice values Linux 6.18 accepts (`madvise_behavior_valid`, with CONFIG_SWAP, CONFIG_KSM and
 * CONFIG_TRANSPARENT_HUGEPAGE; without CONFIG_MEMORY_FAILURE, so MADV_HWPOISON and
 * MADV_SOFT_OFFLINE are EINVAL, as on the reference kernel).
 */
const VALID = new Set([
  M.MADV_NORMAL,
  M.MADV_RANDOM,
  M.MADV_SEQUENTIAL,
  M.MADV_WILLNEED,
  M.MADV_DONTNEED,
  M.MADV_FREE,
  M.MADV_REMOVE,
  M.MADV_DONTFORK,
  M.MADV_DOFORK,
  M.MADV_MERGEABLE,
  M.MADV_UNMERGEABLE,
  M.MADV_HUGEPAGE,
  M.MADV_NOHUGEPAGE,
  M.MADV_DONTDUMP,
  M.MADV_DODUMP,
  M.MADV_WIPEONFORK,
  M.MADV_KEEPONFORK,
  M.MADV_COLD,
  M.MADV_PAGEOUT,
  M.MADV_POPULATE_READ,
  M.MADV_POPULATE_WRITE,
  M.MADV_DONTNEED_LOCKED,
  M.MADV_COLLAPSE,
  M.MADV_GUARD_INSTALL,
  M.MADV_GUARD_REMOVE,
]);

/**
 * madvise(2): `do_madvise` (mm/madvise.c, 6.18). Checks in the kernel's order, then the advice is
 * applied to every mapped piece of the range, holes skipped and reported as ENOMEM at the end; a
 * per-VMA error stops the walk at once. Advice that changes flags splits and merges VMAs like
 * mprotect (and reports a failed split as EAGAIN, as Linux does).
 */
export function sysMadvise(
  ctx: SyscallContext,
  addrArg: SyscallArg,
  lenArg: SyscallArg,
  adviceArg: SyscallArg,
): number {
  const words = toWords(addrArg, lenArg, adviceArg);
  if (words === null) return -EINVAL;
  const [startW, lenW, adviceW] = words;
  const advice = low32(adviceW) | 0; // `int behavior`
  if (!VALID.has(advice)) return -EINVAL;
  const { space } = ctx;
  if (modPow2(startW, space.pageSize) !== 0) return -EINVAL;
  const len = pageAlign(lenW, space.pageSize);
  if (lenW !== 0 && len === 0) return -EINVAL;
  if (addOverflows(startW, len)) return -EINVAL;
  if (len === 0) return 0;
  // Past the top of user space nothing is mapped, so any end up there behaves the same.
  const start = num(startW);
  const endW = add(startW, len);
  const end = typeof endW === 'number' ? endW : Number.MAX_SAFE_INTEGER;
  if (advice === M.MADV_POPULATE_READ || advice === M.MADV_POPULATE_WRITE) {
    return populate(space, start, end, advice === M.MADV_POPULATE_WRITE ? 'write' : 'read');
  }
  return walk(ctx, start, end, advice);
}

/** `madvise_walk_vmas`: visit each VMA piece of [start, end); a hole makes the final answer ENOMEM. */
function walk(ctx: SyscallContext, startIn: number, end: number, advice: number): number {
  const { space } = ctx;
  let start = startIn;
  let unmapped = 0;
  let vma = space.vmas.lowerBound(start);
  for (;;) {
    if (vma === undefined) return -ENOMEM;
    if (start < vma.start) {
      unmapped = -ENOMEM;
      start = vma.start;
      if (start >= end) break;
    }
    const tmp = Math.min(vma.end, end);
    const result = adviseVma(ctx, vma, start, tmp, advice);
    if (typeof result === 'number') return result;
    start = Math.max(tmp, result.end);
    if (start >= end) break;
    vma = space.vmas.lowerBound(start);
  }
  return unmapped;
}

/** `madvise_vma_behavior` for one VMA piece [start, end). Returns the VMA that now covers it, or -errno. */
function adviseVma(ctx: SyscallContext, vma: Vma, start: number, end: number, advice: number): Vma | number {
  const { space } = ctx;
  let flags = vma.flags;
  switch (advice) {
    case M.MADV_REMOVE:
      return madviseRemove(space, vma, start, end);
    case M.MADV_WILLNEED:
    case M.MADV_COLD:
    case M.MADV_PAGEOUT:
      return vma;
    case M.MADV_COLLAPSE:
      return madviseCollapse(space, vma);
    case M.MADV_GUARD_INSTALL:
    case M.MADV_GUARD_REMOVE: {
      let disallowed = VM_SPECIAL | VM_HUGETLB;
      if (advice === M.MADV_GUARD_INSTALL) disallowed |= VM_LOCKED;
      if (vma.flags & disallowed) return -EINVAL;
      if (advice === M.MADV_GUARD_INSTALL) {
        space.zapRange(start, end);
        for (let va = start; va < end; va += space.pageSize) space.guards.add(va);
      } else {
        for (let va = start; va < end; va += space.pageSize) space.guards.delete(va);
      }
      return vma;
    }
    case M.MADV_DONTNEED:
    case M.MADV_DONTNEED_LOCKED:
    case M.MADV_FREE: {
      let forbidden = VM_PFNMAP;
      if (advice !== M.MADV_DONTNEED_LOCKED) forbidden |= VM_LOCKED;
      if (vma.flags & forbidden) return -EINVAL;
      if (advice === M.MADV_FREE) {
        // Only private anonymous memory can be freed lazily: its pages stay until RAM runs out
        // (then they read zero), and a write before that takes a page back.
        if (vma.file !== null) return -EINVAL;
        lazyFree(space, vma, start, end);
        return vma;
      }
      space.zapRange(start, end);
      return vma;
    }
    case M.MADV_NORMAL:
      flags &= ~(VM_RAND_READ | VM_SEQ_READ);
      break;
    case M.MADV_SEQUENTIAL:
      flags = (flags & ~VM_RAND_READ) | VM_SEQ_READ;
      break;
    case M.MADV_RANDOM:
      flags = (flags & ~VM_SEQ_READ) | VM_RAND_READ;
      break;
    case M.MADV_DONTFORK:
      flags |= VM_DONTCOPY;
      break;
    case M.MADV_DOFORK:
      if (vma.flags & VM_IO) return -EINVAL;
      flags &= ~VM_DONTCOPY;
      break;
    case M.MADV_WIPEONFORK:
      if (vma.file !== null || vma.flags & VM_SHARED) return -EINVAL;
      flags |= VM_WIPEONFORK;
      break;
    case M.MADV_KEEPONFORK:
      if (vma.droppable) return -EINVAL;
      flags &= ~VM_WIPEONFORK;
      break;
    case M.MADV_DONTDUMP:
      flags |= VM_DONTDUMP;
      break;
    case M.MADV_DODUMP:
      if (flags & VM_SPECIAL || vma.droppable) return -EINVAL;
      flags &= ~VM_DONTDUMP;
      break;
    case M.MADV_MERGEABLE:
      // ksm_madvise: VMAs KSM cannot work on keep their flags; the model never merges pages.
      if (!(flags & VM_MERGEABLE) && !(flags & KSM_INCOMPATIBLE) && !vma.droppable) flags |= VM_MERGEABLE;
      break;
    case M.MADV_UNMERGEABLE:
      flags &= ~VM_MERGEABLE;
      break;
    case M.MADV_HUGEPAGE:
      flags = (flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
      break;
    case M.MADV_NOHUGEPAGE:
      flags = (flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
      break;
  }
  if (flags === vma.flags) return vma;
  using undo = new UndoLog();
  const target = modifyVmaRange(space, vma, start, end, flags, undo);
  if (typeof target === 'number') return target === -ENOMEM ? -EAGAIN : target;
  space.setFlags(target, flags, undo);
  undo.commit();
  return target;
}

/**
 * `madvise_free_single_vma`: mark every page of its own in [start, end) as given up, and take
 * write access away so that the first write cancels the mark (the dirty-bit test of reclaim).
 */
function lazyFree(space: AddressSpace, vma: Vma, start: number, end: number): void {
  const readOnly = copyOnWriteProt(vma.prot);
  space.pageTable.protectRange(start, end, (frame, va) => {
    // The zero page is skipped (`vm_normal_page` finds no page) and stays read-only.
    if (frame === space.zeroFrame) return readOnly;
    space.lazyFree.set(va, frame);
    return readOnly;
  });
}

/** `vma_ksm_compatible`: the flags of VMAs whose MADV_MERGEABLE is ignored. */
const KSM_INCOMPATIBLE =
  VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP;

/**
 * `madvise_collapse`: only memory that can hold a whole, aligned PMD-sized page can be collapsed;
 * the model has no huge pages, so a collapsible range simply succeeds.
 */
function madviseCollapse(space: AddressSpace, vma: Vma): Vma | number {
  if (vma.file !== null || vma.flags & (VM_SPECIAL | VM_HUGETLB)) return -EINVAL;
  const pmd = space.layout.pmdSize;
  const first = Math.ceil(vma.start / pmd) * pmd;
  if (first + pmd > vma.end) return -EINVAL;
  return vma;
}

/** `madvise_remove`: punch a hole in a shared writable mapping's object; its pages read zero afterwards. */
function madviseRemove(space: AddressSpace, vma: Vma, start: number, end: number): Vma | number {
  if (vma.flags & VM_LOCKED) return -EINVAL;
  if (vma.file === null) return -EINVAL;
  if (!(vma.flags & VM_MAYSHARE && vma.flags & VM_MAYWRITE)) return -EACCES;
  space.zapRange(start, end);
  const { frames } = space.ctx;
  for (let va = start; va < end; va += space.pageSize) {
    const index = vma.pgoff + (va - vma.start) / space.pageSize;
    const frame = vma.file.pages.get(index);
    if (frame === undefined) continue;
    vma.file.pages.delete(index);
    frames.count[frames.frameIndex(frame)]--;
    space.releaseFrame(frame);
  }
  return vma;
}

/**
 * `madvise_populate`: fault the range in for reading or writing. A hole is ENOMEM, a mapping that
 * does not allow the access (or is special) EINVAL; pages populated before the failure stay.
 */
function populate(space: AddressSpace, start: number, end: number, access: Access): number {
  let va = start;
  while (va < end) {
    const vma = space.vmas.find(va);
    if (vma === undefined) return -ENOMEM;
    if (vma.flags & (VM_IO | VM_PFNMAP)) return -EINVAL;
    if (access === 'write' ? !(vma.flags & VM_WRITE) : !(vma.flags & VM_READ)) return -EINVAL;
    const stop = Math.min(vma.end, end);
    const outcome = populateRange(space, va, stop, access);
    if (outcome === 'out-of-memory') return -ENOMEM;
    if (outcome !== 'resolved') return -EFAULT;
    va = stop;
  }
  return 0;
}
