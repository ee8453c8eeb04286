import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import type { FaultReason } from '../hal/page-fault.js';
import { ACCESS_RIGHT, type Access } from '../hal/rights.js';
import type { AddressSpace } from './address-space.js';
import { FrameUse } from './frame-allocator.js';
import {
  VM_ACCOUNT,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_NOHUGEPAGE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from './vm-flags.js';
import type { Vma } from './vma.js';
import { findMergeableAnon, keepApart } from './vma-merge.js';

/** How a fault ended: resolved (retry the access), or why it could not be. */
export type FaultOutcome = 'resolved' | FaultReason;

/**
 * `anon_vma_prepare`: give a private VMA its anon_vma the first time it gets a page of its own,
 * reusing a compatible neighbour's; its chain is that one anon_vma.
 */
export function prepareAnon(space: AddressSpace, vma: Vma): void {
  if (vma.anon !== null || vma.flags & VM_SHARED) return;
  const anon = findMergeableAnon(space, vma) ?? space.newAnonVma(null);
  vma.anon = anon;
  vma.chain = [anon];
}

/**
 * Whether the private page at `page`, mapped to `frame`, is the task's own and nobody else's: an
 * anonymous page (not the zero page, not the file's page-cache page) with no other reference.
 * This is the model's `PageAnonExclusive` and `wp_can_reuse_anon_folio` (refcount 1): such a page
 * may be written in place; any other must be copied first.
 */
export function exclusivePage(space: AddressSpace, vma: Vma, page: number, frame: PhysAddr): boolean {
  if (frame === space.zeroFrame) return false;
  if (vma.file !== null && vma.file.pages.get(objectIndex(space, vma, page)) === frame) return false;
  const { frames } = space.ctx;
  return frames.count[frames.frameIndex(frame)] === 1;
}

/**
 * The rights of a private page that is not the task's own copy yet (the zero page, a page-cache
 * page): the VMA's, minus write; a writable VMA keeps read, since write implies read on both
 * architectures (Linux's PAGE_COPY).
 */
export function copyOnWriteProt(prot: number): number {
  return prot & VM_WRITE ? (prot & ~VM_WRITE) | VM_READ : prot;
}

/** The page offset inside the VMA's object (file or shmem) of the page at `page`. */
function objectIndex(space: AddressSpace, vma: Vma, page: number): number {
  return vma.pgoff + (page - vma.start) / space.pageSize;
}

/** A zeroed frame, or null when RAM is exhausted. */
function zeroedFrame(space: AddressSpace): PhysAddr | null {
  const { frames, ram } = space.ctx;
  const frame = frames.allocPage(FrameUse.UserData);
  if (frame !== null) ram.zero(frame, space.pageSize);
  return frame;
}

/** The object's frame for a page, allocated (zeroed: the model has no file contents) on first use. */
function objectPage(space: AddressSpace, vma: Vma, page: number): PhysAddr | null {
  const object = vma.file!;
  const index = objectIndex(space, vma, page);
  const have = object.pages.get(index);
  if (have !== undefined) return have;
  const frame = zeroedFrame(space);
  if (frame === null) return null;
  object.pages.set(index, frame);
  space.ctx.frames.count[space.ctx.frames.frameIndex(frame)]++;
  return frame;
}

/**
 * `expand_downwards`: a fault below a grows-down VMA extends it, if the stack rlimit, the guard gap
 * to the VMA below and the limits allow. Returns the VMA that now covers `page`, or null. As in
 * Linux, the VMA gets its anonymous identity (`anon_vma_prepare`) once the guard gap is checked,
 * before the limits: a fault far below a stack that cannot grow that far still leaves it faulted.
 */
export function expandStack(space: AddressSpace, vma: Vma, page: number): Vma | null {
  if (!(vma.flags & VM_GROWSDOWN)) return null;
  const { layout } = space;
  if (page < layout.mmapMinAddr) return null;
  const prev = space.vmas.prev(vma);
  if (prev !== undefined && !(prev.flags & VM_GROWSDOWN) && prev.flags & (VM_READ | VM_WRITE | VM_EXEC)) {
    if (page - prev.end < layout.stackGuardGap) return null;
  }
  prepareAnon(space, vma);
  const grow = (vma.start - page) / space.pageSize;
  if (grow > vma.pgoff) return null;
  if (!space.mayExpandVm(vma.flags, grow)) return null;
  if (vma.end - page > layout.rlimitStack) return null;
  if (vma.flags & VM_ACCOUNT && !space.accounting.charge(grow, space.totalVm)) return null;
  space.setBounds(vma, page, vma.end, null);
  keepApart(space, vma, null, 'below');
  return vma;
}

/**
 * Whether a fault at `page` takes `do_huge_pmd_anonymous_page`: private anonymous memory that THP
 * is enabled for, the aligned PMD-sized range around the address wholly inside the VMA
 * (`thp_vma_suitable_order`) and no page table there yet (`pmd_none`). That path prepares the
 * anonymous identity first, for a read too (which then maps the huge zero page). The model maps
 * base pages only; the identity is what shows (merging, VM_ACCOUNT on mprotect, mremap's pgoff).
 */
function hugeFault(space: AddressSpace, vma: Vma, page: number): boolean {
  const { thpEnabled, pmdSize } = space.layout;
  if (thpEnabled === 'never' || !vma.anonymous || vma.flags & (VM_SHARED | VM_NOHUGEPAGE)) return false;
  if (thpEnabled === 'madvise' && !(vma.flags & VM_HUGEPAGE)) return false;
  const start = page - (page % pmdSize);
  if (start < vma.start || start + pmdSize > vma.end) return false;
  return !space.pageTable.hasLeafTable(page as VirtAddr);
}

/**
 * The page-fault handler (`handle_mm_fault`): finds the VMA (growing a stack if the address is just
 * below one), checks the access against the VMA's rights, then backs the page:
 * - private anonymous memory: a write gets a zeroed frame of its own, a read the shared zero page
 *   (`layout.zeroPageReads`) or, on kernels that do not use it there, a frame of its own too;
 *   a write to the zero page or to a file page copies it;
 * - a page given up with MADV_FREE: a write takes it back;
 * - shared memory and files: the object's page, private writes copying it.
 * Anything else is a SIGSEGV reason; running out of frames is an out-of-memory kill.
 */
export function handlePageFault(space: AddressSpace, va: VirtAddr, access: Access): FaultOutcome {
  const page = va - (va % space.pageSize);
  if (space.guards.size > 0 && space.guards.has(page)) return 'not-mapped';
  let vma = space.vmas.lowerBound(va);
  if (vma === undefined) return 'not-mapped';
  if (vma.start > va) {
    const grown = expandStack(space, vma, page);
    if (grown === null) return 'not-mapped';
    vma = grown;
  }
  const { format, frames, ram } = space.ctx;
  if (!(format.rightsFor(vma.prot) & ACCESS_RIGHT[access])) {
    return format.keyDenies(vma.prot, access) ? 'protection-key' : 'denied';
  }
  const pt = space.pageTable;
  const present = pt.translate(page as VirtAddr);
  const write = access === 'write';
  // filemap_fault / shmem_fault: no page of the file there (a present page is a private copy).
  if (present < 0 && vma.file?.beyondEnd(objectIndex(space, vma, page), space.pageSize)) {
    // A private write gets there through do_cow_fault, whose vmf_anon_prepare runs before the
    // file's fault method says SIGBUS: the VMA keeps the anon_vma (and merges accordingly).
    if (write && !(vma.flags & VM_SHARED)) prepareAnon(space, vma);
    return 'beyond-eof';
  }
  if (present >= 0) {
    // Present but not permitted: the only resolvable case is a private write to a read-only
    // entry (`do_wp_page`): the zero page, a page-cache page, a page given up with MADV_FREE, or a
    // page shared with a fork.
    if (!write || vma.flags & VM_SHARED) return 'denied';
    return writeProtectFault(space, vma, page, present as PhysAddr);
  }
  if (vma.flags & VM_SHARED) {
    const frame = objectPage(space, vma, page);
    if (frame === null) return 'out-of-memory';
    if (!pt.map(page as VirtAddr, frame, vma.prot)) return 'out-of-memory';
    return 'resolved';
  }
  const anonymous = vma.anonymous;
  if (!write && hugeFault(space, vma, page)) prepareAnon(space, vma);
  if (!write && (!anonymous || space.layout.zeroPageReads)) {
    // A read maps the zero page (anonymous) or the page-cache page (file), without write access.
    const frame = anonymous ? space.zeroFrame : objectPage(space, vma, page);
    if (frame === null) return 'out-of-memory';
    if (!pt.map(page as VirtAddr, frame, copyOnWriteProt(vma.prot))) return 'out-of-memory';
    return 'resolved';
  }
  const frame = anonymous ? zeroedFrame(space) : frames.allocPage(FrameUse.UserData);
  if (frame === null) return 'out-of-memory';
  if (!anonymous) {
    const cached = objectPage(space, vma, page);
    if (cached === null) {
      frames.freePage(frame);
      return 'out-of-memory';
    }
    ram.copy(frame, cached, space.pageSize);
  }
  if (!pt.map(page as VirtAddr, frame, vma.prot)) {
    frames.freePage(frame);
    return 'out-of-memory';
  }
  prepareAnon(space, vma);
  return 'resolved';
}

/**
 * `do_wp_page` for a private mapping: a page that is the task's own again is made writable where
 * it is (`wp_page_reuse`; also how a write takes back a page given up with MADV_FREE), any other is
 * copied into a new frame first (`wp_page_copy`). When no frame is left for the copy, nothing
 * changes and the fault is an out-of-memory one. Unlike Linux, the anon_vma is prepared only once
 * the copy is in hand, so a failed fault leaves the VMA as it was.
 */
function writeProtectFault(space: AddressSpace, vma: Vma, page: number, present: PhysAddr): FaultOutcome {
  const { frames, ram } = space.ctx;
  if (exclusivePage(space, vma, page, present)) {
    space.lazyFree.delete(page);
    const prot = vma.prot;
    space.pageTable.protectRange(page, page + space.pageSize, () => prot);
    return 'resolved';
  }
  const copy = frames.allocPage(FrameUse.UserData);
  if (copy === null) return 'out-of-memory';
  ram.copy(copy, present, space.pageSize);
  prepareAnon(space, vma);
  space.lazyFree.delete(page);
  const old = new Uint32Array(2);
  space.pageTable.replace(page as VirtAddr, copy, vma.prot, old);
  space.releaseFrame(present);
  return 'resolved';
}

/**
 * Faults in every page of [start, end) as `access` would (MAP_POPULATE, MADV_POPULATE_*,
 * mlock). Stops at the first failure and reports it.
 */
export function populateRange(space: AddressSpace, start: number, end: number, access: Access): FaultOutcome {
  const rights = new Uint8Array(1);
  const need = ACCESS_RIGHT[access];
  for (let va = start; va < end; va += space.pageSize) {
    const frame = space.pageTable.translate(va as VirtAddr, rights);
    if (frame >= 0 && rights[0] & need) continue;
    const outcome = handlePageFault(space, va as VirtAddr, access);
    if (outcome !== 'resolved') return outcome;
  }
  return 'resolved';
}
