/**
 * Records Linux differential-test fixtures: builds the static C harness, generates seeded op
 * sequences, runs each under `setarch x86_64 -R` and writes one JSON fixture per sequence.
 *
 *   npx tsx tools/linux-harness/record.ts [--count 160] [--seed 1] [--out test/fixtures/linux-x86_64]
 *        [--build-dir DIR] [--min-ops 40] [--max-ops 80] [--no-verify] [--stack-rlimit BYTES]
 *
 * See README.md in this directory for the fixture format.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errnoName } from '../../src/trace/errno.js';
import { Args, UsageError } from '../args.js';
import {
  GENERATOR_VERSION,
  type GenerateOptions,
  type GenFile,
  generateSequence,
  type Op,
  serializeSequence,
  WIDE_GENERATOR_VERSION,
} from './generate.js';
import {
  closeFds,
  describeFile,
  type FixtureFile,
  type HarnessFile,
  hostArch,
  openHarnessFiles,
  type ReportedFd,
} from './harness-files.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const HARNESS_SOURCE = path.join(HERE, 'harness.c');
export const DEFAULT_BUILD_DIR = path.join(os.tmpdir(), 'levitate-mm-linux-harness');
const DEFAULT_STACK_RLIMIT = 8 * 1024 * 1024;

export interface FixtureOp {
  op: string;
  /** The process that ran the op, in sequences with fork (absent: process 0). */
  proc?: number;
  /** Resolved arguments as 0x-hex unsigned 64-bit strings. */
  args: string[];
  /** Raw return value, signed decimal (e.g. "-22"); touch: "0"; peek: the byte; or "fault". */
  result: string;
  /** For result "fault": SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR, ... */
  fault?: string;
  /** The symbolic arguments, present only when one of them refers to $N, $brk, ... */
  symbolicArgs?: string[];
  kind: string;
}

export interface RLimit {
  cur: string;
  max: string;
}

export interface Fixture {
  /** `uname -r`: version and build tag of the recording kernel. */
  kernel: string;
  /** `uname -v`: its build (number, options, date), when the harness reported it. */
  kernelVersion?: string;
  arch: 'x86_64' | 'aarch64';
  pageSize: number;
  memTotalKiB: number;
  settings: {
    overcommit_memory: number;
    overcommit_ratio: number;
    max_map_count: number;
    mmap_min_addr: number;
    thp_enabled: string;
    thp_shmem_enabled: string;
    /** Whether a read fault on private anonymous memory maps the zero page (the harness's probe). */
    zero_page_reads?: boolean;
    /** Whether PROT_EXEC alone gets the execute-only protection key (the harness's probe; x86-64). */
    protection_keys?: boolean;
  };
  rlimits: { stack: RLimit; as: RLimit; data: RLimit };
  stat: {
    start_code: string;
    end_code: string;
    start_data: string;
    end_data: string;
    start_brk: string;
    start_stack: string;
  };
  personality: string;
  euid: number;
  seed: number;
  generatorVersion: number;
  /** Sequences from the `files`/`wide` generator: its version and options. */
  generator?: { wideVersion: number; wide: boolean; files: number };
  /** A sequence the differential fuzzer found and shrank: where it came from and why it is kept. */
  found?: { seed: number; ops: number; difference: string; note?: string };
  /** Files open at fds 3, 4, ... while the sequence ran. */
  files?: FixtureFile[];
  initialBrk: string;
  mapsBefore: string;
  ops: FixtureOp[];
  mapsAfter: string;
  vmflagsAfter: string[];
}

// ---- environment checks and build ------------------------------------------------------------

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export class EnvironmentError extends Error {}

export interface Tools {
  gcc: string;
  setarch: string;
  prlimit?: string;
}

/** Finds gcc/setarch (and optional prlimit), or throws an EnvironmentError saying what is missing. */
export function findTools(): Tools {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new EnvironmentError(
      `the Linux harness needs Linux on x86_64 (this is ${process.platform}/${process.arch})`,
    );
  }
  const gcc = which('gcc');
  if (!gcc) throw new EnvironmentError('gcc not found on PATH (install gcc and libc6-dev)');
  const setarch = which('setarch');
  if (!setarch) throw new EnvironmentError('setarch not found on PATH (it is part of util-linux)');
  return { gcc, setarch, prlimit: which('prlimit') };
}

