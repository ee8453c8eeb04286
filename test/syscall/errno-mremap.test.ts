/**
 * mremap(2) argument checks and effects, one test per row of the catalogue
 * (shared/reference/linux-mm-semantics.md §1.5), in the kernel's order. Verified on Linux 6.18.44.
 */

import {
  EFAULT,
  EINVAL,
  ENOMEM,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { A, ANON, anonLine, maps, P, RW, setup, TASK_SIZE, vmFlags } from './errno-support.js';

const FNR = ANON | MAP_FIXED_NOREPLACE;
const MM = MREMAP_MAYMOVE;
const FX = MREMAP_FIXED;
const DU = MREMAP_DONTUNMAP;
const U = 0x20000000; // never mapped
const N = 0x30000000; // move target
const RW_FLAGS = 'rd wr mr mw me ac';
const RO_FLAGS = 'rd mr mw me';

function withMapping(pages = 4) {
  const s = setup();
  s.sys.mmap(A, pages * P, RW, FNR, -1, 0);
  return s;
}

describe('mremap parameter checks (§1.5)', () => {
  it('1. flags outside FIXED|MAYMOVE|DONTUNMAP → EINVAL, before everything else', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A, P, P, 8, 0)).toBe(-EINVAL);
    expect(sys.mremap(U + 1, 0, 0, 8, 0)).toBe(-EINVAL);
    expect(sys.mremap(A, P, P, (2n ** 32n) | BigInt(MM), 0)).toBe(-EINVAL);
  });

  it('2. MREMAP_FIXED without MREMAP_MAYMOVE → EINVAL', () => {
    expect(withMapping().sys.mremap(A, P, P, FX, N)).toBe(-EINVAL);
  });

  it('3. MREMAP_DONTUNMAP without MAYMOVE, or with old_len != new_len → EINVAL', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A, P, P, DU, 0)).toBe(-EINVAL);
    expect(sys.mremap(A, P, 2 * P, DU | MM, 0)).toBe(-EINVAL);
  });

  it('4. an unaligned addr → EINVAL, mapped or not', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A + 1, P, P, 0, 0)).toBe(-EINVAL);
    expect(sys.mremap(U + 1, P, P, 0, 0)).toBe(-EINVAL);
  });

  it('5. PAGE_ALIGN(new_len) == 0 → EINVAL, even when addr is not mapped; so is new_len > TASK_SIZE', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A, P, 0, 0, 0)).toBe(-EINVAL);
    expect(sys.mremap(U, P, 0, 0, 0)).toBe(-EINVAL);
    expect(sys.mremap(A, P, -1, MM, 0)).toBe(-EINVAL);
    expect(sys.mremap(A, P, TASK_SIZE + P, MM, 0)).toBe(-EINVAL);
    expect(sys.mremap(U, P, TASK_SIZE + P, MM, 0)).toBe(-EINVAL);
  });

  it('6. no VMA at addr → EFAULT (grow, shrink, same size and old_len 0 alike)', () => {
    const { sys } = withMapping();
    expect(sys.mremap(U, P, 2 * P, MM, 0)).toBe(-EFAULT);
    expect(sys.mremap(U, 2 * P, P, 0, 0)).toBe(-EFAULT);
    expect(sys.mremap(U, P, P, 0, 0)).toBe(-EFAULT);
    expect(sys.mremap(U, 0, P, MM, 0)).toBe(-EFAULT);
  });
});

