import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type VmaBounds, VmaTree } from '../../src/mm/vma-tree.js';
import { mulberry32 as rng } from '../../tools/linux-harness/generate.js';

const P = 4096;

interface Vma extends VmaBounds {
  name: string;
}

const vma = (startPage: number, endPage: number, name = `${startPage}-${endPage}`): Vma => ({
  start: startPage * P,
  end: endPage * P,
  name,
});

function treeOf(...items: Vma[]): VmaTree<Vma> {
  const t = new VmaTree<Vma>();
  for (const v of items) t.insert(v);
  expect(t.check()).toEqual([]);
  return t;
}

// ---- reference model: a sorted array, every query a linear scan ------------------------------------

class Ref {
  items: Vma[] = [];

  overlaps(start: number, end: number, except?: Vma): boolean {
    return this.items.some((v) => v !== except && v.start < end && start < v.end);
  }
  /** Whether [start, end) stays strictly between v's neighbours (setBounds keeps the order). */
  fitsBetweenNeighbours(v: Vma, start: number, end: number): boolean {
    const i = this.items.indexOf(v);
    const prev = this.items[i - 1];
    const next = this.items[i + 1];
    return (prev === undefined || prev.end <= start) && (next === undefined || end <= next.start);
  }
  insert(v: Vma): void {
    const i = this.items.findIndex((x) => x.start > v.start);
    this.items.splice(i < 0 ? this.items.length : i, 0, v);
  }
  remove(v: Vma): void {
    this.items.splice(this.items.indexOf(v), 1);
  }
  find(addr: number): Vma | undefined {
    return this.items.find((v) => v.start <= addr && addr < v.end);
  }
  lowerBound(addr: number): Vma | undefined {
    return this.items.find((v) => v.end > addr);
  }
  prevBefore(addr: number): Vma | undefined {
    return this.items.filter((v) => v.end <= addr).at(-1);
  }
  firstIntersecting(start: number, end: number): Vma | undefined {
    return this.items.find((v) => start < end && v.start < end && start < v.end);
  }
  range(start: number, end: number): Vma[] {
    return this.items.filter((v) => start < end && v.start < end && start < v.end);
  }
  free(): [number, number][] {
    const out: [number, number][] = [];
    let prev = 0;
    for (const v of this.items) {
      if (v.start > prev) out.push([prev, v.start]);
      prev = v.end;
    }
    out.push([prev, Number.POSITIVE_INFINITY]);
    return out;
  }
  highestGap(low: number, high: number, length: number): number {
    for (const [fs, fe] of this.free().reverse()) {
      const a = Math.max(fs, low);
      const b = Math.min(fe, high);
      if (b - a >= length) return b;
    }
    return -1;
  }
  lowestGap(low: number, high: number, length: number): number {
    for (const [fs, fe] of this.free()) {
      const a = Math.max(fs, low);
      const b = Math.min(fe, high);
      if (b - a >= length) return a;
    }
    return -1;
  }
}

// ---- unit tests ------------------------------------------------------------------------------------

