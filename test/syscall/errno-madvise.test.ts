/**
 * madvise(2) argument checks and effects, one test per row of the catalogue
 * (shared/reference/linux-mm-semantics.md §1.6), in the kernel's order. Verified on Linux 6.18.44.
 */

import {
  EINVAL,
  ENOMEM,
  Kernel,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_LOCKED,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { A, ANON, anonLine, maps, P, RW, setup, TASK_SIZE, vmFlags } from './errno-support.js';

const FNR = ANON | MAP_FIXED_NOREPLACE;
const SHARED = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
const U = 0x20000000; // never mapped
const RW_FLAGS = 'rd wr mr mw me ac';
const SH_FLAGS = 'rd wr sh mr mw me ms';

describe('madvise errno rows (§1.6)', () => {
  it('1. unknown advice → EINVAL, before the alignment check (MADV_HWPOISON/SOFT_OFFLINE too: no CONFIG_MEMORY_FAILURE)', () => {
    const { sys } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    expect(sys.madvise(A, P, 999)).toBe(-EINVAL);
    expect(sys.madvise(A + 1, P, 999)).toBe(-EINVAL);
    expect(sys.madvise(A, P, 5)).toBe(-EINVAL);
    expect(sys.madvise(U, P, 100)).toBe(-EINVAL);
    expect(sys.madvise(A, P, 101)).toBe(-EINVAL);
  });

  it('1. KSM advice is valid: MADV_MERGEABLE on an unmapped range reaches the walk → ENOMEM', () => {
    expect(setup().sys.madvise(U, P, MADV_MERGEABLE)).toBe(-ENOMEM);
  });

  it('2. an unaligned start → EINVAL, even when len is 0', () => {
    const { sys } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    expect(sys.madvise(A + 1, P, MADV_DONTNEED)).toBe(-EINVAL);
    expect(sys.madvise(A + 1, 0, MADV_DONTNEED)).toBe(-EINVAL);
  });

  it('3. len != 0 but PAGE_ALIGN(len) == 0 → EINVAL', () => {
    const { sys } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    expect(sys.madvise(A, -1, MADV_DONTNEED)).toBe(-EINVAL);
  });

  it('4. end < start (overflow) → EINVAL, unlike mprotect’s ENOMEM; an end past TASK_SIZE is just unmapped → ENOMEM', () => {
    const { sys } = setup();
    expect(sys.madvise(A, -P, MADV_DONTNEED)).toBe(-EINVAL);
    expect(sys.madvise(-2 * P, 4 * P, MADV_DONTNEED)).toBe(-EINVAL);
    expect(sys.madvise(TASK_SIZE, P, MADV_DONTNEED)).toBe(-ENOMEM);
  });

  it('5. len == 0 → 0, even unmapped', () => {
    expect(setup().sys.madvise(U, 0, MADV_DONTNEED)).toBe(0);
  });

  it('6. nothing mapped → ENOMEM (data advice and flag advice alike)', () => {
    const { sys } = setup();
    expect(sys.madvise(U, P, MADV_DONTNEED)).toBe(-ENOMEM);
    expect(sys.madvise(U, P, MADV_DONTFORK)).toBe(-ENOMEM);
  });

  it('6. DONTNEED over [map][hole][map] zeroes both mapped parts and returns ENOMEM', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 3 * P, 2 * P, RW, FNR, -1, 0);
    t.write(A, [1]);
    t.write(A + 4 * P, [1]);
    expect(sys.madvise(A, 5 * P, MADV_DONTNEED)).toBe(-ENOMEM);
    expect([...t.read(A, 1), ...t.read(A + 4 * P, 1)]).toEqual([0, 0]);
  });

  it('6. DONTFORK over a hole splits and marks both mapped parts, then returns ENOMEM', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 3 * P, 2 * P, RW, FNR, -1, 0);
    expect(sys.madvise(A + P, 3 * P, MADV_DONTFORK)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([
      anonLine(A, A + P, 'rw-p'),
      anonLine(A + P, A + 2 * P, 'rw-p'),
      anonLine(A + 3 * P, A + 4 * P, 'rw-p'),
      anonLine(A + 4 * P, A + 5 * P, 'rw-p'),
    ]);
    expect(vmFlags(t)).toEqual([RW_FLAGS, 'rd wr mr mw me dc ac', 'rd wr mr mw me dc ac', RW_FLAGS]);
  });

  it('6. a hole at the front or at the end → ENOMEM', () => {
    const { sys } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    expect(sys.madvise(A - P, 2 * P, MADV_DONTNEED)).toBe(-ENOMEM);
    expect(sys.madvise(A + P, 3 * P, MADV_WILLNEED)).toBe(-ENOMEM);
  });

  it('7. DONTNEED or FREE on VM_LOCKED → EINVAL; MADV_DONTNEED_LOCKED is allowed', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR | MAP_LOCKED, -1, 0);
    expect(vmFlags(t)).toEqual(['rd wr mr mw me lo ac']);
    expect(sys.madvise(A, 2 * P, MADV_DONTNEED)).toBe(-EINVAL);
    expect(sys.madvise(A, 2 * P, MADV_FREE)).toBe(-EINVAL);
    expect(sys.madvise(A, 2 * P, MADV_DONTNEED_LOCKED)).toBe(0);
  });

  it('7. MADV_FREE on shared anonymous memory → EINVAL, and a per-VMA error stops the walk', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, SHARED, -1, 0);
    expect(sys.madvise(A, 2 * P, MADV_FREE)).toBe(-EINVAL);
    sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 4 * P, 2 * P, RW, SHARED, -1, 0);
    sys.mmap(A + 6 * P, 2 * P, PROT_READ, FNR, -1, 0);
    expect(sys.madvise(A + 2 * P, 6 * P, MADV_FREE)).toBe(-EINVAL);
    // WIPEONFORK: refused on shared memory; over [private][shared][private] the first is marked, then EINVAL.
    expect(sys.madvise(A, 2 * P, MADV_WIPEONFORK)).toBe(-EINVAL);
    expect(sys.madvise(A + 2 * P, 6 * P, MADV_WIPEONFORK)).toBe(-EINVAL);
    expect(vmFlags(t)).toEqual([SH_FLAGS, 'rd wr mr mw me ac wf', SH_FLAGS, 'rd mr mw me']);
    expect(sys.madvise(A + 2 * P, 2 * P, MADV_KEEPONFORK)).toBe(0);
    expect(vmFlags(t)[1]).toBe(RW_FLAGS);
  });

  it('7. DONTNEED, DONTNEED_LOCKED, DOFORK, DODUMP and POPULATE on a PFNMAP/IO VMA ([vvar]) → EINVAL', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
    const V = 0x7ffff7fc2000;
    k.spawnFromSnapshot({ maps: `${anonLine(V, V + 4 * P, 'r--p').padEnd(73)}[vvar]\n` });
    for (const advice of [
      MADV_DONTNEED,
      MADV_DONTNEED_LOCKED,
      MADV_DOFORK,
      MADV_DODUMP,
      MADV_POPULATE_READ,
    ]) {
      expect(k.sys.madvise(V, P, advice)).toBe(-EINVAL);
    }
  });

  it('MADV_REMOVE on private anonymous memory → EINVAL', () => {
    const { sys } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    expect(sys.madvise(A, 4 * P, MADV_REMOVE)).toBe(-EINVAL);
  });

  it('POPULATE: PROT_NONE → EINVAL, WRITE on read-only → EINVAL, READ on read-only → 0, any hole → ENOMEM', () => {
    const { sys } = setup();
    sys.mmap(A, 2 * P, PROT_READ, FNR, -1, 0);
    sys.mmap(A + 4 * P, P, PROT_NONE, FNR, -1, 0);
    expect(sys.madvise(A + 4 * P, P, MADV_POPULATE_READ)).toBe(-EINVAL);
    expect(sys.madvise(A, P, MADV_POPULATE_WRITE)).toBe(-EINVAL);
    expect(sys.madvise(A, P, MADV_POPULATE_READ)).toBe(0);
    expect(sys.madvise(A + P, 3 * P, MADV_POPULATE_READ)).toBe(-ENOMEM);
    expect(sys.madvise(U, P, MADV_POPULATE_READ)).toBe(-ENOMEM);
    expect(sys.madvise(A - P, 2 * P, MADV_POPULATE_WRITE)).toBe(-ENOMEM);
    expect(sys.madvise(A + 4 * P, P, MADV_DONTNEED)).toBe(0);
  });
});

