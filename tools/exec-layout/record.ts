/**
 * Records what the real kernel's execve builds: for each case below, runs `exec-layout` (the
 * ptrace helper in this directory) under `setarch -R` and a fixed RLIMIT_STACK, and writes the
 * maps, smaps VmFlags, Anonymous, /proc/PID/stat fields, auxv and stack pointer at the first
 * instruction (or the errno, or the signal) to test/fixtures/exec-layout/<arch>/<case>.json.
 *
 *   npx tsx tools/exec-layout/record.ts [--out DIR] [--only NAME,...] [--no-verify]
 *
 * See README.md in this directory.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { devMajorMinor, thpFileSystem } from '../../src/cli/exec-files-node.js';
import {
  ELF_HEADER_SIZE,
  loadElfPhdrs,
  PT_GNU_PROPERTY,
  PT_INTERP,
  parseElfHeader,
} from '../../src/exec/elf.js';
import { EnvironmentError, findTools } from '../linux-harness/record.js';
import { type ArgItem, BUILD_DIR, type ExecFixture, FIXTURE_ENV, type FileEntry } from './fixture.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HELPER_SOURCE = path.join(HERE, 'exec-layout.c');
const PROGRAM_SOURCE = path.join(HERE, 'programs', 'prog.c');
const DEFAULT_OUT = path.join(HERE, '..', '..', 'test', 'fixtures', 'exec-layout', 'x86_64');
const STACK_8M = 8 * 2 ** 20;

const B = (name: string) => `${BUILD_DIR}/${name}`;

/** One execve to record. */
export interface Case {
  name: string;
  what: string;
  path: string;
  /** argv (default: [path]); null passes an empty argv. */
  argv?: ArgItem[] | null;
  envp?: ArgItem[];
  /** RLIMIT_STACK soft limit (default 8 MiB); Infinity for unlimited. */
  rlimitStack?: number;
  /** Files of the build directory this exec opens (the program, scripts, interpreters). */
  uses?: string[];
}

const big = (count: number, length: number, repeat = 'x'): ArgItem => ({ repeat, length, count });

