/**
 * Records what the real kernel's execve builds: for each case of cases.ts, runs `exec-layout` (the
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
import { loadElfPhdrs, PT_GNU_PROPERTY, PT_INTERP, parseElfHeader } from '../../src/exec/elf.js';
import { Args, UsageError } from '../args.js';
import { EnvironmentError, findTools } from '../linux-harness/record.js';
import { buildAll } from './build.js';
import { CASES, type Case } from './cases.js';
import { type ArgItem, buildPath as B, type ExecFixture, FIXTURE_ENV, type FileEntry } from './fixture.js';

export { buildHelper } from './build.js';
export type { Case } from './cases.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = path.join(HERE, '..', '..', 'test', 'fixtures', 'exec-layout', 'x86_64');
const STACK_8M = 8 * 2 ** 20;

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
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--out') out = args.value();
    else if (a === '--only') only = new Set(args.value().split(','));
    else if (a === '--no-verify') verify = false;
    else args.unknown();
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
    process.exit(e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1);
  }
}
