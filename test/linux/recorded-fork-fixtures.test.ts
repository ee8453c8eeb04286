/**
 * The fork suite: sequences recorded on this machine's kernel by the fork build of the x86-64
 * harness (processes forking and going on side by side, tools/linux-harness/README.md), replayed
 * in the model with `kernel.fork`, `kernel.exit` and `kernel.switchTo`. Every result of every
 * process, and every live process's final /proc/PID/maps and VmFlags, must be Linux's; the
 * invariant checker runs after every op.
 */
import { describe, expect, it } from 'vitest';
import { FORK_FIXTURE_RAM, type ForkFixture, replayForkFixture } from '../support/fork-fixtures.js';
import { loadFixtures, normalizeShmemInodes } from '../support/linux-fixtures.js';

const fixtures = loadFixtures('linux-x86_64-fork') as { name: string; fixture: ForkFixture }[];

describe('recorded Linux x86_64 sequences with fork', () => {
  it('has the scenarios and at least 40 generated sequences, from one kernel', () => {
    expect(fixtures.filter((f) => f.name.startsWith('seq-')).length).toBeGreaterThanOrEqual(40);
    expect(new Set(fixtures.map((f) => f.fixture.kernel)).size).toBe(1);
  });

  it.each(fixtures)('$name replays identically in every process', ({ fixture }) => {
    const violations: string[] = [];
    let peak = 0;
    const outcome = replayForkFixture(fixture, (kernel, i) => {
      peak = Math.max(peak, kernel.frames.usedPages);
      if (violations.length === 0) for (const v of kernel.check()) violations.push(`after op ${i}: ${v}`);
    });
    expect(outcome.mismatch).toBeNull();
    expect(violations).toEqual([]);
    expect([...outcome.final.keys()]).toEqual([0, ...fixture.processes.map((p) => p.proc)]);
    const want = [
      { proc: 0, mapsAfter: fixture.mapsAfter, vmflagsAfter: fixture.vmflagsAfter },
      ...fixture.processes,
    ];
    // All processes' maps as one text, so that shmem inodes are renamed alike across processes and
    // a mapping shared by a fork must be the same object on both sides.
    const joined = (maps: { proc: number; maps: string }[]) =>
      normalizeShmemInodes(maps.map((m) => `process ${m.proc}\n${m.maps}`).join(''));
    expect(joined(want.map((w) => ({ proc: w.proc, maps: outcome.final.get(w.proc)!.maps })))).toBe(
      joined(want.map((w) => ({ proc: w.proc, maps: w.mapsAfter }))),
    );
    for (const { proc, vmflagsAfter } of want)
      expect(outcome.final.get(proc)!.vmflags, `process ${proc}`).toEqual(vmflagsAfter);
    // The model's RAM is far from running out, so no result depends on it.
    expect(peak * fixture.pageSize).toBeLessThan(FORK_FIXTURE_RAM / 4);
  });
});
