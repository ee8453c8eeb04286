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

  test.prop([fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 2 ** 20 })], { numRuns: 15 })(
    'with --relocate, a log shifted by an ASLR offset replays with every call the same',
    (seed, shiftPages) => {
      const shift = -BigInt(shiftPages) * 4096n;
      const lines = [...syntheticLog({ calls: 400, seed, shift })];
      const { out, summary } = replay(lines, new Replayer({ arch: 'x86_64', relocate: true }));
      expect(summary.differed).toBe(0);
      expect(out).toEqual(lines);
      // Without relocation, every difference is put down to ASLR or to an earlier difference.
      const plain = replay(lines).summary;
      expect(plain.differed).toBeGreaterThan(0);
      expect(plain.reasons.unexplained + plain.reasons['unknown-memory']).toBe(0);
    },
  );

  it('prints the model result on a differing call, keeping the prefix, times and duration', () => {
    const { out, outcomes } = replay([
      `12:00:00.000001 mmap(NULL, 4096, ${ANON}) = 0x7f0000000000 <0.000010>`,
      '12:00:00.000002 munmap(0x1001, 4096)   = -1 EINVAL (Invalid argument) <0.000003>',
    ]);
    expect(outcomes[0]).toMatchObject({ status: 'differ', reason: 'aslr', model: 0x7ffff7ffe000 });
    expect(out[0]).toBe(`12:00:00.000001 mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000 <0.000010>`);
    // munmap of an unaligned address: EINVAL in both.
    expect(outcomes[1].status).toBe('match');
  });

  it('starts the break where the first brk(NULL) says, and grows it', () => {
    const { outcomes, summary } = replay([
      'brk(NULL)                               = 0x555555560000',
      'brk(0x555555581000)                     = 0x555555581000',
    ]);
    if (summary.notModelled > 0) return; // brk not in the model yet
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
    const first = outcomes[0];
    if (first.status === 'not-modelled') return;
    expect(first).toMatchObject({ status: 'differ', reason: 'unknown-memory' });
    expect(outcomes[1]).toMatchObject({ status: 'differ', reason: 'aslr' });
    // munmap of memory not mapped in the model also answers 0.
    expect(outcomes[2].status).toBe('match');
    expect(outcomes[3].status).toBe('match');
    expect(outcomes[4]).toMatchObject({ status: 'differ', reason: 'unexplained' });
  });

  it('keeps the fd table: EBADF and EACCES as the log shows them, openat/close when present', () => {
    const { outcomes, replayer } = replay([
      'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) = -1 EBADF (Bad file descriptor)',
      'openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3',
      'mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3, 0) = -1 EACCES (Permission denied)',
      'close(3)                                = 0',
      'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = -1 EBADF (Bad file descriptor)',
    ]);
    expect(outcomes[0].status).toBe('match');
    expect(outcomes[1].status === 'match' || outcomes[1].reason === 'file-mapping').toBe(true);
    if (replayer.fileMappings) expect(outcomes[1].status).toBe('match');
    expect(outcomes[2].status).toBe('match');
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
