/**
 * PageRuns (guard markers, pages given up with MADV_FREE) against a page-by-page Map, the way they
 * were kept before.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it, vi } from 'vitest';
import { PageRuns } from '../../src/mm/page-runs.js';
import { VmaTree } from '../../src/mm/vma-tree.js';

const P = 4096;

function same(runs: PageRuns, model: Map<number, number>, pages: number): void {
  expect(runs.size).toBe(model.size);
  expect([...runs.marks()].map(([va, f]) => [va, Number.isNaN(f) ? -1 : f])).toEqual(
    [...model.entries()].sort((a, b) => a[0] - b[0]),
  );
  for (let p = 0; p < pages; p++) {
    expect(runs.has(p * P)).toBe(model.has(p * P));
    const f = model.get(p * P);
    expect(runs.get(p * P)).toBe(f === undefined || f === -1 ? undefined : f);
  }
}

describe('PageRuns', () => {
  it('keeps plain marks as runs, joined and cut by range', () => {
    const g = new PageRuns(P);
    g.addRange(2 * P, 6 * P);
    g.addRange(6 * P, 8 * P);
    expect(g.size).toBe(6);
    g.deleteRange(4 * P, 5 * P);
    expect([...g.marks()].map(([va]) => va / P)).toEqual([2, 3, 5, 6, 7]);
    expect(g.has(4 * P)).toBe(false);
    expect(g.has(5 * P)).toBe(true);
    expect(g.get(5 * P)).toBeUndefined();
    g.deleteRange(0, 100 * P);
    expect(g.size).toBe(0);
  });

  it('keeps the frame of each page, one run for pages marked in order', () => {
    const f = new PageRuns(P);
    for (let p = 10; p < 50; p++) if (p % 7 !== 0) f.set(p * P, 1000 + p);
    expect(f.size).toBe(34);
    expect(f.get(11 * P)).toBe(1011);
    expect(f.get(14 * P)).toBeUndefined();
    expect(f.delete(11 * P)).toBe(true);
    expect(f.delete(11 * P)).toBe(false);
    f.deleteRange(20 * P, 30 * P);
    expect(f.size).toBe(33 - 8);
    expect(f.get(31 * P)).toBe(1031);
    f.set(25 * P, 7);
    expect(f.get(25 * P)).toBe(7);
    f.clear();
    expect(f.size).toBe(0);
    expect([...f.marks()]).toEqual([]);
  });

  test.prop(
    [
      fc.array(
        fc.record({
          op: fc.constantFrom('set', 'set', 'set', 'delete', 'deleteRange', 'addRange'),
          page: fc.integer({ min: 0, max: 95 }),
          len: fc.integer({ min: 1, max: 20 }),
          frame: fc.integer({ min: 0, max: 9 }),
        }),
        { maxLength: 120 },
      ),
    ],
    { seed: 17, numRuns: 100 },
  )('agrees with a page-by-page Map under any mix of operations', (ops) => {
    const runs = new PageRuns(P);
    const model = new Map<number, number>();
    for (const o of ops) {
      const va = o.page * P;
      switch (o.op) {
        case 'set':
          runs.set(va, o.frame);
          model.set(va, o.frame);
          break;
        case 'delete':
          expect(runs.delete(va)).toBe(model.delete(va));
          break;
        case 'deleteRange':
          runs.deleteRange(va, va + o.len * P);
          for (let p = o.page; p < o.page + o.len; p++) model.delete(p * P);
          break;
        case 'addRange':
          runs.addRange(va, va + o.len * P);
          for (let p = o.page; p < o.page + o.len; p++) model.set(p * P, -1);
          break;
      }
    }
    same(runs, model, 120);
  });

  it('takes marks out, puts them back, and moves them by an offset (undo, mremap, fork)', () => {
    const f = new PageRuns(P);
    for (const p of [3, 4, 6, 9]) f.set(p * P, 100 + p);
    f.addRange(20 * P, 23 * P);
    const before = [...f.marks()];
    const taken = f.take(4 * P, 22 * P);
    expect([...f.marks()].map(([va]) => va / P)).toEqual([3, 22]);
    f.put(taken);
    expect([...f.marks()]).toEqual(before);
    // Moved 100 pages up, then moved back exactly.
    const moved = f.take(0, 30 * P);
    f.put(moved, 100 * P);
    expect([...f.marks()].map(([va, fr]) => [va / P - 100, fr])).toEqual(
      before.map(([va, fr]) => [va / P, fr]),
    );
    f.drop(moved, 100 * P);
    expect(f.size).toBe(0);
    f.put(moved);
    expect([...f.marks()]).toEqual(before);
    // A copy leaves the source as it was.
    const copy = new PageRuns(P);
    copy.put(f.runsIn(5 * P, 21 * P));
    expect([...copy.marks()].map(([va]) => va / P)).toEqual([6, 9, 20]);
    expect([...f.marks()]).toEqual(before);
  });

  it('clears a range without walking what is marked elsewhere, however much that is', () => {
    const g = new PageRuns(P);
    g.addRange(0, 2 ** 30); // 1 GiB of guard pages: one run
    const f = new PageRuns(P);
    for (let p = 0; p < 65536; p++) f.set(p * P, p);
    // What walking the marks would take (a page-by-page Set had to be copied whole): counted, not timed.
    const walks = [vi.spyOn(VmaTree.prototype, 'next'), vi.spyOn(VmaTree.prototype, Symbol.iterator)];
    try {
      for (let i = 0; i < 200; i++) {
        g.deleteRange(2 ** 31 + i * P, 2 ** 31 + (i + 1) * P);
        f.deleteRange(2 ** 31 + i * P, 2 ** 31 + (i + 1) * P);
      }
      expect(walks.map((w) => w.mock.calls.length)).toEqual([0, 0]);
    } finally {
      for (const w of walks) w.mockRestore();
    }
    expect(g.size).toBe(2 ** 30 / P);
    expect(f.size).toBe(65536);
    expect([...g.ranges()]).toEqual([[0, 2 ** 30]]);
    expect([...f.ranges()]).toEqual([[0, 65536 * P]]);
  });
});