const CASES: Case[] = [
  { name: 'true', what: 'a PIE with ld.so, argv only its name', path: '/bin/true' },
  { name: 'cat', what: 'a PIE with arguments', path: '/usr/bin/cat', argv: ['cat', '-n', '/proc/self/maps'] },
  {
    name: 'env',
    what: 'a PIE, two environment strings',
    path: '/usr/bin/env',
    envp: [...FIXTURE_ENV, 'LC_ALL=C'],
  },
  { name: 'ls', what: 'a PIE', path: '/usr/bin/ls', argv: ['ls', '-l'] },
  {
    name: 'sh',
    what: '/bin/sh: a symlink to dash (maps name the target)',
    path: '/bin/sh',
    argv: ['sh', '-c', ':'],
  },
  { name: 'bash', what: 'bash, a larger PIE', path: '/usr/bin/bash', argv: ['bash', '-c', 'exit'] },
  {
    name: 'python3',
    what: 'python3: a non-PIE (ET_EXEC) with ld.so',
    path: '/usr/bin/python3',
    argv: ['python3', '-c', 'pass'],
  },
  { name: 'perl', what: 'perl, a PIE', path: '/usr/bin/perl', argv: ['perl', '-e', '1'] },
  {
    name: 'node',
    what: 'node: a 95 MiB non-PIE with six segments',
    path: '/usr/bin/node',
    argv: ['node', '-e', '0'],
  },
  { name: 'gcc', what: 'the gcc driver', path: '/usr/bin/gcc', argv: ['gcc', '--version'] },
  {
    name: 'cc1',
    what: 'cc1, a 30 MiB PIE',
    path: '/usr/lib/gcc/x86_64-linux-gnu/12/cc1',
    argv: ['cc1', '--version'],
  },
  { name: 'as', what: 'the assembler', path: '/usr/bin/as', argv: ['as', '--version'] },
  {
    name: 'ld-so-direct',
    what: 'ld.so run directly: an ET_DYN without interpreter, placed by the mmap allocator, its break at ELF_ET_DYN_BASE',
    path: '/lib64/ld-linux-x86-64.so.2',
    argv: ['/lib64/ld-linux-x86-64.so.2', '/bin/true'],
  },
  { name: 'pie', what: 'gcc (default PIE), dynamic', path: B('pie'), uses: ['pie'] },
  { name: 'nopie', what: 'gcc -no-pie: ET_EXEC at 0x400000 with ld.so', path: B('nopie'), uses: ['nopie'] },
  { name: 'static', what: 'gcc -static: ET_EXEC, no interpreter', path: B('static'), uses: ['static'] },
  {
    name: 'static-pie',
    what: 'gcc -static-pie: ET_DYN without interpreter',
    path: B('static-pie'),
    uses: ['static-pie'],
  },
  {
    name: 'static-pie-2m',
    what: 'a static PIE with p_align 2 MiB: placed by the allocator, then aligned',
    path: B('static-pie-2m'),
    uses: ['static-pie-2m'],
  },
  {
    name: 'execstack',
    what: 'gcc -z execstack: PT_GNU_STACK with PF_X, an rwx stack',
    path: B('execstack'),
    uses: ['execstack'],
  },
  {
    name: 'bigbss',
    what: 'a static program with a 64 MiB bss (vm_brk_flags)',
    path: B('bigbss'),
    uses: ['bigbss'],
  },
  {
    name: 'script',
    what: 'a #! script run by /bin/sh',
    path: B('script.sh'),
    argv: ['script.sh', 'one', 'two'],
    uses: ['script.sh'],
  },
  {
    name: 'script-arg',
    what: 'a #! line with an argument and trailing blanks',
    path: B('script-arg.sh'),
    argv: ['script-arg.sh', 'x'],
    uses: ['script-arg.sh'],
  },
  {
    name: 'script-nested',
    what: 'a script whose interpreter is a script',
    path: B('script-nested'),
    argv: ['script-nested', 'a'],
    uses: ['script-nested', 'script.sh'],
  },
  {
    name: 'script-chain5',
    what: 'five nested #! scripts: the deepest exec_binprm allows',
    path: B('chain5'),
    uses: ['chain1', 'chain2', 'chain3', 'chain4', 'chain5'],
  },
  { name: 'no-argv', what: 'an empty argv: the kernel adds ""', path: '/bin/true', argv: null },
  {
    name: 'craft-bss-overlap',
    what: 'a crafted ELF: two bss-only segments over one page (vm_brk_flags does not merge upwards)',
    path: B('craft-bss-overlap'),
    uses: ['craft-bss-overlap'],
  },
  {
    name: 'craft-odd-segments',
    what: 'a crafted ELF: an unaligned segment, a read-only bss tail, an executable bss',
    path: B('craft-odd-segments'),
    uses: ['craft-odd-segments'],
  },
  {
    name: 'craft-pie-hole',
    what: 'a crafted static PIE with a 1 MiB hole between its segments',
    path: B('craft-pie-hole'),
    uses: ['craft-pie-hole'],
  },
  {
    name: 'many-args',
    what: '300 arguments of 300 bytes: the strings take 23 pages of stack',
    path: '/bin/true',
    argv: ['/bin/true', big(300, 300)],
  },
  {
    name: 'big-env',
    what: 'an environment of 200 strings of 1000 bytes',
    path: '/bin/true',
    envp: [...FIXTURE_ENV, big(200, 1000, 'y')],
  },
  {
    name: 'rlimit-256m',
    what: 'RLIMIT_STACK 256 MiB: mmap_base moves down',
    path: '/bin/true',
    rlimitStack: 256 * 2 ** 20,
  },
  {
    name: 'rlimit-unlimited',
    what: 'unlimited RLIMIT_STACK: the gap is capped at 5/6 of the address space',
    path: '/usr/bin/cat',
    rlimitStack: Number.POSITIVE_INFINITY,
  },
  {
    name: 'rlimit-64k',
    what: 'RLIMIT_STACK 64 KiB: stack_expand is cut to the rlimit',
    path: B('static'),
    rlimitStack: 65536,
    uses: ['static'],
  },
  // What execve refuses, and the errno (checked on this kernel).
  { name: 'err-missing', what: 'no such file: ENOENT', path: B('missing') },
  { name: 'err-directory', what: 'a directory: EACCES', path: B('dir'), uses: ['dir'] },
  { name: 'err-noexec', what: 'no execute permission: EACCES', path: B('noexec'), uses: ['noexec'] },
  { name: 'err-notdir', what: 'a path through a file: ENOTDIR', path: B('pie/x'), uses: ['pie'] },
  { name: 'err-symlink-loop', what: 'a symlink loop: ELOOP', path: B('loop1'), uses: ['loop1', 'loop2'] },
  {
    name: 'err-name-too-long',
    what: 'a path of 5000 bytes: ENAMETOOLONG',
    path: `${BUILD_DIR}/${'a'.repeat(5000)}`,
  },
  { name: 'err-empty', what: 'an empty file: ENOEXEC', path: B('empty'), uses: ['empty'] },
  { name: 'err-text', what: 'text without #!: ENOEXEC', path: B('text'), uses: ['text'] },
  {
    name: 'err-wrong-machine',
    what: 'an aarch64 ELF header: ENOEXEC',
    path: B('wrong-machine'),
    uses: ['wrong-machine'],
  },
  {
    name: 'err-truncated',
    what: 'only the ELF header, no program headers: ENOEXEC',
    path: B('truncated'),
    uses: ['truncated'],
  },
  {
    name: 'err-bad-phentsize',
    what: 'e_phentsize 32: ENOEXEC',
    path: B('bad-phentsize'),
    uses: ['bad-phentsize'],
  },
  {
    name: 'err-interp-missing',
    what: 'PT_INTERP names a missing file: ENOENT',
    path: B('interp-missing'),
    uses: ['interp-missing'],
  },
  {
    name: 'err-interp-short',
    what: 'PT_INTERP names a file shorter than an ELF header: EIO',
    path: B('interp-short'),
    uses: ['interp-short', 'text'],
  },
  {
    name: 'err-interp-not-elf',
    what: 'PT_INTERP names an executable file that is not ELF: ELIBBAD',
    path: B('interp-not-elf'),
    uses: ['interp-not-elf', 'long-text'],
  },
  {
    name: 'err-interp-noexec',
    what: 'PT_INTERP names a file without execute permission: EACCES',
    path: B('interp-noexec'),
    uses: ['interp-noexec', 'noexec'],
  },
  {
    name: 'err-interp-unterminated',
    what: 'PT_INTERP without its NUL: ENOEXEC',
    path: B('interp-unterminated'),
    uses: ['interp-unterminated'],
  },
  {
    name: 'err-script-missing',
    what: '#! names a missing interpreter: ENOENT',
    path: B('s-missing'),
    uses: ['s-missing'],
  },
  {
    name: 'err-script-empty',
    what: 'a #! line with no interpreter: ENOEXEC',
    path: B('s-empty'),
    uses: ['s-empty'],
  },
  { name: 'err-script-dir', what: '#! names a directory: EACCES', path: B('s-dir'), uses: ['s-dir', 'dir'] },
  {
    name: 'err-script-loop',
    what: 'a script that is its own interpreter: ELOOP',
    path: B('s-loop'),
    uses: ['s-loop'],
  },
  {
    name: 'err-script-chain6',
    what: 'six nested #! scripts: ELOOP',
    path: B('chain6'),
    uses: ['chain1', 'chain2', 'chain3', 'chain4', 'chain5', 'chain6'],
  },
  {
    name: 'err-arg-too-long',
    what: 'one argument of MAX_ARG_STRLEN bytes (NUL included: one too many): E2BIG',
    path: '/bin/true',
    argv: ['/bin/true', big(1, 131072)],
  },
  {
    name: 'err-args-too-many',
    what: 'arguments beyond a quarter of the stack rlimit: E2BIG',
    path: '/bin/true',
    argv: ['/bin/true', big(20, 110000)],
  },
  {
    name: 'err-segment-high',
    what: 'a PT_LOAD above TASK_SIZE: Linux is past its point of no return and kills the task',
    path: B('segment-high'),
    uses: ['segment-high'],
  },
];