describe('VmaTree basics', () => {
  it('empty tree', () => {
    const t = new VmaTree<Vma>();
    expect(t.size).toBe(0);
    expect(t.find(0)).toBeUndefined();
    expect(t.lowerBound(0)).toBeUndefined();
    expect(t.prevBefore(P)).toBeUndefined();
    expect(t.firstIntersecting(0, 100 * P)).toBeUndefined();
    expect(t.first()).toBeUndefined();
    expect(t.last()).toBeUndefined();
    expect([...t]).toEqual([]);
    expect([...t.range(0, 1e18)]).toEqual([]);
    expect(t.toArray()).toEqual([]);
    expect(t.highestGap(0, 10 * P, 10 * P)).toBe(10 * P);
    expect(t.highestGap(0, 10 * P, 11 * P)).toBe(-1);
    expect(t.lowestGap(3 * P, 10 * P, 7 * P)).toBe(3 * P);
    expect(t.lowestGap(3 * P, 10 * P, 8 * P)).toBe(-1);
    expect(t.check()).toEqual([]);
  });

  it('insert keeps the caller objects and orders them', () => {
    const a = vma(10, 20);
    const b = vma(0, 5);
    const c = vma(20, 30); // adjacent to a
    const t = treeOf(a, b, c);
    expect(t.size).toBe(3);
    const items = [...t];
    expect(items).toEqual([b, a, c]);
    expect(items[1]).toBe(a);
    expect(t.first()).toBe(b);
    expect(t.last()).toBe(c);
    expect(t.has(a)).toBe(true);
    expect(t.has(vma(10, 20))).toBe(false);
  });

  it('insert rejects overlaps and bad bounds without changing the tree', () => {
    const t = treeOf(vma(10, 20), vma(30, 40));
    for (const bad of [vma(19, 21), vma(5, 11), vma(10, 20), vma(12, 13), vma(0, 100), vma(15, 35)]) {
      expect(() => t.insert(bad)).toThrow(/^VmaTree\.insert: overlap/);
    }
    expect(() => t.insert(vma(50, 50))).toThrow(/^VmaTree\.insert: invalid bounds/);
    expect(() => t.insert(vma(60, 55))).toThrow(/^VmaTree\.insert: invalid bounds/);
    expect(t.size).toBe(2);
    expect(t.check()).toEqual([]);
    t.insert(vma(20, 30)); // exactly fills the hole
    expect(t.size).toBe(3);
    expect(t.check()).toEqual([]);
  });

  it('remove by identity', () => {
    const a = vma(0, 1);
    const b = vma(1, 2);
    const c = vma(5, 9);
    const t = treeOf(a, b, c);
    expect(() => t.remove(vma(1, 2))).toThrow(/^VmaTree\.remove: not present/);
    expect(() => t.remove(vma(3, 4))).toThrow(/^VmaTree\.remove: not present/);
    t.remove(b);
    expect([...t]).toEqual([a, c]);
    expect(() => t.remove(b)).toThrow(/^VmaTree\.remove: not present/);
    t.remove(a);
    t.remove(c);
    expect(t.size).toBe(0);
    expect(t.first()).toBeUndefined();
    expect(t.check()).toEqual([]);
  });

  it('find, lowerBound, prevBefore (find_vma / find_vma_prev semantics)', () => {
    const a = vma(10, 20);
    const b = vma(20, 30);
    const c = vma(40, 50);
    const t = treeOf(a, b, c);
    expect(t.find(10 * P - 1)).toBeUndefined();
    expect(t.find(10 * P)).toBe(a);
    expect(t.find(20 * P - 1)).toBe(a);
    expect(t.find(20 * P)).toBe(b);
    expect(t.find(35 * P)).toBeUndefined();
    expect(t.find(50 * P)).toBeUndefined();

    expect(t.lowerBound(0)).toBe(a);
    expect(t.lowerBound(15 * P)).toBe(a);
    expect(t.lowerBound(20 * P)).toBe(b);
    expect(t.lowerBound(30 * P)).toBe(c);
    expect(t.lowerBound(50 * P - 1)).toBe(c);
    expect(t.lowerBound(50 * P)).toBeUndefined();

    expect(t.prevBefore(10 * P)).toBeUndefined();
    expect(t.prevBefore(15 * P)).toBeUndefined(); // inside a: a itself is not "before"
    expect(t.prevBefore(20 * P)).toBe(a);
    expect(t.prevBefore(25 * P)).toBe(a);
    expect(t.prevBefore(30 * P)).toBe(b);
    expect(t.prevBefore(45 * P)).toBe(b);
    expect(t.prevBefore(50 * P)).toBe(c);
    expect(t.prevBefore(1e15)).toBe(c);
  });

  it('firstIntersecting and range', () => {
    const a = vma(10, 20);
    const b = vma(20, 30);
    const c = vma(40, 50);
    const t = treeOf(a, b, c);
    expect(t.firstIntersecting(0, 10 * P)).toBeUndefined();
    expect(t.firstIntersecting(0, 10 * P + 1)).toBe(a);
    expect(t.firstIntersecting(20 * P, 45 * P)).toBe(b);
    expect(t.firstIntersecting(30 * P, 40 * P)).toBeUndefined();
    expect(t.firstIntersecting(15 * P, 15 * P)).toBeUndefined(); // empty range
    expect(t.firstIntersecting(50 * P, 60 * P)).toBeUndefined();
    expect([...t.range(0, 100 * P)]).toEqual([a, b, c]);
    expect([...t.range(19 * P, 41 * P)]).toEqual([a, b, c]);
    expect([...t.range(20 * P, 40 * P)]).toEqual([b]);
    expect([...t.range(30 * P, 40 * P)]).toEqual([]);
    expect([...t.range(15 * P, 15 * P)]).toEqual([]);
    const seen: Vma[] = [];
    t.forEachInRange(25 * P, 45 * P, (v) => seen.push(v));
    expect(seen).toEqual([b, c]);
  });

  it('next and prev', () => {
    const items = [vma(0, 1), vma(1, 2), vma(4, 8), vma(100, 200)];
    const t = treeOf(...items.slice().reverse());
    for (let i = 0; i < items.length; i++) {
      expect(t.next(items[i])).toBe(items[i + 1]);
      expect(t.prev(items[i])).toBe(items[i - 1]);
    }
    expect(() => t.next(vma(0, 1))).toThrow(/^VmaTree\.next: not present/);
    expect(() => t.prev(vma(9, 10))).toThrow(/^VmaTree\.prev: not present/);
  });

  it('setBounds: split, merge, expand, and rejected overlaps', () => {
    const a = vma(10, 20);
    const b = vma(30, 40);
    const t = treeOf(a, b);
    // split a at 15
    t.setBounds(a, 10 * P, 15 * P);
    expect(a.start).toBe(10 * P);
    expect(a.end).toBe(15 * P);
    const a2 = vma(15, 20);
    t.insert(a2);
    expect(t.check()).toEqual([]);
    // merge back
    t.remove(a2);
    t.setBounds(a, 10 * P, 20 * P);
    expect(t.check()).toEqual([]);
    // expand a up to b exactly, then down to 0
    t.setBounds(a, 0, 30 * P);
    expect(t.check()).toEqual([]);
    expect(t.lowestGap(0, 100 * P, P)).toBe(40 * P);
    expect(() => t.setBounds(a, 0, 31 * P)).toThrow(/^VmaTree\.setBounds: overlap/);
    expect(() => t.setBounds(b, 29 * P, 40 * P)).toThrow(/^VmaTree\.setBounds: overlap/);
    expect(() => t.setBounds(b, 40 * P, 40 * P)).toThrow(/^VmaTree\.setBounds: invalid bounds/);
    expect(() => t.setBounds(vma(30, 40), 30 * P, 40 * P)).toThrow(/^VmaTree\.setBounds: not present/);
    expect(a.end).toBe(30 * P);
    expect(b.start).toBe(30 * P);
    // move b far above, keeping its order
    t.setBounds(b, 2 ** 47 - 10 * P, 2 ** 47);
    expect(t.find(2 ** 47 - P)).toBe(b);
    expect(t.find(35 * P)).toBeUndefined();
    expect(t.check()).toEqual([]);
  });

  it('setBounds refuses bounds past a neighbour, even ones that overlap nothing', () => {
    // Found by a random seed of the property below: [3, 4) moved to [0, 1) would jump over [1, 2).
    const high = vma(3, 4);
    const low = vma(1, 2);
    const t = treeOf(high, low);
    expect(() => t.setBounds(high, 0, P)).toThrow(/^VmaTree\.setBounds: overlap/);
    expect([high.start, high.end]).toEqual([3 * P, 4 * P]);
    expect([...t]).toEqual([low, high]);
    expect(t.check()).toEqual([]);
  });

  it('check reports bounds changed behind the tree', () => {
    const a = vma(10, 20);
    const t = treeOf(a, vma(30, 40));
    a.end = 25 * P;
    expect(t.check().join('\n')).toMatch(/changed behind/);
  });

  it('clear', () => {
    const t = treeOf(vma(1, 2), vma(3, 4));
    t.clear();
    expect(t.size).toBe(0);
    expect([...t]).toEqual([]);
    expect(t.check()).toEqual([]);
    t.insert(vma(1, 2));
    expect(t.size).toBe(1);
  });
});

