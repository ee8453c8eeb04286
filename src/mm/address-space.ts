import { ENOMEM } from '../abi/errno.js';
import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import { AnonVma } from './anon-vma.js';
import type { ExecImage } from './exec-image.js';
import { FrameUse } from './frame-allocator.js';
import type { Layout } from './layout.js';
import type { MemoryObject } from './memory-object.js';
import type { CommitAccounting } from './overcommit.js';
import { GuardPages, LazyFreePages } from './page-runs.js';
import type { MmuContext, PageTable } from './page-table.js';
import type { UndoLog } from './undo-log.js';
import { VM_ACCOUNT, VM_EXEC, VM_GROWSDOWN, VM_SHARED, VM_WRITE } from './vm-flags.js';
import { maySplit, type Vma } from './vma.js';
import { keepApart } from './vma-merge.js';
import { VmaTree } from './vma-tree.js';

/** `VM_STACK` on x86-64 and arm64 (no VM_GROWSUP). */
const VM_STACK = VM_GROWSDOWN;

/** `is_data_mapping`: private, writable, not a stack. Counted against RLIMIT_DATA. */
export function isDataMapping(flags: number): boolean {
  return (flags & (VM_WRITE | VM_SHARED | VM_STACK)) === VM_WRITE;
}

/** `is_exec_mapping`: executable, not writable, not a stack. Counted as `exec_vm`. */
export function isExecMapping(flags: number): boolean {
  return (flags & (VM_WRITE | VM_EXEC | VM_STACK)) === VM_EXEC;
}

/** `is_stack_mapping`. Counted as `stack_vm`. */
export function isStackMapping(flags: number): boolean {
  return (flags & VM_STACK) === VM_STACK;
}

/** An rlimit in bytes as whole pages (unlimited: infinity). */
function limitPages(limit: number, pageSize: number): number {
  return Number.isFinite(limit) ? Math.floor(limit / pageSize) : Number.POSITIVE_INFINITY;
}

/**
 * One address space (Linux's `mm_struct`): the VMAs that say what is mapped, the page tables that
 * say which frames back it, the layout, and the per-mm counters.
 *
 * Invariant (checked by `Kernel.check`): every present leaf lies inside a VMA and grants no more
 * than the hardware rights of that VMA's prot. Every VMA change goes through the methods below,
 * which record their inverse in the caller's undo log, so a syscall can roll back to exactly the
 * state it started from.
 */
export class AddressSpace {
  readonly vmas = new VmaTree<Vma>();
  readonly pageSize: number;
  /**
   * Tasks using this address space (`mm_users`): 1 for a process, more when threads, vfork or
   * clone(CLONE_VM) share it. The last user's exit tears it down.
   */
  users = 1;
  /** Pages mapped (`total_vm`), of which data (`data_vm`), stack (`stack_vm`) and exec-only (`exec_vm`). */
  totalVm = 0;
  dataVm = 0;
  stackVm = 0;
  execVm = 0;
  /** Pages charged to the overcommit accounting (`VM_ACCOUNT` VMAs). */
  accountedVm = 0;
  /** The program break: heap start (`start_brk`) and current break (`brk`), unaligned as Linux stores it. */
  startBrk = 0;
  brk = 0;
  /** `start_data`/`end_data` (RLIMIT_DATA for brk counts them) and `start_stack` ([stack] naming). */
  startData = 0;
  endData = 0;
  startStack = 0;
  /** What the execve that built this address space set up (image bounds, auxv, first registers). */
  image: ExecImage | null = null;

  /** Whether /proc/PID/maps ends with the x86-64 `[vsyscall]` gate line (not a VMA). */
  gateArea = false;
  /** Pages carrying a guard marker (MADV_GUARD_INSTALL): any access to them faults. */
  readonly guards: GuardPages;
  /**
   * Pages given up with MADV_FREE, by address, with the frame they held then: write-protected so
   * that a write takes them back, and reclaimed (dropped, to read zero) only when RAM runs out.
   */
  readonly lazyFree: LazyFreePages;

