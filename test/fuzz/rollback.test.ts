/**
 * The fuzzer's rollback check (tools/fuzz/rollback.ts) on failed calls built by hand: what Linux
 * keeps of a failed call passes, anything else is named.
 */

import { readFileSync } from 'node:fs';
import {
  Kernel,
  MADV_FREE,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_GROWSDOWN,
  PROT_READ,
  PROT_WRITE,
  type Task,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { replayCase } from '../../tools/fuzz/campaign.js';
import { parseCase } from '../../tools/fuzz/case.js';
import { callRanges, checkFailedCall } from '../../tools/fuzz/rollback.js';
import { captureSpace, Identities } from '../../tools/fuzz/state.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const P = 4096;

/** Writes one byte to each page of [a, a + pages) until RAM has no frame left. */
function fillRam(k: Kernel, t: Task, a: number, pages: number): void {
  for (let p = 0; p < pages && k.frames.freePages > 0; p++) t.write(a + p * P, [1]);
}

describe('the rollback check after a failed MADV_POPULATE', () => {
  it('accepts MADV_FREE pages reclaimed by an allocation that succeeded, before the call refused', () => {
    // test/fixtures/fuzz/madv-free-pages-reclaimed-by-failed-populate.json: with RAM exhausted,
    // MADV_POPULATE_WRITE over [rw, read-only] populated the rw pages (reclaim made room by
    // dropping MADV_FREE pages elsewhere, no allocation refused), then answered -EINVAL at the
    // read-only VMA. Linux keeps the populated pages (tools/fuzz/linux/partial-effects.txt:
    // "POPULATE_WRITE [A, R]: -EINVAL; A resident 2") and reclaim is not undone; the check
    // forgave reclaim only when an allocation had been refused.
    const k = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: 2 ** 20 });
    const t = k.spawn();
    const ids = new Identities();
    const given = k.sys.mmap(0, 4 * P, RW, ANON, -1, 0);
    for (let p = 0; p < 4; p++) t.write(given + p * P, [p + 1]);
    expect(k.sys.madvise(given, 4 * P, MADV_FREE)).toBe(0);
    const a = k.sys.mmap(0x4000_0000, 3 * P, PROT_READ, ANON | MAP_FIXED, -1, 0);
    expect(k.sys.mprotect(a, 2 * P, RW)).toBe(0);
    // Read first: the zero page maps, with the tables the populate will need.
    for (let p = 0; p < 3; p++) expect(t.read(a + p * P, 1)[0]).toBe(0);
    const room = k.frames.freePages;
    const filler = k.sys.mmap(0, room * P, RW, ANON, -1, 0);
    fillRam(k, t, filler, room);
    expect(k.frames.freePages).toBe(0);
    expect(t.mm.lazyFree.size).toBe(4);

    const args = [BigInt(a), BigInt(3 * P), BigInt(MADV_POPULATE_WRITE)];
    const ranges = callRanges('madvise', args, P, k.geometry.vaSpan, t.mm.brk);
    const before = captureSpace(k, t, ids, ranges);
    const [refusals, reclaimed] = [k.frames.failures, k.frames.reclaimed];
    const result = k.sys.madvise(a, 3 * P, MADV_POPULATE_WRITE);
    expect(result).toBe(-22);
    expect(k.frames.failures).toBe(refusals);
    expect(k.frames.reclaimed - reclaimed).toBe(4);
    expect(t.mm.lazyFree.size).toBe(0);
    expect(t.mm.pageTable.translate(a as never)).toBeGreaterThanOrEqual(0);
    expect(t.mm.pageTable.translate((a + P) as never)).toBeGreaterThanOrEqual(0);
    expect(k.check()).toEqual([]);

    const call = { kernel: k, task: t, ids, before, name: 'madvise' as const, args, result };
    expect(
      checkFailedCall({ ...call, allocationFailed: false, reclaimedFrames: k.frames.reclaimed - reclaimed })
        .problems,
    ).toEqual([]);
    // Not knowing that reclaim ran, the same state is a lost MADV_FREE mark, as the campaign said.
    expect(
      checkFailedCall({ ...call, allocationFailed: false, reclaimedFrames: 0 }).problems.join('; '),
    ).toMatch(/MADV_FREE pages: was \[/);
  });
});