describe('VmaTree gap search', () => {
  // Items [10,20) [20,30) [40,50) [53,60): free [0,10) [30,40) [50,53) [60,inf)
  const t = treeOf(vma(10, 20), vma(20, 30), vma(40, 50), vma(53, 60));

  it('highestGap: top gap, clipped by high', () => {
    expect(t.highestGap(0, 100 * P, P)).toBe(100 * P);
    expect(t.highestGap(0, 100 * P, 40 * P)).toBe(100 * P); // [60,100) exactly 40
    expect(t.highestGap(0, 100 * P, 41 * P)).toBe(-1);
    expect(t.highestGap(0, 1e18, 2 ** 50)).toBe(1e18);
  });

  it('highestGap: interior gaps, exact length, high inside a gap', () => {
    expect(t.highestGap(0, 60 * P, P)).toBe(53 * P);
    expect(t.highestGap(0, 60 * P, 3 * P)).toBe(53 * P); // exact fit
    expect(t.highestGap(0, 60 * P, 4 * P)).toBe(40 * P);
    expect(t.highestGap(0, 60 * P, 10 * P)).toBe(40 * P);
    expect(t.highestGap(0, 60 * P, 11 * P)).toBe(-1);
    expect(t.highestGap(0, 52 * P, 2 * P)).toBe(52 * P); // high clips [50,53) to [50,52)
    expect(t.highestGap(0, 52 * P, 3 * P)).toBe(40 * P);
    expect(t.highestGap(0, 35 * P, 5 * P)).toBe(35 * P); // [30,35)
    expect(t.highestGap(0, 35 * P, 6 * P)).toBe(10 * P); // bottom gap [0,10)
  });

  it('highestGap: low clipping and the gap at 0', () => {
    expect(t.highestGap(0, 30 * P, 10 * P)).toBe(10 * P);
    expect(t.highestGap(P, 30 * P, 10 * P)).toBe(-1);
    expect(t.highestGap(P, 30 * P, 9 * P)).toBe(10 * P);
    expect(t.highestGap(32 * P, 45 * P, 8 * P)).toBe(40 * P); // [32,40)
    expect(t.highestGap(32 * P, 45 * P, 9 * P)).toBe(-1);
    expect(t.highestGap(55 * P, 62 * P, 2 * P)).toBe(62 * P); // top gap clipped on both sides
    expect(t.highestGap(55 * P, 62 * P, 3 * P)).toBe(-1);
    expect(t.highestGap(10 * P, 30 * P, P)).toBe(-1); // entirely mapped
    expect(t.highestGap(20 * P, 10 * P, P)).toBe(-1); // inverted window
  });

  it('lowestGap mirrors highestGap', () => {
    expect(t.lowestGap(0, 100 * P, P)).toBe(0);
    expect(t.lowestGap(0, 100 * P, 10 * P)).toBe(0); // exact fit at 0
    expect(t.lowestGap(0, 100 * P, 11 * P)).toBe(60 * P);
    expect(t.lowestGap(5 * P, 100 * P, 5 * P)).toBe(5 * P);
    expect(t.lowestGap(5 * P, 100 * P, 6 * P)).toBe(30 * P);
    expect(t.lowestGap(31 * P, 100 * P, 3 * P)).toBe(31 * P);
    expect(t.lowestGap(31 * P, 100 * P, 10 * P)).toBe(60 * P);
    expect(t.lowestGap(38 * P, 100 * P, 3 * P)).toBe(50 * P);
    expect(t.lowestGap(38 * P, 52 * P, 3 * P)).toBe(-1);
    expect(t.lowestGap(10 * P, 30 * P, P)).toBe(-1);
    expect(t.lowestGap(60 * P, 61 * P, P)).toBe(60 * P);
    expect(t.lowestGap(0, 1e18, 2 ** 50)).toBe(60 * P);
  });

  it('rejects non-positive lengths', () => {
    expect(() => t.highestGap(0, P, 0)).toThrow(RangeError);
    expect(() => t.lowestGap(0, P, -1)).toThrow(RangeError);
  });

  it('items at 0 and adjacent items leave no gap', () => {
    const u = treeOf(vma(0, 5), vma(5, 9));
    expect(u.highestGap(0, 9 * P, P)).toBe(-1);
    expect(u.lowestGap(0, 9 * P, P)).toBe(-1);
    expect(u.lowestGap(0, 10 * P, P)).toBe(9 * P);
    expect(u.highestGap(0, 10 * P, P)).toBe(10 * P);
  });

  it('large trees: gaps found in O(log n) and agree with the model', () => {
    const big = new VmaTree<Vma>();
    const ref = new Ref();
    for (let i = 0; i < 5000; i++) {
      const v = vma(i * 3, i * 3 + 2); // 1-page gaps
      big.insert(v);
      ref.insert(v);
    }
    const hole = [...big].find((v) => v.start === 3 * 1234 * P)!;
    big.remove(hole);
    ref.remove(hole);
    expect(big.check()).toEqual([]);
    expect(big.highestGap(0, 3 * 5000 * P, 2 * P)).toBe(ref.highestGap(0, 3 * 5000 * P, 2 * P));
    expect(big.highestGap(0, 3 * 5000 * P, 2 * P)).toBe(3 * 1235 * P);
    expect(big.lowestGap(0, 3 * 5000 * P, 2 * P)).toBe(3 * 1233 * P + 2 * P);
    expect(big.highestGap(0, 3 * 1000 * P, 2 * P)).toBe(-1);
  });
});

