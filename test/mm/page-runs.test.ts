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

  it('counts only the pages it cuts off when it trims or splits a run of frames', () => {
    // Pages counted, summed over every count of a run's marks (`markedIn`, private): the work
    // of a cut, whatever the length of the run it cuts.
    const counter = PageRuns.prototype as unknown as {
      markedIn(r: unknown, from: number, to: number): number;
    };
    const f = new PageRuns(P);
    for (let p = 0; p < 65536; p++) f.set(p * P, p);
    const counted = vi.spyOn(counter, 'markedIn');
    const pages = (): number => counted.mock.calls.reduce((n, [, from, to]) => n + (to - from) / P, 0);
    // 200 one-page trims at the end of the run.
    for (let i = 0; i < 200; i++) f.deleteRange((65535 - i) * P, (65536 - i) * P);
    expect(pages()).toBe(200);
    expect(f.size).toBe(65336);
    // 200 one-page holes near its end: each counts the page it removes and the one page above it.
    counted.mockClear();
    for (let i = 0; i < 200; i++) f.deleteRange((65334 - 2 * i) * P, (65335 - 2 * i) * P);
    expect(pages()).toBe(400);
    expect(f.size).toBe(65136);
    expect([...f.ranges()].length).toBe(201);
    expect([...f.ranges()][0]).toEqual([0, 64936 * P]);
    expect(f.get(64935 * P)).toBe(64935);
    expect(f.get(64936 * P)).toBeUndefined();
    expect(f.get(64937 * P)).toBe(64937);
    // 200 one-page trims at the start: each counts its page and copies no frame of the rest.
    counted.mockClear();
    const copies = vi.spyOn(Float64Array.prototype, 'slice');
    for (let i = 0; i < 200; i++) f.deleteRange(i * P, (i + 1) * P);
    expect(pages()).toBe(200);
    expect(copies).not.toHaveBeenCalled();
    copies.mockRestore();
    counted.mockRestore();
    expect([...f.ranges()][0]).toEqual([200 * P, 64936 * P]);
    expect(f.get(199 * P)).toBeUndefined();
    expect(f.get(200 * P)).toBe(200);
    expect(f.get(64935 * P)).toBe(64935);
    expect(f.runsIn(200 * P, 203 * P)).toEqual([
      { start: 200 * P, end: 203 * P, frames: Float64Array.of(200, 201, 202) },
    ]);
    // The run still grows at its end, and keeps its frames when it does.
    const g = new PageRuns(P);
    for (let p = 0; p < 40; p++) g.set(p * P, 1000 + p);
    g.deleteRange(0, 30 * P);
    for (let p = 40; p < 100; p++) g.set(p * P, 1000 + p);
    expect([...g.ranges()]).toEqual([[30 * P, 100 * P]]);
    expect([...g.marks()]).toEqual(Array.from({ length: 70 }, (_, i) => [(30 + i) * P, 1030 + i]));
    // The counts stayed exact: clearing everything leaves nothing.
    f.deleteRange(0, 65536 * P);
    expect(f.size).toBe(0);
  });
});
