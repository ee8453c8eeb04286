/**
 * Every real strace fixture (test/fixtures/strace, recorded with ASLR on, no snapshot of the traced
 * runs) replayed through the model, with and without --relocate. Every call either gives Linux's
 * result or differs for a documented reason (see DivergenceReason):
 * - unknown-memory: mprotect of the program's own RELRO and of ld.so's, mapped by execve before
 *   the log begins (no snapshot of the traced runs exists);
 * - follows-difference: without --relocate, calls on mappings ASLR put elsewhere;
 * - aslr (without --relocate only): the kernel placed the mapping at a randomized address.
 * The exact counts are asserted so that a regression (or an improvement) shows.
 */
import { createReadStream, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { drive, type TraceInput } from '../../src/replay/drive.js';
import { Replayer } from '../../src/replay/engine.js';

const dir = fileURLToPath(new URL('../fixtures/strace/', import.meta.url));

interface Counts {
  matched: number;
  differed: number;
  aslr: number;
  unknown: number;
  follows: number;
  file: number;
  unexplained: number;
}

/** With mmap, munmap, mprotect, brk, mremap and madvise modelled, and no file mappings. */
const EXPECTED: Record<string, { relocate: Counts; plain: Counts }> = {
  'gcc-memory-f-y.strace': {
    relocate: { matched: 131, differed: 6, aslr: 0, unknown: 6, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 86, differed: 51, aslr: 45, unknown: 6, follows: 0, file: 0, unexplained: 0 },
  },
  'mm-exercise-tt-T-yy.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 26, differed: 24, aslr: 12, unknown: 2, follows: 10, file: 0, unexplained: 0 },
  },
  'mm-exercise.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 26, differed: 24, aslr: 12, unknown: 2, follows: 10, file: 0, unexplained: 0 },
  },
  'node-memory-f.strace': {
    relocate: { matched: 221, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 168, differed: 55, aslr: 25, unknown: 2, follows: 28, file: 0, unexplained: 0 },
  },
  'python3-memory-tt-T-y.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 33, differed: 17, aslr: 15, unknown: 2, follows: 0, file: 0, unexplained: 0 },
  },
  'python3-memory-ttt.strace': {
    relocate: { matched: 41, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 27, differed: 16, aslr: 14, unknown: 2, follows: 0, file: 0, unexplained: 0 },
  },
  'python3-memory.strace': {
    relocate: { matched: 48, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 33, differed: 17, aslr: 15, unknown: 2, follows: 0, file: 0, unexplained: 0 },
  },
  'python3-t.strace': {
    relocate: { matched: 41, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 27, differed: 16, aslr: 14, unknown: 2, follows: 0, file: 0, unexplained: 0 },
  },
  'python3-yy.strace': {
    relocate: { matched: 43, differed: 2, aslr: 0, unknown: 2, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 29, differed: 16, aslr: 14, unknown: 2, follows: 0, file: 0, unexplained: 0 },
  },
  'sh-all-f.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, unknown: 8, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, unknown: 8, follows: 0, file: 0, unexplained: 0 },
  },
  'sh-pipeline-f-r.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, unknown: 8, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, unknown: 8, follows: 0, file: 0, unexplained: 0 },
  },
  'sh-pipeline-f-stderr.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, unknown: 8, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, unknown: 8, follows: 0, file: 0, unexplained: 0 },
  },
  'sh-pipeline-f-tt-T.strace': {
    relocate: { matched: 104, differed: 8, aslr: 0, unknown: 8, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, unknown: 8, follows: 0, file: 0, unexplained: 0 },
  },
  'sh-pipeline-ff': {
    relocate: { matched: 104, differed: 8, aslr: 0, unknown: 8, follows: 0, file: 0, unexplained: 0 },
    plain: { matched: 46, differed: 66, aslr: 58, unknown: 8, follows: 0, file: 0, unexplained: 0 },
  },
};

function inputsOf(name: string): TraceInput[] {
  if (name.endsWith('-ff')) {
    return readdirSync(dir + name)
      .sort()
      .map((n) => ({
        name: `${name}/${n}`,
        pid: Number(n.split('.').pop()),
        open: () => createReadStream(`${dir}${name}/${n}`),
      }));
  }
  return [{ name, open: () => createReadStream(dir + name) }];
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
    unknown: s.reasons['unknown-memory'],
    follows: s.reasons['follows-difference'],
    file: s.reasons['file-mapping'],
    unexplained: s.reasons.unexplained,
  };
  return { c, s, r, lines };
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
        const { c, s, r } = await counts(name, relocate);
        expect(c.unexplained).toBe(0);
        expect(s.notModelled + s.replayed + s.noResult).toBeGreaterThan(0);
        expect(r.modelled).toHaveLength(6);
        expect(r.fileMappings).toBe(true);
        expect(c).toEqual(EXPECTED[name][relocate ? 'relocate' : 'plain']);
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