/**
 * Compiles harness.c with `gcc -O2 -static` into buildDir/harness. The binary is replaced only when
 * its bytes change, so its inode (which appears in /proc/self/maps) stays stable across re-records.
 * The `fork` variant (-DHARNESS_FORK, buildDir/harness-fork) also runs sequences with processes
 * (procs.h); the plain binary stays the one the single-process fixtures were recorded with.
 */
export function buildHarness(
  buildDir = DEFAULT_BUILD_DIR,
  tools = findTools(),
  variant: 'plain' | 'fork' = 'plain',
): string {
  fs.mkdirSync(buildDir, { recursive: true });
  const name = variant === 'fork' ? 'harness-fork' : 'harness';
  const out = path.join(buildDir, name);
  const tmp = path.join(buildDir, `${name}.tmp.${process.pid}`);
  const defines = variant === 'fork' ? ['-DHARNESS_FORK'] : [];
  const res = spawnSync(
    tools.gcc,
    ['-O2', '-static', '-fno-stack-protector', '-Wall', '-Wextra', ...defines, '-o', tmp, HARNESS_SOURCE],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) {
    const msg = `${res.stderr ?? ''}${res.error ? String(res.error) : ''}`;
    fs.rmSync(tmp, { force: true });
    if (/cannot find -lc\b|cannot find -lc |libc\.a/.test(msg)) {
      throw new EnvironmentError(`static libc is missing (install libc6-dev / glibc-static):\n${msg}`);
    }
    throw new EnvironmentError(`gcc failed to build ${HARNESS_SOURCE}:\n${msg}`);
  }
  const fresh = fs.readFileSync(tmp);
  if (fs.existsSync(out) && fs.readFileSync(out).equals(fresh)) {
    fs.rmSync(tmp);
  } else {
    fs.renameSync(tmp, out);
  }
  return out;
}

export { type FixtureFile, formatDev, type HarnessFile } from './harness-files.js';

// ---- running -------------------------------------------------------------------------------

export interface RunOptions {
  tools?: Tools;
  stackRlimit?: number;
  /** Files the harness has open at fds 3, 4, ... (default none). */
  files?: readonly HarnessFile[];
  /** Kill the harness after this long (default: no limit). */
  timeoutMs?: number;
}

/**
 * Runs the harness on a sequence text under `setarch x86_64 -R`, with an empty environment and
 * stdin as the only input, so the initial stack (and thus every address) is the same each run.
 */
export function runHarness(harness: string, sequence: string, opts: RunOptions = {}): string {
  const tools = opts.tools ?? findTools();
  const stack = opts.stackRlimit ?? DEFAULT_STACK_RLIMIT;
  const argv = [tools.setarch, 'x86_64', '-R', harness];
  if (tools.prlimit && stack > 0) argv.unshift(tools.prlimit, `--stack=${stack}:`);
  const fds = openHarnessFiles(opts.files ?? []);
  try {
    const res = spawnSync(argv[0], argv.slice(1), {
      input: sequence,
      env: {},
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'latin1',
      stdio: ['pipe', 'pipe', 'pipe', ...fds],
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    });
    if (res.error) throw res.error;
    if (res.status !== 0) {
      throw new HarnessError(
        `harness exited with ${res.status ?? res.signal}: ${res.stderr.trim()}`,
        res.status,
      );
    }
    return res.stdout;
  } finally {
    closeFds(fds);
  }
}

/** The harness refused or failed a sequence; `status` 3 is its guard (`unsafe op`) or a bad line. */
export class HarnessError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

interface RawOutput {
  blocks: Map<string, string>;
  fields: Map<string, string>;
  rlimits: Map<string, RLimit>;
  ops: Array<{ name: string; args: string[]; result: string; fault?: string; proc?: number }>;
  /** The descriptors from fd 3 up the harness was started with. */
  fds: Map<number, ReportedFd>;
  ended: number;
}

