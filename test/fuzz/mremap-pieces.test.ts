/**
 * Refused MREMAP_FIXED moves at the vDSO's special mappings, as the fuzz campaign found them
 * (test/fixtures/fuzz/mremap-pieces-*.json) and more by hand (fuzz/mremap-shrink-tail-split-kept.json,
 * mremap-pieces/: with MREMAP_DONTUNMAP, and a source piece of [vvar] refused after its target clear):
 * the model must print what tools/fuzz/linux/mremap-pieces.c printed for the same calls on Linux
 * 6.18 (mremap-pieces-x86_64.txt: every result and the maps before and after), and the rollback
 * check must accept that and still name a change Linux would not make.
 *
 * Linux 6.18 moves a same-size MREMAP_FIXED source of several VMAs piece by piece (`remap_move`),
 * each piece with its own target clear (`mremap_to`, do_munmap of the piece's target); a clear that
 * would split a special mapping answers EINVAL, keeping the pieces moved before and the split at
 * the start of that clear, and leaving everything else of the target (the gaps between pieces, the
 * targets of the pieces after it) mapped as it was.
 */
import { readFileSync } from 'node:fs';
import { type Kernel, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, procMaps } from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { replayCase } from '../../tools/fuzz/campaign.js';
import { type FuzzCase, parseCase } from '../../tools/fuzz/case.js';
import { MREMAP_PIECES_CASES } from '../../tools/fuzz/linux/mremap-pieces.js';
import { issue, type SyscallName } from '../../tools/fuzz/rollback.js';
import { Session } from '../../tools/fuzz/session.js';

const fixture = (name: string): FuzzCase =>
  parseCase(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'), name);

/** The recording: case name -> the lines mremap-pieces.c printed for it. */
function recorded(): Map<string, string[]> {
  const url = new URL('../../tools/fuzz/linux/mremap-pieces-x86_64.txt', import.meta.url);
  const out = new Map<string, string[]>();
  let lines: string[] = [];
  for (const line of readFileSync(url, 'utf8').trimEnd().split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.startsWith('case ')) {
      lines = [];
      out.set(line.slice(5), lines);
    } else lines.push(line);
  }
  return out;
}

/** What mremap-pieces.c prints, from the model: the calls run with no check in between. */
function inModel(c: FuzzCase): string[] {
  const s = new Session(c.config);
  const maps = (title: string) => [
    title,
    ...procMaps(s.tasks[0].mm)
      .trimEnd()
      .split('\n')
      .filter((l) => Number.parseInt(l.split('-')[0], 16) >= 0x1000_0000 && !l.includes('[vsyscall]')),
  ];
  const out = maps('before');
  for (const [i, op] of c.ops.entries()) {
    if (!('args' in op)) throw new Error('a syscall case');
    out.push(`op ${i} ${op.call} = ${issue(s.kernel, op.call as SyscallName, op.args.map(BigInt))}`);
  }
  return [...out, ...maps('after')];
}

describe('a refused MREMAP_FIXED at the special mappings', () => {
  const linux = recorded();

  it('records every case on Linux', () => {
    expect([...linux.keys()].sort()).toEqual([...MREMAP_PIECES_CASES].sort());
  });

  it.each(MREMAP_PIECES_CASES)(
    '%s does in the model what it did on Linux, and passes every check',
    (name) => {
      const c = fixture(name);
      expect(inModel(c)).toEqual(linux.get(name));
      expect(replayCase(c).failure).toBeNull();
    },
  );

  /** The case's calls with `plant` run right after its last one (the refused mremap). */
  function planted(name: string, plant: (k: Kernel) => void) {
    const c = fixture(name);
    return replayCase(c, {
      kernel: (k) => {
        const real = k.sys.mremap.bind(k.sys);
        let calls = 0;
        k.sys.mremap = (...a: Parameters<typeof real>) => {
          const r = real(...a);
          if (++calls === c.ops.filter((o) => o.call === 'mremap').length) {
            expect(r).toBe(-22);
            plant(k);
          }
          return r;
        };
      },
    }).failure;
  }
  const FIX = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

  it('still names a copy left in the refused piece’s target', () => {
    // Piece 1 of [0x20001000, 0x20007000) goes to [0x7ffff7ff5000, 0x7ffff7ffa000) and is refused
    // at [vvar]: a VMA left there (a half-done copy) is no part of what Linux keeps.
    const f = planted('fuzz/mremap-pieces-second-splits-vvar.json', (k) => {
      expect(k.sys.mmap(0x7fff_f7ff_5000, 0x1000, 3, FIX, -1, 0)).toBe(0x7fff_f7ff_5000);
    });
    expect(f?.kind).toBe('rollback');
    expect(f?.message).toContain('target page 0x7ffff7ff5000 still mapped');
  });

  it('still names a refused piece’s target cleared but for the special mapping', () => {
    // Piece 1 is refused clearing [0x7ffff7fea000, 0x7ffff7ff9000): the mapping at 0x7ffff7ff0000
    // stays on Linux; unmapped, the target is neither as it was nor cleared.
    const f = planted('fuzz/mremap-pieces-refused-target-kept.json', (k) => {
      expect(k.sys.munmap(0x7fff_f7ff_0000, 0x7000)).toBe(0);
    });
    expect(f?.kind).toBe('rollback');
    expect(f?.message).toContain('target page 0x7ffff7ff7000 still mapped');
  });

  it('still names a change in the target between the pieces', () => {
    // The source's hole at 0x20004000 is the target's gap at 0x7ffff7ff3000, which no clear touches.
    const f = planted('fuzz/mremap-pieces-gap-kept-second-splits-vvar.json', (k) => {
      expect(k.sys.mmap(0x7fff_f7ff_3000, 0x1000, 3, FIX, -1, 0)).toBe(0x7fff_f7ff_3000);
    });
    expect(f?.kind).toBe('rollback');
    expect(f?.message).toMatch(
      /VMAs in \[0x7ffff7ff3000, \S+\): was \[\], now \[0x7ffff7ff3000-0x7ffff7ff4000 /,
    );
  });

  it('still names a refused piece’s target half cleared', () => {
    // Piece 1, [vvar, vvar+2), is refused after its target [0x300003000, 0x300005000) was cleared
    // (prep_move_vma: [vvar] may not be split); a page left there is no part of what Linux keeps.
    const f = planted('mremap-pieces/source-piece-splits-vvar-target-cleared.json', (k) => {
      expect(k.sys.mmap(0x3_0000_4000, 0x1000, 1, FIX, -1, 0)).toBe(0x3_0000_4000);
    });
    expect(f?.kind).toBe('rollback');
    expect(f?.message).toContain('target page 0x300004000 still mapped');
  });

  it('still names a tail half cut', () => {
    // The tail [0x7ffff7ff6000, 0x7ffff7ff9000) is refused at [vvar] keeping the split at its start
    // and the page below [vvar]; that page unmapped is a munmap that did not roll back.
    const f = planted('fuzz/mremap-shrink-tail-split-kept.json', (k) => {
      expect(k.sys.munmap(0x7fff_f7ff_6000, 0x1000)).toBe(0);
    });
    expect(f?.kind).toBe('rollback');
    expect(f?.message).toContain('target page 0x7ffff7ff7000 still mapped (the tail of the source)');
  });
});
