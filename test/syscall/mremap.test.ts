/**
 * mremap and the pages given up with MADV_FREE: the marks move with their pages, a refused move
 * gives back exactly what is still there, and a target that MREMAP_FIXED clears keeps its own marks
 * until the call commits. Found by `npm run fuzz` (test/fixtures/fuzz/x86_64-eager-4k-seed16777381.json,
 * aarch64-eager-16k-seed16777937.json: a move that ran out of frames put back the marks of pages
 * reclaim had dropped, with no page under them).
 */

import {
  ENOMEM,
  Kernel,
  MADV_FREE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
  type VirtAddr,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { captureState } from '../support/state.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

describe.each(['x86_64', 'aarch64'] as const)('sysMremap and MADV_FREE pages (%s)', (arch) => {
  it('a move that runs out of frames after reclaim dropped the moved pages leaves no mark without its page', () => {
    const k = new Kernel({ arch, paging: 'eager', ramBytes: 2 ** 20 });
    const t = k.spawn();
    // RAM filled but for 16 frames (before anything is given up, which filling would reclaim).
    let filler = 0;
    for (let chunk = 64; chunk >= 1; ) {
      const r = k.sys.mmap(0, chunk * P, PROT_READ, ANON, -1, 0);
      if (r < 0) chunk /= 2;
      else filler = r;
    }
    expect(k.sys.munmap(filler, 16 * P)).toBe(0);
    // Four pages given up in the hole, the filler right above them: growing them has to move them.
    const a = k.sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(a).toBe(filler + 12 * P);
    for (let p = 0; p < 4; p++) t.write(a + p * P, [p + 1]);
    expect(k.sys.madvise(a, 4 * P, MADV_FREE)).toBe(0);
    const free = k.frames.freePages;
    expect(free).toBeLessThan(36);
    const maps = captureState(k, t).split('\n')[0];

    // 36 new pages for the grown tail (eager paging, which Linux's mremap does not do): reclaim
    // drops the 4 moved pages on the way, then RAM is out. Reclaim is not part of the call: what
    // it dropped stays dropped (read as zero), and nothing else may differ.
    expect(k.sys.mremap(a, 4 * P, 40 * P, MREMAP_MAYMOVE, 0)).toBe(-ENOMEM);
    expect(k.check()).toEqual([]);
    expect(captureState(k, t).split('\n')[0]).toBe(maps);
    expect(t.mm.lazyFree.size).toBe(0);
    for (let p = 0; p < 4; p++) expect(t.mm.pageTable.translate((a + p * P) as VirtAddr)).toBe(-1);
    // The four reclaimed frames are free now; nothing else the call took is kept.
    expect(k.frames.freePages - free).toBe(4);
    for (let p = 0; p < 4; p++) expect(t.read(a + p * P, 1)[0]).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it('MREMAP_FIXED over a mapping keeps the marks of the pages it moved', () => {
    // Linux 6.18 (this machine): /proc/self/smaps shows the moved range's LazyFree unchanged
    // after MREMAP_FIXED onto a mapped target (992 of 1024 kB, as right after MADV_FREE).
    const k = new Kernel({ arch, paging: 'demand' });
    const t = k.spawn();
    const a = k.sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    const b = k.sys.mmap(0, 8 * P, RW, ANON, -1, 0);
    for (let p = 0; p < 4; p++) t.write(a + p * P, [p + 1]);
    for (let p = 0; p < 8; p++) t.write(b + p * P, [0x40 + p]);
    expect(k.sys.madvise(a, 4 * P, MADV_FREE)).toBe(0);
    const frames = [0, 1, 2, 3].map((p) => t.mm.pageTable.translate((a + p * P) as VirtAddr));

    expect(k.sys.mremap(a, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, b + P)).toBe(b + P);
    expect([...t.mm.lazyFree]).toEqual(frames.map((f, p) => [b + (p + 1) * P, f]));
    expect(k.check()).toEqual([]);
    expect([0, 1, 2, 3].map((p) => t.read(b + (p + 1) * P, 1)[0])).toEqual([1, 2, 3, 4]);
  });

  it('a failed MREMAP_FIXED gives back the marks of the target it cleared', () => {
    // The source's freed page lands on the target's freed page; the grown tail then fails.
    const boot = () => {
      const k = new Kernel({ arch, paging: 'eager', ramBytes: 8 * 2 ** 20 });
      const t = k.spawn();
      const a = k.sys.mmap(0, 4 * P, RW, ANON, -1, 0);
      const b = k.sys.mmap(0, 8 * P, RW, ANON, -1, 0);
      for (let p = 0; p < 4; p++) t.write(a + p * P, [p + 1]);
      for (let p = 0; p < 8; p++) t.write(b + p * P, [0x40 + p]);
      expect(k.sys.madvise(a + P, P, MADV_FREE)).toBe(0);
      expect(k.sys.madvise(b + 2 * P, P, MADV_FREE)).toBe(0);
      return { k, t, a, b };
    };
    const call = (k: Kernel, a: number, b: number) =>
      k.sys.mremap(a, 4 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, b + P);
    const probe = boot();
    const before = probe.k.frames.allocations;
    expect(call(probe.k, probe.a, probe.b)).toBe(probe.b + P);
    expect([...probe.t.mm.lazyFree.keys()]).toEqual([probe.b + 2 * P]);
    const count = probe.k.frames.allocations - before;
    expect(count).toBeGreaterThan(0);
    for (let n = 0; n < count; n++) {
      const { k, t, a, b } = boot();
      const state = captureState(k, t);
      k.frames.failAfter(n);
      expect(call(k, a, b), `allocation ${n} fails`).toBe(-ENOMEM);
      expect(k.check(), `allocation ${n} fails`).toEqual([]);
      expect(captureState(k, t), `allocation ${n} fails`).toBe(state);
    }
  });
});