/** Parses the harness's stdout protocol (see README). */
export function parseHarnessOutput(out: string): RawOutput {
  const raw: RawOutput = {
    blocks: new Map(),
    fields: new Map(),
    rlimits: new Map(),
    ops: [],
    fds: new Map(),
    ended: -1,
  };
  let pos = 0;
  const line = (): string => {
    const nl = out.indexOf('\n', pos);
    if (nl < 0) throw new Error(`harness output truncated at byte ${pos}`);
    const s = out.slice(pos, nl);
    pos = nl + 1;
    return s;
  };
  while (pos < out.length) {
    const l = line();
    const [tag, ...rest] = l.split(' ');
    if (tag === 'block') {
      const [name, lenStr] = rest;
      const len = Number(lenStr);
      raw.blocks.set(name, out.slice(pos, pos + len));
      pos += len;
      if (out[pos] !== '\n') throw new Error(`block ${name} not terminated`);
      pos++;
    } else if (tag === 'rlimit') {
      raw.rlimits.set(rest[0], { cur: rest[1], max: rest[2] });
    } else if (tag === 'op') {
      // `op <i> [@<proc>] <name> <args> = <result>`: the process tag only in sequences with fork.
      const tagged = rest[1].startsWith('@');
      const eq = rest.indexOf('=');
      const args = rest.slice(tagged ? 3 : 2, eq);
      const res = rest.slice(eq + 1);
      const op = { name: rest[tagged ? 2 : 1], args, result: res[0] } as RawOutput['ops'][number];
      if (tagged) op.proc = Number(rest[1].slice(1));
      if (res[0] === 'fault') op.fault = res[1];
      if (Number(rest[0]) !== raw.ops.length) throw new Error(`op numbering off at ${l}`);
      raw.ops.push(op);
    } else if (tag === 'fd') {
      const [fd, dev, ino, size, mode, fsType] = rest;
      raw.fds.set(Number(fd), {
        dev: Number(dev),
        ino: Number(ino),
        size: Number(size),
        mode: Number.parseInt(mode, 8),
        fsType: Number(fsType),
      });
    } else if (tag === 'end') {
      raw.ended = Number(rest[0]);
    } else {
      raw.fields.set(tag, rest.join(' '));
    }
  }
  if (raw.ended !== raw.ops.length) throw new Error('harness output has no matching end line');
  return raw;
}

const STAT_FIELDS = {
  start_code: 26,
  end_code: 27,
  start_stack: 28,
  start_data: 45,
  end_data: 46,
  start_brk: 47,
} as const;

function statFields(stat: string): Fixture['stat'] {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const tail = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
  const get = (n: number): string => {
    const v = tail[n - 3];
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`bad /proc/self/stat field ${n}`);
    return v;
  };
  return {
    start_code: get(STAT_FIELDS.start_code),
    end_code: get(STAT_FIELDS.end_code),
    start_data: get(STAT_FIELDS.start_data),
    end_data: get(STAT_FIELDS.end_data),
    start_brk: get(STAT_FIELDS.start_brk),
    start_stack: get(STAT_FIELDS.start_stack),
  };
}

/** One `VmFlags:` value per smaps entry, checked against the maps lines it must align with. */
export function vmflagsAligned(maps: string, smaps: string): string[] {
  const mapLines = maps.split('\n').filter((l) => l !== '');
  const headers: string[] = [];
  const flags: string[] = [];
  for (const l of smaps.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) {
      headers.push(l);
      flags.push('');
    } else if (l.startsWith('VmFlags:')) {
      flags[flags.length - 1] = l.slice('VmFlags:'.length).trim();
    }
  }
  if (headers.length !== mapLines.length || headers.some((h, i) => h !== mapLines[i])) {
    throw new Error('smaps entries do not line up with the maps lines');
  }
  return flags;
}

function requireBlock(raw: RawOutput, name: string): string {
  const b = raw.blocks.get(name);
  if (b === undefined) throw new Error(`harness output lacks block ${name}`);
  return b;
}

function toInt(s: string, what: string): number {
  const v = Number(s.trim());
  if (!Number.isSafeInteger(v)) throw new Error(`bad ${what}: ${JSON.stringify(s)}`);
  return v;
}

/** What a fixture says beyond the harness's output. */
export interface FixtureContext {
  /** The machine the harness must have run on (default x86_64). */
  arch?: Fixture['arch'];
  /** The files the run had open at fds 3, 4, ... (their facts come from the harness's report). */
  files?: readonly HarnessFile[];
  /** The extended generator's options, for sequences it made. */
  generator?: Fixture['generator'];
}