  constructor(
    readonly ctx: MmuContext,
    readonly pageTable: PageTable,
    readonly layout: Layout,
    /** The kernel-wide commit accounting. */
    readonly accounting: CommitAccounting,
    /** The shared zero page that read faults on anonymous memory map. */
    readonly zeroFrame: PhysAddr,
  ) {
    this.pageSize = ctx.geometry.pageSize;
    this.guards = new GuardPages(this.pageSize);
    this.lazyFree = new LazyFreePages(this.pageSize);
  }

  /** Whether new VMAs are marked soft-dirty (CONFIG_MEM_SOFT_DIRTY). */
  get softDirty(): boolean {
    return this.layout.softDirty;
  }

  get mapCount(): number {
    return this.vmas.size;
  }

  /** A new anon_vma, numbered by the kernel: a root, or (in a fork) the child of `parent`. */
  newAnonVma(parent: AnonVma | null): AnonVma {
    return new AnonVma(this.ctx.anonVmaIds.next(), parent);
  }

  private statAccount(flags: number, pages: number): void {
    this.totalVm += pages;
    if (flags & VM_ACCOUNT) this.accountedVm += pages;
    if (isExecMapping(flags)) this.execVm += pages;
    else if (isStackMapping(flags)) this.stackVm += pages;
    else if (isDataMapping(flags)) this.dataVm += pages;
  }

  /** `may_expand_vm`: whether `pages` more pages with `flags` fit RLIMIT_AS and RLIMIT_DATA. */
  mayExpandVm(flags: number, pages: number): boolean {
    if (this.totalVm + pages > limitPages(this.layout.rlimitAs, this.pageSize)) return false;
    if (isDataMapping(flags) && this.dataVm + pages > limitPages(this.layout.rlimitData, this.pageSize))
      return false;
    return true;
  }

  /** Adds a VMA (which must not overlap any) and records its removal as the inverse. */
  insertVma(vma: Vma, undo: UndoLog | null): void {
    this.vmas.insert(vma);
    if (vma.file !== null) vma.file.mappedBy.set(vma, this);
    this.statAccount(vma.flags, (vma.end - vma.start) / this.pageSize);
    undo?.recordCall(unInsert, this, vma, undefined, undefined, undefined);
  }

  /** Removes a VMA from the tree (its pages are the caller's business) and records re-insertion. */
  removeVma(vma: Vma, undo: UndoLog | null): void {
    this.vmas.remove(vma);
    if (vma.file !== null) vma.file.mappedBy.delete(vma);
    this.statAccount(vma.flags, -(vma.end - vma.start) / this.pageSize);
    undo?.recordCall(unRemove, this, vma, undefined, undefined, undefined);
  }

  /**
   * Moves a VMA's bounds (for split, merge, expand), adjusting pgoff when the start moves. A moved
   * start is a new boundary below the VMA, so what was left unmerged there is forgotten.
   */
  setBounds(vma: Vma, start: number, end: number, undo: UndoLog | null): void {
    const oldStart = vma.start;
    const oldEnd = vma.end;
    const delta = (end - start - (oldEnd - oldStart)) / this.pageSize;
    vma.pgoff += (start - oldStart) / this.pageSize;
    this.vmas.setBounds(vma, start, end);
    this.statAccount(vma.flags, delta);
    if (undo !== null) undo.recordCall(unBound, this, vma, oldStart, oldEnd, vma.unmergedWith);
    if (start !== oldStart) vma.unmergedWith = null;
  }

  /** Changes a VMA's flags in place, keeping the counters right, and records the inverse. */
  setFlags(vma: Vma, flags: number, undo: UndoLog | null): void {
    const old = vma.flags;
    const pages = (vma.end - vma.start) / this.pageSize;
    this.statAccount(old, -pages);
    vma.flags = flags;
    this.statAccount(flags, pages);
    undo?.recordCall(unFlag, this, vma, old, undefined, undefined);
  }

  /**
   * Splits `vma` at `at` (strictly inside it): `vma` keeps [start, at), and the returned new VMA
   * covers [at, end) with every attribute copied and pgoff advanced (`__split_vma`).
   */
  splitVma(vma: Vma, at: number, undo: UndoLog | null): Vma {
    const above = this.vmas.next(vma);
    const upper = vma.cloneAt(at, vma.end, this.pageSize);
    this.setBounds(vma, vma.start, at, undo);
    this.insertVma(upper, undo);
    // The boundary above stays where it was; what was left unmerged there now lies below `upper`.
    if (above !== undefined && above.unmergedWith === vma) {
      above.unmergedWith = upper;
      undo?.recordCall(setUnmergedWith, above, vma, undefined, undefined, undefined);
    }
    return upper;
  }

