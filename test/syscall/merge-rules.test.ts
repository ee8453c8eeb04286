/**
 * VMA merge and split rules: the rows of the §3.1 merge matrix (shared/reference/linux-mm-semantics.md)
 * that involve neither fork nor files, plus the variants that show why (read faults, which map the
 * zero page and so leave a VMA unfaulted; the v6.16 faulted-into-unfaulted merge). Each case was run
 * on Linux 6.18.44 (build fc-v857) at the same addresses; the maps lines and smaps VmFlags here are
 * what it printed. "Faulted" means written. The build before it (fc-v782) allocated a page on a
 * read fault, so a read counted as a fault there: the `zeroPageReads: false` variants show that
 * build's results, as its recorded fixtures had them.
 */

import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_SHARED,
  MAP_STACK,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  type Task,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { A, ANON, anonLine, maps, P, RW, setup, vmFlags } from './errno-support.js';

const FNR = ANON | MAP_FIXED_NOREPLACE;
const B = 0x30000000; // where a VMA is made before mremap brings it next to A
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
const RW_AC = 'rd wr mr mw me ac';
const RO = 'rd mr mw me';
const RO_AC = 'rd mr mw me ac';

const write = (t: Task, addr: number, pages: number) => {
  for (let i = 0; i < pages; i++) t.write(addr + i * P, [1]);
};
const read = (t: Task, addr: number) => t.read(addr, 1);

/** One rw-p line [A, A + pages*P) with plain accounted flags. */
const oneLine = (t: Task, pages = 4) => {
  expect(maps(t)).toEqual([anonLine(A, A + pages * P, 'rw-p')]);
  expect(vmFlags(t)).toEqual([RW_AC]);
};
/** Two rw-p lines [A, A+2P) and [A+2P, A+4P) with the given flags. */
const twoLines = (t: Task, perms: string, flags: [string, string]) => {
  expect(maps(t)).toEqual([anonLine(A, A + 2 * P, perms), anonLine(A + 2 * P, A + 4 * P, perms)]);
  expect(vmFlags(t)).toEqual(flags);
};

