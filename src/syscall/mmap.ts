import { EACCES, EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP, EOVERFLOW } from '../abi/errno.js';
import {
  LEGACY_MAP_MASK,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_MASK,
  MAP_HUGE_SHIFT,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MAP_TYPE,
  PROT_WRITE,
} from '../abi/mman.js';
import type { AddressSpace } from '../mm/address-space.js';
import { populateRange, prepareAnon } from '../mm/fault.js';
import type { MemoryObject } from '../mm/memory-object.js';
import { MmapGuard } from '../mm/mmap-guard.js';
import { uncharge } from '../mm/overcommit.js';
import { populateEager } from '../mm/populate-eager.js';
import { UndoLog } from '../mm/undo-log.js';
import { getUnmappedArea } from '../mm/unmapped-area.js';
import {
  VM_ACCOUNT,
  VM_DONTDUMP,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MTE_ALLOWED,
  VM_NOHUGEPAGE,
  VM_NORESERVE,
  VM_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_SYNC,
  VM_WIPEONFORK,
  VM_WRITE,
  vmFlagsFromProt,
} from '../mm/vm-flags.js';
import { Vma } from '../mm/vma.js';
import { keepApart, mergeNewRange } from '../mm/vma-merge.js';
import { asInt, low32, modPow2, num, pageAlign, type SyscallArg, toWord, type Word } from './args.js';
import type { OpenFile, SyscallContext } from './context.js';
import { unmapRange } from './munmap.js';

/** Huge page sizes (log2) the model's hugetlb knows; none has pages reserved, as on a default system. */
const HUGE_SHIFTS = { x86_64: [21, 30], aarch64: [16, 21, 25, 30] } as const;

/**
 * mmap(2): `sys_mmap` → `ksys_mmap_pgoff` → `do_mmap` → `__mmap_region` of Linux 6.18, with the
 * argument checks in the kernel's order (the first failing one decides the errno), then the change
 * made under an `MmapGuard`: a failure at any step, including any frame or page-table allocation,
 * leaves the address space, the page tables and the frame counts exactly as they were, and a
 * MAP_FIXED mapping that fails gives the replaced mapping back with its data (Linux ≥ 6.12).
 *
 * In eager paging every page is allocated, zeroed and mapped before the call returns (the seed's
 * loop). In demand paging only the VMA is created; MAP_POPULATE then prefaults.
 */
