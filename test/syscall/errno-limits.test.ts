/**
 * The limits of §1.7 (shared/reference/linux-mm-semantics.md), side by side: vm.max_map_count for
 * mmap, munmap, mprotect and mremap, with the exact thresholds measured on Linux 6.18.44 (a probe
 * filled its address space to 65530 - k VMAs and forked one child per attempt). Here the limit is
 * scaled down to 20; the thresholds are the same distances from it.
 */

import {
  EAGAIN,
  ENOMEM,
  MADV_DONTFORK,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MREMAP_MAYMOVE,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { A, ANON, P, RW, setup } from './errno-support.js';

const MAX = 20;
const FNR = ANON | MAP_FIXED_NOREPLACE;
const MM = MREMAP_MAYMOVE;

/** [A: rw 4 pages][A+4P: r 1 page], then one-page VMAs until map_count == count. */
function at(count: number) {
  const s = setup({ maxMapCount: MAX });
  s.sys.mmap(A, 4 * P, RW, FNR, -1, 0);
  s.sys.mmap(A + 4 * P, P, PROT_READ, FNR, -1, 0);
  for (let i = 0; s.t.mm.mapCount < count; i++) s.sys.mmap(0x200000000 + 2 * i * P, P, RW, FNR, -1, 0);
  expect(s.t.mm.mapCount).toBe(count);
  return s;
}

/** The result of `op` at map_count = MAX - k for k = 6..0. */
function sweep(op: (s: ReturnType<typeof at>) => number): number[] {
  const out: number[] = [];
  for (let k = 6; k >= 0; k--) {
    const r = op(at(MAX - k));
    out.push(Math.min(r, 0));
  }
  return out;
}
const ok = 0;
const NOMEM = -ENOMEM;

describe('vm.max_map_count (§1.7)', () => {
  it('mmap: refused only when map_count > max, so the count can reach max + 1; merging or replacing does not help', () => {
    const s = at(MAX - 1);
    expect(s.sys.mmap(0x40000000, P, PROT_READ, FNR, -1, 0)).toBe(0x40000000);
    expect(s.sys.mmap(0x40002000, P, PROT_READ, FNR, -1, 0)).toBe(0x40002000);
    expect(s.t.mm.mapCount).toBe(MAX + 1);
    expect(s.sys.mmap(0x40004000, P, PROT_READ, FNR, -1, 0)).toBe(-ENOMEM);
    expect(s.sys.mmap(0x40003000, P, PROT_READ, FNR, -1, 0)).toBe(-ENOMEM);
    expect(s.sys.mmap(0x40000000, P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(-ENOMEM);
    expect(s.t.mm.mapCount).toBe(MAX + 1);
  });

  it('mremap moving without MREMAP_FIXED (grow, no room): refused at map_count >= max - 3', () => {
    expect(sweep((s) => s.sys.mremap(A, 4 * P, 5 * P, MM, 0))).toEqual([
      ok,
      ok,
      ok,
      NOMEM,
      NOMEM,
      NOMEM,
      NOMEM,
    ]);
    expect(sweep((s) => s.sys.mremap(A, 4 * P, 6 * P, MM, 0))).toEqual([
      ok,
      ok,
      ok,
      NOMEM,
      NOMEM,
      NOMEM,
      NOMEM,
    ]);
  });

  it('munmap punching a hole: refused at map_count >= max (one below, the count reaches max)', () => {
    expect(sweep((s) => s.sys.munmap(A + P, P))).toEqual([ok, ok, ok, ok, ok, ok, NOMEM]);
  });

  it('mprotect and flag madvise that need two splits: refused at map_count >= max - 1 (ENOMEM / EAGAIN)', () => {
    expect(sweep((s) => s.sys.mprotect(A + P, P, PROT_READ))).toEqual([ok, ok, ok, ok, ok, NOMEM, NOMEM]);
    expect(sweep((s) => s.sys.madvise(A + P, P, MADV_DONTFORK))).toEqual([
      ok,
      ok,
      ok,
      ok,
      ok,
      -EAGAIN,
      -EAGAIN,
    ]);
  });

  it('flag madvise that needs one split: refused at map_count >= max (EAGAIN)', () => {
    expect(sweep((s) => s.sys.madvise(A + 3 * P, P, MADV_DONTFORK))).toEqual([
      ok,
      ok,
      ok,
      ok,
      ok,
      ok,
      -EAGAIN,
    ]);
  });

  it('mprotect that needs no split works even at max + 1', () => {
    const s = at(MAX);
    s.sys.mmap(0x40000000, P, PROT_READ, FNR, -1, 0);
    expect(s.t.mm.mapCount).toBe(MAX + 1);
    expect(s.sys.mprotect(A, 4 * P, PROT_READ)).toBe(0);
  });

  it('brk creating a new heap VMA: allowed while map_count <= max, refused at max + 1 (brk unchanged)', () => {
    for (const [count, granted] of [
      [MAX - 1, true],
      [MAX, true],
      [MAX + 1, false],
    ] as const) {
      const s = at(Math.min(count, MAX));
      if (count > MAX) s.sys.mmap(0x40000000, P, PROT_READ, FNR, -1, 0);
      s.t.mm.startBrk = 0x50000000;
      s.t.mm.brk = 0x50000000;
      expect(s.sys.brk(0x50000000 + P)).toBe(granted ? 0x50000000 + P : 0x50000000);
    }
  });
});
