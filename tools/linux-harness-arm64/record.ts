/**
 * Records the arm64 Linux differential-test fixtures: boots a real arm64 kernel (Debian's
 * linux-image-6.18.15+deb13-arm64 from trixie-backports) under qemu-system-aarch64 (TCG,
 * cortex-a57), runs the static aarch64 build of ../linux-harness/harness.c for every generated
 * sequence from a tiny /init, and turns the framed console output into fixtures.
 *
 *   npx tsx tools/linux-harness-arm64/record.ts [--count 100] [--seed 1] [--out test/fixtures/linux-aarch64]
 *        [--runs 2] [--max-boots 4] [--cache DIR] [--build-dir DIR] [--min-ops 40] [--max-ops 80]
 *        [--no-install] [--from-log FILE]
 *
 * See README.md in this directory.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errnoName } from '../../src/trace/errno.js';
import { Args, UsageError } from '../args.js';
import { type GenerateOptions, generateSequence, serializeSequence } from '../linux-harness/generate.js';
import {
  type Fixture,
  formatFixture,
  type HarnessFile,
  makeFixture,
  normalizeShmemInodes,
} from '../linux-harness/record.js';
import { type ConsoleLog, parseConsoleLog } from './console.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
export const HARNESS_SOURCE = path.join(REPO, 'tools/linux-harness/harness.c');
export const INIT_SOURCE = path.join(HERE, 'init.c');
export const DEFAULT_CACHE = '/var/cache/levitate-mm-arm64';
export const DEFAULT_BUILD_DIR = path.join(os.tmpdir(), 'levitate-mm-linux-harness-arm64');
export const DEFAULT_OUT = 'test/fixtures/linux-aarch64';

// ---- pins -------------------------------------------------------------------------------------

/** The guest kernel: exactly this .deb (checked by SHA256) and the image inside it. */
export const KERNEL = {
  package: 'linux-image-6.18.15+deb13-arm64',
  version: '6.18.15-1~bpo13+1',
  suite: 'trixie-backports',
  mirror: 'http://deb.debian.org/debian',
  filename: 'linux-image-6.18.15+deb13-arm64_6.18.15-1~bpo13+1_arm64.deb',
  sha256: '219d3ec8b0ca52ad0da5c0f95e42375ac5bf688800ec327ec8426ed92847ccae',
  size: 96728884,
  image: './boot/vmlinuz-6.18.15+deb13-arm64',
  imageSha256: '0a5703d75655284cf84c65bad42b47e79d52c3f756a9b1f64921f189c89280aa',
  release: '6.18.15+deb13-arm64',
} as const;

const QEMU_ARGS = [
  '-M',
  'virt',
  '-cpu',
  'cortex-a57',
  '-m',
  '1024',
  '-nographic',
  '-no-reboot',
  '-nic',
  'none',
];
const BOOT_PARAMS = 'console=ttyAMA0 norandmaps panic=-1 transparent_hugepage=madvise';
/** Host packages (Debian 12 names) the recorder needs, and the command each provides. */
const HOST_PACKAGES: ReadonlyArray<[pkg: string, provides: string]> = [
  ['qemu-system-arm', '/usr/bin/qemu-system-aarch64'],
  ['gcc-aarch64-linux-gnu', '/usr/bin/aarch64-linux-gnu-gcc'],
  ['libc6-dev-arm64-cross', '/usr/aarch64-linux-gnu/lib/libc.a'],
  ['cpio', '/usr/bin/cpio'],
];

export class EnvironmentError extends Error {}