describe('merge matrix (§3.1), anonymous private 2 + 2 pages', () => {
  it('1. fresh + fresh adjacent → 1 line (either order)', () => {
    const s = setup();
    s.sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    s.sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
    oneLine(s.t);
    const r = setup();
    r.sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
    r.sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    oneLine(r.t);
  });

  it('2. mprotect of the middle to RO (unfaulted) → 3 lines; the RO piece loses VM_ACCOUNT', () => {
    const { sys, t } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    expect(sys.mprotect(A + P, 2 * P, PROT_READ)).toBe(0);
    expect(maps(t)).toEqual([
      anonLine(A, A + P, 'rw-p'),
      anonLine(A + P, A + 3 * P, 'r--p'),
      anonLine(A + 3 * P, A + 4 * P, 'rw-p'),
    ]);
    expect(vmFlags(t)).toEqual([RW_AC, RO, RW_AC]);
  });

  it('2b. … and back to RW → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    sys.mprotect(A + P, 2 * P, PROT_READ);
    expect(sys.mprotect(A + P, 2 * P, RW)).toBe(0);
    oneLine(t);
  });

  it('3. faulted, middle to RO (keeps VM_ACCOUNT) then back to RW → 1 line (the pieces share an anon_vma)', () => {
    for (const touch of ['write', 'read-allocating'] as const) {
      const { sys, t } = setup(touch === 'write' ? {} : { zeroPageReads: false });
      sys.mmap(A, 4 * P, RW, FNR, -1, 0);
      if (touch === 'write') write(t, A, 4);
      else read(t, A);
      expect(sys.mprotect(A + P, 2 * P, PROT_READ)).toBe(0);
      expect(maps(t)).toEqual([
        anonLine(A, A + P, 'rw-p'),
        anonLine(A + P, A + 3 * P, 'r--p'),
        anonLine(A + 3 * P, A + 4 * P, 'rw-p'),
      ]);
      expect(vmFlags(t)).toEqual([RW_AC, RO_AC, RW_AC]);
      expect(sys.mprotect(A + P, 2 * P, RW)).toBe(0);
      oneLine(t);
    }
  });

  it('3b. read only (the zero page), middle to RO drops VM_ACCOUNT, then back to RW → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    read(t, A);
    expect(sys.mprotect(A + P, 2 * P, PROT_READ)).toBe(0);
    expect(vmFlags(t)).toEqual([RW_AC, RO, RW_AC]);
    expect(sys.mprotect(A + P, 2 * P, RW)).toBe(0);
    oneLine(t);
  });

  it('4. faulted A + new adjacent B → 1 line (written or read; on either side)', () => {
    for (const touch of ['write', 'read', 'left'] as const) {
      const { sys, t } = setup();
      if (touch === 'left') {
        sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
        write(t, A + 2 * P, 2);
        sys.mmap(A, 2 * P, RW, FNR, -1, 0);
      } else {
        sys.mmap(A, 2 * P, RW, FNR, -1, 0);
        if (touch === 'write') write(t, A, 2);
        else read(t, A);
        sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
      }
      oneLine(t);
    }
  });

  it('5. faulted A + faulted B mremapped next to A → 2 lines (B keeps its pgoff and anon_vma)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    write(t, A, 2);
    sys.mmap(B, 2 * P, RW, FNR, -1, 0);
    write(t, B, 2);
    expect(sys.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)).toBe(A + 2 * P);
    twoLines(t, 'rw-p', [RW_AC, RW_AC]);
  });

  it('6. unfaulted A + unfaulted B mremapped → 1 line (B takes a pgoff for its new address)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(B, 2 * P, RW, FNR, -1, 0);
    expect(sys.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)).toBe(A + 2 * P);
    oneLine(t);
  });

  it('6b. faulted A + unfaulted B mremapped → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    write(t, A, 2);
    sys.mmap(B, 2 * P, RW, FNR, -1, 0);
    expect(sys.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)).toBe(A + 2 * P);
    oneLine(t);
  });

  it('6c. unfaulted A + faulted B mremapped → 2 lines', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(B, 2 * P, RW, FNR, -1, 0);
    write(t, B, 2);
    expect(sys.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)).toBe(A + 2 * P);
    twoLines(t, 'rw-p', [RW_AC, RW_AC]);
  });

  it('6c. … moved back to its own place, the faulted VMA merges with a new neighbour there again → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(B, 2 * P, RW, FNR, -1, 0);
    write(t, B, 2);
    sys.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P);
    expect(sys.mremap(A + 2 * P, 2 * P, 2 * P, MOVE, B)).toBe(B);
    expect(sys.mmap(B + 2 * P, 2 * P, RW, FNR, -1, 0)).toBe(B + 2 * P);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p'), anonLine(B, B + 4 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RW_AC, RW_AC]);
  });

  it('7. plain vs MAP_NORESERVE → 2 lines (ac vs nr)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, RW, FNR | MAP_NORESERVE, -1, 0);
    twoLines(t, 'rw-p', [RW_AC, 'rd wr mr mw me nr']);
  });

  it('8. plain vs MAP_STACK → 2 lines (MAP_STACK sets VM_NOHUGEPAGE)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, RW, FNR | MAP_STACK, -1, 0);
    twoLines(t, 'rw-p', [RW_AC, 'rd wr mr mw me ac nh']);
  });

  it('9. faulted RW→RO vs fresh RO → 2 identical-looking r--p lines (the faulted one keeps ac)', () => {
    for (const touch of ['write', 'read-allocating'] as const) {
      const { sys, t } = setup(touch === 'write' ? {} : { zeroPageReads: false });
      sys.mmap(A, 2 * P, RW, FNR, -1, 0);
      if (touch === 'write') write(t, A, 2);
      else read(t, A);
      sys.mprotect(A, 2 * P, PROT_READ);
      sys.mmap(A + 2 * P, 2 * P, PROT_READ, FNR, -1, 0);
      twoLines(t, 'r--p', [RO_AC, RO]);
    }
  });

  it('9a. read only (the zero page) RW→RO vs fresh RO → 1 line: a read is no fault', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    read(t, A);
    sys.mprotect(A, 2 * P, PROT_READ);
    sys.mmap(A + 2 * P, 2 * P, PROT_READ, FNR, -1, 0);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'r--p')]);
    expect(vmFlags(t)).toEqual([RO]);
  });

  it('9b. unfaulted RW→RO vs fresh RO → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mprotect(A, 2 * P, PROT_READ);
    sys.mmap(A + 2 * P, 2 * P, PROT_READ, FNR, -1, 0);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'r--p')]);
    expect(vmFlags(t)).toEqual([RO]);
  });

  it('10. RO + RW adjacent, then mprotect RO→RW (charged, gains ac) → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, PROT_READ, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'r--p'), anonLine(A + 2 * P, A + 4 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RO, RW_AC]);
    expect(sys.mprotect(A, 2 * P, RW)).toBe(0);
    oneLine(t);
  });

  it('11. plain vs MAP_POPULATE → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, RW, FNR | MAP_POPULATE, -1, 0);
    oneLine(t);
  });

  it('12. two adjacent MAP_SHARED anonymous mappings → 2 lines (two shmem objects)', () => {
    const { sys, t } = setup();
    const SH = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
    sys.mmap(A, 2 * P, RW, SH, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, RW, SH, -1, 0);
    const lines = maps(t);
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.slice(0, 37))).toEqual([
      '10000000-10002000 rw-s 00000000 00:01',
      '10002000-10004000 rw-s 00000000 00:01',
    ]);
    expect(lines.map((l) => l.slice(73))).toEqual(['/dev/zero (deleted)', '/dev/zero (deleted)']);
    const inode = (l: string) => l.split(/\s+/)[4];
    expect(inode(lines[0])).not.toBe(inode(lines[1]));
    expect(vmFlags(t)).toEqual(['rd wr sh mr mw me ms', 'rd wr sh mr mw me ms']);
  });

  it('15. plain vs MAP_LOCKED → 2 lines (lo)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, RW, FNR | MAP_LOCKED, -1, 0);
    twoLines(t, 'rw-p', [RW_AC, 'rd wr mr mw me lo ac']);
  });

  it('16. hole punched then refilled → 1 line (munmap itself never merges), unfaulted or faulted', () => {
    for (const faulted of [false, true]) {
      const { sys, t } = setup();
      sys.mmap(A, 6 * P, RW, FNR, -1, 0);
      if (faulted) write(t, A, 6);
      sys.munmap(A + 2 * P, 2 * P);
      expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p'), anonLine(A + 4 * P, A + 6 * P, 'rw-p')]);
      sys.mmap(A + 2 * P, 2 * P, RW, FNR, -1, 0);
      oneLine(t, 6);
    }
  });

  it('17. faulted, MAP_FIXED over the middle with the same flags → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 6 * P, RW, FNR, -1, 0);
    write(t, A, 6);
    expect(sys.mmap(A + 2 * P, 2 * P, RW, ANON | MAP_FIXED, -1, 0)).toBe(A + 2 * P);
    oneLine(t, 6);
  });

  it('19. mremap grow in place until touching the next VMA → 1 line (unfaulted)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    sys.mmap(A + 4 * P, 2 * P, RW, FNR, -1, 0);
    expect(sys.mremap(A, 2 * P, 3 * P, 0, 0)).toBe(A);
    expect(maps(t)).toEqual([anonLine(A, A + 3 * P, 'rw-p'), anonLine(A + 4 * P, A + 6 * P, 'rw-p')]);
    expect(sys.mremap(A, 3 * P, 4 * P, 0, 0)).toBe(A);
    oneLine(t, 6);
  });

  it('19. … but both faulted (two anon_vmas) → 2 lines', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    write(t, A, 2);
    sys.mmap(A + 4 * P, 2 * P, RW, FNR, -1, 0);
    write(t, A + 4 * P, 2);
    expect(sys.mremap(A, 2 * P, 3 * P, 0, 0)).toBe(A);
    expect(sys.mremap(A, 3 * P, 4 * P, 0, 0)).toBe(A);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'rw-p'), anonLine(A + 4 * P, A + 6 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RW_AC, RW_AC]);
  });

  it('20. three VMAs r--, r-x, --- then mprotect all to r-- → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, PROT_READ, FNR, -1, 0);
    sys.mmap(A + 2 * P, 2 * P, PROT_READ | PROT_EXEC, FNR, -1, 0);
    sys.mmap(A + 4 * P, 2 * P, PROT_NONE, FNR, -1, 0);
    expect(vmFlags(t)).toEqual([RO, 'rd ex mr mw me', 'mr mw me']);
    expect(sys.mprotect(A, 6 * P, PROT_READ)).toBe(0);
    expect(maps(t)).toEqual([anonLine(A, A + 6 * P, 'r--p')]);
    expect(vmFlags(t)).toEqual([RO]);
  });
});

