import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PhysAddr } from '../../src/hal/addr.js';
import { KernelPanic } from '../../src/hal/panic.js';
import { PhysicalMemory } from '../../src/hal/ram.js';
import { FrameAllocator, FrameUse } from '../../src/mm/frame-allocator.js';

const BASE = 0x4000_0000;
function allocator(frames: number, pageSize = 4096): FrameAllocator {
  const bytes = Math.ceil((frames * pageSize) / (256 * 1024)) * 256 * 1024;
  const a = new FrameAllocator(new PhysicalMemory(BASE, bytes), pageSize);
  return a;
}

describe('FrameAllocator', () => {
  it('hands out every frame once, lowest first, then runs out', () => {
    const a = allocator(64);
    const got: number[] = [];
    for (;;) {
      const f = a.allocPage(FrameUse.UserData);
      if (f === null) break;
      got.push(f);
    }
    expect(got.length).toBe(64);
    expect(new Set(got).size).toBe(64);
    expect(got[0]).toBe(BASE);
    expect(a.freePages).toBe(0);
    expect(a.failures).toBe(1);
  });

  it('coalesces buddies so a freed region can be handed out as one block again', () => {
    const a = allocator(64);
    const pages = Array.from({ length: 64 }, () => a.allocPage(FrameUse.UserData)!);
    for (const p of pages) a.freePage(p);
    expect(a.freePages).toBe(64);
    const block = a.allocBlock(6, FrameUse.Kernel);
    expect(block).toBe(BASE);
    expect(a.freePages).toBe(0);
    a.freeBlock(block!);
    expect(a.buddyInfo()[6]).toBe(1);
  });

  it('splits a larger block for a small request and keeps blocks naturally aligned', () => {
    const a = allocator(64);
    const b2 = a.allocBlock(2, FrameUse.Kernel)!;
    const b3 = a.allocBlock(3, FrameUse.Kernel)!;
    expect((b2 - BASE) % (4 * 4096)).toBe(0);
    expect((b3 - BASE) % (8 * 4096)).toBe(0);
    expect(a.freePages).toBe(64 - 12);
  });

  it('carves RAM that is not a power of two into aligned blocks', () => {
    const a = allocator(5 * 64); // 320 frames = 256 + 64
    expect(a.buddyInfo()[8]).toBe(1);
    expect(a.buddyInfo()[6]).toBe(1);
    expect(a.freePages).toBe(320);
  });

  it('panics on a double free', () => {
    const a = allocator(64);
    const p = a.allocPage(FrameUse.UserData)!;
    a.freePage(p);
    expect(() => a.freePage(p)).toThrow(KernelPanic);
    expect(() => a.freePage(p)).toThrow(/double free/);
  });

  it('panics on freeing a frame never handed out, or the tail of a block', () => {
    const a = allocator(64);
    expect(() => a.freePage((BASE + 10 * 4096) as PhysAddr)).toThrow(/never handed out|double free/);
    const b = a.allocBlock(2, FrameUse.Kernel)!;
    expect(() => a.freePage((b + 4096) as PhysAddr)).toThrow(KernelPanic);
    expect(() => a.freePage((BASE + 7) as PhysAddr)).toThrow(KernelPanic);
  });

  it('failAfter(n) lets n allocations through and fails the next one, once', () => {
    const a = allocator(64);
    a.failAfter(2);
    expect(a.allocPage(FrameUse.UserData)).not.toBeNull();
    expect(a.allocBlock(1, FrameUse.Kernel)).not.toBeNull();
    expect(a.failureArmed).toBe(true);
    expect(a.allocPage(FrameUse.UserData)).toBeNull();
    expect(a.failureArmed).toBe(false);
    expect(a.allocPage(FrameUse.UserData)).not.toBeNull();
    expect(a.allocations).toBe(3);
    expect(a.failures).toBe(1);
  });

  it('counts the frames reclaim frees, when an allocation finds RAM exhausted and then succeeds', () => {
    const a = allocator(64);
    const pages = Array.from({ length: 64 }, () => a.allocPage(FrameUse.UserData)!);
    const givenUp = pages.slice(0, 3);
    a.reclaim = () => {
      for (const p of givenUp.splice(0)) a.freePage(p);
      return 3 - givenUp.length;
    };
    // A kernel allocation never reclaims; a user page does, and is not refused.
    expect(a.allocPage(FrameUse.Kernel)).toBeNull();
    expect([a.failures, a.reclaimed]).toEqual([1, 0]);
    expect(a.allocPage(FrameUse.UserData)).not.toBeNull();
    expect([a.failures, a.reclaimed, a.freePages]).toEqual([1, 3, 2]);
  });

  it('counts free pages exactly through any sequence of allocations and frees', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.nat()), { maxLength: 200 }),
        (ops) => {
          const a = allocator(128);
          const held: { pa: PhysAddr; pages: number }[] = [];
          for (const [alloc, order, pick] of ops) {
            if (alloc || held.length === 0) {
              const pa = order === 0 ? a.allocPage(FrameUse.UserData) : a.allocBlock(order, FrameUse.Kernel);
              if (pa !== null) held.push({ pa, pages: 2 ** order });
            } else {
              const [h] = held.splice(pick % held.length, 1);
              if (h.pages === 1) a.freePage(h.pa);
              else a.freeBlock(h.pa);
            }
            const used = held.reduce((s, h) => s + h.pages, 0);
            expect(a.freePages).toBe(128 - used);
            const free = [...a.freeFrameIndexes()];
            expect(new Set(free).size).toBe(free.length);
            expect(free.length).toBe(a.freePages);
            for (const h of held) {
              const f = a.frameIndex(h.pa);
              for (let i = 0; i < h.pages; i++) expect(free.includes(f + i)).toBe(false);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
