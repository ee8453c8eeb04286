import { EINVAL } from '../abi/errno.js';
import type { PhysAddr } from '../hal/addr.js';
import { UndoLog } from '../mm/undo-log.js';
import { VM_ACCOUNT } from '../mm/vm-flags.js';
import { gt, modPow2, num, pageAlign, type SyscallArg, sub, toWord, type Word } from './args.js';
import type { SyscallContext } from './context.js';

/**
 * munmap(2): `do_vmi_munmap` and `do_vmi_align_munmap` of Linux 6.18. Holes in the range are fine;
 * punching a hole in one VMA at `max_map_count` fails (ENOMEM), and then nothing changes; a special
 * mapping (`[vvar]`, `[vdso]`) that would have to be split fails it with EINVAL, keeping a split
 * already made at the start of the range, as Linux does.
 */
export function sysMunmap(ctx: SyscallContext, addrArg: SyscallArg, lenArg: SyscallArg): number {
  const startW = toWord(addrArg);
  const lenW = toWord(lenArg);
  if (startW === null || lenW === null) return -EINVAL;
  const len = sysMunmapChecks(ctx, startW, lenW);
  if (len < 0) return len;
  const start = num(startW);
  return unmapRange(ctx, start, start + len);
}

/** munmap's argument checks (`do_vmi_munmap`): the page-aligned length, or -EINVAL. */
export function sysMunmapChecks(ctx: SyscallContext, startW: Word, lenW: Word): number {
  const { layout, pageSize } = ctx.space;
  if (
    modPow2(startW, pageSize) !== 0 ||
    gt(startW, layout.taskSize) ||
    gt(lenW, sub(layout.taskSize, startW))
  ) {
    return -EINVAL;
  }
  const len = num(pageAlign(lenW, pageSize));
  return len === 0 ? -EINVAL : len;
}

/**
 * Removes every mapping in [start, end): the VMAs first (with their splits), then, past the point
 * of no return, their pages, their frames, their emptied tables and (unless `uncharge` is false)
 * their commit charge. Shared by munmap, brk shrinking and exit. Returns 0 or -ENOMEM.
 */
export function unmapRange(
  ctx: SyscallContext,
  start: number,
  end: number,
  opts?: { uncharge?: boolean },
): number {
  const { space } = ctx;
  if (space.vmas.firstIntersecting(start, end) === undefined) return 0;
  // try/finally, not `using`: see UndoLog.
  const undo = new UndoLog();
  try {
    const detached = space.detachRange(start, end, undo);
    // Kept either way: refused at the end of the range, a split keeps the one made at its start
    // (see splitAround); max_map_count refuses before anything changes.
    undo.commit();
    if (typeof detached === 'number') return detached;
    // Point of no return: nothing below can fail.
    let accounted = 0;
    for (const v of detached) {
      if (v.flags & VM_ACCOUNT) accounted += (v.end - v.start) / space.pageSize;
      space.zapRange(v.start, v.end);
    }
    if (accounted > 0 && opts?.uncharge !== false) ctx.accounting.uncharge(accounted);
    for (const v of detached) if (v.file !== null) space.releaseObject(v.file);
    return 0;
  } finally {
    undo[Symbol.dispose]();
  }
}

/**
 * An unmap inside a larger transaction (mremap's clearing of its target, the cut of its source's
 * tail, the source it moved away from): the VMAs of [start, end) are detached and their page-table
 * entries set aside with their MADV_FREE marks, all undone if `undo` rolls back; only when it
 * commits are the frames, the emptied tables and (unless `uncharge` is false) the commit charge
 * released.
 */
export function unmapRangeInTransaction(
  ctx: SyscallContext,
  start: number,
  end: number,
  undo: UndoLog,
  opts: { uncharge?: boolean } = {},
): number {
  const { space } = ctx;
  if (space.vmas.firstIntersecting(start, end) === undefined) return 0;
  const detached = space.detachRange(start, end, undo);
  if (typeof detached === 'number') return detached;
  const { leaves, tables } = space.pageTable.detachLeaves(start, end);
  // The MADV_FREE marks go with the entries, now: left until the commit, they would be there when
  // mremap moves marks into a target it cleared, and the commit would drop those with them.
  const lazy = space.lazyFree.take(start, end);
  undo.record(() => {
    space.pageTable.reattachLeaves(leaves);
    space.pageTable.releaseTables(tables);
    space.lazyFree.put(lazy);
  });
  undo.onCommit(() => {
    const { format, frames } = space.ctx;
    for (let i = 0; i < leaves.length; i += 3) {
      const frame = format.address(leaves[i + 1], leaves[i + 2]);
      frames.count[frames.frameIndex(frame)]--;
      space.releaseFrame(frame as PhysAddr);
    }
    space.pageTable.releaseTables(tables);
    space.pageTable.prune(start, end);
    let accounted = 0;
    for (const v of detached) if (v.flags & VM_ACCOUNT) accounted += (v.end - v.start) / space.pageSize;
    if (accounted > 0 && opts.uncharge !== false) ctx.accounting.uncharge(accounted);
    for (const v of detached) if (v.file !== null) space.releaseObject(v.file);
  });
  return 0;
}
