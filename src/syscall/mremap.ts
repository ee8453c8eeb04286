import { EFAULT, EINVAL, ENOMEM } from '../abi/errno.js';
import { MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../abi/mman.js';
import type { AddressSpace } from '../mm/address-space.js';
import { setAnonChain } from '../mm/anon-vma.js';
import { MmapGuard } from '../mm/mmap-guard.js';
import { populateEager } from '../mm/populate-eager.js';
import { getUnmappedArea } from '../mm/unmapped-area.js';
import {
  VM_ACCOUNT,
  VM_DONTEXPAND,
  VM_LOCKED,
  VM_LOCKONFAULT,
  VM_MAYSHARE,
  VM_PFNMAP,
  VM_SHARED,
} from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';
import { mergeNewRange } from '../mm/vma-merge.js';
import {
  add,
  gt,
  hasHighBits,
  low32,
  modPow2,
  num,
  pageAlign,
  type SyscallArg,
  sub,
  toWords,
  type Word,
} from './args.js';
import type { SyscallContext } from './context.js';
import { sysMunmap, sysMunmapChecks, unmapRange, unmapRangeInTransaction } from './munmap.js';

/** One mremap call in progress (Linux's `struct vma_remap_struct`). */
interface Remap {
  addr: number;
  /** The page-aligned old length (exact up to 2^53; larger values only ever shrink or fail). */
  oldLen: number;
  oldLenW: Word;
  newLen: number;
  flags: number;
  newAddr: number;
  vma: Vma | undefined;
  delta: number;
  type: 'no-resize' | 'shrink' | 'expand';
}

const impliesNewAddr = (r: Remap) => (r.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;

/**
 * mremap(2): `do_mremap` (mm/mremap.c, 6.18): grow or shrink a mapping in place, or move it,
 * moving page-table entries rather than data. A fixed, same-size move may span several VMAs
 * (gaps between them are kept). Every step that can fail comes before the point of no return or
 * is undone: a failed page-table move puts the entries back and removes the new mapping.
 */
export function sysMremap(
  ctx: SyscallContext,
  addrArg: SyscallArg,
  oldLenArg: SyscallArg,
  newLenArg: SyscallArg,
  flagsArg: SyscallArg,
  newAddrArg: SyscallArg,
): number {
  const words = toWords(addrArg, oldLenArg, newLenArg, flagsArg, newAddrArg);
  if (words === null) return -EINVAL;
  const [addrW, oldW, newW, flagsW, newAddrW] = words;
  const { space } = ctx;
  const { pageSize, layout } = space;
  const taskSize = layout.taskSize;
  const oldLenW = pageAlign(oldW, pageSize);
  const newLenW = pageAlign(newW, pageSize);
  const flags = low32(flagsW);

  // check_mremap_params
  if (hasHighBits(flagsW) || flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return -EINVAL;
  if (modPow2(addrW, pageSize) !== 0) return -EINVAL;
  if (newLenW === 0) return -EINVAL;
  if (gt(newLenW, taskSize)) return -EINVAL;
  const newLen = num(newLenW);
  const implies = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
  if (implies) {
    if (gt(newAddrW, sub(taskSize, newLen))) return -EINVAL;
    if (modPow2(newAddrW, pageSize) !== 0) return -EINVAL;
    if (!(flags & MREMAP_MAYMOVE)) return -EINVAL;
    if (flags & MREMAP_DONTUNMAP && oldLenW !== newLenW) return -EINVAL;
    // Source and target must not overlap (64-bit arithmetic, as the kernel computes it).
    const endOld = add(addrW, oldLenW);
    const endNew = add(newAddrW, newLen);
    if (gt(endOld, newAddrW) && gt(endNew, addrW)) return -EINVAL;
  }
  // Nothing is mapped at or above TASK_SIZE, so such a source has no VMA.
  if (typeof addrW !== 'number' || addrW >= taskSize) return -EFAULT;
  const r: Remap = {
    addr: addrW,
    oldLen: num(oldLenW),
    oldLenW,
    newLen,
    flags,
    newAddr: implies ? num(newAddrW) : 0,
    vma: undefined,
    delta: 0,
    type: 'no-resize',
  };
  if (flags & MREMAP_FIXED && r.oldLen === r.newLen) return remapMove(ctx, r);
  r.vma = space.vmas.find(r.addr);
  const err = checkPrepVma(space, r);
  if (err !== 0) return err;
  return impliesNewAddr(r) ? mremapTo(ctx, r) : mremapAt(ctx, r);
}

/** `check_prep_vma`: what kind of resize this is, and whether the VMA allows it. */
function checkPrepVma(space: AddressSpace, r: Remap): number {
  const vma = r.vma;
  if (vma === undefined) return -EFAULT;
  r.delta = Math.abs(r.oldLen - r.newLen);
  r.type = r.delta === 0 ? 'no-resize' : r.oldLen > r.newLen ? 'shrink' : 'expand';
  if (!impliesNewAddr(r)) r.newAddr = r.addr;
  if (r.type !== 'expand' && !impliesNewAddr(r)) return 0;
  let oldLen = r.oldLen;
  if (oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) return -EINVAL;
  if (r.flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EINVAL;
  if (r.type === 'shrink') oldLen = r.newLen;
  if (oldLen > vma.end - r.addr) return -EFAULT;
  if (r.newLen === oldLen) return 0;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  if (!space.mayExpandVm(vma.flags, r.delta / space.pageSize)) return -ENOMEM;
  return 0;
}

/** `mremap_at`: resize without a required new address. */
function mremapAt(ctx: SyscallContext, r: Remap): number {
  if (r.type === 'no-resize') return r.addr;
  if (r.type === 'shrink') {
    const res = shrinkTail(ctx, r);
    return res !== 0 ? res : r.addr;
  }
  return expandVma(ctx, r);
}

/** `shrink_vma`: unmap [addr+new_len, addr+old_len) with munmap's own checks. */
function shrinkTail(ctx: SyscallContext, r: Remap): number {
  return sysMunmap(ctx, r.addr + r.newLen, sub(r.oldLenW, r.newLen));
}

/** `expand_vma`: in place when the range ends at the VMA's end and the space after it is free, else move. */
function expandVma(ctx: SyscallContext, r: Remap): number {
  const { space } = ctx;
  const vma = r.vma!;
  if (vma.end - r.addr === r.oldLen && expandable(space, vma, r.delta)) {
    using guard = new MmapGuard(space);
    const undo = guard.undo;
    if (vma.flags & VM_ACCOUNT) {
      const pages = r.delta / space.pageSize;
      if (!ctx.accounting.charge(pages, space.totalVm)) return -ENOMEM;
      undo.record(() => ctx.accounting.uncharge(pages));
    }
    // vma_merge_extend: the new tail joins the VMA and possibly the next one.
    const merged = mergeNewRange(
      space,
      {
        start: vma.end,
        end: vma.end + r.delta,
        flags: vma.flags,
        pgoff: vma.pgoff + (vma.end - vma.start) / space.pageSize,
        file: vma.file,
        description: vma.description,
        anon: vma.anon,
        droppable: vma.droppable,
        name: vma.name,
      },
      undo,
    );
    if (merged === null) return -ENOMEM;
    const oldEnd = r.addr + r.oldLen;
    if (ctx.paging === 'eager' && !populateEager(space, guard, merged, oldEnd, oldEnd + r.delta))
      return -ENOMEM;
    guard.commit();
    return r.addr;
  }
  if (!(r.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  const err = setNewAddr(ctx, r);
  if (err !== 0) return err;
  using guard = new MmapGuard(space);
  return moveVma(ctx, r, guard);
}

/** `vma_expandable`: nothing in [end, end+delta) and the grown range still inside user space. */
function expandable(space: AddressSpace, vma: Vma, delta: number): boolean {
  const end = vma.end + delta;
  if (space.vmas.firstIntersecting(vma.end, end) !== undefined) return false;
  return end <= space.layout.taskSize;
}

/**
 * `mremap_to`: move to the given (MREMAP_FIXED) or a chosen (MREMAP_DONTUNMAP) address. Clearing
 * the target and cutting the source's tail belong to the same transaction as the move: if the move
 * fails, they are undone too.
 */
function mremapTo(ctx: SyscallContext, r: Remap): number {
  const { space } = ctx;
  // Room for splitting both the target and the source, checked before either is touched.
  if (space.mapCount + 2 >= space.layout.maxMapCount - 3) return -ENOMEM;
  using guard = new MmapGuard(space);
  if (r.flags & MREMAP_FIXED) {
    const res = unmapRangeInTransaction(ctx, r.newAddr, r.newAddr + r.newLen, guard.undo);
    if (res !== 0) return res;
    r.vma = space.vmas.find(r.addr);
    if (r.vma === undefined) return -EFAULT;
  }
  if (r.type === 'shrink') {
    const tail = sysMunmapChecks(ctx, r.addr + r.newLen, sub(r.oldLenW, r.newLen));
    if (tail < 0) return tail;
    const res = unmapRangeInTransaction(ctx, r.addr + r.newLen, r.addr + r.newLen + tail, guard.undo);
    if (res !== 0) return res;
    r.vma = space.vmas.find(r.addr);
    if (r.vma === undefined) return -EFAULT;
    r.oldLen = r.newLen;
  }
  if (r.flags & MREMAP_DONTUNMAP && !space.mayExpandVm(r.vma!.flags, r.oldLen / space.pageSize))
    return -ENOMEM;
  const err = setNewAddr(ctx, r);
  if (err !== 0) return err;
  return moveVma(ctx, r, guard);
}

/** `vrm_set_new_addr`: get_unmapped_area with MAP_FIXED, a hint (DONTUNMAP) or nothing. */
function setNewAddr(ctx: SyscallContext, r: Remap): number {
  const { space } = ctx;
  const vma = r.vma!;
  const pgoff = vma.pgoff + (r.addr - vma.start) / space.pageSize;
  let mapFlags = 0;
  if (r.flags & MREMAP_FIXED) mapFlags |= MAP_FIXED;
  if (vma.flags & VM_MAYSHARE) mapFlags |= MAP_SHARED;
  const res = getUnmappedArea(space, ctx.arch, {
    addr: impliesNewAddr(r) ? r.newAddr : 0,
    len: r.newLen,
    pgoff,
    flags: mapFlags,
    vmFlags: vma.flags,
    file: vma.file,
  });
  if (res < 0) return res;
  r.newAddr = res;
  return 0;
}

/**
 * `move_vma`: charge, copy the VMA to the new address (merging if it can), move the page-table
 * entries, then unmap the source (or, with MREMAP_DONTUNMAP, leave it empty). A failed entry move
 * is undone and the copy removed, leaving everything as it was.
 */
function moveVma(ctx: SyscallContext, r: Remap, guard: MmapGuard): number {
  const { space } = ctx;
  const { pageSize } = space;
  // prep_move_vma: room for the copy and for splitting the source.
  if (space.mapCount >= space.layout.maxMapCount - 3) return -ENOMEM;
  const vma = r.vma!;
  const undo = guard.undo;
  if (vma.flags & VM_ACCOUNT) {
    const pages = (r.flags & MREMAP_DONTUNMAP ? r.newLen : r.delta) / pageSize;
    if (pages > 0) {
      if (!ctx.accounting.charge(pages, space.totalVm)) return -ENOMEM;
      undo.record(() => ctx.accounting.uncharge(pages));
    }
  }
  // copy_vma: an anonymous VMA never faulted takes a pgoff matching its new address, so it can merge.
  let pgoff = vma.pgoff + (r.addr - vma.start) / pageSize;
  if (vma.anonymous && vma.anon === null) pgoff = r.newAddr / pageSize;
  const newEnd = r.newAddr + r.newLen;
  let target = mergeNewRange(
    space,
    {
      start: r.newAddr,
      end: newEnd,
      flags: vma.flags,
      pgoff,
      file: vma.file,
      description: vma.description,
      anon: vma.anon,
      droppable: vma.droppable,
      copiedFrom: vma,
    },
    undo,
  );
  if (target === null) {
    target = vma.cloneAt(r.newAddr, newEnd, pageSize);
    target.pgoff = pgoff;
    space.insertVma(target, undo);
  }
  const pt = space.pageTable;
  const moved = pt.moveRange(r.addr, r.newAddr, r.oldLen);
  if (moved < r.oldLen) {
    pt.moveRange(r.newAddr, r.addr, moved);
    pt.prune(r.newAddr, r.newAddr + r.oldLen);
    return -ENOMEM;
  }
  // Eager paging backs the grown tail now; if it cannot, the entries go back and nothing moved.
  if (
    ctx.paging === 'eager' &&
    r.newLen > r.oldLen &&
    !populateEager(space, guard, target, r.newAddr + r.oldLen, newEnd)
  ) {
    pt.moveRange(r.newAddr, r.addr, r.oldLen);
    guard[Symbol.dispose]();
    pt.prune(r.newAddr, newEnd);
    return -ENOMEM;
  }
  pt.prune(r.addr, r.addr + r.oldLen);
  space.forgetLazyFree(r.addr, r.addr + r.oldLen);
  guard.commit();
  // Point of no return: the entries are at the new address.
  if (r.flags & MREMAP_DONTUNMAP) {
    const old = space.vmas.find(r.addr);
    if (old !== undefined) {
      space.setFlags(old, old.flags & ~(VM_LOCKED | VM_LOCKONFAULT), null);
      // dontunmap_complete: the emptied VMA is unlinked from its anon_vmas.
      if (old !== target && old.start === r.addr && old.end === r.addr + r.oldLen)
        setAnonChain(old, null, [], null);
    }
    return r.newAddr;
  }
  // The moved pages keep their commit charge: unmap the source without uncharging it.
  unmapRange(ctx, r.addr, r.addr + r.oldLen, { uncharge: false });
  return r.newAddr;
}

/**
 * `remap_move`: MREMAP_FIXED with equal lengths moves every VMA of [addr, addr+len), one by one,
 * keeping the gaps between them. The range must start inside a VMA, and only VMAs that
 * `vma_multi_allowed` may be one of several.
 */
function remapMove(ctx: SyscallContext, r: Remap): number {
  const { space } = ctx;
  const start = r.addr;
  const end = r.addr + r.oldLen;
  let target = r.newAddr;
  let result = -EFAULT;
  let seen = false;
  let lastEnd = 0;
  let cursor = start;
  for (
    let vma = space.vmas.firstIntersecting(cursor, end);
    vma !== undefined;
    vma = space.vmas.firstIntersecting(cursor, end)
  ) {
    if (!seen && start < vma.start) return -EFAULT;
    const addr = Math.max(vma.start, start);
    const len = Math.min(end, vma.end) - addr;
    const offset = seen ? vma.start - lastEnd : 0;
    lastEnd = vma.end;
    // vma_multi_allowed: a file whose get_unmapped_area might not obey MREMAP_FIXED (of the
    // model's, private /dev/zero) moves only when it is the whole range.
    if (vma.file?.kind === 'dev-zero' && (seen || vma.end < end)) return -EFAULT;
    const piece: Remap = { ...r, vma, addr, newAddr: target + offset, oldLen: len, newLen: len };
    let res = checkPrepVma(space, piece);
    if (res === 0) res = mremapTo(ctx, piece);
    if (res < 0) return res;
    if (!seen) result = res;
    seen = true;
    target = res + len;
    cursor = addr + len;
  }
  return result;
}