/** Builds the fixture object from the harness's output and the generated ops. */
export function makeFixture(
  out: string,
  ops: readonly Op[],
  seed: number,
  ctx: FixtureContext = {},
): Fixture {
  const raw = parseHarnessOutput(out);
  const arch = ctx.arch ?? 'x86_64';
  if (raw.ops.length !== ops.length) throw new Error(`harness ran ${raw.ops.length} of ${ops.length} ops`);
  const machine = requireBlock(raw, 'uname_machine');
  if (machine !== arch) throw new Error(`not an ${arch} kernel: ${machine}`);
  const meminfo = requireBlock(raw, 'meminfo');
  const mt = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo);
  if (!mt) throw new Error('no MemTotal in /proc/meminfo');
  const thp = requireBlock(raw, 'thp_enabled');
  const selected = (s: string): string => /\[([\w-]+)\]/.exec(s)?.[1] ?? s.trim();
  const rl = (n: string): RLimit => {
    const r = raw.rlimits.get(n);
    if (!r) throw new Error(`no rlimit ${n}`);
    return r;
  };
  const mapsAfter = requireBlock(raw, 'maps_after');
  const settings: Fixture['settings'] = {
    overcommit_memory: toInt(requireBlock(raw, 'overcommit_memory'), 'overcommit_memory'),
    overcommit_ratio: toInt(requireBlock(raw, 'overcommit_ratio'), 'overcommit_ratio'),
    max_map_count: toInt(requireBlock(raw, 'max_map_count'), 'max_map_count'),
    mmap_min_addr: toInt(requireBlock(raw, 'mmap_min_addr'), 'mmap_min_addr'),
    thp_enabled: selected(thp),
    thp_shmem_enabled: selected(requireBlock(raw, 'thp_shmem_enabled')),
  };
  const zero = raw.fields.get('zero_page_reads');
  if (zero === '0' || zero === '1') settings.zero_page_reads = zero === '1';
  // Recorded only where the kernel uses the keys, so fixtures from machines without them read as before.
  if (raw.fields.get('protection_keys') === '1') settings.protection_keys = true;
  // Key order is the JSON order.
  const fixture: Partial<Fixture> = { kernel: requireBlock(raw, 'uname_release') };
  const version = raw.blocks.get('uname_version');
  if (version !== undefined) fixture.kernelVersion = version;
  Object.assign(fixture, {
    arch,
    pageSize: toInt(raw.fields.get('pagesize') ?? '', 'pagesize'),
    memTotalKiB: Number(mt[1]),
    settings,
    rlimits: { stack: rl('stack'), as: rl('as'), data: rl('data') },
    stat: statFields(requireBlock(raw, 'stat')),
    personality: raw.fields.get('personality') ?? '',
    euid: toInt(raw.fields.get('euid') ?? '', 'euid'),
    seed,
    generatorVersion: GENERATOR_VERSION,
  });
  if (ctx.generator) fixture.generator = ctx.generator;
  if (ctx.files && ctx.files.length > 0) {
    fixture.files = ctx.files.map((f, i) => {
      const seen = raw.fds.get(3 + i);
      if (seen === undefined) throw new Error(`the harness did not have fd ${3 + i} (${f.path}) open`);
      return describeFile(3 + i, f, seen, arch === hostArch());
    });
  }
  Object.assign(fixture, {
    initialBrk: raw.fields.get('initial_brk') ?? '',
    mapsBefore: requireBlock(raw, 'maps_before'),
    ops: raw.ops.map((r, i) => {
      const g = ops[i];
      if (g.op !== r.name) throw new Error(`op ${i}: generated ${g.op}, harness ran ${r.name}`);
      if ((g.proc ?? 0) !== (r.proc ?? 0)) throw new Error(`op ${i}: ran in process ${r.proc ?? 0}`);
      // Key order is the JSON order: op, proc?, args, result, fault?, symbolicArgs?, kind.
      const o: Partial<FixtureOp> = { op: r.name };
      if (r.proc) o.proc = r.proc;
      o.args = r.args;
      o.result = r.result;
      if (r.fault) o.fault = r.fault;
      if (g.args.some((a) => a.includes('$'))) o.symbolicArgs = g.args;
      o.kind = g.kind;
      return o as FixtureOp;
    }),
    mapsAfter,
    vmflagsAfter: vmflagsAligned(mapsAfter, requireBlock(raw, 'smaps_after')),
  });
  return fixture as Fixture;
}