// ---- building the programs -----------------------------------------------------------------

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

// ---- recording -------------------------------------------------------------------------------

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function identity(file: string): { major: number; minor: number; inode: number } {
  const st = fs.statSync(file, { bigint: true });
  return { ...devMajorMinor(st.dev), inode: Number(st.ino) };
}

/**
 * The parts of a file execve reads: the first page (header, program headers, a script's #! line)
 * and an ELF's PT_INTERP and PT_GNU_PROPERTY contents and program header table wherever they are.
 */
function chunksOf(bytes: Buffer): { offset: number; base64: string }[] {
  const ranges: [number, number][] = [[0, Math.min(bytes.length, 4096)]];
  const header = parseElfHeader(bytes.subarray(0, 256));
  if (header.magic) {
    const file = {
      path: '',
      size: bytes.length,
      major: 0,
      minor: 0,
      inode: 0,
      thpUnmappedArea: false,
      read: (o: number, n: number) => bytes.subarray(o, o + n),
    };
    const phoff = Number(header.phoff);
    if (phoff < bytes.length) ranges.push([phoff, Math.min(bytes.length, phoff + 56 * header.phnum)]);
    for (const ph of loadElfPhdrs(header, file, 4096) ?? [])
      if (ph.type === PT_INTERP || ph.type === PT_GNU_PROPERTY)
        ranges.push([Number(ph.offset), Math.min(bytes.length, Number(ph.offset + ph.filesz))]);
  }
  const firstPage = ranges[0][1];
  return ranges
    .filter(([s, e], i) => i === 0 || (e > s && e > firstPage))
    .map(([s, e]) => ({ offset: s, base64: bytes.subarray(s, e).toString('base64') }));
}