function sh(
  cmd: string,
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  return {
    ok: r.status === 0 && !r.error,
    out: r.stdout ?? '',
    err: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`,
  };
}

function sha256File(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

// ---- host tools -------------------------------------------------------------------------------

/** Installs the missing host packages with apt-get (as root), or says what to install. */
export function ensureHostTools(
  install = true,
  log: (s: string) => void = (s) => void process.stderr.write(`${s}\n`),
): void {
  if (process.platform !== 'linux')
    throw new EnvironmentError(`recording needs a Linux host (this is ${process.platform})`);
  if (!fs.existsSync('/usr/bin/dpkg-deb') || !fs.existsSync('/usr/bin/apt-get')) {
    throw new EnvironmentError('recording needs a Debian-like host with apt-get and dpkg-deb');
  }
  const missing = HOST_PACKAGES.filter(([, f]) => !fs.existsSync(f)).map(([p]) => p);
  if (missing.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!install) throw new EnvironmentError(`missing host packages; run: ${cmd}`);
  if (process.getuid?.() !== 0) throw new EnvironmentError(`missing host packages; run as root: ${cmd}`);
  log(`installing ${missing.join(' ')}`);
  let r = sh('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!r.ok) {
    sh('apt-get', ['update']);
    r = sh('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!r.ok) throw new EnvironmentError(`${cmd} failed:\n${r.err.slice(-2000)}`);
}

// ---- kernel -------------------------------------------------------------------------------------

/**
 * A private apt configuration for arm64 trixie-backports under cacheDir/apt: the host's dpkg
 * architectures, sources and state are not touched.
 */
function privateApt(cacheDir: string): string {
  const c = path.join(cacheDir, 'apt');
  for (const d of [
    'etc/apt/sources.list.d',
    'etc/apt/preferences.d',
    'etc/apt/apt.conf.d',
    'state/lists/partial',
    'cache/archives/partial',
  ]) {
    fs.mkdirSync(path.join(c, d), { recursive: true });
  }
  const status = path.join(c, 'state/status');
  if (!fs.existsSync(status)) fs.writeFileSync(status, '');
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  fs.writeFileSync(
    path.join(c, 'etc/apt/sources.list'),
    `deb [arch=arm64 signed-by=${keyring}] ${KERNEL.mirror} ${KERNEL.suite} main\n`,
  );
  const conf = path.join(c, 'apt.conf');
  fs.writeFileSync(
    conf,
    [
      `Dir::Etc "${c}/etc/apt";`,
      `Dir::Etc::sourcelist "${c}/etc/apt/sources.list";`,
      `Dir::Etc::sourceparts "${c}/etc/apt/sources.list.d";`,
      `Dir::Etc::preferencesparts "${c}/etc/apt/preferences.d";`,
      `Dir::Etc::parts "${c}/etc/apt/apt.conf.d";`,
      `Dir::State "${c}/state";`,
      `Dir::State::status "${status}";`,
      `Dir::Cache "${c}/cache";`,
      'APT::Architecture "arm64";',
      'APT::Architectures { "arm64"; };',
      'Acquire::Languages "none";',
      'APT::Sandbox::User "root";',
      '',
    ].join('\n'),
  );
  return conf;
}

/** Returns the path of the pinned kernel Image, downloading and unpacking it when needed. */
export function ensureKernel(
  cacheDir: string,
  log: (s: string) => void = (s) => void process.stderr.write(`${s}\n`),
): string {
  const debDir = path.join(cacheDir, 'debs');
  const deb = path.join(debDir, KERNEL.filename);
  const imageDir = path.join(cacheDir, `kernel-${KERNEL.release}`);
  const image = path.join(imageDir, path.basename(KERNEL.image));
  if (fs.existsSync(image) && sha256File(image) === KERNEL.imageSha256) return image;
  fs.mkdirSync(debDir, { recursive: true });
  if (!fs.existsSync(deb) || sha256File(deb) !== KERNEL.sha256) {
    fs.rmSync(deb, { force: true });
    log(`downloading ${KERNEL.package}=${KERNEL.version} (arm64, ${KERNEL.suite}) into ${debDir}`);
    const conf = privateApt(cacheDir);
    const env = { ...process.env, APT_CONFIG: conf };
    const up = sh('apt-get', ['update'], { env });
    if (!up.ok)
      throw new EnvironmentError(`apt-get update for arm64 ${KERNEL.suite} failed:\n${up.err.slice(-2000)}`);
    const dl = sh('apt-get', ['download', `${KERNEL.package}=${KERNEL.version}`], { env, cwd: debDir });
    if (!dl.ok || !fs.existsSync(deb)) {
      const policy = sh('apt-cache', ['policy', KERNEL.package], { env }).out.trim();
      throw new EnvironmentError(
        `the pinned kernel package ${KERNEL.package}=${KERNEL.version} could not be downloaded from ` +
          `${KERNEL.mirror} ${KERNEL.suite} (arm64); it may be gone from the archive ` +
          `(try snapshot.debian.org, or re-pin KERNEL in ${path.relative(REPO, fileURLToPath(import.meta.url))}).\n` +
          `apt-cache policy: ${policy || '(package unknown)'}\n${dl.err.slice(-2000)}`,
      );
    }
    const got = sha256File(deb);
    if (got !== KERNEL.sha256) {
      throw new EnvironmentError(
        `${deb} has SHA256 ${got}, but ${KERNEL.sha256} is pinned: the archive's package differs from the one the fixtures were recorded with`,
      );
    }
  }
  fs.mkdirSync(imageDir, { recursive: true });
  const tar = spawnSync('sh', [
    '-c',
    `dpkg-deb --fsys-tarfile "$1" | tar -x -O "$2" > "$3"`,
    'x',
    deb,
    KERNEL.image,
    image,
  ]);
  if (tar.status !== 0)
    throw new EnvironmentError(`unpacking ${KERNEL.image} from ${deb} failed: ${tar.stderr}`);
  const got = sha256File(image);
  if (got !== KERNEL.imageSha256) {
    throw new EnvironmentError(`${image} has SHA256 ${got}, expected ${KERNEL.imageSha256}`);
  }
  return image;
}