export function sysMmap(
  ctx: SyscallContext,
  addrArg: SyscallArg,
  lenArg: SyscallArg,
  protArg: SyscallArg,
  flagsArg: SyscallArg,
  fdArg: SyscallArg,
  offArg: SyscallArg,
): number {
  // One register at a time (toWords would allocate an array on every call).
  const addrW = toWord(addrArg);
  const lenW = toWord(lenArg);
  const protW = toWord(protArg);
  const flagsW = toWord(flagsArg);
  const fdW = toWord(fdArg);
  const offW = toWord(offArg);
  if (addrW === null || lenW === null || protW === null || flagsW === null || fdW === null || offW === null)
    return -EINVAL;
  const { pageSize } = ctx.space;
  const prot = low32(protW);
  const flags = low32(flagsW);

  // 1. sys_mmap: the offset must be page-aligned, whatever else is wrong.
  if (modPow2(offW, pageSize) !== 0) return -EINVAL;
  const pgoff = typeof offW === 'number' ? offW / pageSize : offW / BigInt(pageSize);

  // 2-4. ksys_mmap_pgoff: the file, or hugetlb for anonymous memory.
  let file = null;
  if (!(flags & MAP_ANONYMOUS)) {
    const open = ctx.files.get(asInt(fdW));
    if (open === undefined) return -EBADF;
    if (flags & MAP_HUGETLB) return -EINVAL;
    file = open;
  } else if (flags & MAP_HUGETLB) {
    const shift = (flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
    if (shift !== 0 && !(HUGE_SHIFTS[ctx.arch] as readonly number[]).includes(shift)) return -EINVAL;
    return -ENOMEM;
  }
  return doMmap(ctx, file, addrW, lenW, prot, flags, pgoff);
}

/**
 * `do_mmap` (mm/mmap.c): the mapping itself once the file is known, for mmap(2) and for the
 * kernel's own mappings (`vm_mmap`: the ELF loader maps its segments through here). `file` is null
 * for anonymous memory; `pgoff` is the file offset in pages.
 */
export function doMmap(
  ctx: SyscallContext,
  file: OpenFile | null,
  addrW: Word,
  lenW: Word,
  prot: number,
  flagsIn: number,
  pgoff: Word,
): number {
  const { space, arch } = ctx;
  const { layout, pageSize } = space;
  let flags = flagsIn;
  if (lenW === 0) return -EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  let addr: number;
  let hugeAddr = false;
  if (flags & MAP_FIXED) {
    hugeAddr = typeof addrW !== 'number' || addrW >= layout.taskSize;
    addr = hugeAddr ? layout.taskSize : (addrW as number);
  } else {
    // round_hint_to_min. A hint beyond user space can never be taken, but it is still a hint (it
    // turns off THP alignment), so it is kept as TASK_SIZE, which every hint check refuses.
    const hint = typeof addrW === 'number' ? addrW - (addrW % pageSize) : layout.taskSize;
    addr =
      hint !== 0 && hint < layout.mmapMinAddr ? Math.ceil(layout.mmapMinAddr / pageSize) * pageSize : hint;
    if (addr > layout.taskSize) addr = layout.taskSize;
  }
  const lenAligned = pageAlign(lenW, pageSize);
  if (lenAligned === 0) return -ENOMEM;
  // (10. pgoff + pages cannot overflow from the 64-bit syscall: EOVERFLOW is unreachable here.)
  if (space.mapCount > layout.maxMapCount) return -ENOMEM;
  // 12. __get_unmapped_area: a length beyond user space never fits.
  if (typeof lenAligned !== 'number' || lenAligned > layout.taskSize) return -ENOMEM;
  const len = lenAligned;

  let vmFlags = vmFlagsFromProt(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
  if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
  if (flags & MAP_SYNC) vmFlags |= VM_SYNC;
  if (flags & MAP_STACK) vmFlags |= VM_NOHUGEPAGE;
  // arch_calc_vm_flag_bits (arm64): with MTE in the CPU, anonymous memory may be tagged (so may a
  // tmpfs file's, which the model does not tell apart).
  if (arch === 'aarch64' && layout.armMte && flags & MAP_ANONYMOUS) vmFlags |= VM_MTE_ALLOWED;

  // 13-16. Address selection; MAP_FIXED only gets its range checked. A fixed address in the last
  // 4095 bytes of the 64-bit space is an "error value" to __get_unmapped_area, returned as is.
  if (hugeAddr) {
    const top = 2n ** 64n;
    if (typeof addrW === 'bigint' && addrW >= top - 4095n) return Number(addrW - top);
    return -ENOMEM;
  }
  const start = getUnmappedArea(space, arch, {
    addr,
    len,
    // Anonymous memory is placed as if its offset were 0 (the request is not copied to say so).
    pgoff: file === null ? 0 : num(pgoff),
    flags,
    vmFlags,
    file: file === null ? null : file.file,
  });
  if (start < 0) return start;
  const end = start + len;

  // 17. MAP_FIXED_NOREPLACE refuses any overlap.
  if (flags & MAP_FIXED_NOREPLACE && space.vmas.firstIntersecting(start, end) !== undefined) return -EEXIST;

  // 26-32. The mapping type.
  let vmaPgoff = 0;
  let droppable = false;
  let object: MemoryObject | 'shmem' | null = null;
  if (file !== null) {
    const checked = fileMappingFlags(file, flags, prot, vmFlags, pgoff, len, pageSize);
    if (checked < 0) return checked;
    vmFlags = checked;
    // A shared mapping of /dev/zero is shared anonymous memory (`mmap_zero`).
    object = file.file.kind === 'dev-zero' && vmFlags & VM_MAYSHARE ? 'shmem' : file.file;
    vmaPgoff = num(pgoff);
  } else {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        if (vmFlags & VM_GROWSDOWN) return -EINVAL;
        vmaPgoff = 0;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_DROPPABLE:
        if (flags & MAP_LOCKED || flags & MAP_HUGETLB || vmFlags & VM_GROWSDOWN) return -EINVAL;
        droppable = true;
        vmFlags |= VM_WIPEONFORK | VM_DONTDUMP | VM_NORESERVE;
        vmaPgoff = start / pageSize;
        break;
      case MAP_PRIVATE:
        vmaPgoff = start / pageSize;
        break;
      default:
        return -EINVAL;
    }
  }
  if (flags & MAP_NORESERVE && layout.overcommitMemory !== 2) vmFlags |= VM_NORESERVE;

  const description = file !== null && object !== 'shmem' ? file : null;
  const result = mmapRegion(ctx, start, len, vmFlags, vmaPgoff, droppable, object, description);
  if (result >= 0 && ctx.paging === 'demand') {
    // mm_populate after success; its failures are not the syscall's.
    if (vmFlags & VM_LOCKED || (flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE) {
      populateMapped(ctx, start, end);
    }
  }
  return result;
}

/**
 * `__mm_populate` for demand paging: fault in every accessible page of the new mapping, with write
 * faults where it is writable (so private pages get frames of their own) and read faults elsewhere
 * (the zero page). Failures are ignored, as Linux ignores them.
 */
function populateMapped(ctx: SyscallContext, start: number, end: number): void {
  const { space } = ctx;
  for (
    let v = space.vmas.firstIntersecting(start, end);
    v !== undefined && v.start < end;
    v = space.vmas.next(v)
  ) {
    if (!(v.flags & (VM_READ | VM_WRITE | VM_EXEC))) continue;
    const access = v.flags & VM_WRITE ? ('write' as const) : ('read' as const);
    if (populateRange(space, Math.max(start, v.start), Math.min(end, v.end), access) !== 'resolved') return;
  }
}

/**
 * `__mmap_region`: replace whatever is in [start, start+len), check the limits, merge or insert the
 * VMA and, in eager paging, populate it, all under one guard.
 */
function mmapRegion(
  ctx: SyscallContext,
  start: number,
  len: number,
  vmFlagsIn: number,
  pgoff: number,
  droppable: boolean,
  object: MemoryObject | 'shmem' | null,
  description: OpenFile | null,
): number {
  const { space } = ctx;
  const { pageSize } = space;
  const end = start + len;
  let vmFlags = vmFlagsIn;
  // vms_gather_munmap_vmas splits the VMAs that straddle the range first. When the mapping then
  // fails on one of Linux's own checks (the address-space limit, the commit charge),
  // vms_abort_munmap_vmas puts the pieces back as they are: the splits stay, unmerged. So they
  // are made under a log of their own, which those failures commit; any other failure (an
  // allocation) undoes them too. (try/finally, not `using`: see UndoLog.)
  const splits = new UndoLog();
  try {
    const splitError = space.splitAround(start, end, splits);
    if (splitError < 0) {
      // Refused at the end of the range (a special mapping's may_split), the split at its start stays.
      splits.commit();
      return splitError;
    }
    const guard = new MmapGuard(space);
    try {
      const undo = guard.undo;

      // Gather the VMAs being replaced (MAP_FIXED): whole VMAs now.
      const replaced = space.detachRange(start, end, undo);
      if (typeof replaced === 'number') return replaced;
      let replacedPages = 0;
      let replacedAccounted = 0;
      for (const v of replaced) {
        const n = (v.end - v.start) / pageSize;
        replacedPages += n;
        if (v.flags & VM_ACCOUNT) replacedAccounted += n;
      }
      const pages = len / pageSize;
      if (!space.mayExpandVm(vmFlags, pages - replacedPages))
        return abortAfterSplit(space, guard, splits, start, end, -ENOMEM);

      // A private writable mapping is charged against the overcommit policy, net of the accounted pages
      // it replaces (their charge carries over); otherwise the replaced charge is returned on commit.
      if ((vmFlags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) === VM_WRITE) {
        const charged = pages - replacedAccounted;
        if (charged > 0) {
          if (!ctx.accounting.charge(charged, space.totalVm))
            return abortAfterSplit(space, guard, splits, start, end, -ENOMEM);
          undo.recordCall(uncharge, ctx.accounting, charged, undefined, undefined, undefined);
        }
        vmFlags |= VM_ACCOUNT;
      } else if (replacedAccounted > 0) {
        undo.onCommit(() => ctx.accounting.uncharge(replacedAccounted));
      }
      if (space.softDirty) vmFlags |= VM_SOFTDIRTY;
      // The file's mmap method: a file system that takes MAP_SYNC (ext4, xfs) refuses VM_SYNC here
      // for a file not on DAX (the model has none), whatever the mapping type. The replaced pages
      // were cleared just before it, so the abort leaves a gap where the mapping failed.
      if (object !== null && object !== 'shmem' && object.mapSync && vmFlags & VM_SYNC) {
        abortAfterSplit(space, guard, splits, start, end, -EOPNOTSUPP);
        if (replaced.length > 0) unmapRange(ctx, start, end);
        return -EOPNOTSUPP;
      }

      // Shared anonymous memory is a shmem object of its own (`shmem_zero_setup`), so it never merges.
      let file: MemoryObject | null = object === 'shmem' ? null : object;
      if (object === 'shmem' || (object === null && vmFlags & VM_SHARED)) {
        const shmem = ctx.shmem.zeroSetup(len);
        file = shmem;
        undo.record(() => space.releaseObject(shmem));
      }
      const init = { start, end, flags: vmFlags, pgoff, file, description, anon: null, droppable };
      let vma = mergeNewRange(space, init, undo);
      if (vma === null) {
        vma = new Vma(init);
        space.insertVma(vma, undo);
      }

      if (ctx.paging === 'eager') {
        if (!populateEager(space, guard, vma, start, end)) return -ENOMEM;
        if (vmFlags & VM_WRITE && !(vmFlags & VM_SHARED) && vma.anon === null) {
          const target = vma;
          prepareAnon(space, target);
          undo.record(() => {
            target.anon = null;
            target.chain = [];
          });
        }
        // The replaced pages were overwritten in place: their MADV_FREE marks go with them.
        if (replaced.length > 0) undo.onCommit(() => space.forgetLazyFree(start, end));
      } else if (replaced.length > 0) {
        // The replaced pages go only once nothing can fail any more.
        undo.onCommit(() => space.zapRange(start, end));
      }
      // A replaced shared mapping may have been the last one of its object.
      for (const v of replaced) {
        const object = v.file;
        if (object !== null) undo.onCommit(() => space.releaseObject(object));
      }
      guard.commit();
      splits.commit();
      return start;
    } finally {
      guard[Symbol.dispose]();
    }
  } finally {
    splits[Symbol.dispose]();
  }
}

/**
 * `vms_abort_munmap_vmas` after one of Linux's own checks refused the mapping: everything but the
 * splits is rolled back, and the pieces stay apart as Linux leaves them (see `mmapRegion`).
 */
function abortAfterSplit(
  space: AddressSpace,
  guard: MmapGuard,
  splits: UndoLog,
  start: number,
  end: number,
  errno: number,
): number {
  guard[Symbol.dispose]();
  splits.commit();
  for (const at of [start, end]) {
    const here = space.vmas.find(at);
    if (here?.start === at) keepApart(space, here, null, 'below');
  }
  return errno;
}

/**
 * The file branch of `do_mmap`: which mapping types and flags a file accepts, the rights its open
 * mode allows, and the vm_flags that follow (a shared mapping of a read-only descriptor may never
 * become writable, so it has neither VM_SHARED nor VM_MAYWRITE). Returns the flags or -errno.
 */
function fileMappingFlags(
  open: OpenFile,
  flagsIn: number,
  prot: number,
  vmFlagsIn: number,
  pgoff: number | bigint,
  len: number,
  pageSize: number,
): number {
  let flags = flagsIn;
  let vmFlags = vmFlagsIn;
  // file_mmap_ok: the mapping must end within file_mmap_size_max (MAX_LFS_FILESIZE for a regular
  // file, ULONG_MAX for a character device).
  const maxSize = open.file.device ? 2n ** 64n - 1n : 2n ** 63n - 1n;
  if (BigInt(len) > maxSize || BigInt(pgoff) > (maxSize - BigInt(len)) / BigInt(pageSize)) return -EOVERFLOW;
  const type = flags & MAP_TYPE;
  if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
    // MAP_SHARED silently drops flags it does not know; MAP_SHARED_VALIDATE refuses them.
    if (type === MAP_SHARED) flags &= LEGACY_MAP_MASK;
    if (flags & ~(LEGACY_MAP_MASK | (open.file.mapSync ? MAP_SYNC : 0))) return -EOPNOTSUPP;
    if (prot & PROT_WRITE && !open.writable) return -EACCES;
    vmFlags |= VM_SHARED | VM_MAYSHARE;
    if (!open.writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
  } else if (type !== MAP_PRIVATE) {
    return -EINVAL;
  }
  if (!open.readable) return -EACCES;
  if (vmFlags & VM_GROWSDOWN) return -EINVAL;
  return vmFlags;
}
