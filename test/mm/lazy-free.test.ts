/**
 * MADV_FREE: the pages stay readable with their data until RAM runs out; a write takes a page
 * back; when frames run out, the given-up pages are reclaimed first and read zero afterwards.
 */

import {
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

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

describe('MADV_FREE', () => {
  it('keeps the data without memory pressure, and a write cancels the free', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
    const t = k.spawn();
    const a = k.sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    for (let p = 0; p < 4; p++) t.write(a + p * P, [p + 1]);
    expect(k.sys.madvise(a, 4 * P, MADV_FREE)).toBe(0);
    expect([0, 1, 2, 3].map((p) => t.read(a + p * P, 1)[0])).toEqual([1, 2, 3, 4]);
    t.write(a + P, [9]);
    expect(t.mm.lazyFree.size).toBe(3);
    expect(k.check()).toEqual([]);
  });

  it('leaves the zero page read-only: a write after MADV_FREE copies it, as before', () => {
    const k = new Kernel({ arch: 'aarch64', paging: 'demand' });
    const t = k.spawn();
    const a = k.sys.mmap(0, 2 * P, RW, ANON, -1, 0);
    expect([t.read(a, 1)[0], t.read(a + P, 1)[0]]).toEqual([0, 0]);
    expect(t.mm.pageTable.translate(a as VirtAddr)).toBe(k.zeroFrame);
    expect(k.sys.madvise(a, 2 * P, MADV_FREE)).toBe(0);
    expect(k.check()).toEqual([]);
    t.write(a, [0x5a]);
    expect(t.mm.pageTable.translate(a as VirtAddr)).not.toBe(k.zeroFrame);
    expect([t.read(a, 1)[0], t.read(a + P, 1)[0]]).toEqual([0x5a, 0]);
    expect(t.mm.lazyFree.size).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it('moves with mremap: the moved pages are still given up, at their new address', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
    const t = k.spawn();
    const a = k.sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    for (let p = 0; p < 4; p++) t.write(a + p * P, [p + 1]);
    expect(k.sys.madvise(a, 4 * P, MADV_FREE)).toBe(0);
    const b = k.sys.mremap(a, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2000_0000);
    expect([...t.mm.lazyFree.keys()].sort()).toEqual([0, 1, 2, 3].map((p) => b + p * P));
    t.write(b + P, [9]);
    expect(t.mm.lazyFree.size).toBe(3);
    expect(t.mm.reclaimLazyFree()).toBe(3);
    expect([0, 1, 2, 3].map((p) => t.read(b + p * P, 1)[0])).toEqual([0, 9, 0, 0]);
    expect(k.check()).toEqual([]);
  });

  it('gives the pages up first when RAM runs out; written ones are kept', () => {
    const k = new Kernel({ arch: 'aarch64', paging: 'demand', ramBytes: 1024 * 1024 });
    const t = k.spawn();
    const a = k.sys.mmap(0, 64 * P, RW, ANON, -1, 0);
    for (let p = 0; p < 64; p++) t.write(a + p * P, [0x40 + (p % 32)]);
    expect(k.sys.madvise(a, 64 * P, MADV_FREE)).toBe(0);
    t.write(a, [0x7f]);
    // Touch more memory than is free: the 63 untouched freed pages are reclaimed to make room.
    const free = k.frames.freePages;
    const b = k.sys.mmap(0, (free + 20) * P, RW, ANON, -1, 0);
    for (let p = 0; p < free + 20; p++) t.write(b + p * P, [1]);
    expect(t.read(a, 1)[0]).toBe(0x7f);
    expect(t.read(a + 5 * P, 1)[0]).toBe(0);
    expect(t.mm.lazyFree.size).toBe(0);
    expect(k.check()).toEqual([]);
  });
});
