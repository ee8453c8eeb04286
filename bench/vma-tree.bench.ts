/**
 * VmaTree micro-benchmarks (mitata): median ns per operation at n = 16, 1024 and 65,530 mappings,
 * side by side with a plain sorted array with binary search (the obvious alternative).
 *
 *   npx tsx bench/vma-tree.bench.ts            (add --quick for a fast, noisier run)
 *
 * Layout: n mappings of 2 pages, each followed by a 2-page hole; one mapping near the bottom is
 * removed, leaving a single 6-page hole. Operations:
 *   find            find(addr) for a random mapped address
 *   insert          insert a 1-page mapping into a random hole (timed in batches of K, undone untimed)
 *   remove          remove a random mapping (timed in batches of K, reinserted untimed)
 *   split           setBounds(v, start, mid) + insert([mid, end)) on a random mapping (merged back untimed)
 *   gap near        highestGap(0, a random mapping's start, 2 pages): the hole right below `high`
 *   gap far         highestGap(0, a random address, 4 pages): only the 6-page hole at the bottom fits
 *   next(v)         item -> node lookup + successor
 */
import { bench, do_not_optimize, run } from 'mitata';
import { type VmaBounds, VmaTree } from '../src/mm/vma-tree.js';

const P = 4096;
const QUICK = process.argv.includes('--quick');

interface Vma extends VmaBounds {
  flags: number;
}

// ---- the baseline: a sorted array with binary search --------------------------------------------

class SortedArrayVmas<V extends VmaBounds> {
  items: V[] = [];

  /** Index of the first item whose end > addr. */
  private lowerIndex(addr: number): number {
    const a = this.items;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid].end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private indexOf(v: V): number {
    const i = this.lowerIndex(v.start);
    if (this.items[i] !== v) throw new Error('SortedArrayVmas: not present');
    return i;
  }

  find(addr: number): V | undefined {
    const v = this.items[this.lowerIndex(addr)];
    return v !== undefined && v.start <= addr ? v : undefined;
  }

  insert(v: V): void {
    const i = this.lowerIndex(v.start);
    const a = this.items;
    if ((i < a.length && a[i].start < v.end) || (i > 0 && a[i - 1].end > v.start)) throw new Error('overlap');
    a.splice(i, 0, v);
  }

  remove(v: V): void {
    this.items.splice(this.indexOf(v), 1);
  }

  next(v: V): V | undefined {
    return this.items[this.indexOf(v) + 1];
  }

  setBounds(v: V, start: number, end: number): void {
    const i = this.indexOf(v);
    const a = this.items;
    if ((i > 0 && a[i - 1].end > start) || (i + 1 < a.length && a[i + 1].start < end))
      throw new Error('overlap');
    v.start = start;
    v.end = end;
  }

  highestGap(low: number, high: number, length: number): number {
    const a = this.items;
    let i = this.lowerIndex(high) - 1; // last item with end <= high... or containing high - 1
    // Free range above a[i]: [a[i].end, a[i + 1].start or +inf).
    for (; i >= -1; i--) {
      const fs = i >= 0 ? a[i].end : 0;
      const fe = i + 1 < a.length ? a[i + 1].start : Number.POSITIVE_INFINITY;
      const b = Math.min(fe, high);
      if (b - Math.max(fs, low) >= length) return b;
      if (fs <= low) break;
    }
    return -1;
  }
}

// ---- workload ------------------------------------------------------------------------------------