describe('what the advice does', () => {
  it('FREE keeps the data without memory pressure; DONTNEED keeps shared data and zeroes private data', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    t.write(A, [3]);
    expect(sys.madvise(A, 2 * P, MADV_FREE)).toBe(0);
    expect([...t.read(A, 1)]).toEqual([3]);
    sys.mmap(A + 2 * P, P, RW, SHARED, -1, 0);
    t.write(A + 2 * P, [4]);
    expect(sys.madvise(A + 2 * P, P, MADV_DONTNEED)).toBe(0);
    expect([...t.read(A + 2 * P, 1)]).toEqual([4]);
    expect(sys.madvise(A, 2 * P, MADV_DONTNEED)).toBe(0);
    expect([...t.read(A, 1)]).toEqual([0]);
  });

  it('flag advice splits and merges like mprotect (DONTDUMP/DODUMP, HUGEPAGE, NOHUGEPAGE, RANDOM, SEQUENTIAL, NORMAL)', () => {
    const { sys, t } = setup();
    const B = A + 4 * P;
    sys.mmap(B, 4 * P, RW, FNR, -1, 0);
    expect(sys.madvise(B + P, 2 * P, MADV_DONTDUMP)).toBe(0);
    expect(maps(t)).toEqual([
      anonLine(B, B + P, 'rw-p'),
      anonLine(B + P, B + 3 * P, 'rw-p'),
      anonLine(B + 3 * P, B + 4 * P, 'rw-p'),
    ]);
    expect(vmFlags(t)).toEqual([RW_FLAGS, 'rd wr mr mw me ac dd', RW_FLAGS]);
    expect(sys.madvise(B + P, 2 * P, MADV_DODUMP)).toBe(0);
    expect(maps(t)).toEqual([anonLine(B, B + 4 * P, 'rw-p')]);
    expect(sys.madvise(B, P, MADV_HUGEPAGE)).toBe(0);
    expect(sys.madvise(B + P, P, MADV_NOHUGEPAGE)).toBe(0);
    expect(sys.madvise(B + 2 * P, P, MADV_RANDOM)).toBe(0);
    expect(sys.madvise(B + 3 * P, P, MADV_SEQUENTIAL)).toBe(0);
    expect(maps(t)).toHaveLength(4);
    expect(vmFlags(t)).toEqual([
      'rd wr mr mw me ac hg',
      'rd wr mr mw me ac nh',
      'rd wr mr mw me rr ac',
      'rd wr mr mw me sr ac',
    ]);
    expect(sys.madvise(B, 4 * P, MADV_NORMAL)).toBe(0);
    expect(sys.madvise(B, 4 * P, MADV_NOHUGEPAGE)).toBe(0);
    expect(maps(t)).toEqual([anonLine(B, B + 4 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual(['rd wr mr mw me ac nh']);
    for (const advice of [MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED])
      expect(sys.madvise(B, 4 * P, advice)).toBe(0);
  });
});