/**
 * Every MAP_SHARED|MAP_ANONYMOUS mapping is backed by a new shmem inode (`00:01 <ino>
 * /dev/zero (deleted)`), numbered from a system-wide counter: the model cannot know the numbers.
 * This renames them 1, 2, ... in order of first appearance (same inode, same new number), keeping
 * the name in its column. Compare the model's maps with the fixture's through this function.
 */
export function normalizeShmemInodes(maps: string): string {
  const renamed = new Map<string, number>();
  return maps.replace(
    /^(\S+ \S+ \S+ 00:01 )(\d+)( +)(.*)$/gm,
    (_m, head: string, ino: string, pad: string, name) => {
      if (!renamed.has(ino)) renamed.set(ino, renamed.size + 1);
      const col = head.length + ino.length + pad.length;
      const prefix = `${head}${renamed.get(ino)} `;
      return `${prefix.padEnd(Math.max(col, prefix.length))}${name}`;
    },
  );
}

/** Stable, diff-friendly JSON: one key per line, one op (and one further process) per line. */
export function formatFixture(f: Fixture): string {
  const lines: string[] = [];
  const entries = Object.entries(f);
  entries.forEach(([k, v], i) => {
    const comma = i < entries.length - 1 ? ',' : '';
    if (k === 'ops' || k === 'processes') {
      const items = v as unknown[];
      lines.push(`  ${JSON.stringify(k)}: [`);
      items.forEach((o, j) => {
        lines.push(`    ${JSON.stringify(o)}${j < items.length - 1 ? ',' : ''}`);
      });
      lines.push(`  ]${comma}`);
    } else {
      lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)}${comma}`);
    }
  });
  return `{\n${lines.join('\n')}\n}\n`;
}

export interface RecordOptions extends Omit<GenerateOptions, 'files'> {
  harness: string;
  tools?: Tools;
  stackRlimit?: number;
  /** Run every sequence twice and require byte-identical fixtures. */
  verify?: boolean;
  /** Files open at fds 3, 4, ...; the generator maps them too. */
  files?: readonly HarnessFile[];
}

/** The generator's view of the harness's files. */
export function generatorFiles(files: readonly HarnessFile[]): GenFile[] {
  return files.map((f, i) => ({
    fd: 3 + i,
    size: f.size ?? 0,
    writable: f.mode === 'rw',
    ...(f.size === undefined ? { device: true } : {}),
  }));
}

/** The generator options of a recording: `files` as the generator sees them. */
function generateOptions(opts: RecordOptions): GenerateOptions {
  const g: GenerateOptions = {};
  for (const k of ['minOps', 'maxOps', 'badFraction', 'arch', 'wide'] as const) {
    if (opts[k] !== undefined) Object.assign(g, { [k]: opts[k] });
  }
  if (opts.files && opts.files.length > 0) g.files = generatorFiles(opts.files);
  return g;
}

/** Runs `ops` once and builds its fixture; a sequence from the extended generator says so. */
export function recordOps(ops: readonly Op[], seed: number, opts: RecordOptions): Fixture {
  const out = runHarness(opts.harness, serializeSequence(ops), opts);
  const files = opts.files ?? [];
  const generator =
    opts.wide || files.length > 0
      ? { wideVersion: WIDE_GENERATOR_VERSION, wide: opts.wide ?? false, files: files.length }
      : undefined;
  return makeFixture(out, ops, seed, { arch: opts.arch, files, generator });
}

/** A fixture as two runs of one sequence are compared: shmem inode numbers renamed. */
function normalizedFixture(f: Fixture): string {
  return formatFixture({
    ...f,
    mapsBefore: normalizeShmemInodes(f.mapsBefore),
    mapsAfter: normalizeShmemInodes(f.mapsAfter),
  });
}

/** Generates, runs and (optionally) re-runs one seed; returns the fixture text. */
function recordSeed(seed: number, opts: RecordOptions): { fixture: Fixture; text: string } {
  const ops = generateSequence(seed, generateOptions(opts));
  const run = (): Fixture => {
    try {
      return recordOps(ops, seed, opts);
    } catch (e) {
      throw new Error(`seed ${seed}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const fixture = run();
  const text = formatFixture(fixture);
  if (opts.verify && normalizedFixture(run()) !== normalizedFixture(fixture)) {
    throw new Error(`seed ${seed}: two runs of the same sequence differ`);
  }
  return { fixture, text };
}

// ---- CLI -------------------------------------------------------------------------------------

interface CliOptions {
  count: number;
  seed: number;
  out: string;
  buildDir: string;
  verify: boolean;
  minOps?: number;
  maxOps?: number;
  stackRlimit: number;
}

function parseCli(argv: string[]): CliOptions {
  const o: CliOptions = {
    count: 160,
    seed: 1,
    out: 'test/fixtures/linux-x86_64',
    buildDir: DEFAULT_BUILD_DIR,
    verify: true,
    stackRlimit: DEFAULT_STACK_RLIMIT,
  };
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--count') o.count = args.int();
    else if (a === '--seed') o.seed = args.int();
    else if (a === '--out') o.out = args.value();
    else if (a === '--build-dir') o.buildDir = args.value();
    else if (a === '--min-ops') o.minOps = args.int();
    else if (a === '--max-ops') o.maxOps = args.int();
    else if (a === '--stack-rlimit') o.stackRlimit = args.int();
    else if (a === '--verify') o.verify = true;
    else if (a === '--no-verify') o.verify = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: record.ts [--count 160] [--seed 1] [--out test/fixtures/linux-x86_64] [--build-dir DIR]\n' +
          '                 [--min-ops 40] [--max-ops 80] [--stack-rlimit 8388608] [--no-verify]\n',
      );
      process.exit(0);
    } else args.unknown();
  }
  return o;
}