// ---- property tests --------------------------------------------------------------------------------

const HIGH_BASE = 2 ** 47 - 64 * P;
/** Page numbers 0..127 map to low addresses; 128..191 to addresses just below and above 2^47. */
const pageAddr = (p: number): number => (p < 128 ? p * P : HIGH_BASE + (p - 128) * P);
const arbPage = fc.integer({ min: 0, max: 191 });

type Op =
  | { kind: 'insert'; page: number; len: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'removeStranger'; page: number }
  | { kind: 'setBounds'; pick: number; dStart: number; dEnd: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      page: arbPage,
      len: fc.integer({ min: 1, max: 12 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeStranger' as const), page: arbPage }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('setBounds' as const),
      pick: fc.nat(),
      dStart: fc.integer({ min: -4, max: 4 }),
      dEnd: fc.integer({ min: -4, max: 4 }),
    }),
  },
);

const arbQuery = fc.record({
  addr: fc.oneof(
    arbPage.map(pageAddr),
    fc.tuple(arbPage, fc.integer({ min: -1, max: 1 })).map(([p, d]) => pageAddr(p) + d),
  ),
  low: arbPage.map(pageAddr),
  high: fc.oneof(arbPage.map(pageAddr), fc.constant(2 ** 57), fc.constant(Number.POSITIVE_INFINITY)),
  len: fc.oneof(
    fc.integer({ min: 1, max: 16 }).map((n) => n * P),
    fc.constant(2 ** 46),
    fc.constant(1),
  ),
});

