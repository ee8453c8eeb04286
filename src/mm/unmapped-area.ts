import { EINVAL, ENOMEM, EPERM } from '../abi/errno.js';
import { MAP_32BIT, MAP_FIXED, MAP_SHARED } from '../abi/mman.js';
import type { Arch } from '../hal/addr.js';
import type { AddressSpace } from './address-space.js';
import type { FilePlacement, MemoryObject } from './memory-object.js';
import { VM_STARTGAP_FLAGS } from './vm-flags.js';

/** One request to the gap finder (`struct vm_unmapped_area_info`). */
interface UnmappedAreaInfo {
  topDown: boolean;
  length: number;
  lowLimit: number;
  highLimit: number;
  alignMask: number;
  alignOffset: number;
  startGap: number;
}

/** What `getUnmappedArea` needs to know about the mapping being placed. */
export interface AreaRequest {
  /** Hint, or the fixed address with MAP_FIXED; page-aligned hint already raised to mmap_min_addr. */
  addr: number;
  len: number;
  /** Page offset (file offset / page size); ignored for anonymous memory. */
  pgoff: number;
  /** MAP_* flags. */
  flags: number;
  /** vm_flags of the mapping to be. */
  vmFlags: number;
  /** The file (or shmem object, for an mremap of shared memory) being mapped; null for anonymous memory. */
  file: MemoryObject | null;
}

/**
 * `unmapped_area_topdown` / `unmapped_area` (mm/mmap.c): the highest (or lowest) gap that fits the
 * length plus worst-case alignment, then the retry when a grows-down neighbour's guard gap does not
 * leave room. Returns the address or -ENOMEM.
 */
function vmUnmappedArea(space: AddressSpace, info: UnmappedAreaInfo): number {
  const { vmas, layout } = space;
  const length = info.length + info.alignMask + info.startGap;
  if (length < info.length) return -ENOMEM;
  let lowLimit = Math.max(info.lowLimit, layout.mmapMinAddr);
  let highLimit = info.highLimit;
  if (info.topDown) {
    for (;;) {
      if (highLimit <= lowLimit) return -ENOMEM;
      const gapEnd = vmas.highestGap(lowLimit, highLimit, length);
      if (gapEnd < 0) return -ENOMEM;
      let gap = gapEnd - info.length;
      gap -= mod(gap - info.alignOffset, info.alignMask + 1);
      const next = vmas.lowerBound(gapEnd);
      if (next !== undefined && next.flags & VM_STARTGAP_FLAGS) {
        const sg = space.startGap(next);
        if (sg < gapEnd) {
          highLimit = sg;
          continue;
        }
      } else {
        const prev = vmas.prevBefore(gapEnd);
        if (prev !== undefined && prev.end > gap) {
          highLimit = prev.start;
          continue;
        }
      }
      return gap;
    }
  }
  for (;;) {
    if (highLimit <= lowLimit) return -ENOMEM;
    const gapStart = vmas.lowestGap(lowLimit, highLimit, length);
    if (gapStart < 0) return -ENOMEM;
    let gap = gapStart + info.startGap;
    gap += mod(info.alignOffset - gap, info.alignMask + 1);
    const next = vmas.lowerBound(gapStart);
    if (next !== undefined && next.flags & VM_STARTGAP_FLAGS) {
      if (space.startGap(next) < gap + length - 1) {
        lowLimit = next.end;
        continue;
      }
    } else {
      const prev = vmas.prevBefore(gapStart);
      if (prev !== undefined && prev.end > gap) {
        lowLimit = prev.end;
        continue;
      }
    }
    return gap;
  }
}

/** Non-negative remainder, for alignment arithmetic on addresses. */
function mod(a: number, m: number): number {
  if (m === 1) return 0;
  return ((a % m) + m) % m;
}

/** The x86-64 MAP_32BIT window or the legacy base up to TASK_SIZE (`find_start_end`). */
function bottomUpBounds(space: AddressSpace, flags: number): { begin: number; end: number } {
  const { layout } = space;
  if (flags & MAP_32BIT && layout.map32bit) return { begin: layout.map32bit.start, end: layout.map32bit.end };
  return { begin: layout.unmappedBase, end: layout.taskSize };
}

