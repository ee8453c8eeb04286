import { describe, expect, it } from 'vitest';
import { ARG_COUNT, generateSequence, serializeSequence } from '../../tools/linux-harness/generate.js';

const SEEDS = Array.from({ length: 160 }, (_, i) => i + 1);

describe('linux-harness generator', () => {
  it('is deterministic per seed', () => {
    for (const seed of [1, 2, 77, 123456, -5]) {
      expect(generateSequence(seed)).toEqual(generateSequence(seed));
      expect(serializeSequence(generateSequence(seed))).toBe(serializeSequence(generateSequence(seed)));
    }
  });

  it('gives different sequences for different seeds', () => {
    const texts = new Set(SEEDS.map((s) => serializeSequence(generateSequence(s))));
    expect(texts.size).toBe(SEEDS.length);
  });

  it('produces 40-80 well-formed ops that refer only to earlier ops', () => {
    for (const seed of SEEDS) {
      const ops = generateSequence(seed);
      expect(ops.length).toBeGreaterThanOrEqual(40);
      expect(ops.length).toBeLessThanOrEqual(80);
      expect(ops[0].kind).toBe('sentinel');
      ops.forEach((op, i) => {
        expect(op.args.length).toBe(ARG_COUNT[op.op]);
        for (const a of op.args) {
          expect(a).toMatch(
            /^-?(0x[0-9a-f]+|\d+|\$(\d+|brk|brkpage|startbrk))([+-](0x[0-9a-f]+|\d+|\$(\d+|brk|brkpage|startbrk)))*$/,
          );
          for (const m of a.matchAll(/\$(\d+)/g)) {
            expect(Number(m[1])).toBeLessThan(i);
            expect(Number(m[1])).toBeGreaterThan(0); // never the sentinel
          }
        }
      });
    }
  });

  it('respects minOps/maxOps', () => {
    const ops = generateSequence(9, { minOps: 10, maxOps: 10 });
    expect(ops.length).toBe(10);
  });

  it('makes roughly a fifth of the ops bad inputs', () => {
    let bad = 0;
    let total = 0;
    for (const seed of SEEDS) {
      for (const op of generateSequence(seed)) {
        total++;
        if (op.kind.startsWith('bad:')) bad++;
      }
    }
    expect(bad / total).toBeGreaterThan(0.12);
    expect(bad / total).toBeLessThan(0.3);
  });

  it('covers the required cases across 160 seeds', () => {
    const kinds = new Set<string>();
    for (const seed of SEEDS) for (const op of generateSequence(seed)) kinds.add(op.kind);
    const all = [...kinds].join('\n');
    const required = [
      /^mmap:new$/m,
      /^mmap:new.*:hint-free$/m,
      /^mmap:new.*:hint-occupied$/m,
      /^mmap:new.*:hint-low$/m,
      /^mmap:new-populate/m,
      /^mmap:new-noreserve/m,
      /^mmap:new-stack/m,
      /^mmap:new-growsdown/m,
      /^mmap:new-shared/m,
      /^mmap:new-32bit/m,
      /^mmap:new-droppable/m,
      /^mmap:new-unknown-flag/m,
      /^mmap:fixed-over-whole$/m,
      /^mmap:fixed-over-middle$/m,
      /^mmap:fixed-over-beyond$/m,
      /^mmap:noreplace-occupied$/m,
      /^mmap:noreplace-arena$/m,
      /^mmap:fixed-above-heap$/m,
      /^munmap:middle$/m,
      /^munmap:hole$/m,
      /^munmap:beyond$/m,
      /^mprotect:middle$/m,
      /^mprotect:.*-restore/m,
      /^mprotect:beyond/m,
      /^brk:grow$/m,
      /^brk:shrink$/m,
      /^brk:unaligned$/m,
      /^brk:below-start$/m,
      /^brk:into-mapping$/m,
      /^mremap:shrink$/m,
      /^mremap:grow-inplace$/m,
      /^mremap:grow-maymove$/m,
      /^mremap:fixed-arena$/m,
      /^mremap:dontunmap/m,
      ...[
        'DONTNEED',
        'FREE',
        'DONTFORK',
        'DOFORK',
        'HUGEPAGE',
        'NOHUGEPAGE',
        'DONTDUMP',
        'NORMAL',
        'RANDOM',
      ].map((a) => new RegExp(`^madvise:${a}-`, 'm')),
      /^madvise:(SEQUENTIAL|WILLNEED)-hole$/m,
      /^touch:in$/m,
      /^peek:in$/m,
      /^touch:below-growsdown$/m,
      /^bad:mmap-len0$/m,
      /^bad:mmap-len-wrap$/m,
      /^bad:mmap-type$/m,
      /^bad:mmap-fixed-beyond-task-size$/m,
      /^bad:mprotect-prot-bits$/m,
      /^bad:mremap-flags$/m,
      /^bad:madvise-advice$/m,
      /^bad:madvise-unmapped$/m,
      /^bad:mremap-unmapped$/m,
    ];
    for (const re of required) expect(all, `missing ${re}`).toMatch(re);
  });
});