describe('mremap with MREMAP_FIXED or MREMAP_DONTUNMAP (mremap_to)', () => {
  it('1. an unaligned new_addr → EINVAL, even when the source is not mapped', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A, P, P, FX | MM, N + 1)).toBe(-EINVAL);
    expect(sys.mremap(U, P, P, FX | MM, N + 1)).toBe(-EINVAL);
  });

  it('2. new_addr > TASK_SIZE − new_len → EINVAL', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A, P, 2 * P, FX | MM, TASK_SIZE - P)).toBe(-EINVAL);
    expect(sys.mremap(A, P, P, FX | MM, TASK_SIZE)).toBe(-EINVAL);
  });

  it('3. overlapping old and new ranges → EINVAL (also with DONTUNMAP, and with an unmapped source)', () => {
    const { sys, t } = withMapping();
    expect(sys.mremap(A, 2 * P, 2 * P, FX | MM, A + P)).toBe(-EINVAL);
    expect(sys.mremap(U, 2 * P, 2 * P, FX | MM, U + P)).toBe(-EINVAL);
    expect(sys.mremap(A + P, P, P, DU | MM, A + P)).toBe(-EINVAL);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'rw-p')]);
  });

  it('a growing FIXED move next to its own remains: the target is unmapped first, the unfaulted copy merges', () => {
    const { sys, t } = withMapping();
    expect(sys.mremap(A, P, 3 * P, FX | MM, A + 2 * P)).toBe(A + 2 * P);
    expect(maps(t)).toEqual([anonLine(A + P, A + 5 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RW_FLAGS]);
    expect(sys.mremap(A, P, P, FX | MM, A + 6 * P)).toBe(-EFAULT);
  });

  it('7. old_len 0 on a private mapping → EINVAL (with or without FIXED)', () => {
    const { sys } = withMapping();
    expect(sys.mremap(A + P, 0, P, FX | MM, N)).toBe(-EINVAL);
    expect(sys.mremap(A + P, 0, P, MM, 0)).toBe(-EINVAL);
    expect(sys.mremap(A, 0, P, 0, 0)).toBe(-EINVAL);
  });

  it('7. since 6.17 a same-size FIXED move may run past the VMA end: every VMA in the range moves, gaps kept', () => {
    const { sys, t } = withMapping();
    expect(sys.mremap(A + P, 8 * P, 8 * P, FX | MM, N)).toBe(N);
    expect(maps(t)).toEqual([anonLine(A, A + P, 'rw-p'), anonLine(N, N + 3 * P, 'rw-p')]);
  });

  it('7. same-size FIXED move of [rw×2][r×2] (one page written) and of [rw×2][hole][r×2]: both VMAs arrive intact', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, PROT_READ, FNR, -1, 0);
    t.write(A, [7]);
    expect(sys.mremap(A, 4 * P, 4 * P, FX | MM, N)).toBe(N);
    expect(maps(t)).toEqual([anonLine(N, N + 2 * P, 'rw-p'), anonLine(N + 2 * P, N + 4 * P, 'r--p')]);
    expect(vmFlags(t)).toEqual([RW_FLAGS, RO_FLAGS]);
    expect([...t.read(N, 1)]).toEqual([7]);
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 3 * P, 2 * P, PROT_READ, FNR, -1, 0);
    expect(sys.mremap(A, 5 * P, 5 * P, FX | MM, N + 8 * P)).toBe(N + 8 * P);
    expect(maps(t).slice(2)).toEqual([
      anonLine(N + 8 * P, N + 10 * P, 'rw-p'),
      anonLine(N + 11 * P, N + 13 * P, 'r--p'),
    ]);
  });

  it('7. a multi-VMA FIXED move that starts in a hole, grows or shrinks → EFAULT, nothing moved', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 3 * P, 2 * P, PROT_READ, FNR, -1, 0);
    expect(sys.mremap(A - P, 6 * P, 6 * P, FX | MM, N + 16 * P)).toBe(-EFAULT);
    expect(sys.mremap(A, 5 * P, 6 * P, FX | MM, N + 16 * P)).toBe(-EFAULT);
    expect(sys.mremap(A, 5 * P, 4 * P, FX | MM, N + 16 * P)).toBe(-EFAULT);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p'), anonLine(A + 3 * P, A + 5 * P, 'r--p')]);
  });

  it('7. RLIMIT_AS: growing past it → ENOMEM; DONTUNMAP needs the whole new length → ENOMEM', () => {
    const { sys, t } = setup({ rlimitAs: 3 * P });
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    expect(sys.mremap(A, 2 * P, 4 * P, MM, 0)).toBe(-ENOMEM);
    expect(sys.mremap(A, 2 * P, 3 * P, MM, 0)).toBe(A);
    expect(sys.mremap(A, 3 * P, 3 * P, MM | FX, N)).toBe(N);
    expect(sys.mremap(N, 3 * P, 3 * P, MM | DU, 0)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(N, N + 3 * P, 'rw-p')]);
  });
});