/** x86-64 `arch_get_unmapped_area` (bottom-up), reached for MAP_32BIT and as the top-down fallback. */
function bottomUp(space: AddressSpace, req: AreaRequest): number {
  if (req.flags & MAP_FIXED) return req.addr;
  const { begin, end } = bottomUpBounds(space, req.flags);
  if (req.len > end) return -ENOMEM;
  if (req.addr) {
    const addr = Math.ceil(req.addr / space.pageSize) * space.pageSize;
    const vma = space.vmas.lowerBound(addr);
    if (end - req.len >= addr && (vma === undefined || addr + req.len <= space.startGap(vma))) return addr;
  }
  return vmUnmappedArea(space, {
    topDown: false,
    length: req.len,
    lowLimit: begin,
    highLimit: end,
    alignMask: 0,
    alignOffset: req.pgoff * space.pageSize,
    startGap: 0,
  });
}

/** x86-64 `arch_get_unmapped_area_topdown`. */
function x86TopDown(space: AddressSpace, req: AreaRequest): number {
  const { layout } = space;
  if (req.len > layout.taskSize) return -ENOMEM;
  if (req.flags & MAP_FIXED) return req.addr;
  if (req.flags & MAP_32BIT && layout.map32bit) return bottomUp(space, req);
  if (req.addr) {
    const addr = req.addr - (req.addr % space.pageSize);
    // mmap_address_hint_valid: inside TASK_SIZE (the 4-level window is all of it).
    if (layout.taskSize - req.len >= addr) {
      const vma = space.vmas.lowerBound(addr);
      if (vma === undefined || addr + req.len <= space.startGap(vma)) return addr;
    }
  }
  const addr = vmUnmappedArea(space, {
    topDown: true,
    length: req.len,
    lowLimit: space.pageSize,
    highLimit: layout.mmapBase,
    alignMask: 0,
    alignOffset: req.pgoff * space.pageSize,
    startGap: 0,
  });
  if (addr >= 0) return addr;
  return bottomUp(space, { ...req, flags: req.flags & ~MAP_32BIT });
}

/** The generic `generic_get_unmapped_area_topdown` (mm/mmap.c) that arm64 uses. */
function genericTopDown(space: AddressSpace, req: AreaRequest): number {
  const { layout } = space;
  const mmapEnd = layout.taskSize;
  if (req.len > mmapEnd - layout.mmapMinAddr) return -ENOMEM;
  if (req.flags & MAP_FIXED) return req.addr;
  if (req.addr) {
    const addr = Math.ceil(req.addr / space.pageSize) * space.pageSize;
    const vma = space.vmas.lowerBound(addr);
    const prev = space.vmas.prevBefore(addr);
    if (
      mmapEnd - req.len >= addr &&
      addr >= layout.mmapMinAddr &&
      (vma === undefined || addr + req.len <= space.startGap(vma)) &&
      (prev === undefined || addr >= prev.end)
    ) {
      return addr;
    }
  }
  const info: UnmappedAreaInfo = {
    topDown: true,
    length: req.len,
    lowLimit: space.pageSize,
    highLimit: layout.mmapBase,
    alignMask: 0,
    alignOffset: 0,
    startGap: 0,
  };
  const addr = vmUnmappedArea(space, info);
  if (addr >= 0) return addr;
  return vmUnmappedArea(space, {
    ...info,
    topDown: false,
    lowLimit: layout.unmappedBase,
    highLimit: mmapEnd,
  });
}

/**
 * `mm_get_unmapped_area` for an mm with the top-down layout: the architecture's
 * `arch_get_unmapped_area_topdown` (x86-64 has its own; arm64 uses the generic one).
 */
function archGetUnmappedArea(space: AddressSpace, arch: Arch, req: AreaRequest): number {
  return arch === 'x86_64' ? x86TopDown(space, req) : genericTopDown(space, req);
}

/**
 * `__thp_get_unmapped_area`: ask for len + PMD size and align the start so that address and file
 * offset agree modulo the PMD size, so the mapping can use huge pages. 0 means "no aligned area,
 * fall back".
 */
