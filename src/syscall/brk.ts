import { EINVAL, ENOMEM } from '../abi/errno.js';
import type { AddressSpace } from '../mm/address-space.js';
import { MmapGuard } from '../mm/mmap-guard.js';
import { uncharge } from '../mm/overcommit.js';
import { populateEager } from '../mm/populate-eager.js';
import {
  VM_ACCOUNT,
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_MTE_ALLOWED,
  VM_READ,
  VM_WRITE,
} from '../mm/vm-flags.js';
import { Vma } from '../mm/vma.js';
import { keepApart, markSoftDirty, mergeNewRange } from '../mm/vma-merge.js';
import { type SyscallArg, toWord } from './args.js';
import type { SyscallContext } from './context.js';
import { unmapRange } from './munmap.js';

/**
 * brk(2): `SYSCALL_DEFINE1(brk)` (mm/mmap.c, 6.18). It never returns an errno: it answers the new
 * break, or the old one when the request cannot be granted (below the heap start, over
 * RLIMIT_DATA, into the next mapping or its guard gap, over a limit). The exact unaligned value is
 * stored; shrinking unmaps whatever lies in the freed pages, foreign mappings included.
 */
export function sysBrk(ctx: SyscallContext, brkArg: SyscallArg): number {
  const { space } = ctx;
  const w = toWord(brkArg);
  const orig = space.brk;
  if (w === null || typeof w !== 'number' || w > space.layout.taskSize) return orig;
  const brk = w;
  const { layout, pageSize } = space;
  const minBrk = layout.compatBrk ? space.endData : space.startBrk;
  if (brk < minBrk) return orig;
  // check_data_rlimit
  if (
    Number.isFinite(layout.rlimitData) &&
    brk - space.startBrk + (space.endData - space.startData) > layout.rlimitData
  ) {
    return orig;
  }
  const align = (n: number) => Math.ceil(n / pageSize) * pageSize;
  const newBrk = align(brk);
  const oldBrk = align(space.brk);
  if (oldBrk === newBrk) {
    space.brk = brk;
    return brk;
  }
  if (brk <= space.brk) {
    // Shrinking: there must be a mapping in the freed pages; everything there goes.
    const found = space.vmas.firstIntersecting(newBrk, oldBrk);
    if (found === undefined) return orig;
    space.brk = brk;
    if (unmapRange(ctx, newBrk, oldBrk) !== 0) {
      space.brk = orig;
      return orig;
    }
    return brk;
  }
  // Growing: keep a page (or a stack's guard gap) free below the next mapping.
  const next = space.vmas.firstIntersecting(oldBrk, newBrk + pageSize + layout.stackGuardGap);
  if (next !== undefined && newBrk + pageSize > space.startGap(next)) return orig;
  if (!doBrkFlags(ctx, brkVma(space, oldBrk), oldBrk, newBrk - oldBrk, 0)) return orig;
  space.brk = brk;
  return brk;
}

/** The flags of heap memory (`VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT`; arm64's has VM_MTE_ALLOWED). */
function heapFlags(ctx: SyscallContext): number {
  const exec = ctx.space.layout.readImpliesExec && ctx.arch === 'x86_64' ? VM_EXEC : 0;
  const mte = ctx.space.layout.armMteKernel ? VM_MTE_ALLOWED : 0;
  return VM_READ | VM_WRITE | exec | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT | mte;
}

/**
 * `vm_brk_flags` (mm/mmap.c): anonymous heap-like memory at exactly [addr, addr + PAGE_ALIGN(len)),
 * replacing whatever was there. The ELF loader maps a segment's bss with it, read-write whatever
 * the segment says, plus VM_EXEC (the only flag it accepts) for an executable segment. Returns 0
 * or -errno; nothing changes on failure.
 */
export function vmBrkFlags(ctx: SyscallContext, addr: number, request: number, vmFlags: number): number {
  const { space } = ctx;
  const len = Math.ceil(request / space.pageSize) * space.pageSize;
  if (len === 0) return 0;
  if (vmFlags & ~VM_EXEC) return -EINVAL;
  // check_brk_limits: get_unmapped_area(NULL, addr, len, 0, MAP_FIXED) only checks the range.
  if (len > space.layout.taskSize || addr > space.layout.taskSize - len) return -ENOMEM;
  const unmapped = unmapRange(ctx, addr, addr + len);
  if (unmapped < 0) return unmapped;
  return doBrkFlags(ctx, space.vmas.prevBefore(addr), addr, len, vmFlags) ? 0 : -ENOMEM;
}

/**
 * `do_brk_flags`: map [addr, addr+len) as heap, extending `prev` (the VMA below) when it ends at
 * `addr` and can merge (`vma_merge_new_range` in `just_expand` mode: never the next one), else a new
 * VMA. All or nothing: in eager paging the new pages are allocated too, under the same guard.
 */
function doBrkFlags(
  ctx: SyscallContext,
  prev: Vma | undefined,
  addr: number,
  len: number,
  extraFlags: number,
): boolean {
  const { space } = ctx;
  const flags = heapFlags(ctx) | extraFlags;
  const pages = len / space.pageSize;
  if (!space.mayExpandVm(flags, pages)) return false;
  if (space.mapCount > space.layout.maxMapCount) return false;
  using guard = new MmapGuard(space);
  const undo = guard.undo;
  if (!ctx.accounting.charge(pages, space.totalVm)) return false;
  undo.recordCall(uncharge, ctx.accounting, pages, undefined, undefined, undefined);
  const op = {
    start: addr,
    end: addr + len,
    flags,
    pgoff: addr / space.pageSize,
    file: null,
    anon: null,
    droppable: false,
  };
  if (mergeNewRange(space, op, undo, { prev }) === null) {
    const vma = new Vma(op);
    space.insertVma(vma, undo);
    markSoftDirty(space, vma, undo);
    // A VMA ending at start_brk is never a merge candidate, whatever it looks like.
    keepApart(space, vma, undo, 'below');
  }
  // `just_expand` never merges with the VMA above: one that starts right at the end (only the ELF
  // loader's vm_brk_flags can map there) stays a separate VMA even when it could merge.
  const above = space.vmas.lowerBound(addr + len);
  if (above !== undefined) keepApart(space, above, undo, 'below');
  // Eager paging backs the new heap pages now; running out of frames refuses the whole growth.
  if (ctx.paging === 'eager' && !populateEager(space, guard, space.vmas.find(addr)!, addr, addr + len))
    return false;
  guard.commit();
  return true;
}

/** `vma_prev_limit(vmi, start_brk)`: the VMA just below `addr`, if it lies at or above the heap start. */
function brkVma(space: AddressSpace, addr: number): Vma | undefined {
  const prev = space.vmas.prevBefore(addr);
  return prev !== undefined && prev.end > space.startBrk ? prev : undefined;
}