let seed = 0x2545f491;
function rand(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

function shuffled<T>(xs: T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

interface Impl {
  insert(v: Vma): void;
  remove(v: Vma): void;
  find(addr: number): Vma | undefined;
  next(v: Vma): Vma | undefined;
  setBounds(v: Vma, start: number, end: number): void;
  highestGap(low: number, high: number, length: number): number;
}

const BASE = 0x5555_0000_0000; // somewhere mid-way in a 47-bit address space
const vmaAt = (page: number, pages: number): Vma => ({
  start: BASE + page * P,
  end: BASE + (page + pages) * P,
  flags: 0,
});

/** Builds n mappings [4i, 4i+2) pages, inserted in random order, minus one near the bottom. */
function build(impl: Impl, n: number): Vma[] {
  const all: Vma[] = [];
  for (let i = 0; i < n; i++) all.push(vmaAt(4 * i, 2));
  for (const v of shuffled(all)) impl.insert(v);
  const holeIdx = n >= 4 ? 1 : 0;
  impl.remove(all[holeIdx]);
  all.splice(holeIdx, 1);
  return all;
}

const SAMPLES = 4096; // pre-drawn random operands per benchmark, cycled (power of two)
let sink = 0;

/** Per-call overhead of the clock pair used by manual timing, in ns (median). */
function clockOverhead(): number {
  const xs: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const t0 = performance.now();
    const t1 = performance.now();
    xs.push((t1 - t0) * 1e6);
  }
  xs.sort((a, b) => a - b);
  return xs[xs.length >> 1];
}
const OVH = clockOverhead();

type Row = { op: string; n: number; impl: string };
const rows: Row[] = [];

function register(implName: string, make: () => Impl, n: number): void {
  const impl = make();
  const items = build(impl, n);
  const m = items.length;
  const k = n <= 16 ? 4 : n <= 1024 ? 16 : 32; // batch size for the mutating benchmarks
  const pickItems = Array.from({ length: SAMPLES }, () => items[rand(m)]);
  const mappedAddrs = pickItems.map((v) => v.start + P);
  const highs = Array.from({ length: SAMPLES }, () => items[rand(m)].start);
  const farHighs = Array.from({ length: SAMPLES }, () => BASE + 4 * (2 + rand(Math.max(1, n - 2))) * P);
  // Batches of K distinct fresh 1-page mappings in distinct holes / K distinct existing mappings.
  const batches = (draw: () => Vma[]): Vma[][] => Array.from({ length: 256 }, draw);
  const distinct = (count: number, from: (i: number) => Vma): Vma[] => {
    const seen = new Set<number>();
    const out: Vma[] = [];
    while (out.length < count) {
      const i = rand(m);
      if (seen.has(i)) continue;
      seen.add(i);
      out.push(from(i));
    }
    return out;
  };
  const insBatches = batches(() =>
    distinct(k, (i) => ({ start: items[i].end, end: items[i].end + P, flags: 1 })),
  );
  const remBatches = batches(() => distinct(k, (i) => items[i]));
  let q = 0;
  const tag = (op: string): string => {
    rows.push({ op, n, impl: implName });
    return `${op} n=${n} ${implName}`;
  };

  bench(tag('find'), () => {
    do_not_optimize(impl.find(mappedAddrs[q++ & (SAMPLES - 1)]));
  });
  bench(tag('gap near'), () => {
    do_not_optimize(impl.highestGap(0, highs[q++ & (SAMPLES - 1)], 2 * P));
  });
  bench(tag('gap far'), () => {
    do_not_optimize(impl.highestGap(0, farHighs[q++ & (SAMPLES - 1)], 4 * P));
  });
  bench(tag('next(v)'), () => {
    do_not_optimize(impl.next(pickItems[q++ & (SAMPLES - 1)]));
  });
  bench(tag('insert'), function* () {
    yield {
      manual() {
        const b = insBatches[q++ & 255];
        const t0 = performance.now();
        for (let i = 0; i < b.length; i++) impl.insert(b[i]);
        const t1 = performance.now();
        for (let i = 0; i < b.length; i++) impl.remove(b[i]);
        return ((t1 - t0) * 1e6 - OVH) / b.length;
      },
    };
  });
  bench(tag('remove'), function* () {
    yield {
      manual() {
        const b = remBatches[q++ & 255];
        const t0 = performance.now();
        for (let i = 0; i < b.length; i++) impl.remove(b[i]);
        const t1 = performance.now();
        for (let i = 0; i < b.length; i++) impl.insert(b[i]);
        return ((t1 - t0) * 1e6 - OVH) / b.length;
      },
    };
  });
  bench(tag('split'), function* () {
    yield {
      manual() {
        const b = remBatches[q++ & 255];
        const tails: Vma[] = [];
        for (let i = 0; i < b.length; i++) tails.push({ start: b[i].start + P, end: b[i].end, flags: 2 });
        const t0 = performance.now();
        for (let i = 0; i < b.length; i++) {
          const v = b[i];
          impl.setBounds(v, v.start, v.start + P);
          impl.insert(tails[i]);
        }
        const t1 = performance.now();
        for (let i = 0; i < b.length; i++) {
          impl.remove(tails[i]);
          impl.setBounds(b[i], b[i].start, tails[i].end);
        }
        sink += tails.length;
        return ((t1 - t0) * 1e6 - OVH) / b.length;
      },
    };
  });
}

const SIZES = [16, 1024, 65530];
for (const n of SIZES) {
  register('tree', () => new VmaTree<Vma>(), n);
  register('array', () => new SortedArrayVmas<Vma>(), n);
}

const result = await run({
  format: 'quiet',
  ...(QUICK ? { min_cpu_time: 50e6 } : {}),
  throw: true,
} as Parameters<typeof run>[0]);

const median = new Map<string, number>();
for (const b of result.benchmarks) {
  const r = b.runs[0];
  if (r?.stats) median.set(r.name, r.stats.p50);
}

const OPS = ['find', 'insert', 'remove', 'split', 'gap near', 'gap far', 'next(v)'];
const fmt = (x: number | undefined): string => (x === undefined ? '?' : x < 10 ? x.toFixed(1) : x.toFixed(0));
const header = ['op', ...SIZES.flatMap((n) => [`tree n=${n}`, `array n=${n}`])];
const table = OPS.map((op) => [
  op,
  ...SIZES.flatMap((n) => ['tree', 'array'].map((impl) => fmt(median.get(`${op} n=${n} ${impl}`)))),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]): string =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`median ns per operation (clock overhead ${OVH.toFixed(0)} ns subtracted from batched timings)`);
console.log(line(header));
for (const r of table) console.log(line(r));
if (sink < 0) console.log(rows.length);
