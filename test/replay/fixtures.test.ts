/**
 * Every real strace fixture (test/fixtures/strace, no snapshot of the traced runs) replayed through
 * the model, with and without --relocate. Every call either gives Linux's result or differs for a
 * documented reason (see DivergenceReason):
 * - unknown-memory: mprotect of the program's own RELRO and of ld.so's, mapped by execve before the
 *   log begins; without --relocate, the first mappings of a log recorded without randomization,
 *   which Linux put below ld.so and the vdso; node's 512 MiB hint, which Linux refused because the
 *   node binary's bss (never in the log) ends at 0x5688e90 (readelf -l /usr/bin/node);
 * - placement: gcc's cc1 maps libisl.so (2 137 880 bytes) at a 2 MiB boundary (0x7ffff7c00000 in
 *   the norandom log), node the same for a 2.2 MB library: Linux 6.18 aligns file mappings of at
 *   least a PMD (ext4's thp_get_unmapped_area), the model does not;
 * - follows-difference: calls placed next to or working on memory an earlier difference moved;
 * - aslr (without --relocate, logs recorded with randomization only): the mapping is elsewhere.
 * The exact counts are asserted so that a regression (or an improvement) shows.
 */
import { createReadStream, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { linesOf } from '../../src/cli/trace-files.js';
import { drive, type TraceInput } from '../../src/replay/drive.js';
import { Replayer } from '../../src/replay/engine.js';

const dir = fileURLToPath(new URL('../fixtures/strace/', import.meta.url));

interface Counts {
  matched: number;
  differed: number;
  aslr: number;
  placement: number;
  unknown: number;
  follows: number;
  unexplained: number;
}

const EXPECTED: Record<string, { relocate: Counts; plain: Counts }> = {
  'gcc-memory-f-y-norandom.strace': {
    relocate: { matched: 128, differed: 9, aslr: 0, placement: 1, unknown: 3, follows: 5, unexplained: 0 },
    plain: { matched: 97, differed: 40, aslr: 0, placement: 0, unknown: 9, follows: 31, unexplained: 0 },
  },
  'gcc-memory-f-y.strace': {
    relocate: { matched: 120, differed: 17, aslr: 0, placement: 1, unknown: 6, follows: 10, unexplained: 0 },
    plain: { matched: 86, differed: 51, aslr: 45, placement: 0, unknown: 6, follows: 0, unexplained: 0 },
  },
  'mm-exercise-tt-T-yy.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 26, differed: 24, aslr: 12, placement: 0, unknown: 2, follows: 10, unexplained: 0 },
  },
  'mm-exercise.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 26, differed: 24, aslr: 12, placement: 0, unknown: 2, follows: 10, unexplained: 0 },
  },
  'node-memory-f.strace': {
    relocate: { matched: 214, differed: 9, aslr: 0, placement: 1, unknown: 3, follows: 5, unexplained: 0 },
    plain: { matched: 168, differed: 55, aslr: 25, placement: 0, unknown: 2, follows: 28, unexplained: 0 },
  },
  'python3-memory-norandom.strace': {
    relocate: { matched: 49, differed: 1, aslr: 0, placement: 0, unknown: 1, follows: 0, unexplained: 0 },
    plain: { matched: 36, differed: 14, aslr: 0, placement: 0, unknown: 3, follows: 11, unexplained: 0 },
  },
  'python3-memory-tt-T-y.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 33, differed: 17, aslr: 15, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
  },
  'python3-memory-ttt.strace': {
    relocate: { matched: 41, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 27, differed: 16, aslr: 14, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
  },
  'python3-memory.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 33, differed: 17, aslr: 15, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
  },
  'python3-t.strace': {
    relocate: { matched: 41, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 27, differed: 16, aslr: 14, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
  },
  'python3-yy.strace': {
    relocate: { matched: 43, differed: 2, aslr: 0, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
    plain: { matched: 29, differed: 16, aslr: 14, placement: 0, unknown: 2, follows: 0, unexplained: 0 },
  },
  'sh-all-f.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
  },
  'sh-pipeline-f-r.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
  },
  'sh-pipeline-f-stderr.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
  },
  'sh-pipeline-f-tt-T.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
  },
  'sh-pipeline-ff': {
    relocate: { matched: 104, differed: 8, aslr: 0, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, placement: 0, unknown: 8, follows: 0, unexplained: 0 },
  },
};

function inputsOf(name: string): TraceInput[] {
  if (name.endsWith('-ff')) {
    return readdirSync(dir + name)
      .sort()
      .map((n) => ({
        name: `${name}/${n}`,
        pid: Number(n.split('.').pop()),
        lines: () => linesOf(createReadStream(`${dir}${name}/${n}`)),
      }));
  }
  return [{ name, lines: () => linesOf(createReadStream(dir + name)) }];
}

async function counts(name: string, relocate: boolean) {
  // The recording machine's RAM (the heuristic overcommit check of the 64 TiB mmap depends on it).
  const r = new Replayer({
    arch: 'x86_64',
    relocate,
    layout: { totalRamPages: 6170905, overcommitMemory: 0 },
  });
  let lines = 0;
  await drive(r, inputsOf(name), {}, { line: () => lines++ });
  const s = r.finish();
  const c: Counts = {
    matched: s.matched,
    differed: s.differed,
    aslr: s.reasons.aslr,
    placement: s.reasons.placement,
    unknown: s.reasons['unknown-memory'],
    follows: s.reasons['follows-difference'],
    unexplained: s.reasons.unexplained,
  };
  return { c, s, lines };
}

describe('replaying the real strace fixtures', () => {
  const names = [
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.strace'))
      .sort(),
    'sh-pipeline-ff',
  ];

  it('has an expectation for every fixture', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...names].sort());
  });

  for (const name of names) {
    for (const relocate of [true, false]) {
      it(`${name}${relocate ? ' --relocate' : ''}: every difference explained, counts as recorded`, async () => {
        const { c, s } = await counts(name, relocate);
        expect(c.unexplained).toBe(0);
        expect(s.notModelled + s.replayed + s.noResult).toBeGreaterThan(0);
        expect(c).toEqual(EXPECTED[name][relocate ? 'relocate' : 'plain']);
        // Randomization is told from the first mapping the kernel placed.
        expect(s.randomization?.randomized).toBe(!name.includes('norandom'));
      });
    }
  }

  it('relocation never loses a match', async () => {
    for (const name of names) {
      const a = await counts(name, true);
      const b = await counts(name, false);
      expect(a.c.matched).toBeGreaterThanOrEqual(b.c.matched);
    }
  });
});