function compare(
  t: VmaTree<Vma>,
  ref: Ref,
  queries: { addr: number; low: number; high: number; len: number }[],
): void {
  expect(t.check()).toEqual([]);
  expect(t.size).toBe(ref.items.length);
  const items = [...t];
  expect(items.length).toBe(ref.items.length);
  for (let i = 0; i < items.length; i++) expect(items[i]).toBe(ref.items[i]);
  expect(t.first()).toBe(ref.items[0]);
  expect(t.last()).toBe(ref.items.at(-1));
  for (let i = 0; i < items.length; i++) {
    expect(t.next(ref.items[i])).toBe(ref.items[i + 1]);
    expect(t.prev(ref.items[i])).toBe(ref.items[i - 1]);
  }
  for (const q of queries) {
    const { addr, low, high, len } = q;
    expect(t.find(addr)).toBe(ref.find(addr));
    expect(t.lowerBound(addr)).toBe(ref.lowerBound(addr));
    expect(t.prevBefore(addr)).toBe(ref.prevBefore(addr));
    expect(t.firstIntersecting(low, high)).toBe(ref.firstIntersecting(low, high));
    expect([...t.range(low, high)]).toEqual(ref.range(low, high));
    expect(t.highestGap(low, high, len)).toBe(ref.highestGap(low, high, len));
    expect(t.lowestGap(low, high, len)).toBe(ref.lowestGap(low, high, len));
  }
}

