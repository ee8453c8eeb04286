import { describe, expect, it } from 'vitest';
import type { PhysAddr, VirtAddr } from '../../src/hal/addr.js';
import { formatKernelAddr, Kernel } from '../../src/index.js';
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
