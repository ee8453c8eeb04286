/**
 * The seed's five acceptance criteria (UoW 2.2, "Integrate MmapGuard into sys_mmap"), each as a test.
 */

import { ENOMEM, MAP_ANONYMOUS, MAP_PRIVATE, MmapGuard, PROT_READ, PROT_WRITE } from 'levitate-mm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { boot, faultingPages } from '../support/kernels.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

afterEach(() => vi.restoreAllMocks());

describe('seed UoW 2.2 acceptance', () => {
  it('sys_mmap creates an MmapGuard (one per call, disposed when the call ends)', () => {
    const kernel = boot();
    const dispose = vi.spyOn(MmapGuard.prototype, Symbol.dispose);
    const addr = kernel.sys.mmap(0, 4 * 4096, RW, ANON, -1, 0);
    expect(addr).toBeGreaterThan(0);
    expect(dispose).toHaveBeenCalledTimes(1);
    kernel.frames.failAfter(1);
    expect(kernel.sys.mmap(0, 4 * 4096, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(dispose).toHaveBeenCalledTimes(2);
  });

  it('tracks each successful allocation: one track per page, with the frame the page maps', () => {
    const kernel = boot();
    const tracked: [number, number][] = [];
    const track = MmapGuard.prototype.track;
    vi.spyOn(MmapGuard.prototype, 'track').mockImplementation(function (this: MmapGuard, va, frame) {
      tracked.push([va, frame]);
      track.call(this, va, frame);
    });
    const addr = kernel.sys.mmap(0, 5 * 4096, RW, ANON, -1, 0);
    expect(tracked.map(([va]) => va)).toEqual([0, 1, 2, 3, 4].map((i) => addr + i * 4096));
    const pt = kernel.current!.mm.pageTable;
    for (const [va, frame] of tracked) expect(pt.translate(va as never)).toBe(frame);
  });

  it('commits the guard only on success', () => {
    const kernel = boot();
    const commit = vi.spyOn(MmapGuard.prototype, 'commit');
    kernel.frames.failAfter(3);
    expect(kernel.sys.mmap(0, 8 * 4096, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(commit).not.toHaveBeenCalled();
    expect(kernel.sys.mmap(0, 8 * 4096, RW, ANON, -1, 0)).toBeGreaterThan(0);
    expect(commit).toHaveBeenCalledTimes(1);
  });

  it('cleans up automatically on early return: frames, tables and mapping all gone', () => {
    const kernel = boot();
    const free = kernel.frames.freePages;
    kernel.frames.failAfter(5);
    const addr = kernel.current!.mm.layout.mmapBase - 8 * 4096;
    expect(kernel.sys.mmap(0, 8 * 4096, RW, ANON, -1, 0)).toBe(-ENOMEM);
    expect(kernel.frames.freePages).toBe(free);
    expect(kernel.check()).toEqual([]);
    expect(faultingPages(kernel, addr, 8 * 4096)).toEqual([]);
    expect(kernel.current!.mm.mapCount).toBe(0);
  });

  it('leaves the success path as before: aligned address, zeroed pages, usable memory', () => {
    const kernel = boot();
    const task = kernel.current!;
    const addr = kernel.sys.mmap(0, 3 * 4096 - 100, RW, ANON, -1, 0);
    expect(addr % 4096).toBe(0);
    expect(addr).toBe(task.mm.layout.mmapBase - 3 * 4096);
    expect([...task.read(addr, 3 * 4096)].every((b) => b === 0)).toBe(true);
    task.write(
      addr + 4000,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect(task.read(addr + 4095, 3)).toEqual(Uint8Array.of(96, 97, 98));
    expect(kernel.check()).toEqual([]);
  });
});
