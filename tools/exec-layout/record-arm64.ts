/**
 * Records exec layouts on arm64: Debian's 6.18.15 arm64 kernel under qemu (the boot, the kernel
 * pin and the console framing of ../linux-harness-arm64), with the exec-layout helper as the
 * guest's /harness, reading each case's arguments from stdin, and the test programs built with
 * aarch64-linux-gnu-gcc in the initramfs under /p (plus the cross toolchain's ld.so as
 * /lib/ld-linux-aarch64.so.1, so dynamic programs load too). Writes
 * test/fixtures/exec-layout/aarch64/<case>.json.
 *
 *   npx tsx tools/exec-layout/record-arm64.ts [--out DIR] [--cache DIR] [--no-install]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Args, UsageError } from '../args.js';
import { parseConsoleLog } from '../linux-harness-arm64/console.js';
import {
  boot,
  DEFAULT_CACHE,
  EnvironmentError,
  ensureHostTools,
  ensureKernel,
  INIT_SOURCE,
} from '../linux-harness-arm64/record.js';
import type { ExecFixture, FileEntry } from './fixture.js';
import { type Case, fileEntry, fixtureFromOutput, formatFixture, helperArgs, parseHelper } from './record.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = path.join(HERE, '..', '..', 'test', 'fixtures', 'exec-layout', 'aarch64');
const BUILD = path.join(os.tmpdir(), 'levitate-mm-exec-layout-arm64');
const CC = 'aarch64-linux-gnu-gcc';
const LD_SO = '/lib/ld-linux-aarch64.so.1';
const HOST_LD_SO = '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1';
/** The guest's root file system (the initramfs, a tmpfs) is device 00:02. */
const GUEST_DEV = { major: 0, minor: 2 };

const P = (name: string) => `/p/${name}`;

const CASES: Case[] = [
  { name: 'pie', what: 'a PIE with ld.so at ELF_ET_DYN_BASE, aligned to its 64 KiB p_align', path: P('pie') },
  { name: 'nopie', what: '-no-pie: ET_EXEC at 0x400000 with ld.so', path: P('nopie') },
  { name: 'static', what: '-static: ET_EXEC, no interpreter', path: P('static') },
  {
    name: 'static-pie',
    what: '-static-pie: p_align 64 KiB, larger than a page: placed by the allocator, then aligned',
    path: P('static-pie'),
  },
  { name: 'execstack', what: '-z execstack: an rwx stack', path: P('execstack') },
  { name: 'bigbss', what: 'a 64 MiB bss', path: P('bigbss') },
  {
    name: 'ld-so-direct',
    what: 'ld.so run directly, its break at ELF_ET_DYN_BASE',
    path: LD_SO,
    argv: [LD_SO, P('pie')],
  },
  { name: 'script', what: 'a #! script run by a static program', path: P('script'), argv: ['script', 'a'] },
  {
    name: 'many-args',
    what: '300 arguments of 300 bytes',
    path: P('static'),
    argv: ['static', { repeat: 'x', length: 300, count: 300 }],
  },
  { name: 'err-missing', what: 'no such file: ENOENT', path: P('missing') },
  { name: 'err-wrong-machine', what: 'an x86-64 ELF: ENOEXEC', path: P('x86-64') },
  { name: 'err-script-chain6', what: 'six nested #! scripts: ELOOP', path: P('chain6') },
];

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new EnvironmentError(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
}

/** Builds the guest's files into BUILD/root. */
function buildGuest(): string {
  const root = path.join(BUILD, 'root');
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'p'), { recursive: true });
  fs.mkdirSync(path.join(root, 'lib'));
  const cc = (out: string, flags: string[], src: string) =>
    sh(CC, ['-O2', '-Wall', '-Wextra', ...flags, '-o', path.join(root, out), src]);
  cc('init', ['-static', '-fno-stack-protector'], INIT_SOURCE);
  cc('harness', ['-static'], path.join(HERE, 'exec-layout.c'));
  const prog = path.join(HERE, 'programs', 'prog.c');
  cc('p/pie', [], prog);
  cc('p/nopie', ['-no-pie'], prog);
  cc('p/static', ['-static'], prog);
  cc('p/static-pie', ['-static-pie'], prog);
  cc('p/execstack', ['-z', 'execstack'], prog);
  cc('p/bigbss', ['-static', '-DBSS_BYTES=67108864'], prog);
  fs.copyFileSync(HOST_LD_SO, path.join(root, LD_SO));
  fs.chmodSync(path.join(root, LD_SO), 0o755);
  // Any x86-64 ELF file does for the wrong-machine case: the host's own true.
  fs.copyFileSync('/bin/true', path.join(root, 'p/x86-64'));
  fs.writeFileSync(path.join(root, 'p/script'), `#!${P('static')}\n`, { mode: 0o755 });
  let prev = P('static');
  for (let k = 1; k <= 6; k++) {
    fs.writeFileSync(path.join(root, `p/chain${k}`), `#!${prev}\n`, { mode: 0o755 });
    prev = P(`chain${k}`);
  }
  return root;
}

