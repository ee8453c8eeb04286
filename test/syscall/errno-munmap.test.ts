/**
 * munmap(2) argument checks and effects, one test per row of the errno catalogue
 * (shared/reference/linux-mm-semantics.md §1.2), in the kernel's order. Verified on Linux 6.18.44.
 */

import { EINVAL, ENOMEM, MAP_FIXED_NOREPLACE, PROT_READ } from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { A, ANON, anonLine, maps, P, RW, setup, TASK_SIZE, vmFlags } from './errno-support.js';

describe('munmap errno rows (§1.2)', () => {
  it('1. an unaligned start, a start at or beyond TASK_SIZE, or a length past TASK_SIZE → EINVAL', () => {
    const { sys } = setup();
    expect(sys.munmap(A + 1, P)).toBe(-EINVAL);
    expect(sys.munmap(A + 1, 0)).toBe(-EINVAL);
    expect(sys.munmap(TASK_SIZE, P)).toBe(-EINVAL);
    expect(sys.munmap(TASK_SIZE + P, P)).toBe(-EINVAL);
    expect(sys.munmap(A, -1)).toBe(-EINVAL);
    expect(sys.munmap(TASK_SIZE - P, 2 * P)).toBe(-EINVAL);
  });

  it('2. len == 0 → EINVAL, mapped or not', () => {
    const { sys, t } = setup();
    expect(sys.munmap(A, 0)).toBe(-EINVAL);
    expect(sys.mmap(A, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)).toBe(A);
    expect(sys.munmap(A, 0)).toBe(-EINVAL);
    expect(maps(t)).toEqual([anonLine(A, A + P, 'rw-p')]);
  });

  it('3. nothing mapped → 0, and holes inside the range are fine', () => {
    const { sys, t } = setup();
    expect(sys.munmap(0x20000000, P)).toBe(0);
    expect(sys.mmap(A, 4 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)).toBe(A);
    expect(sys.munmap(A + P, P)).toBe(0);
    expect(maps(t)).toEqual([anonLine(A, A + P, 'rw-p'), anonLine(A + 2 * P, A + 4 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual(['rd wr mr mw me ac', 'rd wr mr mw me ac']);
    expect(sys.munmap(A, 4 * P)).toBe(0);
    expect(maps(t)).toEqual([]);
  });

  it('3. a range over several VMAs and holes trims the VMAs at both ends and removes the rest', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    sys.mmap(A + 3 * P, 2 * P, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    sys.mmap(A + 6 * P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    expect(sys.munmap(A + P, 6 * P)).toBe(0);
    expect(maps(t)).toEqual([anonLine(A, A + P, 'rw-p'), anonLine(A + 7 * P, A + 8 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual(['rd wr mr mw me ac', 'rd wr mr mw me ac']);
  });

  it('the length is rounded up to a page', () => {
    const { sys, t } = setup();
    sys.mmap(A, 3 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    expect(sys.munmap(A, 2 * P + 1)).toBe(0);
    expect(maps(t)).toEqual([]);
  });

  it('4. punching a hole in one VMA at map_count == max_map_count → ENOMEM, nothing changed; trimming an end still works', () => {
    // Linux: 65530 VMAs (vm.max_map_count), then munmap of the middle page of a 3-page VMA.
    const { sys, t } = setup({ maxMapCount: 4 });
    sys.mmap(A, 3 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    for (let i = 0; i < 3; i++) sys.mmap(0x200000000 + 2 * i * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    expect(t.mm.mapCount).toBe(4);
    expect(sys.munmap(A + P, P)).toBe(-ENOMEM);
    expect(t.mm.mapCount).toBe(4);
    expect(maps(t)[0]).toBe(anonLine(A, A + 3 * P, 'rw-p'));
    expect(sys.munmap(A, P)).toBe(0);
    expect(t.mm.mapCount).toBe(4);
    expect(maps(t)[0]).toBe(anonLine(A + P, A + 3 * P, 'rw-p'));
  });

  it('4. one below the limit the hole may be punched (map_count reaches max_map_count)', () => {
    const { sys, t } = setup({ maxMapCount: 4 });
    sys.mmap(A, 3 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    for (let i = 0; i < 2; i++) sys.mmap(0x200000000 + 2 * i * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    expect(sys.munmap(A + P, P)).toBe(0);
    expect(t.mm.mapCount).toBe(4);
  });
});
