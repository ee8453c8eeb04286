import { EFAULT, EINVAL, ENOMEM } from '../abi/errno.js';
import { MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../abi/mman.js';
import { KernelPanic } from '../hal/panic.js';
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
import { maySplit, type Vma } from '../mm/vma.js';
import { keepApart, mergeNewRange } from '../mm/vma-merge.js';
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
import { sysMunmap, sysMunmapChecks, unmapRangeInTransaction } from './munmap.js';

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

/**
 * One mremap call as a transaction: one guard for all its steps, across every VMA of a multi-VMA
 * move, and whether an allocation failed (then nothing of the call may remain).
 */
interface Transaction {
  readonly guard: MmapGuard;
  outOfMemory: boolean;
}

const impliesNewAddr = (r: Remap) => (r.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;

/** Marks the transaction as failed for want of memory; returns -ENOMEM. */
function outOfMemory(tx: Transaction): number {
  tx.outOfMemory = true;
  return -ENOMEM;
}

/**
 * mremap(2): `do_mremap` (mm/mremap.c, 6.18): grow or shrink a mapping in place, or move it,
 * moving page-table entries rather than data. A fixed, same-size move may span several VMAs
 * (gaps between them are kept).
 *
 * The call is one transaction. A failed allocation anywhere (a table for the moved entries, a
 * frame for an eager tail) undoes every step, across all the VMAs of a multi-VMA move. A refusal
 * that needs no failed allocation (the overcommit policy, RLIMIT_AS, max_map_count) keeps what the
 * call did before it, as Linux does: a target already cleared, a tail already cut, the VMAs
 * already moved.
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
    // Room for splitting both the target and the source, checked once, before anything is touched.
    if (space.mapCount + 2 >= layout.maxMapCount - 3) return -ENOMEM;
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
  using guard = new MmapGuard(space);
  const tx: Transaction = { guard, outOfMemory: false };
  const result = remap(ctx, r, tx);
  if (!tx.outOfMemory) guard.commit();
  return result;
}

/** `do_mremap` once the arguments are checked. */
function remap(ctx: SyscallContext, r: Remap, tx: Transaction): number {
  if (r.flags & MREMAP_FIXED && r.oldLen === r.newLen) return remapMove(ctx, r, tx);
  r.vma = ctx.space.vmas.find(r.addr);
  const err = checkPrepVma(ctx.space, r);
  if (err !== 0) return err;
  return impliesNewAddr(r) ? mremapTo(ctx, r, tx) : mremapAt(ctx, r, tx);
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
function mremapAt(ctx: SyscallContext, r: Remap, tx: Transaction): number {
  if (r.type === 'no-resize') return r.addr;
  if (r.type === 'shrink') {
    const res = shrinkTail(ctx, r);
    return res !== 0 ? res : r.addr;
  }
  return expandVma(ctx, r, tx);
}

/** `shrink_vma`: unmap [addr+new_len, addr+old_len) with munmap's own checks. */
function shrinkTail(ctx: SyscallContext, r: Remap): number {
  return sysMunmap(ctx, r.addr + r.newLen, sub(r.oldLenW, r.newLen));
}

/** `expand_vma`: in place when the range ends at the VMA's end and the space after it is free, else move. */
function expandVma(ctx: SyscallContext, r: Remap, tx: Transaction): number {
  const { space } = ctx;
  const vma = r.vma!;
  if (vma.end - r.addr === r.oldLen && expandable(space, vma, r.delta)) {
    const { guard } = tx;
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
    // vma_merge_extend fails only when it cannot allocate.
    if (merged === null) return outOfMemory(tx);
    const oldEnd = r.addr + r.oldLen;
    if (ctx.paging === 'eager' && !populateEager(space, guard, merged, oldEnd, oldEnd + r.delta))
      return outOfMemory(tx);
    return r.addr;
  }
  if (!(r.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  const err = setNewAddr(ctx, r);
  if (err !== 0) return err;
  return moveVma(ctx, r, tx);
}

/** `vma_expandable`: nothing in [end, end+delta) and the grown range still inside user space. */
function expandable(space: AddressSpace, vma: Vma, delta: number): boolean {
  const end = vma.end + delta;
  if (space.vmas.firstIntersecting(vma.end, end) !== undefined) return false;
  return end <= space.layout.taskSize;
}

/**
 * `mremap_to`: move to the given (MREMAP_FIXED) or a chosen (MREMAP_DONTUNMAP) address. Clearing
 * the target and cutting the source's tail belong to the call's transaction: a failed allocation
 * in the move undoes them too; a refusal after them (RLIMIT_AS, the overcommit policy) keeps
 * them, as in Linux.
 */
function mremapTo(ctx: SyscallContext, r: Remap, tx: Transaction): number {
  const { space } = ctx;
  const undo = tx.guard.undo;
  if (r.flags & MREMAP_FIXED) {
    const res = unmapRangeInTransaction(ctx, r.newAddr, r.newAddr + r.newLen, undo);
    if (res !== 0) return res;
    r.vma = space.vmas.find(r.addr);
    if (r.vma === undefined) return -EFAULT;
  }
  if (r.type === 'shrink') {
    const tail = sysMunmapChecks(ctx, r.addr + r.newLen, sub(r.oldLenW, r.newLen));
    if (tail < 0) return tail;
    const res = unmapRangeInTransaction(ctx, r.addr + r.newLen, r.addr + r.newLen + tail, undo);
    if (res !== 0) return res;
    r.vma = space.vmas.find(r.addr);
    if (r.vma === undefined) return -EFAULT;
    r.oldLen = r.newLen;
  }
  if (r.flags & MREMAP_DONTUNMAP && !space.mayExpandVm(r.vma!.flags, r.oldLen / space.pageSize))
    return -ENOMEM;
  const err = setNewAddr(ctx, r);
  if (err !== 0) return err;
  return moveVma(ctx, r, tx);
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
 * entries with their guard markers and MADV_FREE marks, then unmap the source (or, with
 * MREMAP_DONTUNMAP, leave it empty). Every step is recorded in the call's transaction; the way
 * back never allocates, because the emptied source tables stay until the commit prunes them.
 */
function moveVma(ctx: SyscallContext, r: Remap, tx: Transaction): number {
  const { space, accounting } = ctx;
  const { pageSize } = space;
  const undo = tx.guard.undo;
  // prep_move_vma: room for the copy and for splitting the source, and a source that may be split
  // where the move cuts it (a special mapping moves only whole).
  if (space.mapCount >= space.layout.maxMapCount - 3) return -ENOMEM;
  const vma = r.vma!;
  let refused = vma.start !== r.addr ? maySplit(vma, r.addr) : 0;
  if (refused === 0 && vma.end !== r.addr + r.oldLen) refused = maySplit(vma, r.addr + r.oldLen);
  if (refused < 0) return refused;
  if (vma.flags & VM_ACCOUNT) {
    // vrm_calc_charge: the growth, or all of the copy when MREMAP_DONTUNMAP keeps the source.
    // After a shrink the source has already lost its tail and its tail's charge; 6.18 charges the
    // shrunk pages again all the same, and no mapping will ever give them back.
    let pages = 0;
    if (r.flags & MREMAP_DONTUNMAP) pages = r.newLen / pageSize;
    else if (r.type === 'expand') pages = r.delta / pageSize;
    else if (r.type === 'shrink' && space.layout.mremapRechargesShrink) pages = r.delta / pageSize;
    if (pages > 0) {
      if (!accounting.charge(pages, space.totalVm)) return -ENOMEM;
      undo.record(() => accounting.uncharge(pages));
      if (r.type === 'shrink') {
        accounting.leaked += pages;
        undo.record(() => {
          accounting.leaked -= pages;
        });
      }
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
  undo.record(() => {
    if (pt.moveRange(r.newAddr, r.addr, moved) < moved)
      throw new KernelPanic('mremap: moving the entries back needed a table');
    pt.prune(r.newAddr, newEnd);
  });
  if (moved < r.oldLen) return outOfMemory(tx);
  space.moveMarks(r.addr, r.newAddr, r.oldLen, undo);
  // Eager paging backs the grown tail now.
  if (
    ctx.paging === 'eager' &&
    r.newLen > r.oldLen &&
    !populateEager(space, tx.guard, target, r.newAddr + r.oldLen, newEnd)
  ) {
    return outOfMemory(tx);
  }
  undo.onCommit(() => pt.prune(r.addr, r.addr + r.oldLen));
  if (r.flags & MREMAP_DONTUNMAP) {
    const old = space.vmas.find(r.addr);
    if (old !== undefined) {
      space.setFlags(old, old.flags & ~(VM_LOCKED | VM_LOCKONFAULT), undo);
      // dontunmap_complete: the emptied VMA is unlinked from its anon_vmas, so it may now match
      // a neighbour; nothing tries to merge it there.
      if (old !== target && old.start === r.addr && old.end === r.addr + r.oldLen) {
        setAnonChain(old, null, [], undo);
        keepApart(space, old, undo, 'both');
      }
    }
    return r.newAddr;
  }
  // The moved pages keep their commit charge: the source goes without uncharging it.
  if (unmapRangeInTransaction(ctx, r.addr, r.addr + r.oldLen, undo, { uncharge: false }) !== 0)
    throw new KernelPanic('mremap: no room to unmap the source after prep_move_vma made room');
  return r.newAddr;
}

/**
 * `remap_move`: MREMAP_FIXED with equal lengths moves every VMA of [addr, addr+len), one by one,
 * keeping the gaps between them. The range must start inside a VMA, and only VMAs that
 * `vma_multi_allowed` may be one of several. All the moves are one transaction; a refusal part way
 * (max_map_count reached by the earlier moves) keeps the VMAs moved so far, as in Linux.
 */
function remapMove(ctx: SyscallContext, r: Remap, tx: Transaction): number {
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
    if (res === 0) res = mremapTo(ctx, piece, tx);
    if (res < 0) return res;
    if (!seen) result = res;
    seen = true;
    target = res + len;
    cursor = addr + len;
  }
  return result;
}