  /**
   * Makes [start, end) a union of whole VMAs by splitting the ones that straddle its ends, then
   * detaches them from the tree (`vms_gather_munmap_vmas` followed by detaching). Returns the
   * detached VMAs in address order, or -ENOMEM when a split would exceed max_map_count. The pages
   * stay mapped: freeing them is the caller's step after its point of no return.
   */
  detachRange(start: number, end: number, undo: UndoLog): Vma[] | number {
    const split = this.splitAround(start, end, undo);
    if (split < 0) return split;
    const out: Vma[] = [];
    for (
      let v = this.vmas.firstIntersecting(start, end);
      v !== undefined && v.start < end;
      v = this.vmas.next(v)
    ) {
      out.push(v);
    }
    for (const v of out) this.removeVma(v, undo);
    // Guard markers are page-table entries: unmapping the range removes them.
    this.clearGuards(start, end, undo);
    return out;
  }

  /**
   * The splits of `vms_gather_munmap_vmas`: the VMAs that straddle `start` or `end` are split there,
   * so that [start, end) is made of whole VMAs. Returns 0; -ENOMEM when punching a hole in one VMA
   * would exceed max_map_count (checked before anything changes); or the errno of a VMA that
   * refuses the split (`may_split`: a special mapping, EINVAL). A refusal at `end` keeps the split
   * already made at `start`, as Linux does (nothing undoes a `__split_vma`): the caller commits it,
   * and its two pieces stay apart, unmerged.
   */
  splitAround(start: number, end: number, undo: UndoLog): number {
    let first = this.vmas.firstIntersecting(start, end);
    if (first === undefined) return 0;
    const splitStart = first.start < start;
    if (splitStart) {
      // Punching a hole in one VMA needs a new VMA for the part above the hole; trimming does not.
      if (end < first.end && this.mapCount >= this.layout.maxMapCount) return -ENOMEM;
      const refused = maySplit(first, start);
      if (refused < 0) return refused;
      first = this.splitVma(first, start, undo);
    }
    for (let v: Vma | undefined = first; v !== undefined && v.start < end; v = this.vmas.next(v)) {
      if (v.end <= end) continue;
      const refused = maySplit(v, end);
      if (refused < 0) {
        if (splitStart) keepApart(this, first, undo, 'below');
        return refused;
      }
      this.splitVma(v, end, undo);
    }
    return 0;
  }

  /**
   * Called after a reference to a user frame was dropped: frees it once nothing holds it. Kernel
   * frames (the zero page) are never freed this way.
   */
  releaseFrame(frame: PhysAddr): void {
    const { frames } = this.ctx;
    const f = frames.frameIndex(frame);
    if (frames.count[f] === 0 && frames.use[f] === FrameUse.UserData) frames.freePage(frame);
  }

  /** Frees the pages of a file or shmem object that no VMA maps any more. */
  releaseObject(object: MemoryObject): void {
    if (object.mappers > 0) return;
    const { frames } = this.ctx;
    for (const frame of object.pages.values()) {
      frames.count[frames.frameIndex(frame)]--;
      this.releaseFrame(frame);
    }
    object.pages.clear();
  }

  /** Unmaps every page in [start, end) and frees the frames no other mapping holds. */
  zapRange(start: number, end: number): void {
    this.pageTable.unmapRange(start, end, (_va, frame) => this.releaseFrame(frame));
    this.forgetLazyFree(start, end);
  }

  /** Takes the MADV_FREE marks off [start, end) (the pages were unmapped, moved or rewritten). */
  forgetLazyFree(start: number, end: number): void {
    this.lazyFree.deleteRange(start, end);
  }