describe('v6.16: a faulted VMA may merge into an unfaulted neighbour on mprotect (selftest mprotect_unfaulted_left)', () => {
  it('with MAP_NORESERVE → 1 line', () => {
    const { sys, t } = setup();
    sys.mmap(A, 10 * P, RW, FNR | MAP_NORESERVE, -1, 0);
    sys.mprotect(A, 5 * P, PROT_READ);
    t.write(A + 5 * P, [0x78]);
    expect(sys.mprotect(A + 5 * P, 5 * P, PROT_READ)).toBe(0);
    expect(maps(t)).toEqual([anonLine(A, A + 10 * P, 'r--p')]);
    expect(vmFlags(t)).toEqual(['rd mr mw me nr']);
  });

  it('accounted → 2 lines: the unfaulted left piece dropped ac, the faulted right one keeps it', () => {
    const { sys, t } = setup();
    sys.mmap(A, 10 * P, RW, FNR, -1, 0);
    sys.mprotect(A, 5 * P, PROT_READ);
    t.write(A + 5 * P, [0x78]);
    expect(sys.mprotect(A + 5 * P, 5 * P, PROT_READ)).toBe(0);
    expect(maps(t)).toEqual([anonLine(A, A + 5 * P, 'r--p'), anonLine(A + 5 * P, A + 10 * P, 'r--p')]);
    expect(vmFlags(t)).toEqual([RO, RO_AC]);
  });

  it('RW unfaulted | RO read-faulted, the right made RW (charged) → 1 line, accounted or NORESERVE', () => {
    for (const nr of [0, MAP_NORESERVE]) {
      const { sys, t } = setup();
      sys.mmap(A, 2 * P, RW, FNR | nr, -1, 0);
      sys.mmap(A + 2 * P, 2 * P, PROT_READ, FNR | nr, -1, 0);
      read(t, A + 2 * P);
      expect(sys.mprotect(A + 2 * P, 2 * P, RW)).toBe(0);
      expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'rw-p')]);
      expect(vmFlags(t)).toEqual([nr ? 'rd wr mr mw me nr' : RW_AC]);
    }
  });
});

