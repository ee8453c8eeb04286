/**
 * Transactions everywhere: for scenarios that split, merge, move and replace, every allocation a
 * syscall makes (frames and page-table pages) is made to fail in turn; each failure must leave the
 * address space, the page tables, the data and the frame counts exactly as they were.
 */

import {
  ENOMEM,
  Kernel,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type PagingMode,
  PROT_READ,
  PROT_WRITE,
  type Task,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { captureState } from '../support/state.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

interface Scenario {
  name: string;
  /** Builds the starting state; returns addresses the call uses. */
  setup: (k: Kernel, t: Task) => Record<string, number>;
  /** The call under test; returns true when it reported failure. */
  call: (k: Kernel, t: Task, a: Record<string, number>) => boolean;
}

function fill(t: Task, addr: number, pages: number, seed: number): void {
  for (let p = 0; p < pages; p++) t.write(addr + p * P + 100, [seed, p & 0xff, (p >> 8) & 0xff]);
}

const SCENARIOS: Scenario[] = [
  {
    name: 'mmap of 40 pages next to a mapping (merge)',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 8 * P, RW, ANON, -1, 0);
      fill(t, a, 8, 1);
      return { a };
    },
    call: (k) => k.sys.mmap(0, 40 * P, RW, ANON, -1, 0) === -ENOMEM,
  },
  {
    name: 'MAP_FIXED over the middle of a mapping holding data (split + replace)',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 700 * P, RW, ANON, -1, 0);
      fill(t, a, 700, 2);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mmap(a + 100 * P, 520 * P, PROT_READ, ANON | MAP_FIXED, -1, 0) === -ENOMEM,
  },
  {
    name: 'MAP_FIXED shared memory over two private mappings',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 6 * P, RW, ANON, -1, 0);
      const b = k.sys.mmap(0, 6 * P, PROT_READ, ANON, -1, 0);
      fill(t, a, 6, 3);
      return { a, b };
    },
    call: (k, _t, { b }) =>
      k.sys.mmap(b + 2 * P, 8 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) === -ENOMEM,
  },
  {
    name: 'mremap growing a mapping in place',
    setup: (k, t) => {
      const a = k.sys.mmap(0x4000_0000, 10 * P, RW, ANON, -1, 0);
      fill(t, a, 10, 4);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 10 * P, 30 * P, 0, 0) === -ENOMEM,
  },
  {
    name: 'mremap moving and growing a mapping across a table boundary',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 600 * P, RW, ANON, -1, 0);
      k.sys.mmap(a + 600 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0);
      fill(t, a, 600, 5);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 600 * P, 620 * P, MREMAP_MAYMOVE, 0) === -ENOMEM,
  },
  {
    name: 'mremap MREMAP_FIXED over another mapping',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 20 * P, RW, ANON, -1, 0);
      const b = k.sys.mmap(0x5000_0000, 30 * P, PROT_READ, ANON | MAP_FIXED, -1, 0);
      fill(t, a, 20, 6);
      return { a, b };
    },
    call: (k, _t, { a, b }) =>
      k.sys.mremap(a + 4 * P, 12 * P, 12 * P, MREMAP_MAYMOVE | MREMAP_FIXED, b + 7 * P) === -ENOMEM,
  },
  {
    name: 'mremap MREMAP_DONTUNMAP',
    setup: (k, t) => {
      const a = k.sys.mmap(0, 16 * P, RW, ANON, -1, 0);
      fill(t, a, 16, 7);
      return { a };
    },
    call: (k, _t, { a }) => k.sys.mremap(a, 16 * P, 16 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0) === -ENOMEM,
  },
  {
    name: 'brk growing the heap by 30 pages',
    setup: (k, t) => {
      t.mm.startBrk = t.mm.brk = 0x1000_0000;
      k.sys.brk(0x1000_0000 + 5 * P);
      fill(t, 0x1000_0000, 5, 8);
      return {};
    },
    call: (k, t) => {
      const before = t.mm.brk;
      return k.sys.brk(0x1000_0000 + 35 * P) === before;
    },
  },
];

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
      const before = probe.k.frames.allocations;
      expect(scenario.call(probe.k, probe.t, args)).toBe(false);
      const count = probe.k.frames.allocations - before;
      expect(probe.k.check()).toEqual([]);
      for (let n = 0; n < count; n++) {
        const { k, t } = boot();
        const a = scenario.setup(k, t);
        const state = captureState(k, t);
        k.frames.failAfter(n);
        const failed = scenario.call(k, t, a);
        expect(k.check()).toEqual([]);
        if (failed) expect(captureState(k, t)).toBe(state);
        else expect(k.frames.failureArmed).toBe(false);
      }
      // Eager paging allocates in every one of these calls, so each injected failure must be seen.
      if (paging === 'eager' && !scenario.name.startsWith('mremap MREMAP_')) expect(count).toBeGreaterThan(0);
    });
  });
});