// ---- build and boot -----------------------------------------------------------------------------

const CC = 'aarch64-linux-gnu-gcc';
const CFLAGS = ['-O2', '-static', '-fno-stack-protector', '-Wall', '-Wextra'];

/** Builds /harness and /init for aarch64 into buildDir/root. */
export function buildGuestPrograms(buildDir: string): void {
  const root = path.join(buildDir, 'root');
  fs.mkdirSync(root, { recursive: true });
  for (const [src, name] of [
    [HARNESS_SOURCE, 'harness'],
    [INIT_SOURCE, 'init'],
  ] as const) {
    const r = sh(CC, [...CFLAGS, '-o', path.join(root, name), src]);
    if (!r.ok) throw new EnvironmentError(`${CC} failed to build ${src}:\n${r.err}`);
  }
}

/**
 * Writes the initramfs (newc cpio, uncompressed) for these sequences. /init and /harness come
 * first, so the harness's inode (shown in its maps lines) does not depend on the sequences.
 */
export function writeInitramfs(
  buildDir: string,
  seqs: ReadonlyArray<[id: string, text: string]>,
  runs: number,
  harnessFiles: readonly HarnessFile[] = [],
): string {
  const root = path.join(buildDir, 'root');
  const seqDir = path.join(root, 'seq');
  fs.rmSync(seqDir, { recursive: true, force: true });
  fs.mkdirSync(seqDir);
  const files: string[] = [];
  // The files every sequence has open at fds 3, 4, ... (see init.c).
  const fileList = harnessFiles.map((f) => `${f.mode} ${f.size ?? '-'} ${f.path}\n`).join('');
  for (const [id, text] of seqs) {
    fs.writeFileSync(path.join(seqDir, `${id}.txt`), text);
    files.push(`seq/${id}.txt`);
    if (fileList) {
      fs.writeFileSync(path.join(seqDir, `${id}.files`), fileList);
      files.push(`seq/${id}.files`);
    }
  }
  fs.writeFileSync(path.join(seqDir, 'plan'), `runs ${runs}\n${seqs.map(([id]) => `${id}\n`).join('')}`);
  const list = ['.', 'init', 'harness', 'seq', 'seq/plan', ...files].join('\n');
  const out = path.join(buildDir, 'initramfs.cpio');
  const r = spawnSync('sh', ['-c', `cpio -o -H newc -R 0:0 --reproducible --quiet > "$1"`, 'x', out], {
    cwd: root,
    input: `${list}\n`,
  });
  if (r.status !== 0) throw new EnvironmentError(`cpio failed: ${r.stderr}`);
  return out;
}

