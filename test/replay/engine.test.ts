import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { AddressMap } from '../../src/replay/address-map.js';
import { type CallOutcome, ReplayContradiction, Replayer } from '../../src/replay/engine.js';
import { syntheticLog } from '../../src/replay/synthetic.js';
import { createParserState, parseLine } from '../../src/trace/strace-parse.js';

/** Replays lines; returns the outcomes and the output lines. */
function replay(lines: Iterable<string>, r = new Replayer({ arch: 'x86_64' })) {
  const state = createParserState({ arch: 'x86_64' });
  const outcomes: CallOutcome[] = [];
  const out: string[] = [];
  for (const l of lines) {
    const ev = parseLine(l, state);
    const o = r.step(ev);
    if (o) outcomes.push(o);
    out.push(o ? o.line : ev.raw);
  }
  return { outcomes, out, summary: r.finish(), replayer: r };
}

const ANON = 'PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0';

describe('AddressMap', () => {
  it('splits, replaces and forgets ranges', () => {
    const m = new AddressMap();
    m.set(0x1000, 0x5000, 10, 1);
    m.remove(0x2000, 0x3000);
    expect(m.size).toBe(2);
    expect(m.deltaAt(0x1000)).toBe(10);
    expect(m.deltaAt(0x2000)).toBeUndefined();
    expect(m.deltaAt(0x4fff)).toBe(10);
    m.set(0x1800, 0x4000, 20, 2);
    expect(m.deltaAt(0x1000)).toBe(10);
    expect(m.deltaAt(0x2000)).toBe(20);
    expect(m.inspect(0x1000, 0x5000, false)).toEqual({ covered: true });
    expect(m.inspect(0x1000, 0x6000, false)).toEqual({ covered: false });
    expect(m.inspect(0x1000, 0x5000, true)).toEqual({ covered: true, mismatchLine: 1 });
    m.set(0x5000, 0x6000, Number.NaN, 7);
    expect(m.inspect(0x4000, 0x6000, false)).toEqual({ covered: true, mismatchLine: 7 });
  });

  it('finds the nearest range above and below an address', () => {
    const m = new AddressMap();
    m.set(0x1000, 0x2000, 1, 1);
    m.set(0x5000, 0x6000, 2, 2);
    expect(m.above(0x2000)).toEqual({ start: 0x5000, end: 0x6000, delta: 2, line: 2 });
    expect(m.above(0x1000)).toEqual({ start: 0x1000, end: 0x2000, delta: 1, line: 1 });
    expect(m.above(0x1800)?.line).toBe(2);
    expect(m.above(0x5001)).toBeUndefined();
    expect(m.below(0x5000)).toEqual({ start: 0x1000, end: 0x2000, delta: 1, line: 1 });
    expect(m.below(0x6000)?.line).toBe(2);
    expect(m.below(0x1fff)).toBeUndefined();
  });

  test.prop([
    fc.array(
      fc.record({
        op: fc.constantFrom('set', 'remove'),
        start: fc.integer({ min: 0, max: 63 }),
        len: fc.integer({ min: 1, max: 16 }),
        delta: fc.integer({ min: -5, max: 5 }),
      }),
      { maxLength: 60 },
    ),
  ])('agrees with a page-by-page model', (ops) => {
    const m = new AddressMap();
    const pages = new Map<number, number>();
    for (const o of ops) {
      if (o.op === 'set') m.set(o.start, o.start + o.len, o.delta, 1);
      else m.remove(o.start, o.start + o.len);
      for (let p = o.start; p < o.start + o.len; p++) {
        if (o.op === 'set') pages.set(p, o.delta);
        else pages.delete(p);
      }
    }
    for (let p = 0; p < 80; p++) expect(m.deltaAt(p)).toBe(pages.get(p));
    for (let a = 0; a < 80; a += 7) {
      const covered = Array.from({ length: 9 }, (_, k) => pages.has(a + k)).every(Boolean);
      expect(m.inspect(a, a + 9, false).covered).toBe(covered);
    }
  });

  it('keeps thousands of live ranges, cut and replaced at random, as a page-by-page model does', () => {
    const m = new AddressMap();
    const pages = new Map<number, number>();
    let seed = 5;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const SPACE = 20_000;
    for (let i = 0; i < 6000; i++) {
      const start = Math.floor(random() * SPACE);
      const len = 1 + Math.floor(random() * (random() < 0.1 ? 200 : 6));
      const set = random() < 0.7;
      const delta = Math.floor(random() * 9) - 4;
      if (set) m.set(start, start + len, delta, i + 1);
      else m.remove(start, start + len);
      for (let p = start; p < start + len; p++) {
        if (set) pages.set(p, delta);
        else pages.delete(p);
      }
    }
    expect(m.size).toBeGreaterThan(1000);
    for (let p = 0; p < SPACE + 300; p++) expect(m.deltaAt(p)).toBe(pages.get(p));
    const copy = m.clone();
    m.remove(0, SPACE + 300);
    expect(m.size).toBe(0);
    for (let p = 0; p < SPACE + 300; p += 13) expect(copy.deltaAt(p)).toBe(pages.get(p));
  });
});

