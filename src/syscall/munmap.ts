import { EINVAL } from '../abi/errno.js';
import { UndoLog } from '../mm/undo-log.js';
import { VM_ACCOUNT } from '../mm/vm-flags.js';
import { gt, modPow2, num, pageAlign, type SyscallArg, sub, toWord } from './args.js';
import type { SyscallContext } from './context.js';

/**
 * munmap(2): `do_vmi_munmap` and `do_vmi_align_munmap` of Linux 6.18. Holes in the range are fine;
 * only punching a hole in one VMA at `max_map_count` fails (ENOMEM), and then nothing changes.
 */
export function sysMunmap(ctx: SyscallContext, addrArg: SyscallArg, lenArg: SyscallArg): number {
  const startW = toWord(addrArg);
  const lenW = toWord(lenArg);
  if (startW === null || lenW === null) return -EINVAL;
  const { space } = ctx;
  const { layout, pageSize } = space;
  if (
    modPow2(startW, pageSize) !== 0 ||
    gt(startW, layout.taskSize) ||
    gt(lenW, sub(layout.taskSize, startW))
  ) {
    return -EINVAL;
  }
  const start = num(startW);
  const len = num(pageAlign(lenW, pageSize));
  if (len === 0) return -EINVAL;
  return unmapRange(ctx, start, start + len);
}

/**
 * Removes every mapping in [start, end): the VMAs first (with their splits), then, past the point
 * of no return, their pages, their frames, their emptied tables and their commit charge.
 * Shared by munmap, brk shrinking and mremap. Returns 0 or -ENOMEM.
 */
export function unmapRange(
  ctx: SyscallContext,
  start: number,
  end: number,
  opts: { uncharge?: boolean } = {},
): number {
  const { space } = ctx;
  if (space.vmas.firstIntersecting(start, end) === undefined) return 0;
  using undo = new UndoLog();
  const detached = space.detachRange(start, end, undo);
  if (typeof detached === 'number') return detached;
  undo.commit();
  // Point of no return: nothing below can fail.
  let accounted = 0;
  for (const v of detached) {
    if (v.flags & VM_ACCOUNT) accounted += (v.end - v.start) / space.pageSize;
    space.zapRange(v.start, v.end);
  }
  if (accounted > 0 && opts.uncharge !== false) ctx.accounting.uncharge(accounted);
  for (const v of detached) if (v.file !== null) space.releaseObject(v.file);
  return 0;
}
