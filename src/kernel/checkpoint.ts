/**
 * Checkpoints of one address space: its state at one moment, kept so that it can be put back after
 * calls were tried on it. The replay's search for the order of overlapping calls of threads (see
 * src/replay/linearize.ts) tries an order, and when a result contradicts the log, goes back to the
 * checkpoint and tries another.
 *
 * A checkpoint is not a fork: `dup_mmap` gives the copy anon_vmas of its own (which changes later
 * merges) and shares pages copy-on-write (which write-protects the original). A checkpoint keeps
 * every VMA as it is (its anon_vma chain included, and the neighbour Linux left it apart from),
 * the heap and stack bounds, the MADV_FREE and guard marks, and the contents of every page the address space owns; page-cache, shmem and zero
 * pages are found again in their objects. Restoring tears the address space down the way exit does
 * (`unmapRange` over all of it: frames, tables, commit charge and object references go back) and
 * rebuilds it from the checkpoint in place, so the tasks using it keep using it. The pages it owned
 * come back in new frames with the same contents and entries; which physical frame holds a page is
 * the only thing that differs (a page shared copy-on-write with a fork child comes back private).
 * What is not the address space's stays as the tried calls left it: the contents of shared objects
 * (a write through a shared mapping is seen by every process mapping it), pages they brought into
 * an object's cache, and shmem inode numbers they took from the kernel's counter.
 *
 * A checkpoint holds no frame, so the invariant checker sees nothing of it, and costs the VMAs and
 * the resident pages of the address space: the replay's spaces have few (nothing touches memory).
 */
import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import type { AddressSpace } from '../mm/address-space.js';
import { FrameUse } from '../mm/frame-allocator.js';
import type { MemoryObject } from '../mm/memory-object.js';
import type { MarkRun } from '../mm/page-runs.js';
import type { Vma } from '../mm/vma.js';
import type { SyscallContext } from '../syscall/context.js';
import { unmapRange } from '../syscall/munmap.js';

/** How a page of the checkpoint comes back. */
type SavedPage =
  | { kind: 'own'; va: number; lo: number; hi: number; bytes: Uint8Array }
  /** A page of the VMA's file or shmem object, at page `index` of it (its contents, should it be dropped). */
  | {
      kind: 'object';
      va: number;
      lo: number;
      hi: number;
      object: MemoryObject;
      index: number;
      bytes: Uint8Array;
    }
  /** The zero page or another kernel frame, mapped as it is. */
  | { kind: 'kernel'; va: number; lo: number; hi: number; frame: PhysAddr };

/**
 * Fields of an address space a checkpoint does not copy as values: the objects it is built of,
 * which restore rebuilds in place, and the number of tasks using it, which memory calls never change.
 */
const STRUCTURE = new Set([
  'vmas',
  'pageSize',
  'users',
  'ctx',
  'pageTable',
  'layout',
  'accounting',
  'zeroFrame',
  'guards',
  'lazyFree',
]);

export interface SpaceCheckpoint {
  readonly space: AddressSpace;
  readonly vmas: readonly Vma[];
  /** For each VMA, the index of the VMA Linux left it apart from (`unmergedWith`), or -1. */
  readonly apart: readonly number[];
  /** Every other field of the address space (counters, bounds, the exec image) by name. */
  readonly fields: ReadonlyMap<string, unknown>;
  /** The guard marks, as runs: a guard over a large reservation is one run, not a page each. */
  readonly guards: readonly MarkRun[];
  /**
   * The MADV_FREE marks, as runs; their frames are the ones the pages had when the checkpoint was
   * taken, so restore reads them again once the pages are mapped in their new frames.
   */
  readonly lazyFree: readonly MarkRun[];
  readonly pages: readonly SavedPage[];
}

