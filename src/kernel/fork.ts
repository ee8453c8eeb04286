import { ENOMEM } from '../abi/errno.js';
import type { VirtAddr } from '../hal/addr.js';
import { R_WRITE } from '../hal/rights.js';
import type { AddressSpace } from '../mm/address-space.js';
import { type AnonVma, anonChain } from '../mm/anon-vma.js';
import type { CommitAccounting } from '../mm/overcommit.js';
import { UndoLog } from '../mm/undo-log.js';
import {
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_LOCKED,
  VM_LOCKONFAULT,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
  VM_WIPEONFORK,
} from '../mm/vm-flags.js';
import { Vma } from '../mm/vma.js';
import { keepApart } from '../mm/vma-merge.js';
import type { PagingMode } from '../syscall/context.js';

/** `VM_LOCKED_MASK`: mlock is not inherited. */
const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;

/** What `dupMmap` copies from and into. */
export interface ForkSpaces {
  /** The forking task's address space. */
  readonly parent: AddressSpace;
  /** The child's address space: new, with an empty root table. */
  readonly child: AddressSpace;
  /** Every live address space of the kernel (the anon_vma trees span processes). */
  readonly all: Iterable<AddressSpace>;
  readonly accounting: CommitAccounting;
  readonly paging: PagingMode;
}

/**
 * `dup_mmap` (kernel/fork.c, 6.18): copies the parent's address space into the child's.
 * - Each VMA is copied but a MADV_DONTFORK one (`VM_DONTCOPY`); the copy loses mlock
 *   (`VM_LOCKED_MASK`), and a VM_ACCOUNT one is charged again (`security_vm_enough_memory_mm`).
 * - `anon_vma_fork` gives the copy an anon_vma of its own, child of the parent's; a
 *   MADV_WIPEONFORK copy gets none and no pages.
 * - `copy_page_range` copies the page-table entries where a fault could not rebuild them (the VMA
 *   has an anon_vma, or is PFNMAP/MIXEDMAP): private pages become shared read-only in both
 *   processes, to be copied by the first write of either; shared memory is left to fault again.
 * - The counters (`total_vm`, `data_vm`, `exec_vm`, `stack_vm`), `map_count` and the heap and stack
 *   bounds follow.
 *
 * Returns 0, or -ENOMEM when a charge or a page-table allocation fails. Then the parent is exactly
 * as it was: its charges are returned and its entries writable again (Linux leaves them
 * write-protected, which only costs a fault later), and the caller tears the child down.
 */
export function dupMmap(f: ForkSpaces): number {
  const { parent, child } = f;
  using undo = new UndoLog();
  child.startBrk = parent.startBrk;
  child.brk = parent.brk;
  child.startData = parent.startData;
  child.endData = parent.endData;
  child.startStack = parent.startStack;
  child.gateArea = parent.gateArea;
  const census = new AnonVmaCensus(f.all);
  for (const mpnt of parent.vmas) {
    // The counters are the sum over the copies (`vm_stat_account` takes a skipped VMA off them).
    if (mpnt.flags & VM_DONTCOPY) continue;
    if (mpnt.flags & VM_ACCOUNT) {
      const pages = (mpnt.end - mpnt.start) / parent.pageSize;
      if (!f.accounting.charge(pages, parent.totalVm)) return -ENOMEM;
      undo.record(() => f.accounting.uncharge(pages));
    }
    const tmp = new Vma({
      start: mpnt.start,
      end: mpnt.end,
      flags: mpnt.flags & ~VM_LOCKED_MASK,
      pgoff: mpnt.pgoff,
      file: mpnt.file,
      name: mpnt.name,
      droppable: mpnt.droppable,
    });
    const wipe = (mpnt.flags & VM_WIPEONFORK) !== 0;
    if (!wipe) anonVmaFork(child, tmp, mpnt, census);
    child.insertVma(tmp, null);
    if (!wipe && !copyPageRange(f, mpnt, undo)) return -ENOMEM;
  }
  // Neighbours that only differed by mlock, or by anon_vmas a wipe dropped, now look alike, but
  // nothing merges them: Linux shows them as separate lines.
  for (const v of child.vmas) keepApart(child, v, null, 'below');
  undo.commit();
  return 0;
}

/**
 * `anon_vma_fork`: the copy is linked to every anon_vma of the parent VMA's chain
 * (`anon_vma_clone`), and new pages go to an anon_vma of its own whose parent is the parent VMA's.
 * `anon_vma_clone` reuses instead an ancestor's anon_vma that no VMA uses any more and that has at
 * most one child (oldest first), so that long fork chains do not grow the tree without end.
 */
