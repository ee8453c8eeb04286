import type { Layout } from './layout.js';

/**
 * Commit accounting (`vm_committed_as` and `__vm_enough_memory` in mm/util.c), shared by every
 * address space of a kernel. Pages are charged for VM_ACCOUNT mappings (private, writable, not
 * MAP_NORESERVE) and for the heap.
 */
export class CommitAccounting {
  /** Pages charged right now (`Committed_AS` in /proc/meminfo, in pages). */
  committed = 0;
  /**
   * The part of `committed` that no mapping holds any more and nothing will ever return: what
   * `layout.mremapRechargesShrink` charges. Every other charged page belongs to a VM_ACCOUNT VMA.
   */
  leaked = 0;

  constructor(private readonly layout: Layout) {}

  /** `CommitLimit`: swap + RAM × overcommit_ratio%. */
  get commitLimit(): number {
    const l = this.layout;
    return Math.floor((l.totalRamPages * l.overcommitRatio) / 100) + l.totalSwapPages;
  }

  /**
   * `__vm_enough_memory`: charges `pages` if the policy allows it: mode 1 always; mode 0 unless
   * this one request exceeds all RAM and swap; mode 2 while the total stays under CommitLimit less
   * the task's user reserve. Returns false (charging nothing) when refused. The admin reserve is
   * not modelled: the task is taken to hold CAP_SYS_ADMIN, as the reference recordings (root) did.
   */
  charge(pages: number, totalVm: number): boolean {
    const l = this.layout;
    this.committed += pages;
    if (l.overcommitMemory === 1) return true;
    if (l.overcommitMemory === 0) {
      if (pages <= l.totalRamPages + l.totalSwapPages) return true;
    } else {
      const reserve = Math.min(Math.floor(totalVm / 32), l.userReservePages);
      if (this.committed < this.commitLimit - reserve) return true;
    }
    this.committed -= pages;
    return false;
  }

  uncharge(pages: number): void {
    this.committed -= pages;
  }
}

/** `accounting.uncharge(pages)`, as a plain function: the inverse a charge records (UndoLog.recordCall). */
export function uncharge(accounting: CommitAccounting, pages: number): void {
  accounting.uncharge(pages);
}
