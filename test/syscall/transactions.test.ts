/**
 * Transactions everywhere: for scenarios of every syscall that split, merge, move, replace and
 * populate, every allocation the call makes (frames and page-table pages) is made to fail in turn,
 * on both architectures and in both paging modes. A call that reports the failure must leave the
 * address space, the page tables, the frames, the data, the commit charge, the guard markers and
 * the pages given up with MADV_FREE exactly as they were; the invariant checker runs after each.
 * The one exception is Linux's own: MADV_POPULATE keeps the pages it populated before the failure
 * (a prefix of the range), and MAP_POPULATE ignores a failure to populate.
 */

import {
  ENOMEM,
  Kernel,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type PagingMode,
  PROT_READ,
  PROT_WRITE,
  type Task,
  type VirtAddr,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { captureState } from '../support/state.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
const P = 4096;
/** Far from everything the scenarios map, so a move there needs page tables of its own. */
const FAR = 0x6000_0000_0000;

interface Scenario {
  name: string;
  /** Builds the starting state; returns addresses the call uses. */
  setup: (k: Kernel, t: Task) => Record<string, number>;
  /** The call under test; returns true when it reported failure. */
  call: (k: Kernel, t: Task, a: Record<string, number>) => boolean;
  /** The paging modes in which the call allocates, so that there are failures to inject. */
  allocates: readonly PagingMode[];
  /**
   * How a failure may show, beyond leaving no trace: 'prefix' (the call fails having populated a
   * prefix of [a.start, a.end)), 'ignored' (the call succeeds with some pages left unpopulated).
   */
  partial?: 'prefix' | 'ignored';
}

function fill(t: Task, addr: number, pages: number, seed: number): void {
  for (let p = 0; p < pages; p++) t.write(addr + p * P + 100, [seed, p & 0xff, (p >> 8) & 0xff]);
}

/** Gives a mapping with data a guard page and a page given up with MADV_FREE. */
function mark(k: Kernel, addr: number, guard: number, freed: number): void {
  expect(k.sys.madvise(addr + guard * P, P, MADV_GUARD_INSTALL)).toBe(0);
  expect(k.sys.madvise(addr + freed * P, P, MADV_FREE)).toBe(0);
}

const BOTH: readonly PagingMode[] = ['eager', 'demand'];
const EAGER: readonly PagingMode[] = ['eager'];
const NEITHER: readonly PagingMode[] = [];

const SCENARIOS: Scenario[] = [
  {
    name: 'mmap of 40 pages next to a mapping (merge)',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 8 * P, RW, ANON, -1, 0);
      fill(t, a, 8, 1);
      return { a };
    },
    call: (k) => k.sys.mmap(0, 40 * P, RW, ANON, -1, 0) === -ENOMEM,
    allocates: EAGER,
  },
  {
    name: 'MAP_FIXED over the middle of a mapping holding data (split + replace)',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 700 * P, RW, ANON, -1, 0);
      fill(t, a, 700, 2);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mmap(a + 100 * P, 520 * P, PROT_READ, ANON | MAP_FIXED, -1, 0) === -ENOMEM,
    allocates: EAGER,
  },
  {
    name: 'MAP_FIXED over a guard page and a page given up with MADV_FREE',
    setup: (k, t) => {
      const a = k.sys.mmap(0x2000_0000, 8 * P, RW, ANON | MAP_FIXED, -1, 0);
      fill(t, a, 8, 3);
      mark(k, a, 2, 5);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mmap(a + P, 6 * P, RW, ANON | MAP_FIXED, -1, 0) === -ENOMEM,
    allocates: EAGER,
  },
  {
    name: 'MAP_FIXED shared memory over two private mappings',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 6 * P, RW, ANON, -1, 0);
      const b = k.sys.mmap(0, 6 * P, PROT_READ, ANON, -1, 0);
      fill(t, a, 6, 4);
      return { a, b };
    },
    call: (k, _t, { b }) =>
      k.sys.mmap(b + 2 * P, 8 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) === -ENOMEM,
    allocates: EAGER,
  },
  {
    name: 'mmap with MAP_POPULATE far from anything mapped',
    setup: () => ({}),
    call: (k) => k.sys.mmap(FAR, 12 * P, RW, ANON | MAP_FIXED | MAP_POPULATE, -1, 0) === -ENOMEM,
    allocates: BOTH,
    partial: 'ignored',
  },
  {
    name: 'munmap punching a hole in a mapping holding data',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 16 * P, RW, ANON, -1, 0);
      fill(t, a, 16, 5);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.munmap(a + 4 * P, 4 * P) === -ENOMEM,
    allocates: NEITHER,
  },
  {
    name: 'mprotect of the middle of a mapping holding data (split)',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 16 * P, RW, ANON, -1, 0);
      fill(t, a, 16, 6);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mprotect(a + 4 * P, 4 * P, PROT_READ) === -ENOMEM,
    allocates: NEITHER,
  },
  {
    name: 'brk growing the heap by 30 pages',
    setup: (k, t) => {
      t.mm.startBrk = t.mm.brk = 0x1000_0000;
      k.sys.brk(0x1000_0000 + 5 * P);
      fill(t, 0x1000_0000, 5, 7);
      return {};
    },
    call: (k, t) => {
      const before = t.mm.brk;
      return k.sys.brk(0x1000_0000 + 35 * P) === before;
    },
    allocates: EAGER,
  },
  {
    name: 'mremap growing a mapping in place',
    setup: (k, t) => {
      const a = k.sys.mmap(0x4000_0000, 10 * P, RW, ANON, -1, 0);
      fill(t, a, 10, 8);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 10 * P, 30 * P, 0, 0) === -ENOMEM,
    allocates: EAGER,
  },
  {
    name: 'mremap moving and growing a mapping across a table boundary',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 600 * P, RW, ANON, -1, 0);
      k.sys.mmap(a + 600 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0);
      fill(t, a, 600, 9);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 600 * P, 620 * P, MREMAP_MAYMOVE, 0) === -ENOMEM,
    allocates: BOTH,
  },
  {
    name: 'mremap MREMAP_FIXED over the end of another mapping and past a table boundary',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 20 * P, RW, ANON, -1, 0);
      // b ends at a 2 MiB boundary: the target runs over its last 5 pages into a table not yet there.
      const b = k.sys.mmap(FAR + 0x20_0000 - 30 * P, 30 * P, PROT_READ, ANON | MAP_FIXED, -1, 0);
      fill(t, a, 20, 10);
      t.read(b + 27 * P, 1);
      mark(k, a, 5, 6);
      return { a, b };
    },
    call: (k, _t, { a, b }) => k.sys.mremap(a + 4 * P, 12 * P, 12 * P, MOVE, b + 25 * P) === -ENOMEM,
    allocates: BOTH,
  },
  {
    name: 'mremap of a range spanning three VMAs and two gaps to a fixed address far away',
    setup: (k, t) => {
      const a = k.sys.mmap(0x5000_0000, 24 * P, RW, ANON | MAP_FIXED, -1, 0);
      fill(t, a, 24, 11);
      k.sys.munmap(a + 6 * P, 2 * P);
      k.sys.munmap(a + 14 * P, P);
      k.sys.mprotect(a + 8 * P, 6 * P, PROT_READ);
      mark(k, a, 3, 4);
      expect(t.mm.mapCount).toBe(3);
      return { a };
    },
    call: (k, _t, { a }) =>
      k.sys.mremap(a + 2 * P, 20 * P, 20 * P, MOVE, FAR + 0x40_0000 - 5 * P) === -ENOMEM,
    allocates: BOTH,
  },
  {
    name: 'mremap shrinking a mapping and moving it far away',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 8 * P, RW, ANON, -1, 0);
      fill(t, a, 8, 12);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 8 * P, 3 * P, MOVE, FAR) === -ENOMEM,
    allocates: BOTH,
  },
  {
    name: 'mremap MREMAP_DONTUNMAP',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 16 * P, RW, ANON, -1, 0);
      fill(t, a, 16, 13);
      mark(k, a, 1, 2);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 16 * P, 16 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0) === -ENOMEM,
    allocates: NEITHER,
  },
  {
    name: 'mremap MREMAP_DONTUNMAP to a fixed address far away',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 16 * P, RW, ANON, -1, 0);
      fill(t, a, 16, 14);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 16 * P, 16 * P, MOVE | MREMAP_DONTUNMAP, FAR) === -ENOMEM,
    allocates: BOTH,
  },
  {
    name: 'MADV_POPULATE_WRITE of 20 pages far from anything mapped',
    setup: (k) => {
      const start = k.sys.mmap(FAR, 20 * P, RW, ANON | MAP_FIXED, -1, 0);
      return { start, end: start + 20 * P };
    },
    call: (k, _t, { start }) => k.sys.madvise(start, 20 * P, MADV_POPULATE_WRITE) === -ENOMEM,
    allocates: ['demand'],
    partial: 'prefix',
  },
];

