/**
 * Hostile ELF files: whatever the header and program headers say, execve answers 0 or a negative
 * errno, never throws, leaves a consistent kernel, and on failure leaves the caller as it was.
 * Generated with a fixed seed, so every run tries the same files.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  E2BIG,
  EACCES,
  EEXIST,
  EFAULT,
  EINVAL,
  EIO,
  ELIBBAD,
  ENOENT,
  ENOEXEC,
  ENOMEM,
  EPERM,
} from '../../src/abi/errno.js';
import { MemoryExecFiles } from '../../src/exec/files.js';
import { Kernel, procMaps } from '../../src/index.js';

const ERRNOS = new Set([ENOEXEC, ENOENT, EACCES, EIO, ELIBBAD, EINVAL, ENOMEM, EFAULT, EEXIST, EPERM, E2BIG]);
const MACHINE = { x86_64: 62, aarch64: 183 } as const;

interface Phdr {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

/** `common` most of the time, `rare` otherwise. */
const mostly = <T>(common: fc.Arbitrary<T>, rare: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: common, weight: 12 }, { arbitrary: rare, weight: 1 });

const page = (n: bigint) => n * 4096n;
const u64 = mostly(
  fc.oneof(
    fc.constantFrom(0n, 0x400000n, 0x555555554000n),
    fc.bigInt({ min: 0n, max: 64n }).map(page),
    fc.bigInt({ min: 0n, max: 64n }).map((n) => 0x400000n + page(n) + 0x123n),
  ),
  fc.oneof(
    fc.constantFrom(2n ** 47n - 4096n, 2n ** 47n, 2n ** 48n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 4096n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  ),
);
const size = mostly(fc.bigInt({ min: 0n, max: 0x6000n }), u64);
/** p_memsz is given as its excess over p_filesz (a negative excess: a p_memsz below p_filesz). */
const phdr: fc.Arbitrary<Phdr> = fc
  .record({
    type: mostly(fc.constant(1), fc.constantFrom(3, 0x6474e551, 0x6474e553, 0x70000000, 6, 0)),
    flags: fc.integer({ min: 0, max: 7 }),
    offset: mostly(fc.bigInt({ min: 0n, max: 4n }).map(page), u64),
    vaddr: u64,
    filesz: size,
    memsz: mostly(
      fc.bigInt({ min: 0n, max: 0x3000n }),
      size.map((n) => -n),
    ),
    align: mostly(
      fc.constantFrom(4096n, 0x1000n, 0x200000n),
      fc.constantFrom(0n, 1n, 3n, 0x10000n, 2n ** 40n),
    ),
  })
  .map((p) => ({ ...p, memsz: BigInt.asUintN(64, p.filesz + p.memsz) }));
const elf = fc.record({
  type: mostly(fc.constantFrom(2, 3), fc.constantFrom(1, 4)),
  machineOk: mostly(fc.constant(true), fc.constant(false)),
  entry: u64,
  phoff: mostly(fc.constant(64n), fc.constantFrom(0n, 4000n, 2n ** 63n)),
  phentsize: mostly(fc.constant(56), fc.constant(32)),
  phdrs: fc.array(phdr, { minLength: 1, maxLength: 6 }),
  size: mostly(fc.constant(0x8000), fc.constantFrom(64, 400)),
});
type ElfSpec = typeof elf extends fc.Arbitrary<infer T> ? T : never;

/** The file: ELF header, program headers at e_phoff (where they fit), an interpreter path at 0x200. */
function build(e: ElfSpec, machine: number): Uint8Array {
  const bytes = new Uint8Array(e.size);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, e.type, true);
  v.setUint16(18, e.machineOk ? machine : 3, true);
  v.setBigUint64(24, e.entry, true);
  v.setBigUint64(32, e.phoff, true);
  v.setUint16(54, e.phentsize, true);
  v.setUint16(56, e.phdrs.length, true);
  e.phdrs.forEach((p, i) => {
    const at = Number(e.phoff) + i * 56;
    if (e.phoff > 100000n || at + 56 > e.size) return;
    const ph = p.type === 3 ? { ...p, offset: 0x200n, filesz: 11n } : p;
    v.setUint32(at, ph.type, true);
    v.setUint32(at + 4, ph.flags, true);
    v.setBigUint64(at + 8, ph.offset, true);
    v.setBigUint64(at + 16, ph.vaddr, true);
    v.setBigUint64(at + 32, ph.filesz, true);
    v.setBigUint64(at + 40, ph.memsz, true);
    v.setBigUint64(at + 48, ph.align, true);
  });
  if (e.size > 0x20b) bytes.set(new TextEncoder().encode('/lib/ld.so\0'), 0x200);
  return bytes;
}

describe.each(['x86_64', 'aarch64'] as const)('hostile ELF files on %s', (arch) => {
  it('never throw, answer 0 or -errno, and a failure changes nothing', () => {
    const outcomes = new Map<number, number>();
    fc.assert(
      fc.property(elf, elf, (program, interp) => {
        const files = new MemoryExecFiles()
          .addFile('/bin/prog', { bytes: build(program, MACHINE[arch]) })
          .addFile('/lib/ld.so', { bytes: build(interp, MACHINE[arch]) });
        const kernel = new Kernel({ arch, paging: 'demand', ramBytes: 16 * 2 ** 20, execFiles: files });
        const task = kernel.spawn();
        const free = kernel.frames.freePages;
        const r = kernel.execve(task, '/bin/prog', ['prog'], ['A=1']);
        outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
        expect(kernel.check()).toEqual([]);
        if (r < 0) {
          expect(ERRNOS.has(-r)).toBe(true);
          expect(procMaps(task.mm)).toBe('');
          expect(kernel.frames.freePages).toBe(free);
          expect(kernel.accounting.committed).toBe(0);
        } else {
          expect(r).toBe(0);
          expect(task.mm.image!.sp % 16).toBe(0);
          kernel.exit(task);
          expect(kernel.frames.freePages).toBe(free + 1);
          expect(kernel.accounting.committed).toBe(0);
        }
      }),
      { numRuns: 400, seed: 9 },
    );
    // The files reach every stage: refused early, refused past the point of no return, loaded.
    expect(outcomes.get(0)).toBeGreaterThan(40);
    expect(outcomes.get(-ENOEXEC)).toBeGreaterThan(20);
    expect(outcomes.get(-EINVAL)).toBeGreaterThan(10);
  });
});