describe('VmaTree against a sorted-array model', () => {
  it('random insert/remove/setBounds sequences', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbOp, fc.array(arbQuery, { minLength: 1, maxLength: 4 })), { maxLength: 80 }),
        (steps) => {
          const t = new VmaTree<Vma>();
          const ref = new Ref();
          for (const [op, queries] of steps) {
            switch (op.kind) {
              case 'insert': {
                const start = pageAddr(op.page);
                const v: Vma = { start, end: start + op.len * P, name: 'x' };
                if (ref.overlaps(v.start, v.end)) {
                  expect(() => t.insert(v)).toThrow(/^VmaTree\.insert: overlap/);
                } else {
                  t.insert(v);
                  ref.insert(v);
                }
                break;
              }
              case 'remove': {
                if (ref.items.length === 0) break;
                const v = ref.items[op.pick % ref.items.length];
                t.remove(v);
                ref.remove(v);
                break;
              }
              case 'removeStranger': {
                const start = pageAddr(op.page);
                const v: Vma = { start, end: start + P, name: 'stranger' };
                expect(() => t.remove(v)).toThrow(/^VmaTree\.remove: not present/);
                break;
              }
              case 'setBounds': {
                if (ref.items.length === 0) break;
                const v = ref.items[op.pick % ref.items.length];
                const start = v.start + op.dStart * P;
                const end = v.end + op.dEnd * P;
                if (start < 0) break;
                const old = [v.start, v.end];
                if (!(start < end)) {
                  expect(() => t.setBounds(v, start, end)).toThrow(/^VmaTree\.setBounds: invalid bounds/);
                } else if (!ref.fitsBetweenNeighbours(v, start, end)) {
                  expect(() => t.setBounds(v, start, end)).toThrow(/^VmaTree\.setBounds: overlap/);
                  expect([v.start, v.end]).toEqual(old);
                } else {
                  t.setBounds(v, start, end);
                  expect([v.start, v.end]).toEqual([start, end]);
                }
                break;
              }
            }
            compare(t, ref, queries);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('dense trees: many inserts then random removals', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbPage, fc.integer({ min: 1, max: 3 })), { minLength: 50, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 100 }),
        fc.array(arbQuery, { minLength: 8, maxLength: 8 }),
        (ins, rem, queries) => {
          const t = new VmaTree<Vma>();
          const ref = new Ref();
          for (const [page, len] of ins) {
            const v: Vma = { start: pageAddr(page), end: pageAddr(page) + len * P, name: 'd' };
            if (ref.overlaps(v.start, v.end)) continue;
            t.insert(v);
            ref.insert(v);
          }
          compare(t, ref, queries);
          for (const r of rem) {
            if (ref.items.length === 0) break;
            const v = ref.items[r % ref.items.length];
            t.remove(v);
            ref.remove(v);
            expect(t.check()).toEqual([]);
          }
          compare(t, ref, queries);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---- deep trees: node splits, merges and refills at every level ------------------------------------

describe('VmaTree with thousands of items', () => {
  it.each([1, 2])('agrees with the model through growth to depth 4 and shrinking back (seed %i)', (seed) => {
    const random = rng(seed);
    const t = new VmaTree<Vma>();
    const ref = new Ref();
    const SPACE = 40_000;
    const queries = () =>
      Array.from({ length: 6 }, () => {
        const low = Math.floor(random() * SPACE) * P;
        return {
          addr: Math.floor(random() * SPACE) * P + (random() < 0.3 ? 1 : 0),
          low,
          high: random() < 0.2 ? Number.POSITIVE_INFINITY : low + Math.floor(random() * 2000) * P,
          len: (1 + Math.floor(random() * 6)) * P,
        };
      });
    const step = (phase: 'grow' | 'shrink') => {
      const r = random();
      if (phase === 'grow' ? r < 0.7 : r < 0.2) {
        const page = Math.floor(random() * SPACE);
        const v: Vma = { start: page * P, end: (page + 1 + Math.floor(random() * 3)) * P, name: 'g' };
        if (ref.overlaps(v.start, v.end)) expect(() => t.insert(v)).toThrow(/^VmaTree\.insert: overlap/);
        else {
          t.insert(v);
          ref.insert(v);
        }
      } else if (r < 0.85 && ref.items.length > 0) {
        const v = ref.items[Math.floor(random() * ref.items.length)];
        t.remove(v);
        ref.remove(v);
        expect(v.treeNode).toBeUndefined();
      } else if (ref.items.length > 0) {
        const v = ref.items[Math.floor(random() * ref.items.length)];
        const start = v.start + (Math.floor(random() * 5) - 2) * P;
        const end = v.end + (Math.floor(random() * 5) - 2) * P;
        const i = ref.items.indexOf(v);
        const below = ref.items[i - 1];
        const above = ref.items[i + 1];
        if (start < 0 || !(start < end)) return;
        // New bounds must stay between the neighbours: overlapping or passing one is refused.
        if ((below === undefined || below.end <= start) && (above === undefined || end <= above.start))
          t.setBounds(v, start, end);
        else expect(() => t.setBounds(v, start, end)).toThrow(/^VmaTree\.setBounds: overlap/);
      }
    };
    for (let i = 0; i < 8_000; i++) {
      step('grow');
      if (i % 3000 === 0) compare(t, ref, queries());
    }
    compare(t, ref, queries());
    expect(t.size).toBeGreaterThan(3000);
    for (let i = 0; t.size > 0 && i < 30_000; i++) {
      step('shrink');
      if (i % 3000 === 0) compare(t, ref, queries());
    }
    compare(t, ref, queries());
  });

  it('stays sound under the patterns of real address spaces: top-down allocation, splits, merges', () => {
    const t = new VmaTree<Vma>();
    const ref = new Ref();
    // Top-down: each new mapping goes right below the previous one, as mmap places them.
    for (let i = 0; i < 5000; i++) {
      const top = 100_000 - 2 * i;
      const v = vma(top - 1, top);
      t.insert(v);
      ref.insert(v);
    }
    compare(t, ref, [{ addr: 95_000 * P, low: 0, high: 200_000 * P, len: P }]);
    // Split every item in two, then merge them back, as mprotect does.
    for (const v of [...ref.items]) {
      const mid = v.start + P / 2;
      const upper: Vma = { start: mid, end: v.end, name: 'u' };
      t.setBounds(v, v.start, mid);
      t.insert(upper);
      ref.insert(upper);
    }
    compare(t, ref, [{ addr: 95_000 * P + P / 2, low: 0, high: 200_000 * P, len: P }]);
    for (const u of ref.items.filter((v) => v.name === 'u')) {
      const lower = t.prev(u)!;
      t.remove(u);
      ref.remove(u);
      t.setBounds(lower, lower.start, u.end);
    }
    compare(t, ref, [{ addr: 91_111 * P, low: 90_000 * P, high: 95_000 * P, len: P }]);
    expect(t.size).toBe(5000);
  });
});

describe('VmaTree node handles', () => {
  it('an item is in one tree at a time, and its handle goes with it', () => {
    const a = new VmaTree<Vma>();
    const b = new VmaTree<Vma>();
    const v = vma(1, 2);
    a.insert(v);
    expect(v.treeNode).toBeDefined();
    expect(b.has(v)).toBe(false);
    expect(() => b.insert(v)).toThrow(/^VmaTree\.insert: the item is in another tree/);
    expect(() => b.remove(v)).toThrow(/^VmaTree\.remove: not present/);
    expect(() => b.next(v)).toThrow(/^VmaTree\.next: not present/);
    expect(() => a.insert(v)).toThrow(/^VmaTree\.insert: overlap/);
    a.remove(v);
    expect(v.treeNode).toBeUndefined();
    b.insert(v);
    expect(b.has(v)).toBe(true);
    expect(a.has(v)).toBe(false);
    b.clear();
    expect(v.treeNode).toBeUndefined();
    expect(b.size).toBe(0);
    expect(b.check()).toEqual([]);
    a.insert(v);
    expect(a.check()).toEqual([]);
  });
});