/** Boots the guest once and returns its console output. */
export function boot(kernel: string, initramfs: string, logFile: string, timeoutMs: number): string {
  const r = spawnSync(
    'qemu-system-aarch64',
    [...QEMU_ARGS, '-kernel', kernel, '-initrd', initramfs, '-append', BOOT_PARAMS],
    {
      encoding: 'latin1',
      maxBuffer: 1024 * 1024 * 1024,
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const text = `${r.stdout ?? ''}`;
  fs.writeFileSync(logFile, text, 'latin1');
  if (r.error) throw new Error(`qemu-system-aarch64: ${String(r.error)} (console log in ${logFile})`);
  if (r.status !== 0)
    throw new Error(`qemu-system-aarch64 exited with ${r.status}: ${r.stderr} (console log in ${logFile})`);
  return text;
}

// ---- fixtures -------------------------------------------------------------------------------------

export type Arm64Fixture = Omit<Fixture, 'arch'> & { arch: 'aarch64' };

const GENERATE_ARCH = 'aarch64' as const;

/** The generator options a seed is recorded with (arch aarch64 plus the length bounds). */
function generatorOptions(o: GenerateOptions = {}): GenerateOptions {
  const g: GenerateOptions = { arch: GENERATE_ARCH };
  if (o.minOps !== undefined) g.minOps = o.minOps;
  if (o.maxOps !== undefined) g.maxOps = o.maxOps;
  return g;
}

/** Builds the fixture from one harness output, exactly as the x86_64 recorder does, for aarch64. */
function makeArm64Fixture(out: string, seed: number, gen: GenerateOptions = {}): Arm64Fixture {
  const ops = generateSequence(seed, generatorOptions(gen));
  return makeFixture(out, ops, seed, { arch: 'aarch64' }) as Arm64Fixture;
}

export function formatArm64Fixture(f: Arm64Fixture): string {
  return formatFixture(f as unknown as Fixture);
}

/** The comparison key of two runs of one sequence: shmem inode numbers renamed. */
function normalized(f: Arm64Fixture): string {
  return formatArm64Fixture({
    ...f,
    mapsBefore: normalizeShmemInodes(f.mapsBefore),
    mapsAfter: normalizeShmemInodes(f.mapsAfter),
  });
}

export interface SeedResult {
  seed: number;
  fixture?: Arm64Fixture;
  /** Why the seed has no fixture from this log (missing runs, harness failure, runs differ). */
  problem?: string;
  /** True when retrying in another boot may help (a run was garbled or missing). */
  retry?: boolean;
}

/** Turns a parsed console log into one result per seed (ids are decimal seeds). */
export function fixturesFromLog(
  log: ConsoleLog,
  seeds: readonly number[],
  runs: number,
  gen: GenerateOptions = {},
): SeedResult[] {
  return seeds.map((seed): SeedResult => {
    const fixtures: Arm64Fixture[] = [];
    for (let rep = 0; rep < runs; rep++) {
      const run = log.runs.get(`${seed}/${rep}`);
      if (!run) return { seed, problem: `run ${rep} missing from the console log`, retry: true };
      if (!run.complete)
        return { seed, problem: `run ${rep} incomplete: ${run.problems.join('; ')}`, retry: true };
      if (run.status !== 0) {
        return {
          seed,
          problem: `run ${rep}: harness wait status ${run.status}: ${(run.stderr ?? '').trim()}`,
        };
      }
      try {
        fixtures.push(makeArm64Fixture(run.stdout!, seed, gen));
      } catch (e) {
        return { seed, problem: `run ${rep}: ${e instanceof Error ? e.message : String(e)}` };
      }
    }
    const first = normalized(fixtures[0]);
    for (let i = 1; i < fixtures.length; i++) {
      if (normalized(fixtures[i]) !== first)
        return { seed, problem: `runs 0 and ${i} of the same sequence differ` };
    }
    return { seed, fixture: fixtures[0] };
  });
}

// ---- CLI ------------------------------------------------------------------------------------------

interface CliOptions {
  count: number;
  seed: number;
  out: string;
  runs: number;
  maxBoots: number;
  cache: string;
  buildDir: string;
  install: boolean;
  fromLog?: string;
  minOps?: number;
  maxOps?: number;
  timeoutS: number;
}

function parseCli(argv: string[]): CliOptions {
  const o: CliOptions = {
    count: 100,
    seed: 1,
    out: DEFAULT_OUT,
    runs: 2,
    maxBoots: 4,
    cache: process.env.LEVITATE_ARM64_CACHE ?? DEFAULT_CACHE,
    buildDir: DEFAULT_BUILD_DIR,
    install: true,
    timeoutS: 900,
  };
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--count') o.count = args.int();
    else if (a === '--seed') o.seed = args.int();
    else if (a === '--out') o.out = args.value();
    else if (a === '--runs') o.runs = args.int();
    else if (a === '--max-boots') o.maxBoots = args.int();
    else if (a === '--cache') o.cache = args.value();
    else if (a === '--build-dir') o.buildDir = args.value();
    else if (a === '--min-ops') o.minOps = args.int();
    else if (a === '--max-ops') o.maxOps = args.int();
    else if (a === '--timeout') o.timeoutS = args.int();
    else if (a === '--no-install') o.install = false;
    else if (a === '--from-log') o.fromLog = args.value();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: record.ts [--count 100] [--seed 1] [--out test/fixtures/linux-aarch64] [--runs 2] [--max-boots 4]\n' +
          '                 [--cache /var/cache/levitate-mm-arm64] [--build-dir DIR] [--min-ops 40] [--max-ops 80]\n' +
          '                 [--timeout 900] [--no-install] [--from-log CONSOLE_LOG]\n',
      );
      process.exit(0);
    } else args.unknown();
  }
  if (o.runs < 1 || o.count < 1) throw new UsageError('--runs and --count must be at least 1');
  return o;
}

