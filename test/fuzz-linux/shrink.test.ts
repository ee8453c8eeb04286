import { describe, expect, it } from 'vitest';
import { removeOps, shrink } from '../../tools/fuzz-linux/shrink.js';
import type { Op } from '../../tools/linux-harness/generate.js';

const op = (kind: string, ...args: string[]): Op => ({ op: 'mmap', args, kind });

describe('removeOps', () => {
  const ops = [
    op('s', '0'),
    op('a', '0'),
    op('b', '$1+0x1000'),
    op('c', '$2', '$1'),
    op('d', '0'),
    op('e', '$4'),
  ];

  it('drops the ops that refer to a removed op, transitively, and renumbers the rest', () => {
    expect(removeOps(ops, new Set([1])).map((o) => o.kind)).toEqual(['s', 'd', 'e']);
    expect(removeOps(ops, new Set([1]))[2].args).toEqual(['$1']);
    const kept = removeOps(ops, new Set([4]));
    expect(kept.map((o) => [o.kind, o.args])).toEqual([
      ['s', ['0']],
      ['a', ['0']],
      ['b', ['$1+0x1000']],
      ['c', ['$2', '$1']],
    ]);
    expect(removeOps(ops, new Set([0, 3])).map((o) => o.kind)).toEqual(['a', 'b', 'd', 'e']);
    expect(removeOps(ops, new Set([0, 3]))[1].args).toEqual(['$0+0x1000']);
  });
});

describe('shrink (ddmin)', () => {
  it('finds the two ops a property needs among sixty, with references kept consistent', () => {
    const ops: Op[] = [op('sentinel', '0')];
    for (let i = 1; i < 60; i++)
      ops.push(op(i === 17 ? 'x' : i === 41 ? 'y' : `n${i}`, i % 3 === 0 ? `$${i - 1}` : '0'));
    let asked = 0;
    const result = shrink(ops, (cands) =>
      cands.map((c) => {
        asked++;
        const x = c.findIndex((o) => o.kind === 'x');
        const y = c.findIndex((o) => o.kind === 'y');
        return x > 0 && y > x;
      }),
    );
    expect(result.ops.map((o) => o.kind)).toEqual(['sentinel', 'x', 'y']);
    expect(result.tests).toBe(asked);
    expect(asked).toBeLessThan(200);
  });

  it('keeps an op whose referent is needed, and returns the input when nothing smaller holds', () => {
    const ops = [op('s', '0'), op('base', '0'), op('noise', '0'), op('use', '$1+0x2000')];
    const needsUse = shrink(ops, (cands) => cands.map((c) => c.some((o) => o.kind === 'use')));
    expect(needsUse.ops.map((o) => [o.kind, o.args[0]])).toEqual([
      ['s', '0'],
      ['base', '0'],
      ['use', '$1+0x2000'],
    ]);
    expect(shrink(ops, (cands) => cands.map(() => false)).ops).toEqual(ops);
  });

  it('never removes the ops it is told to keep (forks: the processes after one are numbered by it)', () => {
    const ops = [op('s', '0'), op('fork'), op('a', '0'), op('fork'), op('b', '0'), op('c', '0')];
    const result = shrink(ops, (cands) => cands.map((c) => c.some((o) => o.kind === 'c')), {
      keep: (o) => o.kind === 'fork',
    });
    expect(result.ops.map((o) => o.kind)).toEqual(['s', 'fork', 'fork', 'c']);
  });
});