describe('Replayer', () => {
  it('replays a log the model wrote byte for byte, every call the same', () => {
    const lines = [...syntheticLog({ calls: 3000, seed: 7 })];
    const { out, summary } = replay(lines);
    expect(summary.replayed + summary.notModelled).toBe(3000);
    expect(summary.differed).toBe(0);
    expect(out).toEqual(lines);
  });

  // (seed, pages of shift): one page, 1 GiB - 1 page, and 4 GiB, far beyond the randomization threshold.
  it.each([
    [1, 1],
    [7, 2 ** 18 - 1],
    [414, 2 ** 20],
  ])('with --relocate, seed %i shifted %i pages down replays with every call the same', (seed, pages) => {
    const lines = [...syntheticLog({ calls: 400, seed, shift: -BigInt(pages) * 4096n })];
    const { out, summary } = replay(lines, new Replayer({ arch: 'x86_64', relocate: true }));
    expect(summary.differed).toBe(0);
    expect(out).toEqual(lines);
  });

  it('without --relocate, a log shifted far down is recorded with randomization: its placements differ by ASLR', () => {
    const lines = [...syntheticLog({ calls: 400, seed: 414, shift: -(2n ** 32n) })];
    const { summary } = replay(lines);
    expect(summary.randomization).toMatchObject({ randomized: true, line: 2 });
    expect(summary.reasons.aslr).toBeGreaterThan(0);
    expect(summary.reasons.aslr + summary.reasons['follows-difference']).toBe(summary.differed);
  });

  it('without --relocate, a log shifted by one page is not randomized: the model placed above memory it lacks', () => {
    const lines = [...syntheticLog({ calls: 400, seed: 1, shift: -4096n })];
    const { summary, outcomes } = replay(lines);
    expect(summary.randomization).toMatchObject({ randomized: false, line: 2 });
    expect(summary.reasons.aslr).toBe(0);
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'unknown-memory' });
    expect(summary.reasons['unknown-memory'] + summary.reasons['follows-difference']).toBe(summary.differed);
  });

  it('prints the model result on a differing call, keeping the prefix, times and duration', () => {
    const { out, outcomes } = replay([
      `12:00:00.000001 mmap(NULL, 4096, ${ANON}) = 0x7f0000000000 <0.000010>`,
      '12:00:00.000002 munmap(0x1001, 4096)   = -1 EINVAL (Invalid argument) <0.000003>',
    ]);
    expect(outcomes[0]).toMatchObject({ status: 'differ', reason: 'aslr', model: 0x7ffff7ffe000 });
    expect(outcomes[0].printed).toEqual({ kind: 'value', value: 0x7ffff7ffe000, hex: true });
    expect(out[0]).toBe(`12:00:00.000001 mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000 <0.000010>`);
    // munmap of an unaligned address: EINVAL in both.
    expect(outcomes[1].status).toBe('match');
  });

  it('starts the break where the first brk(NULL) says, and grows it', () => {
    const { outcomes } = replay([
      'brk(NULL)                               = 0x555555560000',
      'brk(0x555555581000)                     = 0x555555581000',
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['match', 'match']);
  });

  it('explains calls on memory the log never mapped, and calls that follow a difference', () => {
    const { outcomes } = replay(
      [
        'mprotect(0x555555554000, 4096, PROT_READ) = 0',
        `mmap(NULL, 8192, ${ANON}) = 0x7f0000000000`,
        'munmap(0x7f0000000000, 8192)            = 0',
        `mmap(0x7f0000100000, 8192, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = 0x7f0000100000`,
        'mprotect(0x7f0000100000, 4096, PROT_NONE) = -1 ENOMEM (Cannot allocate memory)',
      ],
      new Replayer({ arch: 'x86_64', relocate: false }),
    );
    expect(outcomes[0]).toMatchObject({ status: 'differ', reason: 'unknown-memory' });
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'aslr' });
    // munmap of memory not mapped in the model also answers 0.
    expect(outcomes[2].status).toBe('match');
    expect(outcomes[3].status).toBe('match');
    expect(outcomes[4]).toMatchObject({ status: 'differ', reason: 'unexplained' });
  });

  it('keeps the fd table: EBADF and EACCES as the log shows them, openat/close when present', () => {
    const { outcomes } = replay([
      'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) = -1 EBADF (Bad file descriptor)',
      'openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3',
      'mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3, 0) = -1 EACCES (Permission denied)',
      'close(3)                                = 0',
      'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = -1 EBADF (Bad file descriptor)',
    ]);
    expect(outcomes[0].status).toBe('match');
    expect(outcomes.map((o) => o.status)).toEqual(['match', 'match', 'match']);
  });

  it('learns that an fd is read-only from an EACCES of MAP_SHARED_VALIDATE as of MAP_SHARED', () => {
    const { outcomes } = replay([
      'mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED_VALIDATE, 3, 0) = -1 EACCES (Permission denied)',
      'mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3, 0) = -1 EACCES (Permission denied)',
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['match', 'match']);
  });

  it('gives threads one task, exec’d children and forks their own', () => {
    const { summary } = replay([
      `100   mmap(NULL, 8192, ${ANON}) = 0x7ffff7ffd000`,
      `101   mmap(NULL, 8192, ${ANON}) = 0x7ffff7ffb000`,
      '102   brk(NULL)                         = 0x555555560000',
      `102   mmap(NULL, 8192, ${ANON}) = 0x7ffff7ffd000`,
      '101   +++ exited with 0 +++',
      '100   clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0) = 103',
      '100   munmap(0x7ffff7ffd000, 8192)      = 0',
    ]);
    expect(summary.differed).toBe(0);
    expect(summary.tasks.map((t) => t.pids)).toEqual([[100, 101], [102]]);
  });

  it('forks copy the parent’s mappings (clone without CLONE_VM)', () => {
    const { outcomes, summary } = replay([
      `100   mmap(NULL, 8192, ${ANON}) = 0x7ffff7ffd000`,
      '100   clone(child_stack=NULL, flags=SIGCHLD) = 101',
      `101   mmap(NULL, 8192, ${ANON}) = 0x7ffff7ffb000`,
      '100   munmap(0x7ffff7ffd000, 8192)      = 0',
      `100   mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000`,
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['match', 'match', 'match', 'match']);
    expect(summary.tasks).toHaveLength(2);
  });

  it('stops when the log contradicts its snapshot', () => {
    const maps = '7ffff7ff0000-7ffff7fff000 rw-p 00000000 00:00 0 \n';
    const r = new Replayer({ arch: 'x86_64', maps, mapsName: 'x.maps' });
    expect(() => replay([`mmap(NULL, 4096, ${ANON}) = 0x7ffff7ff8000`], r)).toThrow(ReplayContradiction);
    const ok = new Replayer({ arch: 'x86_64', maps });
    expect(replay([`mmap(NULL, 4096, ${ANON}) = 0x7ffff7fef000`], ok).summary.matched).toBe(1);
    const brk = new Replayer({
      arch: 'x86_64',
      maps: '555555560000-555555581000 rw-p 00000000 00:00 0 [heap]\n',
    });
    expect(() => replay(['brk(NULL) = 0x555555590000'], brk)).toThrow(/brk\(NULL\) returned 0x555555590000/);
  });

  it('does not run calls without a result', () => {
    const { summary, out } = replay([
      `200   mmap(NULL, 8192, ${ANON} <unfinished ...>`,
      '200   <... mmap resumed>)              = ?',
    ]);
    expect(summary.noResult).toBe(1);
    expect(out[1]).toBe('200   <... mmap resumed>)              = ?');
  });
});