describe('mremap without MREMAP_FIXED', () => {
  it('shrink or same size returns addr; same size does not check that old_len fits; shrinking across the VMA end is fine', () => {
    const { sys, t } = withMapping();
    expect(sys.mremap(A + 2 * P, 8 * P, 8 * P, 0, 0)).toBe(A + 2 * P);
    expect(sys.mremap(A + 2 * P, 8 * P, P, 0, 0)).toBe(A + 2 * P);
    expect(maps(t)).toEqual([anonLine(A, A + 3 * P, 'rw-p')]);
  });

  it('grow across a VMA end → EFAULT (with or without FIXED)', () => {
    const { sys } = withMapping(3);
    sys.mmap(A + 3 * P, P, PROT_READ, FNR, -1, 0);
    expect(sys.mremap(A, 4 * P, 5 * P, MM, 0)).toBe(-EFAULT);
    expect(sys.mremap(A, 4 * P, 5 * P, MM | FX, N)).toBe(-EFAULT);
  });

  it('grow without MAYMOVE where it cannot grow in place (blocked, or not at the VMA end) → ENOMEM', () => {
    const { sys, t } = withMapping(3);
    sys.mmap(A + 3 * P, P, PROT_READ, FNR, -1, 0);
    expect(sys.mremap(A, 3 * P, 4 * P, 0, 0)).toBe(-ENOMEM);
    expect(sys.mremap(A, 2 * P, 3 * P, 0, 0)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(A, A + 3 * P, 'rw-p'), anonLine(A + 3 * P, A + 4 * P, 'r--p')]);
  });

  it('grow with MAYMOVE moves to the normal top-down search, ignoring new_addr', () => {
    const { sys, t } = withMapping(3);
    sys.mmap(A + 3 * P, P, PROT_READ, FNR, -1, 0);
    const top = setup().sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(sys.mremap(A, 3 * P, 4 * P, MM, 0x40000000)).toBe(top);
    expect(maps(t)).toEqual([anonLine(A + 3 * P, A + 4 * P, 'r--p'), anonLine(top, top + 4 * P, 'rw-p')]);
  });

  it('grow in place, and again until it touches the next VMA: they merge', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 4 * P, 2 * P, RW, FNR, -1, 0);
    expect(sys.mremap(A, 2 * P, 3 * P, 0, 0)).toBe(A);
    expect(maps(t)).toEqual([anonLine(A, A + 3 * P, 'rw-p'), anonLine(A + 4 * P, A + 6 * P, 'rw-p')]);
    expect(sys.mremap(A, 3 * P, 4 * P, 0, 0)).toBe(A);
    expect(maps(t)).toEqual([anonLine(A, A + 6 * P, 'rw-p')]);
    expect(sys.mremap(A, 6 * P, 3 * P, 0, 0)).toBe(A);
    expect(maps(t)).toEqual([anonLine(A, A + 3 * P, 'rw-p')]);
    expect(sys.mremap(A, 3 * P, 3 * P, 0, 0)).toBe(A);
    expect(sys.mremap(A, 3 * P, 3 * P, 0, 0x123)).toBe(A);
    expect(vmFlags(t)).toEqual([RW_FLAGS]);
  });

  it('DONTUNMAP leaves the old VMA mapped (still accounted) but empty: it reads zero', () => {
    const { sys, t } = withMapping(2);
    t.write(A, [9]);
    t.write(A + P, [9]);
    const top = setup().sys.mmap(0, 2 * P, RW, ANON, -1, 0);
    expect(sys.mremap(A, 2 * P, 2 * P, DU | MM, 0)).toBe(top);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p'), anonLine(top, top + 2 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RW_FLAGS, RW_FLAGS]);
    expect([...t.read(A, 1)]).toEqual([0]);
    expect([...t.read(top, 1)]).toEqual([9]);
    expect(sys.mremap(A, 2 * P, 2 * P, DU | MM | FX, N)).toBe(N);
    expect([...t.read(N, 1)]).toEqual([0]);
  });

  it('old_len 0 on a shared mapping: without MAYMOVE → ENOMEM; with it, a second mapping of the same object', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    t.write(A, [5]);
    expect(sys.mremap(A, 0, P, 0, 0)).toBe(-ENOMEM);
    const top = setup().sys.mmap(0, P, RW, ANON, -1, 0);
    expect(sys.mremap(A, 0, P, MM, 0)).toBe(top);
    const lines = maps(t);
    expect(lines).toHaveLength(2);
    expect(lines[0].startsWith('10000000-10002000 ')).toBe(true);
    expect(lines[1].startsWith(`${top.toString(16)}-${(top + P).toString(16)} `)).toBe(true);
    // Same permissions, device, inode and name: one shmem object, mapped twice.
    const fields = (l: string) => l.split(/\s+/).slice(1);
    expect(fields(lines[1])).toEqual(fields(lines[0]));
    expect(fields(lines[0]).slice(0, 3)).toEqual(['rw-s', '00000000', '00:01']);
    expect(lines[0].slice(73)).toBe('/dev/zero (deleted)');
    expect(vmFlags(t)).toEqual(['rd wr sh mr mw me ms', 'rd wr sh mr mw me ms']);
    expect([...t.read(top, 1)]).toEqual([5]);
  });
});
