/**
 * Linux's own partial effects: failures that need no failed allocation and that Linux 6.18.44
 * answers with an error after changing part of what it was asked to (each case was first run as a
 * C program on the reference machine, with the same addresses). The model follows every one; a
 * failed allocation, by contrast, always leaves nothing (test/syscall/transactions.test.ts).
 */
import {
  EAGAIN,
  EFAULT,
  EINVAL,
  ENOMEM,
  Kernel,
  type KernelOptions,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_GUARD_INSTALL,
  MADV_POPULATE_WRITE,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_POPULATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PageFaultError,
  type PagingMode,
  PROT_READ,
  procMaps,
  type Task,
  type VirtAddr,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { ANON, P, RW } from './errno-support.js';

const FIXED_MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;

function boot(options: KernelOptions = {}) {
  const k = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 16 * 2 ** 20, ...options });
  const t = k.spawn();
  return { k, t, sys: k.sys };
}

function readable(t: Task, addr: number): boolean {
  try {
    t.read(addr, 1);
    return true;
  } catch (e) {
    if (e instanceof PageFaultError) return false;
    throw e;
  }
}

/** Pages of [addr, addr+pages*P) that have a frame. */
function resident(t: Task, addr: number, pages: number): number {
  let n = 0;
  for (let p = 0; p < pages; p++) if (t.mm.pageTable.translate((addr + p * P) as VirtAddr) >= 0) n++;
  return n;
}

const hex = (n: number) => n.toString(16).padStart(8, '0');
const line = (start: number, end: number, perms: string) =>
  `${hex(start)}-${hex(end)} ${perms} 00000000 00:00 0 `;