function buildDirEntry(name: string): FileEntry {
  const p = B(name);
  const regular = fs.lstatSync(p).isFile();
  return fileEntry(p, regular ? identity(p) : { major: 0, minor: 0, inode: 0 }, regular && thpFileSystem(p));
}

/** The entry of a file kept in a fixture: its kind, and for a file the parts execve reads. */
export function fileEntry(
  p: string,
  id: { major: number; minor: number; inode: number },
  thp: boolean,
): FileEntry {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return { kind: 'symlink', target: fs.readlinkSync(p) };
  if (st.isDirectory()) return { kind: 'dir' };
  const bytes = fs.readFileSync(p);
  return {
    kind: 'file',
    size: bytes.length,
    sha256: sha256(bytes),
    ...id,
    executable: (st.mode & 0o111) !== 0,
    thp,
    chunks: chunksOf(bytes),
  };
}

function hostEntry(file: string): FileEntry {
  const bytes = fs.readFileSync(file);
  return { kind: 'host', size: bytes.length, sha256: sha256(bytes), ...identity(file) };
}

export interface HelperOutput {
  kernel?: string;
  errno?: number;
  signal?: number;
  sp?: string;
  blocks: Map<string, string>;
}

export function parseHelper(out: string): HelperOutput {
  const res: HelperOutput = { blocks: new Map() };
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf('\n', pos);
    const line = out.slice(pos, nl);
    pos = nl + 1;
    const [tag, a, b] = line.split(' ');
    if (tag === 'block') {
      res.blocks.set(a, out.slice(pos, pos + Number(b)));
      pos += Number(b) + 1;
    } else if (tag === 'errno') res.errno = Number(a);
    else if (tag === 'signal') res.signal = Number(a);
    else if (tag === 'sp') res.sp = a;
    else if (tag === 'kernel') res.kernel = a;
  }
  return res;
}

/** /proc/PID/stat fields by their number in proc(5). */
function statFields(stat: string): Record<string, string> {
  const rest = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  const f = (n: number) => rest[n - 3];
  const names: [number, string][] = [
    [26, 'start_code'],
    [27, 'end_code'],
    [28, 'start_stack'],
    [45, 'start_data'],
    [46, 'end_data'],
    [47, 'start_brk'],
    [48, 'arg_start'],
    [49, 'arg_end'],
    [50, 'env_start'],
    [51, 'env_end'],
  ];
  return Object.fromEntries(names.map(([n, name]) => [name, `0x${BigInt(f(n)).toString(16)}`]));
}

/** Per smaps entry: its VmFlags line and its Anonymous kB. */
function smapsColumns(smaps: string): { vmflags: string[]; anonKb: number[] } {
  const vmflags: string[] = [];
  const anonKb: number[] = [];
  for (const line of smaps.split('\n')) {
    if (line.startsWith('VmFlags:')) vmflags.push(line.slice(8).trim());
    const m = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (m) anonKb.push(Number(m[1]));
  }
  return { vmflags, anonKb };
}

/** The strings of /proc/PID/cmdline or environ (each ends with a NUL). */
function nulSeparated(text: string): string[] {
  return text === '' ? [] : text.slice(0, -1).split('\0');
}

function auxvPairs(hex: string): [number, string][] {
  const b = Buffer.from(hex, 'hex');
  const out: [number, string][] = [];
  for (let at = 0; at + 16 <= b.length; at += 16) {
    const type = Number(b.readBigUInt64LE(at));
    if (type === 0) break;
    out.push([type, `0x${b.readBigUInt64LE(at + 8).toString(16)}`]);
  }
  return out;
}

/** The helper's arguments for a case: environment, argv[0] or -n, the path, the other arguments. */
export function helperArgs(c: Case): string[] {
  const args: string[] = [];
  const literal = (items: readonly ArgItem[], flag: string): string[] => {
    const generated = items.filter((a) => typeof a !== 'string');
    if (generated.length > 1 || (generated.length === 1 && typeof items[items.length - 1] === 'string'))
      throw new Error(`${c.name}: generated strings must come last, once`);
    for (const g of generated) args.push(flag, `${g.count}:${g.length}:${g.repeat}`);
    return items.filter((a): a is string => typeof a === 'string');
  };
  for (const e of literal(c.envp ?? FIXTURE_ENV, '-E')) args.push('-e', e);
  if (c.argv === null) args.push('-n', c.path);
  else {
    const strings = literal(c.argv ?? [c.path], '-A');
    args.push('-0', strings[0], c.path, ...strings.slice(1));
  }
  return args;
}

