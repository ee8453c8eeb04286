/**
 * mprotect(2) argument checks and effects, one test per row of the errno catalogue
 * (shared/reference/linux-mm-semantics.md §1.3), in the kernel's order. Verified on Linux 6.18.44.
 */

import {
  EACCES,
  EINVAL,
  ENOMEM,
  Kernel,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_NORESERVE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { A, ANON, anonLine, maps, P, RW, setup, TASK_SIZE, vmFlags } from './errno-support.js';

const FNR = ANON | MAP_FIXED_NOREPLACE;
const PROT_SEM = 0x8;
const RW_FLAGS = 'rd wr mr mw me ac';
const RO_FLAGS = 'rd mr mw me';

describe('mprotect errno rows (§1.3)', () => {
  it('1. PROT_GROWSDOWN|PROT_GROWSUP → EINVAL, before the alignment and length checks', () => {
    const { sys } = setup();
    expect(sys.mprotect(A + 1, P, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)).toBe(-EINVAL);
    expect(sys.mprotect(A, 0, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)).toBe(-EINVAL);
  });

  it('2. an unaligned start → EINVAL, even when len is 0', () => {
    expect(setup().sys.mprotect(A + 1, 0, PROT_READ)).toBe(-EINVAL);
  });

  it('3. len == 0 → 0 even when unmapped, and with unknown prot bits', () => {
    const { sys } = setup();
    expect(sys.mprotect(A, 0, 0x10)).toBe(0);
    expect(sys.mprotect(0x20000000, 0, PROT_READ)).toBe(0);
  });

  it('4. an end that wraps (or a length that page-aligns to 0) → ENOMEM', () => {
    const { sys } = setup();
    expect(sys.mprotect(-P, 2 * P, PROT_READ)).toBe(-ENOMEM);
    expect(sys.mprotect(A, -1, PROT_READ)).toBe(-ENOMEM);
    expect(sys.mprotect(-P, P, PROT_READ)).toBe(-ENOMEM);
  });

  it('5. a prot bit outside R|W|X|SEM → EINVAL, checked before the VMA lookup', () => {
    const { sys } = setup();
    expect(sys.mprotect(A, P, 0x10)).toBe(-EINVAL);
    expect(sys.mprotect(A, P, (2n ** 32n) | BigInt(PROT_READ))).toBe(-EINVAL);
    expect(sys.mprotect(0x20000000, P, PROT_READ | PROT_SEM)).toBe(-ENOMEM);
  });

  it('7. no VMA intersects [start, end) → ENOMEM (also at TASK_SIZE)', () => {
    const { sys } = setup();
    expect(sys.mprotect(0x20000000, P, PROT_READ)).toBe(-ENOMEM);
    expect(sys.mprotect(TASK_SIZE, P, PROT_READ)).toBe(-ENOMEM);
  });

  it('8a. PROT_GROWSDOWN on a VMA without VM_GROWSDOWN → EINVAL; with the first VMA at or after end → ENOMEM', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    expect(sys.mprotect(A + P, P, PROT_READ | PROT_GROWSDOWN)).toBe(-EINVAL);
    expect(sys.mprotect(A - 2 * P, P, PROT_READ | PROT_GROWSDOWN)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p')]);
  });

  it('8a. PROT_GROWSDOWN on a grows-down VMA extends the range down to the VMA start', () => {
    const { sys, t } = setup();
    const G = 0x30000000;
    expect(sys.mmap(G, 4 * P, RW, FNR | MAP_GROWSDOWN, -1, 0)).toBe(G);
    expect(vmFlags(t)).toEqual(['rd wr mr mw me gd ac']);
    expect(sys.mprotect(G + 2 * P, P, PROT_READ | PROT_GROWSDOWN)).toBe(0);
    expect(maps(t)).toEqual([anonLine(G, G + 3 * P, 'r--p'), anonLine(G + 3 * P, G + 4 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual(['rd mr mw me gd', 'rd wr mr mw me gd ac']);
    expect(sys.mprotect(G - 2 * P, P, PROT_READ | PROT_GROWSDOWN)).toBe(-ENOMEM);
    expect(sys.mprotect(G - P, 2 * P, PROT_READ | PROT_EXEC | PROT_GROWSDOWN)).toBe(0);
    expect(maps(t)).toEqual([
      anonLine(G, G + P, 'r-xp'),
      anonLine(G + P, G + 3 * P, 'r--p'),
      anonLine(G + 3 * P, G + 4 * P, 'rw-p'),
    ]);
    expect(vmFlags(t)).toEqual(['rd ex mr mw me gd', 'rd mr mw me gd', 'rd wr mr mw me gd ac']);
  });

  it('8b. a hole at the front of the range → ENOMEM, nothing changed', () => {
    const { sys, t } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    expect(sys.mprotect(A - P, 2 * P, PROT_READ)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RW_FLAGS]);
  });

  it('8c. PROT_GROWSUP → EINVAL (x86 has no VM_GROWSUP), but a hole at the front is ENOMEM first', () => {
    const { sys } = setup();
    sys.mmap(A, 2 * P, RW, FNR, -1, 0);
    expect(sys.mprotect(A, P, PROT_READ | PROT_GROWSUP)).toBe(-EINVAL);
    expect(sys.mprotect(A - P, 2 * P, PROT_READ | PROT_GROWSUP)).toBe(-ENOMEM);
  });

  it('9. a gap between VMAs → ENOMEM, and the VMAs before it keep their new protection', () => {
    const { sys, t } = setup();
    sys.mmap(A, 4 * P, RW, FNR, -1, 0);
    sys.mmap(A + 5 * P, 3 * P, RW, FNR, -1, 0);
    expect(sys.mprotect(A, 8 * P, PROT_READ)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'r--p'), anonLine(A + 5 * P, A + 8 * P, 'rw-p')]);
    expect(vmFlags(t)).toEqual([RO_FLAGS, RW_FLAGS]);
    // A hole after the last VMA: the VMA is changed, then ENOMEM.
    expect(sys.mprotect(A + 5 * P, 4 * P, PROT_NONE)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'r--p'), anonLine(A + 5 * P, A + 8 * P, '---p')]);
    expect(vmFlags(t)).toEqual([RO_FLAGS, 'mr mw me']);
  });

  // The model's mmap does not map files yet, so these start from a snapshot with Linux's own
  // maps and smaps lines for the probe's mappings of a 4-page file opened O_RDONLY.
  const FILE = '/tmp/errprobe/f4';
  const fileLine = (start: number, perms: string, off: number) =>
    `${start.toString(16)}-${(start + 2 * P).toString(16)} ${perms} ${off.toString(16).padStart(8, '0')} fe:00 2163716`.padEnd(
      73,
    ) + FILE;

  it('9. more than VM_MAY* allows (PROT_WRITE on a shared mapping of an O_RDONLY fd) → EACCES; private may become writable', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
    const t = k.spawnFromSnapshot({
      maps: `${fileLine(A, 'r--s', 0)}\n${fileLine(A + 2 * P, 'r--p', 2 * P)}\n`,
      vmFlags: ['rd mr me ms', 'rd mr mw me'],
    });
    expect(k.sys.mprotect(A, 2 * P, RW)).toBe(-EACCES);
    expect(k.sys.mprotect(A, 2 * P, PROT_READ | PROT_EXEC)).toBe(0);
    expect(k.sys.mprotect(A + 2 * P, 2 * P, RW)).toBe(0);
    expect(maps(t)).toEqual([fileLine(A, 'r-xs', 0), fileLine(A + 2 * P, 'rw-p', 2 * P)]);
    expect(vmFlags(t)).toEqual(['rd ex mr me ms', RW_FLAGS]);
  });

  it('9. EACCES part-way: the VMAs before the refused one keep their new protection', () => {
    const k = new Kernel({ arch: 'x86_64', paging: 'demand' });
    const t = k.spawnFromSnapshot({
      maps: `${anonLine(A, A + 2 * P, 'r--p')}\n${fileLine(A + 2 * P, 'r--s', 0)}\n`,
      vmFlags: [RO_FLAGS, 'rd mr me ms'],
    });
    expect(k.sys.mprotect(A, 4 * P, RW)).toBe(-EACCES);
    expect(maps(t)).toEqual([anonLine(A, A + 2 * P, 'rw-p'), fileLine(A + 2 * P, 'r--s', 0)]);
    expect(vmFlags(t)).toEqual([RW_FLAGS, 'rd mr me ms']);
  });

  it('9. becoming writable data beyond RLIMIT_DATA → ENOMEM; up to the limit is fine', () => {
    const { sys, t } = setup({ rlimitData: 2 ** 20 });
    sys.mmap(A, 64 * P, PROT_READ, FNR, -1, 0);
    sys.mmap(A + 64 * P, 2 ** 25, PROT_READ, FNR, -1, 0); // read-only data is exempt
    expect(sys.mprotect(A, 64 * P, RW)).toBe(0);
    expect(sys.mprotect(A + 64 * P, 2 ** 25, RW)).toBe(-ENOMEM);
    expect(sys.mprotect(A + 64 * P, 2 ** 20 - 64 * P, RW)).toBe(0);
    expect(sys.mprotect(A + 2 ** 20, P, RW)).toBe(-ENOMEM);
    expect(sys.mprotect(A, 64 * P, PROT_READ)).toBe(0);
    expect(maps(t)).toEqual([
      anonLine(A, A + 64 * P, 'r--p'),
      anonLine(A + 64 * P, A + 2 ** 20, 'rw-p'),
      anonLine(A + 2 ** 20, A + 64 * P + 2 ** 25, 'r--p'),
    ]);
    expect(vmFlags(t)).toEqual([RO_FLAGS, RW_FLAGS, RO_FLAGS]);
  });

  it('9. becoming a writable private mapping that fails the commit charge → ENOMEM, unchanged', () => {
    // Linux: 32 GiB PROT_NONE on a 24 GiB machine without swap; here 16 MiB on 8 MiB of RAM.
    const { sys, t } = setup({}, { ramBytes: 8 * 2 ** 20 });
    const big = 16 * 2 ** 20;
    expect(sys.mmap(A, big, PROT_NONE, FNR, -1, 0)).toBe(A);
    expect(sys.mprotect(A, big, RW)).toBe(-ENOMEM);
    expect(maps(t)).toEqual([anonLine(A, A + big, '---p')]);
    expect(vmFlags(t)).toEqual(['mr mw me']);
    expect(sys.mprotect(A, 4 * P, RW)).toBe(0);
    expect(maps(t)).toEqual([anonLine(A, A + 4 * P, 'rw-p'), anonLine(A + 4 * P, A + big, '---p')]);
    expect(vmFlags(t)).toEqual([RW_FLAGS, 'mr mw me']);
    // MAP_NORESERVE is never charged.
    const B = 0x20000000;
    expect(sys.mmap(B, big, PROT_NONE, FNR | MAP_NORESERVE, -1, 0)).toBe(B);
    expect(sys.mprotect(B, big, RW)).toBe(0);
    expect(vmFlags(t)[2]).toBe('rd wr mr mw me nr');
  });

  it('9. a split at map_count == max_map_count → ENOMEM; a change that needs no new VMA still succeeds', () => {
    const { sys, t } = setup({ maxMapCount: 4 });
    sys.mmap(A, 3 * P, RW, FNR, -1, 0);
    for (let i = 0; i < 3; i++) sys.mmap(0x200000000 + 2 * i * P, P, RW, FNR, -1, 0);
    expect(sys.mprotect(A + P, P, PROT_READ)).toBe(-ENOMEM);
    expect(sys.mprotect(A + 2 * P, P, PROT_READ)).toBe(-ENOMEM);
    expect(sys.mprotect(A, 3 * P, PROT_READ)).toBe(0);
    expect(maps(t)[0]).toBe(anonLine(A, A + 3 * P, 'r--p'));
    sys.munmap(0x200000000, P);
    expect(sys.mprotect(A + 2 * P, P, RW)).toBe(0);
    expect(t.mm.mapCount).toBe(4);
    // At the limit again, but [A+P, A+2P) joins the next VMA: no split needed.
    expect(sys.mprotect(A + P, P, RW)).toBe(0);
    expect(maps(t).slice(0, 2)).toEqual([anonLine(A, A + P, 'r--p'), anonLine(A + P, A + 3 * P, 'rw-p')]);
    expect(vmFlags(t).slice(0, 2)).toEqual([RO_FLAGS, RW_FLAGS]);
  });
});