  /**
   * Drops every page still given up with MADV_FREE and unchanged since; returns the frames freed.
   * Linux's reclaim (`shrink_folio_list`) discards such a clean lazily freed folio instead of
   * swapping it out, as the LRU lists reach it and only as many as it needs; the model drops them
   * all at once, whenever an allocation of user memory finds RAM exhausted.
   */
  reclaimLazyFree(): number {
    const { frames } = this.ctx;
    const before = frames.freePages;
    // A mark whose page is not mapped as it was belongs to a call in progress (an eager MAP_FIXED
    // that replaced the page): it stays, for that call to drop on commit or to find on rollback.
    // Collected first: deleting a mark splits the run the iteration is in.
    const reclaimable: number[] = [];
    for (const [va, frame] of this.lazyFree) {
      if (this.pageTable.translate(va as VirtAddr) === frame) reclaimable.push(va);
    }
    for (const va of reclaimable) {
      this.zapPage(va);
      this.lazyFree.delete(va);
    }
    return frames.freePages - before;
  }

  private zapPage(va: number): void {
    const frame = this.pageTable.unmap(va as VirtAddr);
    if (frame >= 0) this.releaseFrame(frame as PhysAddr);
  }

  /**
   * Drops the guard markers of [start, end), whose page-table entries are being unmapped, and
   * records their return. Only unmapping does this: MADV_DONTNEED, MADV_FREE and mprotect leave
   * guard markers in place, as Linux's zap without ZAP_FLAG_DROP_MARKER does.
   */
  clearGuards(start: number, end: number, undo: UndoLog | null): void {
    if (this.guards.size === 0) return;
    const dropped = this.guards.take(start, end);
    if (dropped.length === 0) return;
    undo?.record(() => this.guards.put(dropped));
  }

  /**
   * Moves the guard markers and MADV_FREE marks of [from, from+len) to the same offsets at `to`,
   * with the page-table entries they describe (`move_ptes` moves markers and lazily freed pages
   * alike), and records the move back. [to, to+len) must hold no marks of its own.
   *
   * The way back moves the marks found at `to` then, not the ones moved: reclaim may have dropped
   * some of the moved pages in between (an allocation later in the same call found RAM exhausted),
   * and such a page is gone from both places, as in Linux, where a lazily freed folio reclaimed
   * after `move_ptes` is not there for the move back either. Its mark must not come back without it.
   */
  moveMarks(from: number, to: number, len: number, undo: UndoLog): void {
    const guards = this.guards.take(from, from + len);
    const lazy = this.lazyFree.take(from, from + len);
    if (guards.length === 0 && lazy.length === 0) return;
    const by = to - from;
    this.guards.put(guards, by);
    this.lazyFree.put(lazy, by);
    undo.recordCall(unMoveMarks, this, to, len, by, undefined);
  }

  /** `vm_start_gap`: a grows-down VMA keeps `stackGuardGap` free below it. */
  startGap(vma: Vma): number {
    if (!(vma.flags & VM_GROWSDOWN)) return vma.start;
    const s = vma.start - this.layout.stackGuardGap;
    return Math.max(s, 0);
  }

  /** Every VMA in address order. */
  *[Symbol.iterator](): IterableIterator<Vma> {
    yield* this.vmas;
  }
}

// The inverses of the VMA changes above, as plain functions: recorded with their arguments
// (UndoLog.recordCall), they cost no closure on the path of every syscall.

function unInsert(space: AddressSpace, vma: Vma): void {
  space.removeVma(vma, null);
}

function unRemove(space: AddressSpace, vma: Vma): void {
  space.insertVma(vma, null);
}

/** Back to [start, end), which also gives back the old pgoff; then the old unmerged neighbour. */
function unBound(space: AddressSpace, vma: Vma, start: number, end: number, unmergedWith: Vma | null): void {
  space.setBounds(vma, start, end, null);
  vma.unmergedWith = unmergedWith;
}

function unFlag(space: AddressSpace, vma: Vma, flags: number): void {
  space.setFlags(vma, flags, null);
}

/** The marks now in [to, to+len) back `by` bytes lower (see AddressSpace.moveMarks). */
function unMoveMarks(space: AddressSpace, to: number, len: number, by: number): void {
  const guards = space.guards.take(to, to + len);
  const lazy = space.lazyFree.take(to, to + len);
  space.guards.put(guards, -by);
  space.lazyFree.put(lazy, -by);
}

/** `upper` is again kept apart from `lower` (see Vma.unmergedWith). */
export function setUnmergedWith(upper: Vma, lower: Vma | null): void {
  upper.unmergedWith = lower;
}