/**
 * The fixture of a case from the helper's output. `files` holds the entries of the files the case
 * declared; `fileOf` gives the entry of a file a maps line names that is not among them.
 */
export function fixtureFromOutput(
  c: Case,
  arch: ExecFixture['arch'],
  out: HelperOutput,
  files: Record<string, FileEntry>,
  fileOf: (path: string) => FileEntry,
): ExecFixture {
  const rlimit = c.rlimitStack ?? STACK_8M;
  const fixture: ExecFixture = {
    kernel: out.kernel ?? '',
    arch,
    pageSize: 4096,
    euid: process.geteuid?.() ?? 0,
    name: c.name,
    what: c.what,
    rlimitStack: Number.isFinite(rlimit) ? rlimit : 'unlimited',
    path: c.path,
    argv: c.argv === undefined ? [c.path] : c.argv,
    envp: c.envp ?? FIXTURE_ENV,
    files,
  };
  if (out.signal !== undefined) return { ...fixture, signal: out.signal };
  if (out.errno !== 0) return { ...fixture, errno: out.errno };
  const maps = out.blocks.get('maps')!;
  for (const line of maps.split('\n')) {
    const file = /\s(\/\S.*)$/.exec(line)?.[1];
    if (file !== undefined && files[file] === undefined) files[file] = fileOf(file);
  }
  return {
    ...fixture,
    errno: 0,
    sp: out.sp!,
    maps,
    ...smapsColumns(out.blocks.get('smaps')!),
    stat: statFields(out.blocks.get('stat')!),
    programArgv: nulSeparated(out.blocks.get('cmdline')!),
    programEnvc: nulSeparated(out.blocks.get('environ')!).length,
    auxv: auxvPairs(out.blocks.get('auxv-hex')!),
  };
}

/** Runs one case on the real kernel (under prlimit and setarch -R) and returns its fixture. */
export function runCase(helper: string, c: Case): ExecFixture {
  const tools = findTools();
  if (!tools.prlimit) throw new EnvironmentError('prlimit is needed (util-linux)');
  const rlimit = c.rlimitStack ?? STACK_8M;
  const limit = Number.isFinite(rlimit) ? `${rlimit}` : 'unlimited';
  const cmd = [tools.prlimit, `--stack=${limit}:`, tools.setarch, 'x86_64', '-R', helper, ...helperArgs(c)];
  const res = spawnSync(cmd[0], cmd.slice(1), {
    env: {},
    encoding: 'latin1',
    maxBuffer: 64 * 2 ** 20,
    cwd: '/',
  });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${c.name}: exec-layout exited with ${res.status}: ${res.stderr}`);
  const files: Record<string, FileEntry> = {};
  for (const name of c.uses ?? []) files[B(name)] = buildDirEntry(name);
  return fixtureFromOutput(c, 'x86_64', parseHelper(res.stdout), files, hostEntry);
}

export function formatFixture(f: ExecFixture): string {
  return `${JSON.stringify(f, null, 1)}\n`;
}

function main(argv: string[]): void {
  let out = DEFAULT_OUT;
  let only: Set<string> | null = null;
  let verify = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = argv[++i];
    else if (argv[i] === '--only') only = new Set(argv[++i].split(','));
    else if (argv[i] === '--no-verify') verify = false;
    else throw new EnvironmentError(`unknown option ${argv[i]}`);
  }
  const helper = buildAll();
  fs.mkdirSync(out, { recursive: true });
  if (only === null)
    for (const f of fs.readdirSync(out)) if (f.endsWith('.json')) fs.rmSync(path.join(out, f));
  let ok = 0;
  let refused = 0;
  for (const c of CASES) {
    if (only && !only.has(c.name)) continue;
    const fixture = runCase(helper, c);
    if (verify && formatFixture(runCase(helper, c)) !== formatFixture(fixture))
      throw new Error(`${c.name}: two runs gave different fixtures`);
    fs.writeFileSync(path.join(out, `${c.name}.json`), formatFixture(fixture));
    if (fixture.errno === 0) ok++;
    else refused++;
    process.stdout.write(
      `${c.name.padEnd(24)} ${fixture.errno === 0 ? 'exec' : fixture.signal ? `signal ${fixture.signal}` : `errno ${fixture.errno}`}\n`,
    );
  }
  process.stdout.write(`recorded ${ok + refused} cases into ${out}: ${ok} layouts, ${refused} refusals\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`record: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof EnvironmentError ? 2 : 1);
  }
}