/** Whether the pages of [start, end) that have a frame are exactly a prefix of the range. */
function populatedPrefix(t: Task, start: number, end: number): boolean {
  let va = start;
  while (va < end && t.mm.pageTable.translate(va as VirtAddr) >= 0) va += P;
  for (; va < end; va += P) if (t.mm.pageTable.translate(va as VirtAddr) >= 0) return false;
  return true;
}

describe.each(['eager', 'demand'] as PagingMode[])('transactions (%s paging)', (paging) => {
  describe.each(['aarch64', 'x86_64'] as const)('%s', (arch) => {
    const boot = () => {
      const k = new Kernel({ arch, paging, ramBytes: 16 * 2 ** 20 });
      const t = k.spawn();
      return { k, t };
    };

    it.each(SCENARIOS)('$name: every failing allocation leaves no trace', (scenario) => {
      // Learn how many allocations the call makes when nothing fails.
      const probe = boot();
      const args = scenario.setup(probe.k, probe.t);
      expect(probe.k.check()).toEqual([]);
      const before = probe.k.frames.allocations;
      expect(scenario.call(probe.k, probe.t, args)).toBe(false);
      const count = probe.k.frames.allocations - before;
      expect(probe.k.check()).toEqual([]);
      if (scenario.allocates.includes(paging)) expect(count).toBeGreaterThan(0);
      else expect(count).toBe(0);
      for (let n = 0; n < count; n++) {
        const { k, t } = boot();
        const a = scenario.setup(k, t);
        const state = captureState(k, t);
        k.frames.failAfter(n);
        const failed = scenario.call(k, t, a);
        expect(k.frames.failureArmed, `allocation ${n} was never made`).toBe(false);
        expect(k.check(), `after failing allocation ${n}`).toEqual([]);
        if (failed && scenario.partial === 'prefix') {
          expect(populatedPrefix(t, a.start, a.end)).toBe(true);
          expect(k.sys.madvise(a.start, a.end - a.start, MADV_POPULATE_WRITE)).toBe(0);
        } else if (failed) {
          expect(captureState(k, t), `after failing allocation ${n}`).toBe(state);
        } else {
          expect(scenario.partial, `the call succeeded although allocation ${n} failed`).toBe('ignored');
        }
      }
    });
  });
});