describe('mprotect and madvise stop part way', () => {
  it('madvise advises the VMAs before one that refuses the advice (DONTNEED, then a locked VMA: EINVAL)', () => {
    const { k, t, sys } = boot();
    const b = 0x1000_0000_0000;
    expect(sys.mmap(b, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(b);
    t.write(b, [7]);
    expect(sys.mmap(b + 2 * P, 2 * P, RW, ANON | MAP_FIXED | MAP_LOCKED, -1, 0)).toBe(b + 2 * P);
    expect(sys.madvise(b, 4 * P, MADV_DONTNEED)).toBe(-EINVAL);
    expect(t.read(b, 1)[0]).toBe(0);
    expect(k.check()).toEqual([]);
  });

  it('a split refused at max_map_count keeps the first split: two look-alike VMAs', () => {
    // Two VMAs and room for one more: mprotect of the middle of one splits at v+2P, then the
    // split at v+4P is refused (as on Linux at max_map_count - 1).
    const v = 0x2000_0000_0000;
    const { k, t, sys } = boot({ layout: { maxMapCount: 3 } });
    expect(sys.mmap(v, 8 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(v);
    t.write(v, [1]);
    expect(sys.mmap(0x3000_0000_0000, P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(0x3000_0000_0000);
    expect(sys.mprotect(v + 2 * P, 2 * P, PROT_READ)).toBe(-ENOMEM);
    expect(procMaps(t.mm).split('\n').slice(0, 2)).toEqual([
      line(v, v + 2 * P, 'rw-p'),
      line(v + 2 * P, v + 8 * P, 'rw-p'),
    ]);
    expect(k.check()).toEqual([]);
    // At the limit, madvise's split is refused with EAGAIN and changes nothing.
    expect(sys.madvise(v + 5 * P, P, MADV_DONTFORK)).toBe(-EAGAIN);
    expect(t.mm.mapCount).toBe(3);
    expect(k.check()).toEqual([]);
  });
});

describe('mremap to a fixed address keeps the target it cleared when a later check refuses', () => {
  it('growing past what the overcommit heuristic allows: ENOMEM, the target gone, the source intact', () => {
    const { k, t, sys } = boot({ layout: { totalRamPages: 1024 } });
    const a = sys.mmap(0, P, RW, ANON, -1, 0);
    t.write(a, [3]);
    const target = 0x2000_0000_0000;
    expect(sys.mmap(target, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(target);
    t.write(target, [5]);
    const committed = k.accounting.committed;
    expect(sys.mremap(a, P, 2048 * P, FIXED_MOVE, target)).toBe(-ENOMEM);
    expect(readable(t, target)).toBe(false);
    expect([...t.read(a, 1)]).toEqual([3]);
    expect(k.accounting.committed).toBe(committed - 1);
    expect(k.check()).toEqual([]);
  });

  it('with MREMAP_DONTUNMAP over RLIMIT_AS: ENOMEM, the target gone', () => {
    const { k, t, sys } = boot({ layout: { rlimitAs: 100 * P } });
    const s = sys.mmap(0, 64 * P, RW, ANON, -1, 0);
    t.write(s, [1]);
    const target = 0x2100_0000_0000;
    expect(sys.mmap(target, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(target);
    expect(sys.mremap(s, 64 * P, 64 * P, FIXED_MOVE | MREMAP_DONTUNMAP, target)).toBe(-ENOMEM);
    expect(readable(t, target)).toBe(false);
    expect(t.mm.totalVm).toBe(64);
    expect(k.check()).toEqual([]);
  });
});

describe('a multi-VMA move that reaches max_map_count part way', () => {
  it.each(['eager', 'demand'] as PagingMode[])(
    'keeps the VMAs moved so far and the target it cleared for the next (%s paging)',
    (paging) => {
      const { k, t, sys } = boot({ paging });
      const S = 0x3000_0000_0000;
      const T = 0x3100_0000_0000;
      expect(sys.mmap(S, 8 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(S);
      for (let i = 0; i < 4; i++) t.write(S + 2 * i * P, [i + 1]);
      for (const gap of [1, 3, 5, 7]) sys.munmap(S + gap * P, P);
      expect(sys.mmap(T, 16 * P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(T);
      // As on the reference run: six below max_map_count when the call starts.
      const limited = new Kernel({
        arch: 'x86_64',
        paging,
        ramBytes: 16 * 2 ** 20,
        layout: { maxMapCount: t.mm.mapCount + 6 },
      });
      const lt = limited.spawn();
      expect(limited.sys.mmap(S, 8 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(S);
      for (let i = 0; i < 4; i++) lt.write(S + 2 * i * P, [i + 1]);
      for (const gap of [1, 3, 5, 7]) limited.sys.munmap(S + gap * P, P);
      expect(limited.sys.mmap(T, 16 * P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(T);

      expect(limited.sys.mremap(S, 7 * P, 7 * P, FIXED_MOVE, T + 4 * P)).toBe(-ENOMEM);
      expect(procMaps(lt.mm).split('\n').filter(Boolean)).toEqual([
        line(S + 4 * P, S + 5 * P, 'rw-p'),
        line(S + 6 * P, S + 7 * P, 'rw-p'),
        line(T, T + 4 * P, 'r--p'),
        line(T + 4 * P, T + 5 * P, 'rw-p'),
        line(T + 5 * P, T + 6 * P, 'r--p'),
        line(T + 6 * P, T + 7 * P, 'rw-p'),
        line(T + 7 * P, T + 8 * P, 'r--p'),
        line(T + 9 * P, T + 16 * P, 'r--p'),
      ]);
      expect([...lt.read(T + 4 * P, 1), ...lt.read(T + 6 * P, 1)]).toEqual([1, 2]);
      expect([...lt.read(S + 4 * P, 1), ...lt.read(S + 6 * P, 1)]).toEqual([3, 4]);
      expect(limited.check()).toEqual([]);
      // With room to spare the same call moves everything.
      expect(sys.mremap(S, 7 * P, 7 * P, FIXED_MOVE, T + 4 * P)).toBe(T + 4 * P);
      expect(k.check()).toEqual([]);
    },
  );

  it('refuses up front, before looking for the source, when the limit is that close', () => {
    const { sys, t } = boot();
    const limited = boot({ layout: { maxMapCount: t.mm.mapCount + 5 } }).sys;
    expect(limited.mremap(0x3200_0000_0000, P, P, FIXED_MOVE, 0x3300_0000_0000)).toBe(-ENOMEM);
    expect(limited.mremap(0x3200_0000_0000, P, 2 * P, 0, 0)).toBe(-EFAULT);
    expect(sys.mremap(0x3200_0000_0000, P, P, FIXED_MOVE, 0x3300_0000_0000)).toBe(-EFAULT);
  });
});

describe('MADV_POPULATE_WRITE keeps the pages it populated before failing', () => {
  it('at a hole (ENOMEM) and at a mapping that may not be written (EINVAL)', () => {
    const { k, t, sys } = boot();
    const a = sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    sys.munmap(a + 3 * P, P);
    expect(sys.madvise(a, 4 * P, MADV_POPULATE_WRITE)).toBe(-ENOMEM);
    expect(resident(t, a, 3)).toBe(3);
    const b = sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    sys.mprotect(b + 3 * P, P, PROT_READ);
    expect(sys.madvise(b, 4 * P, MADV_POPULATE_WRITE)).toBe(-EINVAL);
    expect(resident(t, b, 4)).toBe(3);
    expect(k.check()).toEqual([]);
  });

  it('at a guard page (EFAULT)', () => {
    const { k, t, sys } = boot();
    const a = sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(sys.madvise(a + 2 * P, P, MADV_GUARD_INSTALL)).toBe(0);
    expect(sys.madvise(a, 4 * P, MADV_POPULATE_WRITE)).toBe(-EFAULT);
    expect(resident(t, a, 2)).toBe(2);
    expect(k.check()).toEqual([]);
  });

  it('when RAM runs out: ENOMEM with a prefix of the range populated', () => {
    // The reference run: 8192 pages in a 16 MiB memory cgroup gave ENOMEM with the first 4027 kept.
    const { k, t, sys } = boot({ ramBytes: 4 * 2 ** 20, layout: { totalRamPages: 2 ** 20 } });
    const pages = 2048;
    const a = sys.mmap(0, pages * P, RW, ANON, -1, 0);
    expect(sys.madvise(a, pages * P, MADV_POPULATE_WRITE)).toBe(-ENOMEM);
    const kept = resident(t, a, pages);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(pages);
    expect(resident(t, a, kept)).toBe(kept);
    expect(k.frames.freePages).toBeLessThan(16);
    expect(k.check()).toEqual([]);
  });
});

describe('mmap with MAP_POPULATE', () => {
  it('succeeds when RAM runs out part way, with a prefix populated', () => {
    // The reference run: 8192 pages in a 16 MiB memory cgroup: success, 3936 pages resident.
    const { k, t, sys } = boot({ ramBytes: 4 * 2 ** 20, layout: { totalRamPages: 2 ** 20 } });
    const pages = 2048;
    const a = sys.mmap(0, pages * P, RW, ANON | MAP_POPULATE, -1, 0);
    expect(a).toBeGreaterThan(0);
    const kept = resident(t, a, pages);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(pages);
    expect(resident(t, a, kept)).toBe(kept);
    expect(k.check()).toEqual([]);
  });
});

describe('mremap shrinking and moving an accounted mapping', () => {
  it("charges the shrunk pages again and never gives them back, as 6.18's move_vma does", () => {
    // Measured on the reference kernel: 200 000 rounds of mmap 8 pages, mremap to 1 page at a
    // fixed address, munmap raise Committed_AS by about 7 pages each.
    const { k, sys } = boot();
    const before = k.accounting.committed;
    const a = sys.mmap(0, 8 * P, RW, ANON, -1, 0);
    const b = sys.mremap(a, 8 * P, P, FIXED_MOVE, 0x4000_0000_0000);
    expect(b).toBe(0x4000_0000_0000);
    expect(sys.munmap(b, P)).toBe(0);
    expect(k.accounting.committed - before).toBe(7);
    expect(k.accounting.leaked).toBe(7);
    expect(k.check()).toEqual([]);
  });

  it('gives everything back on a kernel without that charge (layout.mremapRechargesShrink off)', () => {
    const { k, sys } = boot({ layout: { mremapRechargesShrink: false } });
    const before = k.accounting.committed;
    const a = sys.mmap(0, 8 * P, RW, ANON, -1, 0);
    const b = sys.mremap(a, 8 * P, P, FIXED_MOVE, 0x4000_0000_0000);
    expect(sys.munmap(b, P)).toBe(0);
    expect(k.accounting.committed).toBe(before);
    expect(k.accounting.leaked).toBe(0);
    expect(k.check()).toEqual([]);
  });
});
