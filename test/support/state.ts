import { type Kernel, procMaps, smapsFlags, type Task } from 'levitate-mm';

/**
 * Everything a failed syscall must leave as it was: the maps and hidden flags, the program break,
 * every present page-table entry (address, frame, rights), a fingerprint of each mapped frame's
 * contents, the page-table pages, the free frames, the commit charge, the guard markers, the
 * pages given up with MADV_FREE and the pages of shared memory objects.
 */
export function captureState(kernel: Kernel, task: Task): string {
  const space = task.mm;
  const bytes = new Uint8Array(32);
  const leaves = space.pageTable.leaves().map((l) => {
    kernel.ram.read(l.frame, bytes, 0, 32);
    let sum = 0;
    for (const b of bytes) sum = (sum * 31 + b) >>> 0;
    return `${l.va.toString(16)}->${l.frame.toString(16)}:${l.rights}:${sum.toString(16)}`;
  });
  return [
    procMaps(space),
    smapsFlags(space).join('|'),
    `brk ${space.brk} start ${space.startBrk}`,
    `tables ${space.pageTable
      .tables()
      .map((t) => t.table.toString(16))
      .sort()
      .join(' ')}`,
    `free ${kernel.frames.freePages}`,
    `committed ${kernel.accounting.committed} leaked ${kernel.accounting.leaked}`,
    `vm ${space.totalVm}/${space.dataVm}/${space.stackVm}/${space.execVm}/${space.accountedVm}`,
    `guards ${[...space.guards].sort((a, b) => a - b).map((g) => g.toString(16))}`,
    `lazy ${[...space.lazyFree].sort((a, b) => a[0] - b[0]).map(([va, f]) => `${va.toString(16)}:${f.toString(16)}`)}`,
    `objects ${[...new Set([...space.vmas].map((v) => v.file).filter((f) => f !== null))].map((o) =>
      [...o.pages].map(([i, f]) => `${i}:${f.toString(16)}`).join(','),
    )}`,
    ...leaves,
  ].join('\n');
}
