/**
 * mmap and munmap argument checks, one test per row of the errno catalogue
 * (shared/reference/linux-mm-semantics.md §1.1, §1.2), in the kernel's order.
 */

import {
  EBADF,
  EEXIST,
  EINVAL,
  ENOMEM,
  EPERM,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  PROT_READ,
  PROT_WRITE,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { boot } from '../support/kernels.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;
const TASK_SIZE = 2 ** 47 - P;

describe('mmap argument checks (x86_64)', () => {
  const sys = () => boot({ arch: 'x86_64' }).sys;

  it('1. an unaligned offset is EINVAL, before anything else (bad fd, zero length)', () => {
    expect(sys().mmap(0, 0, RW, 0, 999, 1)).toBe(-EINVAL);
  });
  it('2. a file mapping with a descriptor that is not open is EBADF, before the zero length check', () => {
    expect(sys().mmap(0, 0, RW, MAP_PRIVATE, 999, 0)).toBe(-EBADF);
    expect(sys().mmap(0, P, RW, MAP_PRIVATE, -1, 0)).toBe(-EBADF);
  });
  it('4. anonymous MAP_HUGETLB: an unknown size is EINVAL, a known one ENOMEM (nothing reserved)', () => {
    expect(sys().mmap(0, 2 ** 21, RW, ANON | MAP_HUGETLB | (7 << 26), -1, 0)).toBe(-EINVAL);
    expect(sys().mmap(0, 2 ** 21, RW, ANON | MAP_HUGETLB, -1, 0)).toBe(-ENOMEM);
  });
  it('anonymous mappings ignore the fd and an aligned offset', () => {
    expect(sys().mmap(0, P, RW, ANON, 5, 8192)).toBeGreaterThan(0);
  });
  it('6. a zero length is EINVAL', () => {
    expect(sys().mmap(0, 0, RW, ANON, -1, 0)).toBe(-EINVAL);
  });
  it('8. a hint below mmap_min_addr is raised to it', () => {
    expect(sys().mmap(0x1000, P, RW, ANON, -1, 0)).toBe(0x10000);
  });
  it('9. a length that wraps when page-aligned is ENOMEM', () => {
    expect(sys().mmap(0, -1, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(sys().mmap(0, 2n ** 64n - 1n, RW, ANON, -1, 0)).toBe(-ENOMEM);
  });
  it('11. more than max_map_count mappings is ENOMEM (the count may reach max + 1)', () => {
    const s = boot({ arch: 'x86_64', layout: { maxMapCount: 5 } }).sys;
    const got: number[] = [];
    for (let i = 0; i < 8; i++) got.push(s.mmap(0, P, i % 2 ? PROT_READ : RW, ANON, -1, 0));
    expect(got.slice(0, 6).every((a) => a > 0)).toBe(true);
    expect(got[6]).toBe(-ENOMEM);
  });
  it('12. a length beyond TASK_SIZE is ENOMEM', () => {
    expect(sys().mmap(0, 2 ** 47, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(sys().mmap(0, 2n ** 62n, RW, ANON, -1, 0)).toBe(-ENOMEM);
  });
  it('14. a fixed range running past TASK_SIZE is ENOMEM, even at TASK_SIZE itself and when unaligned', () => {
    expect(sys().mmap(TASK_SIZE, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(-ENOMEM);
    expect(sys().mmap(TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(-ENOMEM);
    expect(sys().mmap(-P, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(-ENOMEM);
    expect(sys().mmap(TASK_SIZE + 1, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(-ENOMEM);
  });
  it('15. an unaligned fixed address is EINVAL', () => {
    expect(sys().mmap(0x10000123, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(-EINVAL);
  });
  it('16. MAP_FIXED below mmap_min_addr needs CAP_SYS_RAWIO', () => {
    const user = boot({ arch: 'x86_64', layout: { capSysRawio: false } }).sys;
    expect(user.mmap(0, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(-EPERM);
    expect(user.mmap(0x1000, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(0x1000);
    expect(sys().mmap(0, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(0);
  });
  it('17. MAP_FIXED_NOREPLACE over any part of a mapping is EEXIST, before the type check', () => {
    const s = sys();
    const a = s.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(s.mmap(a + 3 * P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)).toBe(-EEXIST);
    expect(s.mmap(a, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)).toBe(-EEXIST);
    expect(s.mmap(a - P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)).toBe(a - P);
  });
  it('30. shared anonymous memory cannot grow down', () => {
    expect(sys().mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0)).toBe(-EINVAL);
  });
  it('32. anonymous mappings never accept MAP_SHARED_VALIDATE, 0 or 0xf as the type', () => {
    expect(sys().mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0)).toBe(-EINVAL);
    expect(sys().mmap(0, P, RW, MAP_ANONYMOUS, -1, 0)).toBe(-EINVAL);
    expect(sys().mmap(0, P, RW, 0xf | MAP_ANONYMOUS, -1, 0)).toBe(-EINVAL);
  });
  it('35. RLIMIT_AS counts only the net new pages of a MAP_FIXED replacement', () => {
    const s = boot({ arch: 'x86_64', layout: { rlimitAs: 8 * P } }).sys;
    const a = s.mmap(0, 8 * P, RW, ANON, -1, 0);
    expect(s.mmap(0, P, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(s.mmap(a, 8 * P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(a);
  });
  it('unknown prot and flag bits are ignored', () => {
    expect(sys().mmap(0, P, 0xffffffff, ANON | 0x200000, -1, 0)).toBeGreaterThan(0);
  });
});

describe('mmap addresses (x86_64, no randomization)', () => {
  it('places mappings top-down from mmap_base, reusing the highest hole that fits', () => {
    const s = boot({ arch: 'x86_64' }).sys;
    expect(s.mmap(0, P, RW, ANON, -1, 0)).toBe(0x7ffff7ffe000);
    expect(s.mmap(0, 2 * P, PROT_READ, ANON, -1, 0)).toBe(0x7ffff7ffc000);
    expect(s.mmap(0, P, RW, ANON, -1, 0)).toBe(0x7ffff7ffb000);
    expect(s.munmap(0x7ffff7ffc000, 2 * P)).toBe(0);
    expect(s.mmap(0, 2 * P, RW, ANON, -1, 0)).toBe(0x7ffff7ffc000);
  });
  it('takes a free hint as given and ignores an occupied one', () => {
    const s = boot({ arch: 'x86_64' }).sys;
    expect(s.mmap(0x10000000, P, RW, ANON, -1, 0)).toBe(0x10000000);
    expect(s.mmap(0x10000000, P, RW, ANON, -1, 0)).toBe(0x7ffff7ffe000);
  });
  it('aligns a private anonymous mapping whose length is a multiple of 2 MiB to 2 MiB', () => {
    const s = boot({ arch: 'x86_64', ramBytes: 64 * 2 ** 20, paging: 'demand' }).sys;
    expect(s.mmap(0, P, RW, ANON, -1, 0)).toBe(0x7ffff7ffe000);
    expect(s.mmap(0, 2 ** 21, RW, ANON, -1, 0)).toBe(0x7ffff7c00000);
    expect(s.mmap(0, 2 ** 21 + P, RW, ANON, -1, 0)).toBe(0x7ffff7c00000 - 2 ** 21 - P);
  });
  it('starts at 0xfffff8000000 on aarch64', () => {
    expect(boot({ arch: 'aarch64' }).sys.mmap(0, P, RW, ANON, -1, 0)).toBe(0xfffff8000000 - P);
  });
});

describe('munmap argument checks', () => {
  const sys = () => boot({ arch: 'x86_64' }).sys;
  it('1. an unaligned start, a start beyond TASK_SIZE or a length past it is EINVAL', () => {
    expect(sys().munmap(0x1001, P)).toBe(-EINVAL);
    expect(sys().munmap(TASK_SIZE + P, P)).toBe(-EINVAL);
    expect(sys().munmap(TASK_SIZE, P)).toBe(-EINVAL);
    expect(sys().munmap(0x10000, -1)).toBe(-EINVAL);
  });
  it('2. a zero length is EINVAL', () => {
    expect(sys().munmap(0x10000, 0)).toBe(-EINVAL);
  });
  it('3. nothing mapped is fine, and so are holes', () => {
    const s = sys();
    expect(s.munmap(0x10000, P)).toBe(0);
    const a = s.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(s.munmap(a + P, P)).toBe(0);
    expect(s.munmap(a, 4 * P)).toBe(0);
  });
  it('4. punching a hole at max_map_count is ENOMEM and changes nothing; trimming still works', () => {
    const kernel = boot({ arch: 'x86_64', layout: { maxMapCount: 3 } });
    const s = kernel.sys;
    const a = s.mmap(0, 3 * P, RW, ANON, -1, 0);
    s.mmap(0, P, PROT_READ, ANON, -1, 0);
    s.mmap(0, P, RW, ANON, -1, 0);
    expect(kernel.current!.mm.mapCount).toBe(3);
    expect(s.munmap(a + P, P)).toBe(-ENOMEM);
    expect(kernel.current!.mm.mapCount).toBe(3);
    expect(s.munmap(a, P)).toBe(0);
    expect(kernel.check()).toEqual([]);
  });
  it('rounds the length up to a page and frees frames and emptied tables', () => {
    const kernel = boot({ arch: 'x86_64' });
    const free = kernel.frames.freePages;
    const a = kernel.sys.mmap(0, 3 * P, RW, ANON, -1, 0);
    expect(kernel.sys.munmap(a, 2 * P + 1)).toBe(0);
    expect(kernel.frames.freePages).toBe(free);
    expect(kernel.check()).toEqual([]);
  });
});