describe('the rollback check after MADV_POPULATE answers -EFAULT', () => {
  /** A shared anonymous mapping of 2 pages grown in place to 4: its shmem object keeps 2. */
  function grownShared() {
    const k = new Kernel({ arch: 'aarch64', paging: 'demand' });
    const t = k.spawn();
    const a = k.sys.mmap(0x4000_0000, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    expect(k.sys.mremap(a, 2 * P, 4 * P, 0)).toBe(a);
    return { k, t, a, ids: new Identities() };
  }
  function failed(k: Kernel, t: Task, ids: Identities, args: bigint[], run: () => number) {
    const ranges = callRanges('madvise', args, P, k.geometry.vaSpan, t.mm.brk);
    const before = captureSpace(k, t, ids, ranges);
    const refusals = k.frames.failures;
    const result = run();
    expect(k.frames.failures).toBe(refusals);
    return checkFailedCall({
      kernel: k,
      task: t,
      ids,
      before,
      name: 'madvise',
      args,
      result,
      allocationFailed: false,
      reclaimedFrames: 0,
    });
  }

  it('accepts it at a page past the end of the object mapped, with the pages before populated', () => {
    // test/fixtures/fuzz/madv-populate-past-shmem-object.json: the page past the object is a
    // SIGBUS, so Linux answers -EFAULT there (tools/fuzz/linux/partial-effects.txt: "POPULATE_WRITE
    // [S grown past its object]: -EFAULT; S resident 2"); the check expected only a hole, a
    // refusing VMA, a guard or a refused allocation to stop it.
    const { k, t, a, ids } = grownShared();
    for (const advice of [MADV_POPULATE_READ, MADV_POPULATE_WRITE]) {
      const args = [BigInt(a + P), BigInt(3 * P), BigInt(advice)];
      const verdict = failed(k, t, ids, args, () => k.sys.madvise(a + P, 3 * P, advice));
      expect(verdict.problems).toEqual([]);
      expect(t.mm.pageTable.translate((a + P) as never)).toBeGreaterThanOrEqual(0);
      expect(t.mm.pageTable.translate((a + 2 * P) as never)).toBeLessThan(0);
    }
    expect(k.check()).toEqual([]);
  });

  it('still names -EFAULT where nothing stops the population', () => {
    // The same range answered -EFAULT by a planted bug, the object's pages unpopulated: nothing
    // there explains the answer.
    const { k, t, a, ids } = grownShared();
    const args = [BigInt(a), BigInt(2 * P), BigInt(MADV_POPULATE_READ)];
    const verdict = failed(k, t, ids, args, () => -14);
    expect(verdict.problems).toEqual([
      'MADV_POPULATE stopped (out of memory) answering -14',
      `MADV_POPULATE stopped at 0x${a.toString(16)} answering -14 with no allocation refused`,
    ]);
  });
});

describe('the rollback check after mprotect with PROT_GROWSDOWN', () => {
  // test/fixtures/fuzz/mprotect-growsdown-from-hole.json: PROT_READ|PROT_GROWSDOWN over
  // [hole, grows-down VMA, hole). Linux starts the walk at the VMA's start (up from the hole), so
  // the VMA turns read-only before -ENOMEM at the hole above it (mremap-pieces-x86_64.txt); the
  // check moved the start only down, and called the change a walk past a hole.
  const fuzzCase = parseCase(
    readFileSync(new URL('../fixtures/fuzz/mprotect-growsdown-from-hole.json', import.meta.url), 'utf8'),
    'mprotect-growsdown-from-hole.json',
  );

  it('accepts the grows-down VMA changed from a start in a hole below it', () => {
    expect(replayCase(fuzzCase).failure).toBeNull();
  });

  it('still names the VMA left unchanged', () => {
    // A planted mprotect that answers -ENOMEM at the hole before the VMA, as if the walk began there.
    const failure = replayCase(fuzzCase, {
      kernel: (k) => {
        const real = k.sys.mprotect.bind(k.sys);
        k.sys.mprotect = (a, l, p) => (BigInt(p) & BigInt(PROT_GROWSDOWN) ? -12 : real(a, l, p));
      },
    }).failure;
    expect(failure?.kind).toBe('rollback');
    expect(failure?.message).toContain(
      'piece 0 [0x200000004000, 0x200000006000) was not changed, but the same call on it alone does',
    );
  });
});