/** The state of `space` now. */
export function takeCheckpoint(space: AddressSpace): SpaceCheckpoint {
  const { ram, format, frames } = space.ctx;
  const pageSize = space.pageSize;
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(space)) if (!STRUCTURE.has(k)) fields.set(k, v);
  const pages: SavedPage[] = [];
  const bytesAt = (frame: PhysAddr) => {
    const b = new Uint8Array(pageSize);
    ram.read(frame, b, 0, pageSize);
    return b;
  };
  // One walk of the tables (most spaces have few pages), each leaf then placed in its VMA.
  space.pageTable.visitLeaves(0, space.layout.taskSize, (e, va) => {
    const vma = space.vmas.find(va)!;
    const lo = ram.readLo(e);
    const hi = ram.readHi(e);
    const frame = format.address(lo, hi);
    const index = vma.pgoff + (va - vma.start) / pageSize;
    if (vma.file !== null && vma.file.pages.get(index) === frame) {
      pages.push({ kind: 'object', va, lo, hi, object: vma.file, index, bytes: bytesAt(frame) });
    } else if (frames.use[frames.frameIndex(frame)] !== FrameUse.UserData) {
      pages.push({ kind: 'kernel', va, lo, hi, frame });
    } else {
      pages.push({ kind: 'own', va, lo, hi, bytes: bytesAt(frame) });
    }
  });
  const live = [...space.vmas];
  const index = new Map(live.map((v, i) => [v, i]));
  return {
    space,
    vmas: live.map((v) => v.cloneAt(v.start, v.end, pageSize)),
    apart: live.map((v) => (v.unmergedWith === null ? -1 : (index.get(v.unmergedWith) ?? -1))),
    fields,
    guards: space.guards.runsIn(0, space.layout.taskSize),
    lazyFree: space.lazyFree.runsIn(0, space.layout.taskSize),
    pages,
  };
}

/** What the MMU had set in a saved leaf: nothing, the accessed bit, or accessed and dirty. */
function touchState(space: AddressSpace, lo: number, hi: number): 'none' | 'read' | 'write' {
  const { format } = space.ctx;
  const base = format.leafLo(format.address(lo, hi), format.userRights(lo, hi));
  if (lo === base) return 'none';
  return lo === format.touchedLo(base, false) ? 'read' : 'write';
}

/**
 * Puts `cp.space` back in the state of `cp` (which stays usable for another restore). Returns false,
 * with the address space then empty, when RAM has no frame left for its pages or tables.
 */
export function restoreCheckpoint(ctx: SyscallContext, cp: SpaceCheckpoint): boolean {
  const space = cp.space;
  const { ram, frames } = space.ctx;
  if (unmapRange(ctx, 0, space.layout.taskSize) !== 0) return false;
  space.guards.clear();
  space.lazyFree.clear();
  const vmas = cp.vmas.map((saved) => saved.cloneAt(saved.start, saved.end, space.pageSize));
  const accounted = space.accountedVm;
  for (const [i, vma] of vmas.entries()) {
    if (cp.apart[i] >= 0) vma.unmergedWith = vmas[cp.apart[i]];
    space.insertVma(vma, null);
  }
  // The VM_ACCOUNT pages are charged again as they were (the limit was checked when they were made).
  ctx.accounting.committed += space.accountedVm - accounted;
  for (const [k, v] of cp.fields) (space as unknown as Record<string, unknown>)[k] = v;
  space.guards.put(cp.guards);
  const pageSize = space.pageSize;
  for (const p of cp.pages) {
    let frame: PhysAddr;
    if (p.kind === 'kernel') {
      frame = p.frame;
    } else if (p.kind === 'object' && p.object.pages.has(p.index)) {
      frame = p.object.pages.get(p.index)!;
    } else {
      const f = frames.allocPage(FrameUse.UserData);
      if (f === null) return false;
      frame = f;
      ram.write(frame, p.bytes, 0, pageSize);
      if (p.kind === 'object') {
        // The object lost the page meanwhile (its last mapping went): it holds it again.
        p.object.pages.set(p.index, frame);
        frames.count[frames.frameIndex(frame)]++;
      }
    }
    const { format } = space.ctx;
    if (!space.pageTable.map(p.va as VirtAddr, frame, format.userRights(p.lo, p.hi))) return false;
    const touched = touchState(space, p.lo, p.hi);
    if (touched !== 'none') space.pageTable.touch(p.va as VirtAddr, touched === 'write');
  }
  // A page marked MADV_FREE is resident, so this walks no more pages than were restored above.
  for (const r of cp.lazyFree) {
    for (let va = r.start, i = 0; va < r.end; va += pageSize, i++) {
      if (r.frames !== null && Number.isNaN(r.frames[i])) continue;
      const frame = space.pageTable.translate(va as VirtAddr);
      if (frame >= 0) space.lazyFree.set(va, frame as PhysAddr);
    }
  }
  return true;
}
