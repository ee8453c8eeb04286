import { describe, expect, it, vi } from 'vitest';
import type { PhysAddr, VirtAddr } from '../../src/hal/addr.js';
import {
  formatKernelAddr,
  Kernel,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/index.js';
import { FrameUse } from '../../src/mm/frame-allocator.js';
import { GEOMETRIES } from '../support/kernels.js';

function setup(arch: 'aarch64' | 'x86_64', pageSize: number) {
  const kernel = new Kernel({ arch, pageSize, ramBytes: Math.max(8 * 2 ** 20, 512 * pageSize) });
  const task = kernel.spawn();
  return { kernel, pt: task.mm.pageTable, frames: kernel.frames };
}

describe.each(GEOMETRIES)('PageTable on $arch with $pageSize-byte pages', ({ arch, pageSize }) => {
  it('maps, translates and unmaps a page, allocating and then freeing every intermediate table', () => {
    const { kernel, pt, frames } = setup(arch, pageSize);
    const before = frames.freePages;
    const frame = frames.allocPage(FrameUse.UserData)!;
    const va = (0x7000_0000_0000 - 5 * pageSize) as VirtAddr;
    expect(pt.map(va, frame, 3)).toBe(true);
    const levels = kernel.geometry.levels;
    expect(frames.freePages).toBe(before - 1 - (levels - 1));
    const rights = new Uint8Array(1);
    expect(pt.translate((va + 123) as VirtAddr, rights)).toBe(frame);
    expect(rights[0]).toBe(3);
    expect(pt.tables().length).toBe(levels);
    expect(pt.unmap(va)).toBe(frame);
    frames.freePage(frame);
    expect(frames.freePages).toBe(before);
    expect(pt.tables()).toEqual([{ table: pt.root, level: 0, valid: 0 }]);
    expect(pt.translate(va)).toBe(-1);
  });

  it('frees the tables it created when a table allocation fails part-way', () => {
    const { pt, frames } = setup(arch, pageSize);
    const frame = frames.allocPage(FrameUse.UserData)!;
    const before = frames.freePages;
    for (let k = 0; k < pt.tables().length + 3; k++) {
      frames.failAfter(k);
      const ok = pt.map(0x1234_5000_0000 as VirtAddr, frame, 1);
      frames.failAfter(-1);
      if (ok) {
        pt.unmap(0x1234_5000_0000 as VirtAddr);
        break;
      }
      expect(frames.freePages).toBe(before);
      expect(pt.tables().length).toBe(1);
    }
    expect(frames.freePages).toBe(before);
  });

  it('clears a sparse range by visiting only what is mapped', () => {
    const { pt, frames } = setup(arch, pageSize);
    const before = frames.freePages;
    const vas = [0x1000_0000, 0x2000_0000_0000, 0x7fff_0000_0000].map((v) => v as VirtAddr);
    for (const va of vas) pt.map(va, frames.allocPage(FrameUse.UserData)!, 3);
    const seen: number[] = [];
    pt.unmapRange(0, 2 ** 47, (va, f) => {
      seen.push(va);
      frames.freePage(f as PhysAddr);
    });
    expect(seen).toEqual(vas);
    expect(frames.freePages).toBe(before);
  });
});

describe('PageTable walks', () => {
  it('read no table while nothing is mapped, whichever call asks (munmap, mprotect, madvise, mremap)', () => {
    const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 8 * 2 ** 20 });
    const task = kernel.spawn();
    const s = kernel.sys;
    const P = 4096;
    // Every read of a table entry: the walks read whole tables (wordsAt) or one entry (readLo).
    const reads = [vi.spyOn(kernel.ram, 'wordsAt'), vi.spyOn(kernel.ram, 'readLo')];
    const count = () => reads.reduce((n, r) => n + r.mock.calls.length, 0);
    const calls = (a: number) => {
      expect(s.mprotect(a, 64 * P, PROT_READ)).toBe(0);
      expect(s.madvise(a, 64 * P, MADV_DONTNEED)).toBe(0);
      // The read-only half is a VMA of its own now; the other half moves.
      const b = s.mremap(a + 64 * P, 64 * P, 256 * P, MREMAP_MAYMOVE, 0);
      expect(b).toBeGreaterThan(0);
      expect(s.munmap(b, 256 * P)).toBe(0);
      expect(s.munmap(a, 64 * P)).toBe(0);
    };
    calls(s.mmap(0, 128 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    expect(task.mm.pageTable.presentLeaves).toBe(0);
    expect(count()).toBe(0);
    // With one page mapped, the same calls do walk the tables (the spies see the walks).
    const a = s.mmap(0, 128 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.write(a, [1]);
    for (const r of reads) r.mockClear();
    calls(a);
    expect(count()).toBeGreaterThan(0);
    for (const r of reads) r.mockRestore();
    expect(kernel.check()).toEqual([]);
  });
});

describe('Kernel.spawn', () => {
  it('returns null when no frame is left for the root', () => {
    const kernel = new Kernel({ ramBytes: 256 * 1024 });
    kernel.frames.failAfter(0);
    expect(() => kernel.spawn()).toThrow(/out of memory/);
  });
});

describe('PageTable.userVaToKernelPtr', () => {
  it('gives the linear-map address of the mapped byte, or null', () => {
    const kernel = new Kernel({ arch: 'aarch64' });
    const task = kernel.spawn();
    const addr = kernel.sys.mmap(0, 8192, 3, 0x22, -1, 0);
    task.write(addr + 4096 + 5, [0x5a]);
    const pt = task.mm.pageTable;
    const ka = pt.userVaToKernelPtr((addr + 4096 + 5) as VirtAddr);
    expect(ka).not.toBeNull();
    const pa = kernel.linearMap.virtToPhys(ka!);
    const byte = new Uint8Array(1);
    kernel.ram.read(pa, byte, 0, 1);
    expect(byte[0]).toBe(0x5a);
    expect(formatKernelAddr(ka!)).toBe(`0xffff8000${pa.toString(16).padStart(8, '0')}`);
    expect(pt.userVaToKernelPtr(0x1000 as VirtAddr)).toBeNull();
  });
});
