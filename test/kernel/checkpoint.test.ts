/**
 * Address-space checkpoints: after calls tried on it, `restore` puts an address space back so that
 * from then on it behaves exactly as a twin that never ran them (same results, maps, hidden flags,
 * break, counters, commit charge, page contents, MADV_FREE and guard marks), with the invariant
 * checker clean after every step.
 */
import {
  AddressSpace,
  Kernel,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_POPULATE_WRITE,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  procMaps,
  smapsFlags,
  type Task,
  type VirtAddr,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { mulberry32 as rng } from '../../tools/linux-harness/generate.js';

const P = 4096;
const BASE = 0x2000_0000;

/**
 * One step of a random workload on `task`: a memory call or (unless `callsOnly`) a write or read,
 * with what it returned.
 */
function step(kernel: Kernel, task: Task, r: () => number, callsOnly = false): string {
  kernel.switchTo(task);
  const s = kernel.sys;
  const page = () => BASE + Math.floor(r() * 48) * P;
  const len = () => (1 + Math.floor(r() * 6)) * P;
  const x = r();
  if (x < 0.22) {
    const flags = r() < 0.15 ? MAP_SHARED | MAP_ANONYMOUS : MAP_PRIVATE | MAP_ANONYMOUS;
    const fixed = r() < 0.5 ? MAP_FIXED : 0;
    return `mmap ${s.mmap(fixed ? page() : 0, len(), r() < 0.8 ? PROT_READ | PROT_WRITE : PROT_READ, flags | fixed, -1, 0)}`;
  }
  if (x < 0.32) return `munmap ${s.munmap(page(), len())}`;
  if (x < 0.44)
    return `mprotect ${s.mprotect(page(), len(), [PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE][Math.floor(r() * 3)])}`;
  if (x < 0.5) return `brk ${s.brk(0x5555_0000 + Math.floor(r() * 8) * P)}`;
  if (x < 0.56) return `mremap ${s.mremap(page(), len(), len(), 1, 0)}`;
  if (x < 0.68) {
    const advice = [
      MADV_DONTNEED,
      MADV_FREE,
      MADV_GUARD_INSTALL,
      MADV_POPULATE_WRITE,
      MADV_WIPEONFORK,
      MADV_DONTFORK,
    ][Math.floor(r() * 6)];
    return `madvise ${advice} ${s.madvise(page(), len(), advice)}`;
  }
  const at = page() + Math.floor(r() * P);
  if (callsOnly) return `munmap ${s.munmap(at - (at % P), P)}`;
  try {
    if (r() < 0.7) {
      task.write(at, [Math.floor(r() * 256), 7]);
      return 'write';
    }
    return `read ${task.read(at, 2).join(',')}`;
  } catch (e) {
    return `fault ${(e as Error).name}`;
  }
}

/**
 * What the address space is, without which physical frames hold its pages, and without the inode
 * numbers of shmem objects (the kernel's counter, which tried calls advance as Linux's
 * get_next_ino would: numbers are not given back).
 */
function state(kernel: Kernel, task: Task): string {
  const space = task.mm;
  const bytes = new Uint8Array(P);
  const leaves = space.pageTable.leaves().map((l) => {
    kernel.ram.read(l.frame, bytes, 0, P);
    let sum = 0;
    for (const b of bytes) sum = (sum * 31 + b) >>> 0;
    const zero = l.frame === space.zeroFrame ? ' zero' : '';
    return `${l.va.toString(16)}:${l.rights}:${sum.toString(16)}${zero}`;
  });
  return [
    procMaps(space).replace(/ 00:01 \d+( +)\/dev\/zero/g, ' 00:01 N$1/dev/zero'),
    smapsFlags(space).join('|'),
    `brk ${space.startBrk}-${space.brk}`,
    `vm ${space.totalVm}/${space.dataVm}/${space.stackVm}/${space.execVm} maps ${space.mapCount}`,
    `committed ${kernel.accounting.committed}`,
    `lazyfree ${[...space.lazyFree.keys()].sort().join(',')}`,
    `guards ${[...space.guards].sort().join(',')}`,
    `apart ${[...space.vmas].filter((v) => v.unmergedWith !== null).map((v) => `${v.unmergedWith!.end}-${v.start}`)}`,
    ...leaves,
  ].join('\n');
}

function twins(paging: 'demand' | 'eager'): Array<{ kernel: Kernel; task: Task }> {
  return [0, 1].map(() => {
    const kernel = new Kernel({ arch: 'x86_64', paging, ramBytes: 32 * 2 ** 20 });
    const task = kernel.spawn();
    task.mm.startBrk = task.mm.brk = 0x5555_0000;
    return { kernel, task };
  });
}

describe('address-space checkpoints', () => {
  // In eager paging a page copied up front has no anon_vma, and one that comes back private (see
  // below) then takes a write fault differently: the fork is left out there.
  for (const [paging, fork] of [
    ['demand', true],
    ['eager', false],
  ] as const) {
    it(`a restored address space behaves as a twin that never ran the tried calls (${paging})`, () => {
      for (let seed = 1; seed <= 6; seed++) {
        const [a, b] = twins(paging);
        const prefix = rng(seed);
        const same = rng(seed);
        for (let i = 0; i < 60; i++) {
          expect(step(a.kernel, a.task, prefix)).toBe(step(b.kernel, b.task, same));
        }
        // A fork whose child shares pages copy-on-write with the checkpointed space.
        const childA = fork ? (a.kernel.fork(a.task) as Task) : a.task;
        const childB = fork ? (b.kernel.fork(b.task) as Task) : b.task;
        const before = state(a.kernel, a.task);
        const cp = a.kernel.checkpoint(a.task.mm);
        // Calls only: what a shared mapping's writes put in its object is not the space's to undo.
        const tried = rng(seed + 1000);
        for (let i = 0; i < 40; i++) step(a.kernel, a.task, tried, true);
        expect(a.kernel.check()).toEqual([]);
        expect(a.kernel.restore(cp)).toBe(true);
        expect(a.kernel.check()).toEqual([]);
        expect(state(a.kernel, a.task)).toBe(before);
        expect(state(a.kernel, a.task)).toBe(state(b.kernel, b.task));
        // A checkpoint can be restored again, after other calls.
        for (let i = 0; i < 10; i++) step(a.kernel, a.task, tried, true);
        expect(a.kernel.restore(cp)).toBe(true);
        expect(state(a.kernel, a.task)).toBe(before);
        const after = rng(seed + 2000);
        const afterB = rng(seed + 2000);
        for (let i = 0; i < 60; i++) {
          expect(step(a.kernel, a.task, after)).toBe(step(b.kernel, b.task, afterB));
        }
        expect(a.kernel.check()).toEqual([]);
        expect(state(a.kernel, a.task)).toBe(state(b.kernel, b.task));
        // The fork children were not touched by any of it.
        expect(state(a.kernel, childA)).toBe(state(b.kernel, childB));
      }
    });
  }

  it('keeps page contents the tried calls threw away, and the threads sharing the space keep it', () => {
    const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 16 * 2 ** 20 });
    const task = kernel.spawn();
    const thread = kernel.clone(task, 0x10000 | 0x800 | 0x100) as Task;
    const at = kernel.sys.mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.write(at + 5, [1, 2, 3]);
    const cp = kernel.checkpoint(task.mm);
    expect(kernel.sys.munmap(at, 2 * P)).toBe(0);
    expect(kernel.restore(cp)).toBe(true);
    expect([...thread.read(at + 5, 3)]).toEqual([1, 2, 3]);
    expect(thread.mm).toBe(task.mm);
    expect(task.mm.pageTable.translate((at + P) as VirtAddr)).toBe(-1);
    expect(kernel.check()).toEqual([]);
  });

  it('gives a page shared copy-on-write with a fork child back private, with its contents and rights', () => {
    const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 16 * 2 ** 20 });
    const task = kernel.spawn();
    const at = kernel.sys.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.write(at, [9]);
    const child = kernel.fork(task) as Task;
    const shared = task.mm.pageTable.translate(at as VirtAddr);
    expect(child.mm.pageTable.translate(at as VirtAddr)).toBe(shared);
    const rights = (t: Task) => {
      const { lo, hi } = t.mm.pageTable.leaf(at as VirtAddr);
      return kernel.format.userRights(lo, hi);
    };
    const before = rights(task);
    const cp = kernel.checkpoint(task.mm);
    kernel.switchTo(task);
    expect(kernel.sys.munmap(at, P)).toBe(0);
    expect(kernel.restore(cp)).toBe(true);
    const own = task.mm.pageTable.translate(at as VirtAddr);
    expect(own).not.toBe(shared);
    expect(rights(task)).toBe(before);
    expect([...task.read(at, 1)]).toEqual([9]);
    task.write(at, [5]);
    expect([...child.read(at, 1)]).toEqual([9]);
    expect(kernel.check()).toEqual([]);
  });

  it('copies every field of an address space or rebuilds it (a new field must be added to one of the two)', () => {
    const kernel = new Kernel({ arch: 'x86_64' });
    const task = kernel.spawn();
    const cp = kernel.checkpoint(task.mm);
    const copied = [...cp.fields.keys()].sort();
    const rebuilt = [
      'accounting',
      'ctx',
      'guards',
      'layout',
      'lazyFree',
      'pageSize',
      'pageTable',
      'users',
      'vmas',
      'zeroFrame',
    ];
    expect([...copied, ...rebuilt].sort()).toEqual(Object.keys(task.mm).sort());
    for (const k of copied) {
      const v = (task.mm as unknown as Record<string, unknown>)[k];
      expect(v === null || ['number', 'boolean', 'string'].includes(typeof v) || k === 'image', k).toBe(true);
    }
    expect(task.mm).toBeInstanceOf(AddressSpace);
  });

  it('gives every VMA back with all its fields (the same anon_vma, file and chain objects)', () => {
    const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 16 * 2 ** 20 });
    const task = kernel.spawn();
    const r = rng(7);
    for (let i = 0; i < 80; i++) step(kernel, task, r);
    // `treeNode` is the tree's handle on the VMA, not a field of it: a rebuilt tree of more than one
    // leaf (over 16 VMAs) gives it other nodes.
    const fields = () =>
      [...task.mm.vmas].map((v) =>
        Object.entries(v)
          .filter(([k]) => k !== 'treeNode')
          .map(([k, x]) => (k === 'unmergedWith' ? [k, (x as typeof v | null)?.start] : [k, x])),
      );
    const before = fields();
    const cp = kernel.checkpoint(task.mm);
    for (let i = 0; i < 30; i++) step(kernel, task, r, true);
    expect(kernel.restore(cp)).toBe(true);
    const after = fields();
    expect(after.length).toBe(before.length);
    for (const [i, v] of after.entries()) {
      for (const [j, [k, x]] of v.entries()) {
        expect(k).toBe(before[i][j][0]);
        expect(x, k as string).toBe(before[i][j][1]);
      }
    }
  });
});
