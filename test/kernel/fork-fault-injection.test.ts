/**
 * Exhaustive fault injection over fork and copy-on-write. Every allocation a fork makes (the
 * child's root table, every table copy_page_range needs) is made to fail in turn: the fork answers
 * -ENOMEM, as Linux's does, and the parent is exactly as it was, down to every entry's rights,
 * every frame's reference count, the anon_vmas, the commit charge and the counters. Then every
 * kind of write fault that must copy (a page shared with a fork, the zero page, a page-cache page)
 * is made to fail: an out-of-memory fault that changes nothing in either process.
 */
import {
  ENOMEM,
  Kernel,
  MADV_DONTFORK,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  PageFaultError,
  type PagingMode,
  PROT_READ,
  PROT_WRITE,
  type Task,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { MemoryObject } from '../../src/mm/memory-object.js';
import { captureState } from '../support/state.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** Everything of a task a failed fork or fault must leave alone, beyond `captureState`. */
function deepState(kernel: Kernel, task: Task): string {
  const { frames } = kernel;
  const counts: string[] = [];
  for (let f = 0; f < frames.totalPages; f++)
    if (frames.count[f] !== 0) counts.push(`${f}:${frames.count[f]}`);
  const vmas = [...task.mm.vmas].map(
    (v) => `${v.start.toString(16)} ${v.flags} ${v.anon?.id ?? '-'} [${v.chain.map((a) => a.id).join(',')}]`,
  );
  return [
    captureState(kernel, task),
    `tasks ${kernel.tasks.size} users ${task.mm.users}`,
    `apart ${[...task.mm.vmas].filter((v) => v.unmergedWith !== null).map((v) => v.start)}`,
    `lazy ${[...task.mm.lazyFree].join(',')}`,
    ...vmas,
    counts.join(' '),
  ].join('\n');
}

/**
 * A parent with something of every kind fork handles, spread over distant addresses so that the
 * child needs tables at every level: faulted private memory, a split faulted VMA, shared memory,
 * a read-only copy of a page-cache page and a private copy of another, MADV_DONTFORK and
 * MADV_WIPEONFORK VMAs, an untouched VMA, and pages given up with MADV_FREE.
 */
function richParent(kernel: Kernel): Task {
  const t = kernel.spawn();
  const pageSize = kernel.pageSize;
  const at = (addr: number, pages: number, flags = ANON, fd = -1) => {
    expect(kernel.sys.mmap(addr, pages * pageSize, RW, flags | MAP_FIXED_NOREPLACE, fd, 0)).toBe(addr);
    return addr;
  };
  const a = at(0x10_0000_0000, 6);
  for (let i = 0; i < 6; i++) t.write(a + i * pageSize, [i + 1]);
  expect(kernel.sys.mprotect(a + 2 * pageSize, pageSize, PROT_READ)).toBe(0);
  const s = at(0x20_0000_0000, 2, MAP_SHARED | MAP_ANONYMOUS);
  t.write(s, [7]);
  t.files.set(3, { file: new MemoryObject('/lib', 8, 1, 5, 'file'), readable: true, writable: false });
  const f = at(0x30_0000_0000, 3, MAP_PRIVATE, 3);
  t.read(f, 1);
  t.write(f + pageSize, [8]);
  const d = at(0x40_0000_0000, 2);
  t.write(d, [9]);
  expect(kernel.sys.madvise(d, pageSize, MADV_DONTFORK)).toBe(0);
  const w = at(0x50_0000_0000, 2);
  t.write(w, [10]);
  expect(kernel.sys.madvise(w, 2 * pageSize, MADV_WIPEONFORK)).toBe(0);
  at(0x60_0000_0000, 4);
  const z = at(0x70_0000_0000, 3);
  t.write(z + 2 * pageSize, [11]);
  expect(kernel.sys.madvise(z + 2 * pageSize, pageSize, 8 /* MADV_FREE */)).toBe(0);
  expect(kernel.check()).toEqual([]);
  return t;
}

describe.each([
  { arch: 'x86_64', paging: 'demand' },
  { arch: 'x86_64', paging: 'eager' },
  { arch: 'aarch64', paging: 'demand' },
  { arch: 'aarch64', paging: 'eager' },
] as const)('fork fault injection on $arch, $paging paging', ({ arch, paging }) => {
  const boot = () => new Kernel({ arch, paging: paging as PagingMode, ramBytes: 8 * 2 ** 20 });

  it('every failing allocation of a fork returns ENOMEM and leaves the parent exactly as it was', () => {
    const kernel = boot();
    const parent = richParent(kernel);
    // A fork that works, to count its allocations. After its child's exit the parent's pages are
    // its own again but stay write-protected (as in Linux) until a write reuses them: that state
    // is the one every failed fork below must leave exactly.
    const allocations = kernel.frames.allocations;
    const child = kernel.fork(parent);
    if (typeof child === 'number') throw new Error(`fork failed: ${child}`);
    const count = kernel.frames.allocations - allocations;
    // The root, the table below it, and a table per lower level for each VMA with pages to copy.
    expect(count).toBeGreaterThanOrEqual(8);
    kernel.exit(child);
    const before = deepState(kernel, parent);
    for (let k = 0; k < count; k++) {
      const k0 = kernel.frames.allocations;
      kernel.frames.failAfter(k);
      expect(kernel.fork(parent)).toBe(-ENOMEM);
      expect(kernel.frames.failureArmed).toBe(false);
      expect(kernel.frames.allocations - k0).toBe(k);
      expect(kernel.check()).toEqual([]);
      expect(deepState(kernel, parent)).toBe(before);
    }
    // A parent whose entries are still writable (no fork yet) gets them back after a failed fork.
    const fresh = boot();
    const p2 = richParent(fresh);
    const untouched = deepState(fresh, p2);
    for (let k = 0; k < count; k++) {
      fresh.frames.failAfter(k);
      expect(fresh.fork(p2)).toBe(-ENOMEM);
      expect(deepState(fresh, p2)).toBe(untouched);
      expect(fresh.check()).toEqual([]);
    }
    const last = kernel.fork(parent);
    expect(typeof last).not.toBe('number');
    expect(kernel.check()).toEqual([]);
  });

  it('a write fault that cannot get a frame for its copy is an out-of-memory fault and changes nothing', () => {
    const kernel = boot();
    const parent = richParent(kernel);
    const child = kernel.fork(parent);
    if (typeof child === 'number') throw new Error(`fork failed: ${child}`);
    const pageSize = kernel.pageSize;
    const cases = [
      { who: child, va: 0x10_0000_0000, what: 'a page shared with the parent' },
      { who: parent, va: 0x10_0000_0000 + pageSize, what: 'a page shared with the child' },
      { who: child, va: 0x30_0000_0000, what: 'a page-cache page' },
      { who: parent, va: 0x30_0000_0000, what: 'a page-cache page' },
      { who: child, va: 0x70_0000_0000 + 2 * pageSize, what: 'a page given up with MADV_FREE, shared' },
    ];
    for (const { who, va, what } of cases) {
      const snapshot = [deepState(kernel, parent), deepState(kernel, child)];
      const old = [...who.read(va, 1)];
      kernel.frames.failAfter(0);
      let fault: unknown;
      try {
        who.write(va, [0xee]);
      } catch (e) {
        fault = e;
      }
      expect(fault, what).toBeInstanceOf(PageFaultError);
      expect((fault as PageFaultError).reason, what).toBe('out-of-memory');
      expect(kernel.frames.failureArmed).toBe(false);
      expect([deepState(kernel, parent), deepState(kernel, child)], what).toEqual(snapshot);
      expect(kernel.check(), what).toEqual([]);
      expect([...who.read(va, 1)]).toEqual(old);
      who.write(va, [0xee]);
      expect([...who.read(va, 1)]).toEqual([0xee]);
      expect(kernel.check(), what).toEqual([]);
    }
  });
});
