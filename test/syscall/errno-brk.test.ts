/**
 * brk(2), one test per row of the catalogue (shared/reference/linux-mm-semantics.md §1.4). brk never
 * returns an errno: it answers the new break, or the old one when it refuses. Verified on Linux
 * 6.18.44 with a PIE probe under `setarch -R`, whose layout these tests copy: a 16 MiB bss VMA
 * ending at start_brk 0x55555656a000, start_data 0x555555558dd0, end_data 0x555555559060.
 */

import {
  Kernel,
  type KernelOptions,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { ANON, anonLine, maps, P, RW, TASK_SIZE, vmFlags } from './errno-support.js';

const S = 0x55555656a000;
const START_DATA = 0x555555558dd0;
const END_DATA = 0x555555559060;
const BSS = anonLine(0x55555555a000, S, 'rw-p');
const HEAP_FLAGS = 'rd wr mr mw me ac';
const heapLine = (start: number, end: number, perms = 'rw-p') =>
  `${anonLine(start, end, perms).padEnd(73)}[heap]`;

/** A task laid out like the probe: the bss below start_brk, and a heap of `heapPages` pages. */
function probe(heapPages = 0, layout: KernelOptions['layout'] = {}) {
  const k = new Kernel({ arch: 'x86_64', paging: 'demand', layout });
  const brk = S + heapPages * P;
  const lines = [BSS, ...(heapPages > 0 ? [heapLine(S, brk)] : [])];
  const t = k.spawnFromSnapshot({
    maps: `${lines.join('\n')}\n`,
    vmFlags: lines.map(() => HEAP_FLAGS),
    startBrk: S,
    brk,
    startData: START_DATA,
    endData: END_DATA,
  });
  return { k, t, sys: k.sys };
}

describe('brk rows (§1.4)', () => {
  it('brk below min_brk (0, 1, end_data, start_brk - 1) → unchanged: brk(0) is the query', () => {
    const { sys, t } = probe();
    expect(sys.brk(0)).toBe(S);
    expect(sys.brk(1)).toBe(S);
    expect(sys.brk(S - 1)).toBe(S);
    expect(sys.brk(END_DATA)).toBe(S);
    expect(maps(t)).toEqual([BSS]);
  });

  it('(brk − start_brk) + (end_data − start_data) > RLIMIT_DATA → unchanged, even for a shrink or a change within the page', () => {
    const { sys, t } = probe(100, { rlimitData: END_DATA - START_DATA + 50 * P });
    expect(sys.brk(S + 60 * P)).toBe(S + 100 * P);
    expect(sys.brk(S + 100 * P - 1)).toBe(S + 100 * P);
    expect(sys.brk(S + 50 * P)).toBe(S + 50 * P);
    expect(sys.brk(S + 50 * P + 1)).toBe(S + 50 * P);
    expect(sys.brk(S + 49 * P + 1)).toBe(S + 49 * P + 1);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + 50 * P)]);
    expect(vmFlags(t)).toEqual([HEAP_FLAGS, HEAP_FLAGS]);
  });

  it('PAGE_ALIGN(brk) == PAGE_ALIGN(old) → the exact unaligned value is stored and returned, no VMA change', () => {
    const { sys, t } = probe();
    expect(sys.brk(S + 100)).toBe(S + 100);
    expect(sys.brk(0)).toBe(S + 100);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + P)]);
    expect(sys.brk(S + P)).toBe(S + P);
    expect(sys.brk(0)).toBe(S + P);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + P)]);
    expect(sys.brk(S + P + 1)).toBe(S + P + 1);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + 2 * P)]);
    expect(vmFlags(t)).toEqual([HEAP_FLAGS, HEAP_FLAGS]);
    // Back to start_brk: the heap line disappears (and the heap never merged with the bss below).
    expect(sys.brk(S)).toBe(S);
    expect(maps(t)).toEqual([BSS]);
  });

  it('shrink unmaps [PAGE_ALIGN(brk), PAGE_ALIGN(old)), including a foreign VMA there (labelled [heap] while inside)', () => {
    const { sys, t } = probe();
    expect(sys.brk(S + 8 * P)).toBe(S + 8 * P);
    expect(sys.mmap(S + 4 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(S + 4 * P);
    expect(maps(t)).toEqual([
      BSS,
      heapLine(S, S + 4 * P),
      heapLine(S + 4 * P, S + 5 * P, 'r--p'),
      heapLine(S + 5 * P, S + 8 * P),
    ]);
    expect(vmFlags(t)).toEqual([HEAP_FLAGS, HEAP_FLAGS, 'rd mr mw me', HEAP_FLAGS]);
    expect(sys.brk(S + 2 * P)).toBe(S + 2 * P);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + 2 * P)]);
    // A foreign VMA above the break is not [heap] and a shrink below it leaves it alone.
    expect(sys.mmap(S + 4 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0)).toBe(S + 4 * P);
    expect(sys.brk(S + P)).toBe(S + P);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + P), anonLine(S + 4 * P, S + 5 * P, 'r--p')]);
  });

  it('shrink with no VMA at all in the freed range → unchanged; a later grow starts a new heap VMA', () => {
    const { sys, t } = probe(1);
    expect(sys.munmap(S, P)).toBe(0);
    expect(sys.brk(S)).toBe(S + P);
    expect(sys.brk(0)).toBe(S + P);
    expect(sys.brk(S + 2 * P)).toBe(S + 2 * P);
    expect(maps(t)).toEqual([BSS, heapLine(S + P, S + 2 * P)]);
    expect(vmFlags(t)).toEqual([HEAP_FLAGS, HEAP_FLAGS]);
  });

  it('grow beyond TASK_SIZE (or a huge value) → unchanged', () => {
    const { sys, t } = probe();
    expect(sys.brk(TASK_SIZE)).toBe(S);
    expect(sys.brk(-1)).toBe(S);
    expect(sys.brk(2 ** 47)).toBe(S);
    expect(maps(t)).toEqual([BSS]);
  });

  it('grow must leave one free page before the next VMA: blocker at S+16P allows S+15P, not S+15P+1', () => {
    const { sys, t } = probe();
    sys.mmap(S + 16 * P, P, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    expect(sys.brk(S + 15 * P + 1)).toBe(S);
    expect(sys.brk(S + 15 * P)).toBe(S + 15 * P);
    expect(sys.brk(S + 15 * P + 1)).toBe(S + 15 * P);
    expect(sys.brk(S + 16 * P)).toBe(S + 15 * P);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + 15 * P), anonLine(S + 16 * P, S + 17 * P, 'r--p')]);
  });

  it('grow must stay stack_guard_gap (256 pages) plus a page below a grows-down VMA', () => {
    const { sys, t } = probe();
    const G = S + 400 * P;
    expect(sys.mmap(G, 4 * P, RW, ANON | MAP_FIXED_NOREPLACE | MAP_GROWSDOWN, -1, 0)).toBe(G);
    const lim = G - 256 * P - P;
    expect(sys.brk(lim)).toBe(lim);
    expect(sys.brk(lim + 1)).toBe(lim);
    expect(sys.brk(lim + P)).toBe(lim);
    expect(maps(t)).toEqual([BSS, heapLine(S, lim), anonLine(G, G + 4 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([HEAP_FLAGS, HEAP_FLAGS, 'rd wr mr mw me gd ac']);
  });

  it('grow after the heap start was munmapped extends the surviving heap VMA; shrinking into the hole unmaps the rest', () => {
    const { sys, t } = probe();
    expect(sys.brk(S + 4 * P)).toBe(S + 4 * P);
    expect(sys.munmap(S, 2 * P)).toBe(0);
    expect(sys.brk(S + 6 * P)).toBe(S + 6 * P);
    expect(maps(t)).toEqual([BSS, heapLine(S + 2 * P, S + 6 * P)]);
    expect(sys.brk(S + 7 * P + 5)).toBe(S + 7 * P + 5);
    expect(maps(t)).toEqual([BSS, heapLine(S + 2 * P, S + 8 * P)]);
    expect(vmFlags(t)).toEqual([HEAP_FLAGS, HEAP_FLAGS]);
    expect(sys.brk(S + P)).toBe(S + P);
    expect(maps(t)).toEqual([BSS]);
  });

  it('grow: do_brk_flags fails over RLIMIT_AS → unchanged; exactly at the limit is fine', () => {
    const { sys, t } = probe(0, { rlimitAs: S - 0x55555555a000 + 2 * P });
    expect(sys.brk(S + 3 * P)).toBe(S);
    expect(sys.brk(S + 2 * P + 1)).toBe(S);
    expect(sys.brk(S + 2 * P)).toBe(S + 2 * P);
    expect(sys.brk(S + 2 * P + 1)).toBe(S + 2 * P);
    expect(maps(t)).toEqual([BSS, heapLine(S, S + 2 * P)]);
  });

  it('grow: do_brk_flags fails when data_vm would pass RLIMIT_DATA → unchanged', () => {
    const { sys } = probe(0, { rlimitData: S - 0x55555555a000 + 2 * P });
    expect(sys.brk(S + 3 * P)).toBe(S);
    expect(sys.brk(S + 2 * P)).toBe(S + 2 * P);
  });
});
