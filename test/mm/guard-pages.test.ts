/**
 * Guard markers (MADV_GUARD_INSTALL / MADV_GUARD_REMOVE), as Linux 6.18 on this machine does them
 * (checked with a C program: install, fault, remove, munmap and remap of part of a guarded range):
 * an access to a guarded page faults, removing the marker makes it readable (zero), unmapping a
 * guarded page drops its marker, and the other markers of the range stay.
 */
import {
  Kernel,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PageFaultError,
  PROT_READ,
  PROT_WRITE,
} from 'levitate-mm';
import { describe, expect, it, vi } from 'vitest';
import { PageRuns } from '../../src/mm/page-runs.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

describe('guard pages', () => {
  it('fault while marked, read zero once removed, and lose their marker with their mapping', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
    const t = k.spawn();
    const readable = (va: number) => {
      try {
        t.read(va, 1);
        return true;
      } catch (e) {
        if (e instanceof PageFaultError) return false;
        throw e;
      }
    };
    const a = k.sys.mmap(0, 8 * P, RW, ANON, -1, 0);
    t.write(a + 2 * P, [5]);
    expect(k.sys.madvise(a + 2 * P, 3 * P, MADV_GUARD_INSTALL)).toBe(0);
    expect(t.mm.guards.size).toBe(3);
    expect([readable(a + 3 * P), readable(a + 6 * P)]).toEqual([false, true]);
    expect(k.sys.madvise(a + 3 * P, P, MADV_GUARD_REMOVE)).toBe(0);
    expect(readable(a + 3 * P)).toBe(true);
    expect(t.read(a + 3 * P, 1)[0]).toBe(0);
    expect(readable(a + 2 * P)).toBe(false);
    expect(k.sys.munmap(a + 2 * P, P)).toBe(0);
    expect(k.sys.mmap(a + 2 * P, P, RW, ANON | MAP_FIXED, -1, 0)).toBe(a + 2 * P);
    expect([readable(a + 2 * P), readable(a + 4 * P)]).toEqual([true, false]);
    expect(t.mm.guards.size).toBe(1);
    expect(k.check()).toEqual([]);
  });

  it('cost an unrelated munmap nothing however many pages are guarded', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 4 * 2 ** 30 });
    const t = k.spawn();
    const big = k.sys.mmap(0, 2 ** 30, RW, ANON, -1, 0);
    expect(big).toBeGreaterThan(0);
    expect(k.sys.madvise(big, 2 ** 30, MADV_GUARD_INSTALL)).toBe(0);
    expect(t.mm.guards.size).toBe(2 ** 30 / P);
    // Walking the markers is what would cost: counted, not timed.
    const walks = [vi.spyOn(PageRuns.prototype, 'marks'), vi.spyOn(PageRuns.prototype, 'ranges')];
    try {
      for (let i = 0; i < 200; i++) {
        const x = k.sys.mmap(0, P, RW, ANON, -1, 0);
        expect(k.sys.munmap(x, P)).toBe(0);
      }
      expect(walks.map((w) => w.mock.calls.length)).toEqual([0, 0]);
    } finally {
      for (const w of walks) w.mockRestore();
    }
    expect(t.mm.guards.size).toBe(2 ** 30 / P);
    expect([...t.mm.guards.ranges()]).toEqual([[big, big + 2 ** 30]]);
    expect(k.check()).toEqual([]);
  });
});
