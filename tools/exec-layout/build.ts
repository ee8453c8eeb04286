/**
 * The files the x86-64 exec-layout cases use, built into BUILD_DIR: the helper, the test program
 * in its variants, crafted ELF files, scripts and the odd files the refusals need.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELF_HEADER_SIZE, PT_INTERP } from '../../src/exec/elf.js';
import { EnvironmentError, findTools } from '../linux-harness/record.js';
import { buildPath as B, BUILD_DIR } from './fixture.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HELPER_SOURCE = path.join(HERE, 'exec-layout.c');
const PROGRAM_SOURCE = path.join(HERE, 'programs', 'prog.c');

/** Writes `bytes` to `file` unless it holds them already (so its inode stays across re-records). */
function writeStable(file: string, bytes: Uint8Array | string, mode: number): void {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  if (fs.existsSync(file) && fs.lstatSync(file).isFile() && fs.readFileSync(file).equals(data)) {
    fs.chmodSync(file, mode);
    return;
  }
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function gcc(out: string, flags: string[], source: string): void {
  const tmp = `${out}.build.${process.pid}`;
  const res = spawnSync('gcc', ['-O2', ...flags, '-o', tmp, source], { encoding: 'utf8' });
  if (res.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new EnvironmentError(`gcc ${flags.join(' ')} failed:\n${res.stderr}`);
  }
  const bytes = fs.readFileSync(tmp);
  fs.rmSync(tmp);
  writeStable(out, bytes, 0o755);
}

function symlinkStable(link: string, target: string): void {
  try {
    if (fs.readlinkSync(link) === target) return;
    fs.rmSync(link);
  } catch {
    // not there yet
  }
  fs.symlinkSync(target, link);
}

/** Compiles exec-layout.c to `out` (replaced only when its bytes change). */
export function buildHelper(out: string): string {
  findTools();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  gcc(out, ['-Wall', '-Wextra'], HELPER_SOURCE);
  return out;
}

/** Builds the helper, the test programs, the crafted files and the scripts into BUILD_DIR. */
export function buildAll(): string {
  findTools();
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const helper = buildHelper(B('.exec-layout'));
  gcc(B('pie'), [], PROGRAM_SOURCE);
  gcc(B('nopie'), ['-no-pie'], PROGRAM_SOURCE);
  gcc(B('static'), ['-static'], PROGRAM_SOURCE);
  gcc(B('static-pie'), ['-static-pie'], PROGRAM_SOURCE);
  gcc(B('static-pie-2m'), ['-static-pie', '-Wl,-z,max-page-size=0x200000'], PROGRAM_SOURCE);
  gcc(B('execstack'), ['-z', 'execstack'], PROGRAM_SOURCE);
  gcc(B('bigbss'), ['-static', '-DBSS_BYTES=67108864'], PROGRAM_SOURCE);
  gcc(B('interp-missing'), ['-Wl,--dynamic-linker=/nonexistent/ld.so'], PROGRAM_SOURCE);
  gcc(B('interp-short'), [`-Wl,--dynamic-linker=${B('text')}`], PROGRAM_SOURCE);
  gcc(B('interp-not-elf'), [`-Wl,--dynamic-linker=${B('long-text')}`], PROGRAM_SOURCE);
  gcc(B('interp-noexec'), [`-Wl,--dynamic-linker=${B('noexec')}`], PROGRAM_SOURCE);

  const pie = fs.readFileSync(B('pie'));
  const stat = fs.readFileSync(B('static'));
  const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const wrong = Buffer.from(stat);
  view(wrong).setUint16(18, 183, true);
  writeStable(B('wrong-machine'), wrong, 0o755);
  writeStable(B('truncated'), stat.subarray(0, ELF_HEADER_SIZE), 0o755);
  const badPhent = Buffer.from(stat);
  view(badPhent).setUint16(54, 32, true);
  writeStable(B('bad-phentsize'), badPhent, 0o755);
  // The interpreter path's last byte (its NUL) becomes a '/'.
  const unterminated = Buffer.from(pie);
  const interp = findPhdr(unterminated, PT_INTERP);
  unterminated[interp.offset + interp.filesz - 1] = 0x2f;
  writeStable(B('interp-unterminated'), unterminated, 0o755);
  // The first PT_LOAD of the static program moved to 2^47.
  const high = Buffer.from(stat);
  const load = findPhdr(high, 1);
  view(high).setBigUint64(load.at + 16, 1n << 47n, true);
  writeStable(B('segment-high'), high, 0o755);

  // Two bss-only segments over the same page: the second vm_brk_flags punches a page out of the
  // first's mapping and maps it again, next to the rest, which it does not merge with.
  writeStable(
    B('craft-bss-overlap'),
    craftElf(2, 0x10000000, [
      { type: 1, flags: R | X, offset: 0, vaddr: 0x10000000, filesz: 0x200, memsz: 0x200 },
      { type: 1, flags: R | W, offset: 0, vaddr: 0x10002000, filesz: 0, memsz: 0x1001 },
      { type: 1, flags: R | W, offset: 0, vaddr: 0x10002000, filesz: 0, memsz: 1 },
    ]),
    0o755,
  );
  // A segment that starts inside a page, a read-only one whose bss tail cannot be zeroed, and an
  // executable one whose bss is executable too.
  writeStable(
    B('craft-odd-segments'),
    craftElf(2, 0x10000000, [
      { type: 1, flags: R | X, offset: 0, vaddr: 0x10000000, filesz: 0x800, memsz: 0x3800 },
      { type: 1, flags: R, offset: 0x1123, vaddr: 0x10005123, filesz: 0x100, memsz: 0x2000 },
      { type: 1, flags: R | W, offset: 0x2010, vaddr: 0x10009010, filesz: 0x20, memsz: 0x20 },
    ]),
    0o755,
  );
  // A static PIE whose two segments lie 1 MiB apart: the whole span is reserved, then the hole unmapped.
  writeStable(
    B('craft-pie-hole'),
    craftElf(3, 0x100, [
      { type: 1, flags: R | X, offset: 0, vaddr: 0, filesz: 0x1000, memsz: 0x1000 },
      { type: 1, flags: R | W, offset: 0x1000, vaddr: 0x101000, filesz: 0x800, memsz: 0x5000 },
    ]),
    0o755,
  );
  fs.mkdirSync(B('dir'), { recursive: true });
  writeStable(B('noexec'), pie, 0o644);
  writeStable(B('empty'), '', 0o755);
  writeStable(B('text'), 'hello\n', 0o755);
  writeStable(B('long-text'), `${'not an ELF file, but long enough for its header. '.repeat(4)}\n`, 0o755);
  symlinkStable(B('loop1'), 'loop2');
  symlinkStable(B('loop2'), 'loop1');
  writeStable(B('script.sh'), '#!/bin/sh\necho "$0" "$@"\n', 0o755);
  writeStable(B('script-arg.sh'), '#! /bin/sh  -e  \t\nexit 0\n', 0o755);
  writeStable(B('script-nested'), `#!${B('script.sh')}\n`, 0o755);
  writeStable(B('s-missing'), '#!/nonexistent/interpreter\n', 0o755);
  writeStable(B('s-empty'), '#!\n', 0o755);
  writeStable(B('s-dir'), `#!${B('dir')}\n`, 0o755);
  writeStable(B('s-loop'), `#!${B('s-loop')}\n`, 0o755);
  let prev = '/bin/true';
  for (let k = 1; k <= 6; k++) {
    writeStable(B(`chain${k}`), `#!${prev}\n`, 0o755);
    prev = B(`chain${k}`);
  }
  return helper;
}

/** A program header of a crafted ELF. */
interface CraftedPhdr {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align?: number;
}

/**
 * A minimal ELF64 file for shapes no compiler makes: the header, the program headers right after
 * it, and `size` bytes in all. It is never run (the helper stops it at its first instruction), so
 * the bytes of its segments do not matter.
 */
function craftElf(type: number, entry: number, phdrs: CraftedPhdr[], size = 0x3000): Buffer {
  const b = Buffer.alloc(size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, type, true);
  v.setUint16(18, 62, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(entry), true);
  v.setBigUint64(32, 64n, true);
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, phdrs.length, true);
  phdrs.forEach((ph, i) => {
    const at = 64 + i * 56;
    v.setUint32(at, ph.type, true);
    v.setUint32(at + 4, ph.flags, true);
    v.setBigUint64(at + 8, BigInt(ph.offset), true);
    v.setBigUint64(at + 16, BigInt(ph.vaddr), true);
    v.setBigUint64(at + 24, BigInt(ph.vaddr), true);
    v.setBigUint64(at + 32, BigInt(ph.filesz), true);
    v.setBigUint64(at + 40, BigInt(ph.memsz), true);
    v.setBigUint64(at + 48, BigInt(ph.align ?? 0x1000), true);
  });
  return b;
}

const R = 4;
const W = 2;
const X = 1;

/** The first program header of `type` in an ELF file: where it is, its offset and file size. */
function findPhdr(elf: Buffer, type: number): { at: number; offset: number; filesz: number } {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(v.getBigUint64(32, true));
  for (let i = 0; i < v.getUint16(56, true); i++) {
    const at = phoff + i * 56;
    if (v.getUint32(at, true) === type)
      return {
        at,
        offset: Number(v.getBigUint64(at + 8, true)),
        filesz: Number(v.getBigUint64(at + 32, true)),
      };
  }
  throw new Error(`no program header of type ${type}`);
}