describe('MREMAP_DONTUNMAP and the old VMA', () => {
  it('a whole faulted VMA left behind is unfaulted again: RW→RO drops ac and it merges with a fresh RO neighbour', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    t.write(A, [1]);
    expect(sys.mremap(A, 2 * P, 2 * P, MOVE | MREMAP_DONTUNMAP, B)).toBe(B);
    expect(sys.mprotect(A, 2 * P, PROT_READ)).toBe(0);
    sys.mmap(A + 2 * P, 2 * P, PROT_READ, FNR, -1, 0);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'r--p'), anonLine(B, B + 2 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RO, RW_AC]);
  });

  it('a page moved out of the middle of a faulted VMA: the split pieces stay faulted (RW→RO keeps ac)', () => {
    const { sys, t } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    t.write(A, [1]);
    expect(sys.mremap(A + P, P, P, MOVE | MREMAP_DONTUNMAP, B)).toBe(B);
    expect(sys.mprotect(A + P, P, PROT_READ)).toBe(0);
    expect(maps(t)).toEqual([
      anonLine(A, A + P, 'rw-p'),
      anonLine(A + P, A + 2 * P, 'r--p'),
      anonLine(A + 2 * P, A + 4 * P, 'rw-p'),
      anonLine(B, B + P, 'rw-p'),
    ]);
    expect(vmFlags(t)).toEqual([RW_AC, RO_AC, RW_AC, RW_AC]);
  });
});
