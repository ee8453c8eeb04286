/**
 * Neighbours Linux leaves unmerged although they could merge, because the operation that made
 * them neighbours tries no merge at their boundary; a later merge attempt there (an mprotect)
 * merges them. Each sequence was first run on Linux 6.18.44 with the same addresses; the invariant
 * checker must accept the unmerged state and the merged one.
 */
import {
  Kernel,
  MAP_FIXED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type PagingMode,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { ANON, anonLine, maps as lines, P, RW } from './errno-support.js';

const line = (start: number, end: number) => anonLine(start, end, 'rw-p');

describe.each(['demand', 'eager'] as PagingMode[])('VMAs Linux leaves apart (%s paging)', (paging) => {
  const startBrk = 0x405000;
  /** An anonymous mapping ending at start_brk, and the heap grown from there by two pages. */
  const heapAboveMapping = () => {
    const k = new Kernel({ arch: 'x86_64', paging });
    const t = k.spawn();
    t.mm.startBrk = t.mm.brk = startBrk;
    expect(k.sys.mmap(startBrk - 2 * P, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(startBrk - 2 * P);
    expect(k.sys.brk(startBrk + 2 * P)).toBe(startBrk + 2 * P);
    return { k, t };
  };

  it('the heap grown from start_brk next to an anonymous mapping that ends there', () => {
    // Linux: a static program without libc, its bss ending at start_brk: brk(+2 pages) adds a
    // [heap] line of its own; mprotect of the heap read-only and back merges the two.
    const { k, t } = heapAboveMapping();
    expect(t.mm.mapCount).toBe(2);
    expect(k.check()).toEqual([]);
    t.write(startBrk - P, [1]);
    t.write(startBrk, [1]);
    expect(t.mm.mapCount).toBe(2);
    expect(k.check()).toEqual([]);
    expect(k.sys.mprotect(startBrk, 2 * P, PROT_READ)).toBe(0);
    expect(k.sys.mprotect(startBrk, 2 * P, RW)).toBe(0);
    expect(t.mm.mapCount).toBe(1);
    expect(lines(t)[0]).toMatch(/^00403000-00407000 rw-p 00000000 00:00 0 +\[heap\]$/);
    expect(k.check()).toEqual([]);
  });

  it('stay apart when the VMA below is split under them (munmap merges nothing)', () => {
    const { k, t } = heapAboveMapping();
    // The lower VMA loses its first page: what is left of it is a new VMA, still apart from the heap.
    expect(k.sys.munmap(startBrk - 2 * P, P)).toBe(0);
    expect(t.mm.mapCount).toBe(2);
    expect(k.check()).toEqual([]);
  });

  it('the source of an MREMAP_DONTUNMAP, which lost its anon_vma, next to a neighbour', () => {
    const k = new Kernel({ arch: 'x86_64', paging });
    const t = k.spawn();
    const a = 0x1000_0000_0000;
    const park = a + 0x10_0000;
    // B faulted alone, parked; A faulted alone; B back next to A: same flags, contiguous pgoff,
    // different anon_vmas, so two VMAs.
    expect(k.sys.mmap(a + 2 * P, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(a + 2 * P);
    t.write(a + 2 * P, [2]);
    expect(k.sys.mremap(a + 2 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, park)).toBe(park);
    expect(k.sys.mmap(a, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(a);
    t.write(a, [1]);
    expect(k.sys.mremap(park, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 2 * P)).toBe(a + 2 * P);
    expect(lines(t)).toEqual([line(a, a + 2 * P), line(a + 2 * P, a + 4 * P)]);
    // The copy goes elsewhere; B stays, empty and without its anon_vma, still apart from A.
    const copy = k.sys.mremap(a + 2 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
    expect(copy).toBeGreaterThan(0);
    expect(lines(t).slice(0, 2)).toEqual([line(a, a + 2 * P), line(a + 2 * P, a + 4 * P)]);
    expect(k.check()).toEqual([]);
    expect(k.sys.mprotect(a + 2 * P, 2 * P, PROT_READ)).toBe(0);
    expect(k.sys.mprotect(a + 2 * P, 2 * P, RW)).toBe(0);
    expect(lines(t)[0]).toBe(line(a, a + 4 * P));
    expect(k.check()).toEqual([]);
  });
});
