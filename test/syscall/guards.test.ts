/**
 * Guard regions (MADV_GUARD_INSTALL): markers in the page tables that make any access fault. As on
 * Linux 6.18.44 (each case first run as a C program on the reference machine): unmapping removes
 * them, MAP_FIXED included, and so does clearing an mremap target; MADV_DONTNEED, MADV_FREE and
 * mprotect leave them; mremap moves them with the pages; MADV_POPULATE over one is EFAULT.
 */
import {
  EFAULT,
  Kernel,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_FIXED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type PagingMode,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { ANON, P, accessProbe as probe, RW } from './errno-support.js';

const A = 0x1000_0000;
const B = 0x2000_0000;

describe.each(['eager', 'demand'] as PagingMode[])('guard regions (%s paging)', (paging) => {
  const boot = () => {
    const k = new Kernel({ arch: 'x86_64', paging, ramBytes: 16 * 2 ** 20 });
    const t = k.spawn();
    expect(k.sys.mmap(A, 4 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(A);
    for (let p = 0; p < 4; p++) t.write(A + p * P, [7]);
    expect(k.sys.madvise(A + P, P, MADV_GUARD_INSTALL)).toBe(0);
    expect(probe(t, A + P, 'read')).toBe('SEGV_MAPERR');
    expect(k.check()).toEqual([]);
    return { k, t };
  };

  it('go with the unmap that MAP_FIXED implies', () => {
    const { k, t } = boot();
    expect(k.sys.mmap(A + P, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(A + P);
    expect(probe(t, A + P, 'write')).toBe('ok');
    expect(k.check()).toEqual([]);
    const again = boot();
    expect(again.k.sys.mmap(A, 4 * P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(A);
    expect(probe(again.t, A + P, 'read')).toBe('ok');
    expect(again.k.check()).toEqual([]);
  });

  it('go with munmap, and a mapping made there later has none', () => {
    const { k, t } = boot();
    expect(k.sys.munmap(A, 4 * P)).toBe(0);
    expect(k.sys.mmap(A, 4 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(A);
    expect(probe(t, A + P, 'write')).toBe('ok');
    expect(k.check()).toEqual([]);
  });

  it('survive MADV_DONTNEED, MADV_FREE and mprotect', () => {
    const { k, t } = boot();
    expect(k.sys.madvise(A, 4 * P, MADV_DONTNEED)).toBe(0);
    expect(probe(t, A + P, 'read')).toBe('SEGV_MAPERR');
    expect(t.read(A, 1)[0]).toBe(0);
    expect(k.sys.madvise(A, 4 * P, MADV_FREE)).toBe(0);
    expect(probe(t, A + P, 'read')).toBe('SEGV_MAPERR');
    expect(k.sys.mprotect(A, 4 * P, PROT_READ)).toBe(0);
    expect(k.sys.mprotect(A, 4 * P, RW)).toBe(0);
    expect(probe(t, A + P, 'read')).toBe('SEGV_MAPERR');
    expect(k.check()).toEqual([]);
  });

  it('move with the pages: mremap to a fixed address, growing, or with MREMAP_DONTUNMAP', () => {
    const moved = boot();
    expect(moved.k.sys.mremap(A, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B)).toBe(B);
    expect(probe(moved.t, B + P, 'read')).toBe('SEGV_MAPERR');
    expect([...moved.t.read(B, 1)]).toEqual([7]);
    expect(probe(moved.t, B + 2 * P, 'read')).toBe('ok');
    expect(moved.k.check()).toEqual([]);

    const grown = boot();
    grown.k.sys.mmap(A + 4 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0);
    const to = grown.k.sys.mremap(A, 4 * P, 8 * P, MREMAP_MAYMOVE, 0);
    expect(to).not.toBe(A);
    expect(probe(grown.t, to + P, 'read')).toBe('SEGV_MAPERR');
    expect(grown.k.check()).toEqual([]);

    const kept = boot();
    const copy = kept.k.sys.mremap(A, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
    expect(probe(kept.t, copy + P, 'read')).toBe('SEGV_MAPERR');
    expect(probe(kept.t, A + P, 'read')).toBe('ok');
    expect(kept.t.read(A, 1)[0]).toBe(0);
    expect(kept.k.check()).toEqual([]);
  });

  it('go when an mremap clears them as its target', () => {
    const { k, t } = boot();
    expect(k.sys.mmap(B, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(B);
    t.write(B + P, [9]);
    expect(k.sys.mremap(B, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A)).toBe(A);
    expect([...t.read(A + P, 1)]).toEqual([9]);
    expect(k.check()).toEqual([]);
  });

  it('go when the mapping shrinks past them, and are not back when it grows again', () => {
    const { k, t } = boot();
    expect(k.sys.mremap(A, 4 * P, P, 0, 0)).toBe(A);
    expect(k.sys.mremap(A, P, 4 * P, 0, 0)).toBe(A);
    expect(probe(t, A + P, 'read')).toBe('ok');
    expect(k.check()).toEqual([]);
  });

  it('make MADV_POPULATE over them EFAULT; MADV_GUARD_REMOVE leaves the page empty', () => {
    const { k, t } = boot();
    expect(k.sys.madvise(A, 4 * P, MADV_POPULATE_READ)).toBe(-EFAULT);
    expect(k.sys.madvise(A, 4 * P, MADV_POPULATE_WRITE)).toBe(-EFAULT);
    expect(k.sys.madvise(A + P, P, MADV_GUARD_REMOVE)).toBe(0);
    expect(t.read(A + P, 1)[0]).toBe(0);
    expect(k.check()).toEqual([]);
  });
});