function writeFixtures(
  o: CliOptions,
  results: Map<number, Arm64Fixture>,
  seeds: number[],
  started: number,
): void {
  fs.mkdirSync(o.out, { recursive: true });
  for (const f of fs.readdirSync(o.out)) if (/^seq-\d+\.json$/.test(f)) fs.rmSync(path.join(o.out, f));
  const digest = createHash('sha256');
  let nOps = 0;
  let nErr = 0;
  let nFault = 0;
  const perErrno = new Map<string, number>();
  const kernels = new Set<string>();
  const mem = new Set<number>();
  seeds.forEach((seed, i) => {
    const f = results.get(seed)!;
    const text = formatArm64Fixture(f);
    fs.writeFileSync(path.join(o.out, `seq-${String(i + 1).padStart(3, '0')}.json`), text);
    digest.update(text);
    kernels.add(f.kernel);
    mem.add(f.memTotalKiB);
    for (const op of f.ops) {
      nOps++;
      if (op.result === 'fault') nFault++;
      else if (op.op !== 'brk' && op.op !== 'peek' && op.result.startsWith('-')) {
        nErr++;
        const e = errnoName(-Number(op.result)) ?? `errno${-Number(op.result)}`;
        perErrno.set(e, (perErrno.get(e) ?? 0) + 1);
      }
    }
  });
  process.stdout.write(
    [
      `recorded ${seeds.length} sequences (seeds ${seeds[0]}..${seeds[seeds.length - 1]}, arch aarch64) into ${o.out}`,
      `kernel ${[...kernels].join(', ')}; MemTotal ${[...mem].join(', ')} kB; runs per sequence ${o.runs}`,
      `ops ${nOps}, errors ${nErr}, touch/peek faults ${nFault}; by errno: ${[...perErrno]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
      `sha256 of all fixtures: ${digest.digest('hex').slice(0, 16)}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
      '',
    ].join('\n'),
  );
}

function main(argv: string[]): void {
  const started = Date.now();
  const o = parseCli(argv);
  const seeds = Array.from({ length: o.count }, (_, i) => o.seed + i);
  const gen: GenerateOptions = { minOps: o.minOps, maxOps: o.maxOps };
  const results = new Map<number, Arm64Fixture>();
  const say = (s: string): void => {
    process.stderr.write(`record: ${s}\n`);
  };

  if (o.fromLog) {
    const log = parseConsoleLog(fs.readFileSync(o.fromLog, 'latin1'));
    const bad: string[] = [];
    for (const r of fixturesFromLog(log, seeds, o.runs, gen)) {
      if (r.fixture) results.set(r.seed, r.fixture);
      else bad.push(`seed ${r.seed}: ${r.problem}`);
    }
    if (bad.length)
      throw new Error(
        `${o.fromLog}: ${bad.length} seeds without a fixture (${log.garbled} garbled lines):\n${bad.join('\n')}`,
      );
    writeFixtures(o, results, seeds, started);
    return;
  }

  let t = Date.now();
  ensureHostTools(o.install, say);
  const kernel = ensureKernel(o.cache, say);
  buildGuestPrograms(o.buildDir);
  say(`host tools, kernel ${kernel} and guest programs ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const logDir = path.join(o.cache, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  let pending = seeds;
  for (let b = 1; b <= o.maxBoots && pending.length > 0; b++) {
    const initramfs = writeInitramfs(
      o.buildDir,
      pending.map((s) => [String(s), serializeSequence(generateSequence(s, generatorOptions(gen)))]),
      o.runs,
    );
    const logFile = path.join(logDir, `boot-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
    t = Date.now();
    const text = boot(kernel, initramfs, logFile, o.timeoutS * 1000);
    const log = parseConsoleLog(text);
    say(
      `boot ${b}: ${pending.length} sequences x ${o.runs} runs in ${((Date.now() - t) / 1000).toFixed(1)} s, ` +
        `${log.runs.size} runs framed, ${log.garbled} garbled lines, done frame ${log.done ?? 'missing'}; log ${logFile}`,
    );
    const retry: number[] = [];
    for (const r of fixturesFromLog(log, pending, o.runs, gen)) {
      if (r.fixture) results.set(r.seed, r.fixture);
      else if (r.retry) {
        say(`seed ${r.seed}: ${r.problem}; retrying`);
        retry.push(r.seed);
      } else throw new Error(`seed ${r.seed}: ${r.problem} (console log in ${logFile})`);
    }
    pending = retry;
  }
  if (pending.length > 0)
    throw new Error(`no complete output for seeds ${pending.join(', ')} after ${o.maxBoots} boots`);
  writeFixtures(o, results, seeds, started);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`record: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1);
  }
}