function main(argv: string[]): void {
  const o = parseCli(argv);
  let tools: Tools;
  let harness: string;
  try {
    tools = findTools();
    harness = buildHarness(o.buildDir, tools);
  } catch (e) {
    if (e instanceof EnvironmentError) {
      process.stderr.write(`record: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (!tools.prlimit) process.stderr.write('record: prlimit not found; RLIMIT_STACK is inherited as is\n');
  fs.mkdirSync(o.out, { recursive: true });
  for (const f of fs.readdirSync(o.out)) if (/^seq-\d+\.json$/.test(f)) fs.rmSync(path.join(o.out, f));

  let nOps = 0;
  let nErr = 0;
  let nFault = 0;
  const perSyscall = new Map<string, { ops: number; errors: number }>();
  const perErrno = new Map<string, number>();
  const kernels = new Set<string>();
  const digest = createHash('sha256');
  for (let i = 0; i < o.count; i++) {
    const seed = o.seed + i;
    const { fixture, text } = recordSeed(seed, { ...o, harness, tools });
    const name = `seq-${String(i + 1).padStart(3, '0')}.json`;
    fs.writeFileSync(path.join(o.out, name), text);
    digest.update(text);
    kernels.add(fixture.kernel);
    for (const op of fixture.ops) {
      nOps++;
      const s = perSyscall.get(op.op) ?? { ops: 0, errors: 0 };
      s.ops++;
      if (op.result === 'fault') nFault++;
      else if (op.op !== 'brk' && op.op !== 'peek' && op.result.startsWith('-')) {
        nErr++;
        s.errors++;
        const e = errnoName(-Number(op.result)) ?? `errno${-Number(op.result)}`;
        perErrno.set(e, (perErrno.get(e) ?? 0) + 1);
      }
      perSyscall.set(op.op, s);
    }
  }
  const lines = [
    `recorded ${o.count} sequences (seeds ${o.seed}..${o.seed + o.count - 1}) into ${o.out}`,
    `kernel ${[...kernels].join(', ')}; harness ${harness}; verify ${o.verify ? 'on (each run twice)' : 'off'}`,
    `ops ${nOps}, errors ${nErr} (${((100 * nErr) / nOps).toFixed(1)}%), touch/peek faults ${nFault}`,
    `errors by errno: ${[...perErrno]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    'per op:',
    ...[...perSyscall]
      .sort((a, b) => b[1].ops - a[1].ops)
      .map(
        ([k, v]) =>
          `  ${k.padEnd(9)} ${String(v.ops).padStart(5)} ops  ${String(v.errors).padStart(4)} errors`,
      ),
    `sha256 of all fixtures: ${digest.digest('hex').slice(0, 16)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`record: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}