/** The initramfs: /init, /harness, the programs, then one argument file per case. */
function writeInitramfs(root: string, runs: number): string {
  const seq = path.join(root, 'seq');
  fs.mkdirSync(seq);
  for (const c of CASES) fs.writeFileSync(path.join(seq, `${c.name}.txt`), `${helperArgs(c).join('\n')}\n`);
  fs.writeFileSync(path.join(seq, 'plan'), `runs ${runs}\n${CASES.map((c) => `${c.name}\n`).join('')}`);
  const programs = fs.readdirSync(path.join(root, 'p')).sort();
  const list = [
    '.',
    'init',
    'harness',
    'lib',
    `lib/${path.basename(LD_SO)}`,
    'p',
    ...programs.map((p) => `p/${p}`),
    'seq',
    'seq/plan',
    ...CASES.map((c) => `seq/${c.name}.txt`),
  ];
  const out = path.join(BUILD, 'initramfs.cpio');
  const r = spawnSync('sh', ['-c', 'cpio -o -H newc -R 0:0 --reproducible --quiet > "$1"', 'x', out], {
    cwd: root,
    input: `${list.join('\n')}\n`,
  });
  if (r.status !== 0) throw new EnvironmentError(`cpio failed: ${r.stderr}`);
  return out;
}

/** The guest's files a case used, from the maps (with their inodes) and the paths it names. */
function guestFiles(root: string, c: Case, maps: string | undefined): Record<string, FileEntry> {
  const inodes = new Map<string, number>();
  for (const line of (maps ?? '').split('\n')) {
    const m = /^\S+ \S+ \S+ \S+ (\d+)\s+(\/\S+)$/.exec(line);
    if (m) inodes.set(m[2], Number(m[1]));
  }
  const files: Record<string, FileEntry> = {};
  const paths = new Set<string>([...inodes.keys()]);
  if (fs.existsSync(path.join(root, c.path))) paths.add(c.path);
  // A script names its interpreter chain on its first line.
  for (let p = c.path; fs.existsSync(path.join(root, p)); ) {
    const head = fs.readFileSync(path.join(root, p)).subarray(0, 256).toString('latin1');
    const m = /^#!(\S+)/.exec(head);
    if (!m) break;
    paths.add(m[1]);
    p = m[1];
  }
  for (const p of [...paths].sort())
    files[p] = fileEntry(path.join(root, p), { ...GUEST_DEV, inode: inodes.get(p) ?? 0 }, false);
  return files;
}

function main(argv: string[]): void {
  let out = DEFAULT_OUT;
  let cache = process.env.LEVITATE_ARM64_CACHE ?? DEFAULT_CACHE;
  let install = true;
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--out') out = args.value();
    else if (a === '--cache') cache = args.value();
    else if (a === '--no-install') install = false;
    else args.unknown();
  }
  ensureHostTools(install);
  const kernel = ensureKernel(cache);
  const root = buildGuest();
  const runs = 2;
  const initramfs = writeInitramfs(root, runs);
  fs.mkdirSync(path.join(cache, 'logs'), { recursive: true });
  const logFile = path.join(cache, 'logs', `exec-layout-${Date.now()}.log`);
  const log = parseConsoleLog(boot(kernel, initramfs, logFile, 900_000));
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(out)) if (f.endsWith('.json')) fs.rmSync(path.join(out, f));
  for (const c of CASES) {
    const fixtures: ExecFixture[] = [];
    for (let rep = 0; rep < runs; rep++) {
      const run = log.runs.get(`${c.name}/${rep}`);
      if (!run?.complete || run.stdout === undefined || run.status !== 0)
        throw new Error(
          `${c.name} run ${rep}: ${run?.problems.join('; ') ?? 'missing'} (console log ${logFile})`,
        );
      const output = parseHelper(run.stdout);
      const files = guestFiles(root, c, output.blocks.get('maps'));
      fixtures.push(
        fixtureFromOutput(c, 'aarch64', output, files, (p) => {
          throw new Error(`${c.name}: ${p} is mapped but not a guest file`);
        }),
      );
    }
    const text = formatFixture({ ...fixtures[0], filesRoot: '/' });
    if (formatFixture({ ...fixtures[1], filesRoot: '/' }) !== text)
      throw new Error(`${c.name}: the two runs differ`);
    fs.writeFileSync(path.join(out, `${c.name}.json`), text);
    const f = fixtures[0];
    process.stdout.write(
      `${c.name.padEnd(20)} ${f.errno === 0 ? 'exec' : f.signal ? `signal ${f.signal}` : `errno ${f.errno}`}\n`,
    );
  }
  process.stdout.write(`recorded ${CASES.length} cases into ${out} (kernel ${fixturesKernel(out)})\n`);
}

function fixturesKernel(dir: string): string {
  const first = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()[0];
  return first ? (JSON.parse(fs.readFileSync(path.join(dir, first), 'utf8')) as ExecFixture).kernel : '?';
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`record-arm64: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1);
  }
}
