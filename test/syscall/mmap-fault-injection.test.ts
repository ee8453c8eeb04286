/**
 * Exhaustive fault injection: every allocation an mmap makes is made to fail in turn, and each
 * failure must leave exactly nothing behind.
 */

import {
  ENOMEM,
  type Kernel,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { boot, faultingPages, GEOMETRIES } from '../support/kernels.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** Runs `call` once successfully to learn how many allocations it makes, then undoes it. */
function allocationsOf(
  kernel: Kernel,
  call: () => number,
  undo: (addr: number) => void,
): { addr: number; count: number } {
  const before = kernel.frames.allocations;
  const addr = call();
  expect(addr).toBeGreaterThanOrEqual(0);
  const count = kernel.frames.allocations - before;
  undo(addr);
  return { addr, count };
}

/** A byte pattern that differs per page and per task, to see that old data survives. */
function pattern(page: number): number[] {
  return [0xa5, page & 0xff, (page >> 8) & 0xff, 0x5a];
}

describe.each(GEOMETRIES)('mmap fault injection on $arch, $pageSize-byte pages', ({ arch, pageSize }) => {
  const sizes = pageSize === 4096 ? [1, 2, 17, 600] : [1, 2, 17, 300];

  it.each(sizes)(
    'a new %i-page mapping: every failing allocation returns ENOMEM and leaves nothing',
    (pages) => {
      const kernel = boot({ arch, pageSize, ramBytes: 2048 * pageSize });
      const len = pages * pageSize;
      // Something mapped already, so the new mapping shares tables with it and needs new ones too.
      expect(kernel.sys.mmap(0, 3 * pageSize, RW, ANON, -1, 0)).toBeGreaterThan(0);
      const free = kernel.frames.freePages;
      const { addr, count } = allocationsOf(
        kernel,
        () => kernel.sys.mmap(0, len, RW, ANON, -1, 0),
        (a) => expect(kernel.sys.munmap(a, len)).toBe(0),
      );
      expect(kernel.frames.freePages).toBe(free);
      expect(count).toBeGreaterThanOrEqual(pages);
      for (let k = 0; k < count; k++) {
        kernel.frames.failAfter(k);
        expect(kernel.sys.mmap(0, len, RW, ANON, -1, 0)).toBe(-ENOMEM);
        expect(kernel.frames.failureArmed).toBe(false);
        expect(kernel.frames.freePages).toBe(free);
        expect(kernel.check()).toEqual([]);
        expect(faultingPages(kernel, addr, len)).toEqual([]);
      }
      // And with no failure injected it still works, at the same address.
      expect(kernel.sys.mmap(0, len, RW, ANON, -1, 0)).toBe(addr);
      expect(kernel.check()).toEqual([]);
    },
  );

  it.each(sizes)(
    'MAP_FIXED over a %i-page mapping holding data: every failure gives the old mapping back intact',
    (pages) => {
      const kernel = boot({ arch, pageSize, ramBytes: 4096 * pageSize });
      const task = kernel.current!;
      const len = pages * pageSize;
      const old = kernel.sys.mmap(0, len, RW, ANON, -1, 0);
      for (let p = 0; p < pages; p++) task.write(old + p * pageSize + 8, pattern(p));
      // The replacement reaches one page further, into unmapped space, so it also needs new tables
      // when that page lies in the next table.
      const fixedLen = len + pageSize;
      const free = kernel.frames.freePages;
      const maps = [...task.mm.vmas].map((v) => [v.start, v.end, v.flags]);
      // Count the allocations of a successful replacement on a twin kernel in the same state.
      const twin = boot({ arch, pageSize, ramBytes: 4096 * pageSize });
      const twinOld = twin.sys.mmap(0, len, RW, ANON, -1, 0);
      const t0 = twin.frames.allocations;
      expect(twin.sys.mmap(twinOld, fixedLen, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(twinOld);
      const count = twin.frames.allocations - t0;
      expect(count).toBeGreaterThanOrEqual(pages + 1);
      for (let k = 0; k < count; k++) {
        kernel.frames.failAfter(k);
        expect(kernel.sys.mmap(old, fixedLen, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(-ENOMEM);
        expect(kernel.frames.freePages).toBe(free);
        expect(kernel.check()).toEqual([]);
        expect([...task.mm.vmas].map((v) => [v.start, v.end, v.flags])).toEqual(maps);
        for (let p = 0; p < pages; p++) expect([...task.read(old + p * pageSize + 8, 4)]).toEqual(pattern(p));
        expect(faultingPages(kernel, old + len, pageSize)).toEqual([]);
      }
      // Without injection the replacement succeeds: new pages read as zero, read-only.
      expect(kernel.sys.mmap(old, fixedLen, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(old);
      expect([...task.read(old + 8, 4)]).toEqual([0, 0, 0, 0]);
      expect(() => task.write(old, [1])).toThrow(/SEGV_ACCERR/);
      expect(kernel.check()).toEqual([]);
    },
  );
});

describe('running out of RAM for real', () => {
  it('gives ENOMEM with the same guarantees when the mapping is larger than free memory', () => {
    const kernel = boot({ arch: 'aarch64', ramBytes: 1024 * 1024 });
    const task = kernel.current!;
    const keep = kernel.sys.mmap(0, 100 * 4096, RW, ANON, -1, 0);
    task.write(keep, [42]);
    const free = kernel.frames.freePages;
    const want = free + 10;
    const addr = task.mm.layout.mmapBase - 100 * 4096 - want * 4096;
    // Within the overcommit heuristic (less than all RAM), so the frames themselves run out.
    expect(want).toBeLessThanOrEqual(256);
    expect(kernel.sys.mmap(0, want * 4096, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(kernel.frames.freePages).toBe(free);
    expect(kernel.check()).toEqual([]);
    expect(faultingPages(kernel, addr, want * 4096)).toEqual([]);
    expect([...task.read(keep, 1)]).toEqual([42]);
  });

  it('gives ENOMEM for a MAP_NORESERVE mapping far larger than RAM, leaving nothing', () => {
    const kernel = boot({ arch: 'x86_64', ramBytes: 1024 * 1024 });
    const free = kernel.frames.freePages;
    expect(kernel.sys.mmap(0, 2 ** 30, RW, ANON | MAP_NORESERVE, -1, 0)).toBe(-ENOMEM);
    expect(kernel.frames.freePages).toBe(free);
    expect(kernel.check()).toEqual([]);
    expect(kernel.current!.mm.mapCount).toBe(0);
  });

  it('refuses up front, through the overcommit heuristic, a mapping larger than all RAM', () => {
    const kernel = boot({ arch: 'x86_64', ramBytes: 1024 * 1024 });
    const allocations = kernel.frames.allocations;
    expect(kernel.sys.mmap(0, 257 * 4096, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(kernel.frames.allocations).toBe(allocations);
  });
});