describe('verdicts with --relocate (a log recorded with randomization)', () => {
  const relocated = (lines: string[]) => replay(lines, new Replayer({ arch: 'x86_64', relocate: true }));
  const mmap = (len: number, result: string) => `mmap(NULL, ${len}, ${ANON}) = ${result}`;

  it('the first placement fixes the relocation; one at the same distance from its neighbour matches', () => {
    const { outcomes, out } = relocated([mmap(8192, '0x7f1234567000'), mmap(8192, '0x7f1234565000')]);
    expect(outcomes.map((o) => o.status)).toEqual(['match', 'match']);
    expect(outcomes.map((o) => o.model)).toEqual([0x7ffff7ffd000, 0x7ffff7ffb000]);
    expect(out[1]).toBe(mmap(8192, '0x7f1234565000'));
  });

  it('a placement elsewhere relative to the neighbours is a placement difference, printed as the model has it', () => {
    const { outcomes, out } = relocated([
      mmap(8192, '0x7f1234567000'),
      // Linux found room far above the first mapping; the model right below it.
      mmap(4096, '0x7f1234600000'),
      // Right below the misplaced mapping in both: the same position relative to that neighbour.
      mmap(4096, '0x7f12345ff000'),
      // Linux right above the first mapping, the model below its others: next to the misplaced one.
      mmap(4096, '0x7f1234569000'),
    ]);
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'placement', model: 0x7ffff7ffc000 });
    // In the log's coordinates: one page below the first mapping, where the model put it.
    expect(out[1]).toBe(mmap(4096, '0x7f1234566000'));
    expect(outcomes[2]).toMatchObject({ status: 'match', model: 0x7ffff7ffb000 });
    expect(out[2]).toBe(mmap(4096, '0x7f12345ff000'));
    expect(outcomes[3]).toMatchObject({ status: 'differ', reason: 'follows-difference', causeLine: 2 });
    expect(out[3]).toBe(mmap(4096, '0x7f12345fe000'));
  });

  it('a placement below where Linux had room, by memory the log never showed, is put down to it', () => {
    const { outcomes } = relocated([
      mmap(8192, '0x7f1234567000'),
      // Linux left three pages free below the first mapping: something the log never showed was there.
      mmap(4096, '0x7f1234563000'),
    ]);
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'unknown-memory', model: 0x7ffff7ffc000 });
  });

  it('a huge-page-aligned placement may be up to 2 MiB off its neighbour, as randomization moves by pages', () => {
    const { outcomes } = relocated([mmap(8192, '0x7f1234567000'), mmap(2 ** 21, '0x7f1234200000')]);
    expect(outcomes[1]).toMatchObject({ status: 'match', model: 0x7ffff7c00000 });
  });

  it('a mmap whose hint Linux refused and the model took was placed around memory the log never showed', () => {
    const { outcomes, out } = relocated([
      mmap(8192, '0x7f1234567000'),
      `mmap(0x5680000, 8192, ${ANON}) = 0x7f1234565000`,
    ]);
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'unknown-memory', model: 0x5680000 });
    expect(out[1]).toBe(`mmap(0x5680000, 8192, ${ANON}) = 0x5680000`);
  });

  it('a mremap that Linux moved on its own is judged like a placement', () => {
    const { outcomes } = relocated([
      mmap(8192, '0x7f1234567000'),
      mmap(8192, '0x7f1234565000'),
      // Both move the lower mapping below itself (the upper one blocks growing in place).
      'mremap(0x7f1234565000, 8192, 65536, MREMAP_MAYMOVE) = 0x7f1234555000',
      // Linux moved the upper one far below; the model grew it in place, over what Linux had there
      // and the log never showed (ld.so, say).
      'mremap(0x7f1234567000, 8192, 65536, MREMAP_MAYMOVE) = 0x7f1234400000',
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['match', 'match', 'match', 'differ']);
    expect(outcomes[3]).toMatchObject({ reason: 'unknown-memory', model: 0x7ffff7ffd000 });
  });
});