function thpUnmappedArea(space: AddressSpace, arch: Arch, req: AreaRequest): number {
  const size = space.layout.pmdSize;
  const off = req.pgoff * space.pageSize;
  const offEnd = off + req.len;
  const offAlign = Math.ceil(off / size) * size;
  if (offEnd <= offAlign || offEnd - offAlign < size) return 0;
  const lenPad = req.len + size;
  const ret = archGetUnmappedArea(space, arch, { ...req, len: lenPad });
  if (ret < 0) return 0;
  if (ret === req.addr) return req.addr;
  const offSub = mod(off - ret, size);
  if (offSub === 0) return ret + size;
  return ret + offSub;
}

/** `thp_get_unmapped_area`: the aligned area, or the plain one when there is none. */
function thpGetUnmappedArea(space: AddressSpace, arch: Arch, req: AreaRequest): number {
  const addr = thpUnmappedArea(space, arch, req);
  return addr !== 0 ? addr : archGetUnmappedArea(space, arch, req);
}

/**
 * `shmem_get_unmapped_area` for a file on a tmpfs with huge pages: the plain area when it already
 * has the file offset's alignment, else a search for len + 2 MiB - 1 page moved up to it. Shared
 * anonymous memory and tmpfs without huge pages keep the plain area (the machine's shmem_enabled
 * is `never`), which is what the other placements give too.
 */
function shmemHugeUnmappedArea(space: AddressSpace, arch: Arch, req: AreaRequest): number {
  const addr = archGetUnmappedArea(space, arch, req);
  const { layout, pageSize } = space;
  const hpage = layout.pmdSize;
  if (addr < 0 || addr > layout.taskSize - req.len) return addr;
  if (req.flags & MAP_FIXED || addr === req.addr || req.len < hpage) return addr;
  const offset = mod(req.pgoff * pageSize, hpage);
  if (offset && offset + req.len < 2 * hpage) return addr;
  if (mod(addr, hpage) === offset) return addr;
  const inflatedLen = req.len + hpage - pageSize;
  if (inflatedLen > layout.taskSize) return addr;
  let inflated = archGetUnmappedArea(space, arch, { ...req, len: inflatedLen, pgoff: 0 });
  if (inflated < 0) return addr;
  const inflatedOffset = mod(inflated, hpage);
  inflated += offset - inflatedOffset;
  if (inflatedOffset > offset) inflated += hpage;
  if (inflated > layout.taskSize - req.len) return addr;
  return inflated;
}

/**
 * The file's `get_unmapped_area`: its file system's rule, except /dev/zero's
 * `get_unmapped_area_zero`, which places a private mapping as `thp_get_unmapped_area` does and a
 * shared one as shared anonymous memory.
 */
function filePlacement(file: MemoryObject, flags: number): FilePlacement {
  if (file.kind !== 'dev-zero') return file.placement;
  return flags & MAP_SHARED ? 'none' : 'thp';
}

/**
 * `__get_unmapped_area` (mm/mmap.c) for the model's mappings: the address a new mapping of `len`
 * bytes gets, or -errno. MAP_FIXED returns the address unchanged after the range checks. The
 * file's placement rule stands for its `f_op->get_unmapped_area`; anonymous memory is placed as if
 * its page offset were zero, and a private anonymous mapping without a hint whose length is a
 * multiple of the PMD size is THP-aligned.
 */
export function getUnmappedArea(space: AddressSpace, arch: Arch, request: AreaRequest): number {
  const { layout } = space;
  if (request.len > layout.taskSize) return -ENOMEM;
  const file = request.file;
  const req = file === null && request.pgoff !== 0 ? { ...request, pgoff: 0 } : request;
  let addr: number;
  const placement = file === null ? 'none' : filePlacement(file, req.flags);
  if (placement === 'thp') {
    addr = thpGetUnmappedArea(space, arch, req);
  } else if (placement === 'shmem-huge') {
    addr = shmemHugeUnmappedArea(space, arch, req);
  } else if (file === null && !(req.flags & MAP_SHARED) && !req.addr && req.len % layout.pmdSize === 0) {
    addr = thpGetUnmappedArea(space, arch, req);
  } else {
    addr = archGetUnmappedArea(space, arch, req);
  }
  if (addr < 0) return addr;
  if (addr > layout.taskSize - req.len) return -ENOMEM;
  if (addr % space.pageSize !== 0) return -EINVAL;
  // security_mmap_addr: below the sysctl mmap_min_addr needs CAP_SYS_RAWIO.
  if (addr < layout.dacMmapMinAddr && !layout.capSysRawio) return -EPERM;
  return addr;
}
