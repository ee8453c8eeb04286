/**
 * Overlapping calls of threads in a log: the replay runs each call at its return, and when a result
 * contradicts Linux's, finds the order the calls took effect in (linearize.ts), going back through
 * the window's checkpoints. The checker runs after every line.
 */
import { describe, expect, it } from 'vitest';
import { type CallOutcome, ReplayContradiction, Replayer } from '../../src/replay/engine.js';
import { createParserState, parseLine } from '../../src/trace/strace-parse.js';

const ANON = 'PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0';
const TOP = 0x7ffff7fff000;
const at = (pages: number) => `0x${(TOP - pages * 4096).toString(16)}`;

function replay(lines: string[], options: ConstructorParameters<typeof Replayer>[0] = {}) {
  const r = new Replayer({ arch: 'x86_64', ramBytes: 64 * 2 ** 20, ...options });
  const state = createParserState({ arch: 'x86_64' });
  const outcomes: CallOutcome[] = [];
  const current: number[] = [];
  for (const l of lines) {
    const ev = parseLine(l, state);
    const o = r.step(ev);
    expect(r.kernel.check()).toEqual([]);
    if (o) {
      outcomes.push(o);
      current.push(r.kernel.current?.pid ?? -1);
    }
  }
  return { outcomes, summary: r.finish(), replayer: r, current };
}

const statuses = (o: CallOutcome[]) => o.map((x) => `${x.event.line}:${x.status}`);

describe('overlapping calls of threads', () => {
  it('runs two overlapping mappings in the order their results show, not the order they returned', () => {
    const { outcomes, summary } = replay([
      `100   mmap(NULL, 8192, ${ANON}) = ${at(2)}`,
      `101   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
      `100   mmap(NULL, 4096, ${ANON}) = ${at(4)}`,
      `101   <... mmap resumed>)               = ${at(3)}`,
    ]);
    expect(statuses(outcomes)).toEqual(['1:match', '3:match', '4:match']);
    expect(summary.overlaps).toEqual({
      searches: 1,
      reordered: 1,
      inconsistent: 0,
      bounded: 0,
      notSearched: 0,
    });
  });

  it('runs a pending unmap before the mapping of another thread that reused its address', () => {
    const { outcomes, summary } = replay([
      `100   mmap(NULL, 4096, ${ANON}) = ${at(1)}`,
      `100   munmap(${at(1)}, 4096 <unfinished ...>`,
      `101   mmap(NULL, 8192, ${ANON}) = ${at(2)}`,
      `100   <... munmap resumed>)             = 0`,
      `101   mmap(NULL, 4096, ${ANON}) = ${at(3)}`,
    ]);
    expect(statuses(outcomes)).toEqual(['1:match', '3:match', '4:match', '5:match']);
    expect(summary.overlaps.reordered).toBe(1);
    expect(summary.tasks).toHaveLength(1);
  });

  it('says so when no order explains the results, and keeps the printed order', () => {
    const { outcomes, summary } = replay([
      `100   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
      `101   mmap(NULL, 4096, ${ANON}) = ${at(1)}`,
      `100   <... mmap resumed>)               = ${at(7)}`,
      `101   mmap(NULL, 4096, ${ANON}) = ${at(3)}`,
    ]);
    expect(statuses(outcomes)).toEqual(['2:match', '3:differ', '4:match']);
    expect(outcomes[1].line).toContain(`= ${at(2)}`);
    expect(summary.overlaps).toEqual({
      searches: 1,
      reordered: 0,
      inconsistent: 1,
      bounded: 0,
      notSearched: 0,
    });
  });

  it('searches again when a call the search ran early returns with another result', () => {
    const { outcomes, summary } = replay([
      `100   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
      `101   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
      `102   mmap(NULL, 4096, ${ANON}) = ${at(3)}`,
      `101   <... mmap resumed>)               = ${at(1)}`,
      `100   <... mmap resumed>)               = ${at(2)}`,
    ]);
    expect(statuses(outcomes)).toEqual(['3:match', '4:match', '5:match']);
    expect(summary.overlaps.searches).toBeGreaterThanOrEqual(2);
  });

  it('leaves the current task the one whose call the step returned', () => {
    const { current, replayer } = replay([
      `100   mmap(NULL, 8192, ${ANON}) = ${at(2)}`,
      `101   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
      `100   mmap(NULL, 4096, ${ANON}) = ${at(4)}`,
      `101   <... mmap resumed>)               = ${at(3)}`,
    ]);
    const pids = [...replayer.kernel.tasks.keys()];
    expect(current).toEqual([pids[0], pids[0], pids[1]]);
  });

  it('a snapshot contradiction of the printed order is an order to search, and one of every order stops the replay', () => {
    const maps = '7ffff7ffe000-7ffff7fff000 rw-p 00000000 00:00 0 \n';
    const fine = replay(
      [
        `100   munmap(0x7ffff7ffe000, 4096 <unfinished ...>`,
        `101   mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000`,
        `100   <... munmap resumed>)             = 0`,
      ],
      { maps },
    );
    expect(statuses(fine.outcomes)).toEqual(['2:match', '3:match']);
    expect(() =>
      replay(
        [
          `100   mprotect(0x7ffff7ffe000, 4096, PROT_READ <unfinished ...>`,
          `101   mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000`,
          `100   <... mprotect resumed>)           = 0`,
        ],
        { maps },
      ),
    ).toThrow(ReplayContradiction);
  });

  it('does not move a call across a clone of its process', () => {
    // Only 101's mapping after 100's would explain both results, but a clone came between.
    const { outcomes, summary } = replay([
      `100   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
      `101   mmap(NULL, 4096, ${ANON}) = ${at(1)}`,
      '101   clone(child_stack=NULL, flags=SIGCHLD) = 102',
      `100   <... mmap resumed>)               = ${at(1)}`,
    ]);
    expect(statuses(outcomes)).toEqual(['2:match', '4:differ']);
    expect(summary.overlaps.searches).toBe(0);
  });

  it('keeps the printed order with --relocate', () => {
    const { outcomes, summary } = replay(
      [
        `100   mmap(NULL, 8192, ${ANON}) = ${at(2)}`,
        `101   mmap(NULL, 4096, ${ANON} <unfinished ...>`,
        `100   mmap(NULL, 4096, ${ANON}) = ${at(4)}`,
        `101   <... mmap resumed>)               = ${at(3)}`,
      ],
      { relocate: true },
    );
    expect(outcomes.map((o) => o.status)).toContain('differ');
    expect(summary.overlaps.searches).toBe(0);
  });
});
