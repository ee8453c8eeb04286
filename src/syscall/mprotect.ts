import { EACCES, EINVAL, ENOMEM } from '../abi/errno.js';
import {
  PROT_BTI,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_MTE,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
} from '../abi/mman.js';
import type { PhysAddr } from '../hal/addr.js';
import type { AddressSpace } from '../mm/address-space.js';
import { copyOnWriteProt, exclusivePage } from '../mm/fault.js';
import { uncharge } from '../mm/overcommit.js';
import { UndoLog } from '../mm/undo-log.js';
import {
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_GROWSDOWN,
  VM_HUGETLB,
  VM_NORESERVE,
  VM_SHARED,
  VM_WRITE,
  vmFlagsFromProt,
} from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';
import { modifyVmaRange } from '../mm/vma-modify.js';
import {
  addOverflows,
  hasHighBits,
  low32,
  modPow2,
  num,
  pageAlign,
  type SyscallArg,
  toWord,
} from './args.js';
import type { SyscallContext } from './context.js';

/**
 * mprotect(2): `do_mprotect_pkey` and `mprotect_fixup` (mm/mprotect.c, 6.18). The checks come in
 * the kernel's order; then each VMA of the range is changed in turn, and a failure (a hole, a right
 * the mapping may never have, a limit) stops the walk with the earlier VMAs already changed, as in
 * Linux. Each VMA's own change is all or nothing.
 */
export function sysMprotect(
  ctx: SyscallContext,
  addrArg: SyscallArg,
  lenArg: SyscallArg,
  protArg: SyscallArg,
): number {
  const startW = toWord(addrArg);
  const lenW = toWord(lenArg);
  const protW = toWord(protArg);
  if (startW === null || lenW === null || protW === null) return -EINVAL;
  const { space, arch } = ctx;
  const pageSize = space.pageSize;
  const protLow = low32(protW);
  const grows = protLow & (PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (modPow2(startW, pageSize) !== 0) return -EINVAL;
  if (lenW === 0) return 0;
  const len = pageAlign(lenW, pageSize);
  if (len === 0 || addOverflows(startW, len)) return -ENOMEM;
  // arch_validate_prot: only R, W, X and SEM (and on arm64 BTI/MTE where the CPU has them).
  const prot = protLow & ~(PROT_GROWSDOWN | PROT_GROWSUP);
  let allowed = PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM;
  if (arch === 'aarch64' && space.layout.armBti) allowed |= PROT_BTI;
  if (arch === 'aarch64' && space.layout.armMte) allowed |= PROT_MTE;
  if (hasHighBits(protW) || prot & ~allowed) return -EINVAL;
  let start = num(startW);
  const end = start + num(len);
  if (start >= space.layout.taskSize) return -ENOMEM;

  const vma = space.vmas.firstIntersecting(start, end);
  if (vma === undefined) return -ENOMEM;
  if (grows & PROT_GROWSDOWN) {
    if (vma.start >= end) return -ENOMEM;
    start = vma.start;
    if (!(vma.flags & VM_GROWSDOWN)) return -EINVAL;
  } else {
    if (vma.start > start) return -ENOMEM;
    if (grows & PROT_GROWSUP) return -EINVAL; // no VM_GROWSUP on x86-64 or arm64
  }

  let nstart = start;
  let tmp = vma.start;
  let error = 0;
  for (let v: Vma | undefined = vma; v !== undefined && v.start < end; v = space.vmas.lowerBound(tmp)) {
    if (v.start !== tmp) {
      error = -ENOMEM;
      break;
    }
    const newFlags = vmFlagsFromProt(prot) | (v.flags & ~VM_ACCESS_FLAGS);
    // A right may be given only where its VM_MAY* bit (4 bits higher) allows it.
    if (newFlags & ~(newFlags >> 4) & VM_ACCESS_FLAGS) {
      error = -EACCES;
      break;
    }
    const result = mprotectFixup(ctx, v, nstart, Math.min(v.end, end), newFlags);
    if (typeof result === 'number') {
      error = result;
      break;
    }
    tmp = result.end;
    nstart = tmp;
  }
  if (error === 0 && tmp < end) error = -ENOMEM;
  return error;
}

/**
 * `mprotect_fixup`: charge or uncharge the commit, isolate [start, end) of `vma` (merging or
 * splitting), give it `newFlags` and rewrite its page-table entries. Returns the VMA now covering
 * the range, or -errno with nothing changed.
 */
function mprotectFixup(
  ctx: SyscallContext,
  vma: Vma,
  start: number,
  end: number,
  newFlagsIn: number,
): Vma | number {
  const { space } = ctx;
  const oldFlags = vma.flags;
  let newFlags = newFlagsIn;
  if (newFlags === oldFlags) return vma;
  const pages = (end - start) / space.pageSize;
  // try/finally, not `using`: see UndoLog.
  const undo = new UndoLog();
  try {
    let charged = 0;
    if (newFlags & VM_WRITE) {
      if (!space.mayExpandVm(newFlags, pages) && space.mayExpandVm(oldFlags, pages)) return -ENOMEM;
      if (!(oldFlags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) {
        if (!ctx.accounting.charge(pages, space.totalVm)) return -ENOMEM;
        charged = pages;
        undo.recordCall(uncharge, ctx.accounting, charged, undefined, undefined, undefined);
        newFlags |= VM_ACCOUNT;
      }
    } else if (oldFlags & VM_ACCOUNT && vma.anonymous && vma.anon === null) {
      newFlags &= ~VM_ACCOUNT;
    }
    const target = modifyVmaRange(space, vma, start, end, newFlags, undo);
    if (typeof target === 'number') return target;
    space.setFlags(target, newFlags, undo);
    undo.commit();
    // Point of no return: rewrite the entries, then settle the accounting.
    rewriteEntries(space, target, start, end);
    if (oldFlags & VM_ACCOUNT && !(newFlags & VM_ACCOUNT)) ctx.accounting.uncharge(pages);
    return target;
  } finally {
    undo[Symbol.dispose]();
  }
}

/**
 * `change_protection`: the present entries of [start, end) get the VMA's new rights. A private page
 * that is not the task's own copy (the zero page, a page-cache page, a page shared with a fork:
 * `can_change_pte_writable`) stays read-only so that a write still copies it.
 */
function rewriteEntries(space: AddressSpace, vma: Vma, start: number, end: number): void {
  const prot = vma.prot;
  if (vma.flags & VM_SHARED || !(prot & VM_WRITE)) {
    space.pageTable.protectRange(start, end, () => prot);
    return;
  }
  const cow = copyOnWriteProt(prot);
  space.pageTable.protectRange(start, end, (frame: PhysAddr, va: number) => {
    if (space.lazyFree.get(va) === frame || !exclusivePage(space, vma, va, frame)) return cow;
    return prot;
  });
}
