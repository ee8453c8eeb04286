import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import { ACCESS_RIGHT, type Access } from '../hal/rights.js';
import type { FaultReason } from '../kernel/page-fault.js';
import type { AddressSpace } from './address-space.js';
import { FrameUse } from './frame-allocator.js';
import { VM_SHARED } from './vm-flags.js';
import type { Vma } from './vma.js';
import { AnonIdentity } from './vma.js';
import { findMergeableAnon } from './vma-merge.js';

/** How a fault ended: resolved (retry the access), or the SIGSEGV reason, or out of memory. */
export type FaultOutcome = 'resolved' | FaultReason;

/**
 * `anon_vma_prepare`: give a VMA its anonymous identity the first time a page of it is populated,
 * reusing a compatible neighbour's.
 */
export function prepareAnon(space: AddressSpace, vma: Vma): void {
  if (vma.anon !== null || vma.flags & VM_SHARED) return;
  vma.anon = findMergeableAnon(space, vma) ?? new AnonIdentity();
}

/**
 * The page-fault handler (`handle_mm_fault` for anonymous memory): a fault on a page of a VMA whose
 * rights allow the access gets a zeroed frame mapped with the VMA's rights; anything else is a
 * SIGSEGV reason. In eager mode every page of a VMA is already present, so only the SIGSEGV
 * outcomes occur.
 */
export function handlePageFault(space: AddressSpace, va: VirtAddr, access: Access): FaultOutcome {
  const vma = space.vmas.find(va);
  if (vma === undefined) return 'not-mapped';
  const { format, frames, ram } = space.ctx;
  if (!(format.rightsFor(vma.prot) & ACCESS_RIGHT[access])) return 'denied';
  const page = (va - (va % space.pageSize)) as VirtAddr;
  if (space.pageTable.isMapped(page)) return 'denied';
  const frame = frames.allocPage(FrameUse.UserData);
  if (frame === null) return 'out-of-memory';
  ram.zero(frame, space.pageSize);
  if (!space.pageTable.map(page, frame, vma.prot)) {
    frames.freePage(frame);
    return 'out-of-memory';
  }
  prepareAnon(space, vma);
  return 'resolved';
}

/**
 * Allocates, zeroes and maps every page of [start, end) that is not yet present, with `prot`
 * (MAP_POPULATE in demand mode). Stops at the first allocation failure and reports it: populate
 * errors are not the syscall's (Linux ignores them), the pages stay for the fault handler.
 */
export function populateRange(space: AddressSpace, start: number, end: number, prot: number): boolean {
  const { frames, ram } = space.ctx;
  for (let va = start; va < end; va += space.pageSize) {
    if (space.pageTable.isMapped(va as VirtAddr)) continue;
    const frame = frames.allocPage(FrameUse.UserData);
    if (frame === null) return false;
    ram.zero(frame, space.pageSize);
    if (!space.pageTable.map(va as VirtAddr, frame as PhysAddr, prot)) {
      frames.freePage(frame);
      return false;
    }
  }
  return true;
}