describe('verdict labels', () => {
  it('a log recorded without randomization is never put down to ASLR', () => {
    const { outcomes, summary } = replay([
      'brk(NULL)                               = 0x555555560000',
      // Below ld.so and the vdso, which execve mapped before the log began.
      `mmap(NULL, 8192, ${ANON}) = 0x7ffff7fc0000`,
      `mmap(NULL, 8192, ${ANON}) = 0x7ffff7fbe000`,
    ]);
    expect(summary.randomization).toEqual({
      randomized: false,
      line: 2,
      logAddress: 0x7ffff7fc0000,
      modelAddress: 0x7ffff7ffd000,
    });
    // Linux had ld.so and the vdso where the model put both mappings.
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'unknown-memory' });
    expect(outcomes[2]).toMatchObject({ status: 'differ', reason: 'unknown-memory' });
  });

  it('a brk the model refused is no ASLR difference, even in a randomized log', () => {
    const r = new Replayer({ arch: 'x86_64', layout: { rlimitData: 65536 } });
    const { outcomes, summary } = replay(
      [
        'brk(NULL)                               = 0x555555560000',
        `mmap(NULL, 8192, ${ANON}) = 0x7f0000000000`,
        'brk(0x555555581000)                     = 0x555555581000',
      ],
      r,
    );
    expect(summary.randomization?.randomized).toBe(true);
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'aslr' });
    expect(outcomes[2]).toMatchObject({ status: 'differ', reason: 'unexplained', model: 0x555555560000 });
  });
});