function anonVmaFork(child: AddressSpace, tmp: Vma, pvma: Vma, census: AnonVmaCensus): void {
  if (pvma.anon === null) return;
  const chain = anonChain(pvma);
  for (let i = chain.length - 1; i >= 0; i--) {
    const av = chain[i];
    if (census.children(av) < 2 && census.activeVmas(av) === 0) {
      tmp.anon = av;
      tmp.chain = chain;
      census.addActive(av);
      return;
    }
  }
  const own = child.newAnonVma(pvma.anon);
  tmp.anon = own;
  tmp.chain = [own, ...chain];
  census.addChild(pvma.anon);
  census.addActive(own);
}

/**
 * `vma_needs_copy`: only entries a fault could not recreate are copied. In eager paging private
 * pages of a VMA without an anon_vma are data the model allocated up front, so they are copied too.
 */
function vmaNeedsCopy(vma: Vma, paging: PagingMode): boolean {
  if (vma.flags & (VM_PFNMAP | VM_MIXEDMAP)) return true;
  if (vma.anon !== null) return true;
  return paging === 'eager' && !(vma.flags & VM_SHARED);
}

/**
 * `copy_page_range` → `copy_present_ptes`: every present entry of `src` is mapped at the same
 * address in the child, taking a reference on its frame; in a copy-on-write mapping (private and
 * VM_MAYWRITE, `is_cow_mapping`) a writable entry is write-protected on both sides. MADV_FREE marks
 * go along, and so do guard markers, of any VMA copied: the reference kernel gives a guarded VMA
 * a flag (`VM_MAYBE_GUARD`, smaps `gu`) that makes fork copy its entries even without an anon_vma.
 * Returns false when a child table cannot be allocated.
 */
function copyPageRange(f: ForkSpaces, src: Vma, undo: UndoLog): boolean {
  const { parent, child } = f;
  const pageSize = parent.pageSize;
  for (const page of parent.guards) if (page >= src.start && page < src.end) child.guards.add(page);
  if (!vmaNeedsCopy(src, f.paging)) return true;
  const { ram, format } = parent.ctx;
  const cow = (src.flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
  const leaves: number[] = [];
  parent.pageTable.visitLeaves(src.start, src.end, (e, va) => leaves.push(va, ram.readLo(e), ram.readHi(e)));
  for (let i = 0; i < leaves.length; i += 3) {
    const va = leaves[i];
    const frame = format.address(leaves[i + 1], leaves[i + 2]);
    const rights = format.userRights(leaves[i + 1], leaves[i + 2]);
    const shared = cow ? rights & ~R_WRITE : rights;
    if (!child.pageTable.map(va as VirtAddr, frame, shared)) return false;
    if (shared !== rights) {
      parent.pageTable.protectRange(va, va + pageSize, () => shared);
      undo.record(() => parent.pageTable.protectRange(va, va + pageSize, () => rights));
    }
    if (parent.lazyFree.get(va) === frame) child.lazyFree.set(va, frame);
  }
  return true;
}

/**
 * The two counters of every anon_vma that `anon_vma_clone`'s reuse test reads, recounted from the
 * live VMAs instead of being kept up to date by every VMA operation:
 * - `num_active_vmas`: VMAs whose `anon` it is;
 * - `num_children`: anon_vmas whose parent it is and that some VMA is still linked to (a root counts
 *   itself, as Linux's self-parent reference does), since `unlink_anon_vmas` drops the parent's
 *   count when the last VMA leaves a child.
 */
class AnonVmaCensus {
  private readonly active = new Map<AnonVma, number>();
  private readonly kids = new Map<AnonVma, number>();

  constructor(spaces: Iterable<AddressSpace>) {
    const linked = new Set<AnonVma>();
    for (const space of spaces) {
      for (const vma of space.vmas) {
        if (vma.anon !== null) this.addActive(vma.anon);
        for (const av of anonChain(vma)) linked.add(av);
      }
    }
    for (const av of linked) this.addChild(av.parent);
  }

  activeVmas(av: AnonVma): number {
    return this.active.get(av) ?? 0;
  }

  children(av: AnonVma): number {
    return this.kids.get(av) ?? 0;
  }

  addActive(av: AnonVma): void {
    this.active.set(av, this.activeVmas(av) + 1);
  }

  addChild(av: AnonVma): void {
    this.kids.set(av, this.children(av) + 1);
  }
}
