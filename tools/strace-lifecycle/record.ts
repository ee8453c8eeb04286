/**
 * Records the real-program strace fixtures (test/fixtures/strace/lifecycle): each case runs one
 * command of this machine twice under `setarch -R`, once under `strace -f` for the log, once
 * under exec-tree (in this directory) for what each of its execs built, and keeps the hashes of
 * the files those execs read (and the bytes of the ones it built itself), so that the tests can
 * check that this machine still has them before replaying.
 *
 *   npx tsx tools/strace-lifecycle/record.ts [--only NAME,...]
 *
 * Run by test/fixtures/strace/record.sh. Requirements: Linux x86-64, strace, gcc, setarch, node,
 * python3, perl, make.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMaps } from '../../src/abi/proc-maps.js';
import { devMajorMinor, thpFileSystem } from '../../src/cli/exec-files-node.js';
import { Args, UsageError } from '../args.js';
import { EnvironmentError, findTools } from '../linux-harness/record.js';
import {
  BUILD_DIR,
  type CaseFile,
  type LifecycleCase,
  type LifecycleFixtures,
  RECORD_ENV,
  type RecordedExec,
} from './fixture.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, '..', '..', 'test', 'fixtures', 'strace', 'lifecycle');
const SRC = path.join(HERE, '..', '..', 'test', 'fixtures', 'strace', 'src');
/** The largest log a case may keep. */
const MAX_LOG = 500 * 1024;

const PROCESS = ['-e', 'trace=%memory,%process'];
const MEMORY = ['-e', 'trace=%memory'];

/** The cases: what each runs, with which strace options, and what it shows. */
const CASES: Omit<LifecycleCase, 'log' | 'execs' | 'files' | 'snapshot'>[] = [
  {
    name: 'sh-pipeline',
    what: 'a shell forking and exec-ing a pipeline',
    command: ['sh', '-c', 'ls / | wc -l'],
    strace: PROCESS,
  },
  {
    name: 'sh-pipeline-v',
    what: "the same with execve arguments in full (-v -s 4096): the [stack] too is Linux's",
    command: ['sh', '-c', 'ls / | wc -l'],
    strace: ['-v', '-s', '4096', ...PROCESS],
  },
  {
    name: 'gcc',
    what: 'gcc vforking cc1 and as',
    command: ['gcc', '-c', 'sq.c', '-o', 'sq.o'],
    strace: PROCESS,
  },
  {
    name: 'egrep',
    what: 'a #!/bin/sh wrapper that re-execs grep in the same pid',
    command: ['egrep', '-c', 'root', '/etc/passwd'],
    strace: PROCESS,
  },
  {
    name: 'pydoc3',
    what: 'a #!/usr/bin/python3 script',
    command: ['pydoc3', 'json.dumps'],
    strace: PROCESS,
  },
  {
    name: 'python3',
    what: 'python3 computing a sum',
    command: ['python3', '-c', 'import json; print(sum(range(10**6)))'],
    strace: PROCESS,
  },
  {
    name: 'perl',
    what: 'perl building a list',
    command: ['perl', '-e', 'my @a = map { $_ * 2 } 1..100000; print scalar(@a), "\\n"'],
    strace: PROCESS,
  },
  {
    name: 'node',
    what: 'node and its platform threads',
    command: ['node', '-e', 'const a = new Array(1e5).fill(1); console.log(a.length)'],
    strace: PROCESS,
  },
  { name: 'make', what: 'make running its recipes through sh', command: ['make', '-s'], strace: PROCESS },
  {
    name: 'bash',
    what: 'bash forking subshells for command substitution, one without exec',
    command: [
      'bash',
      '--norc',
      '--noprofile',
      '-c',
      'x=$(echo hi); y=$(wc -l < /etc/passwd); echo "$x" "$y"',
    ],
    strace: PROCESS,
  },
  {
    name: 'threads',
    what: 'eight pthreads mapping and unmapping at once',
    command: ['./threads'],
    strace: PROCESS,
  },
  {
    name: 'threads-memory',
    what: 'the same, -e trace=%memory: no clone lines, started from a snapshot',
    command: ['./threads'],
    strace: MEMORY,
  },
  {
    name: 'node-worker-memory',
    what: 'node with two worker threads, -e trace=%memory, started from a snapshot',
    command: ['node', 'worker.js'],
    strace: MEMORY,
  },
];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { cwd: BUILD_DIR, env: RECORD_ENV, encoding: 'utf8' });
  if (r.status !== 0) throw new EnvironmentError(`${what} failed (${r.status}):\n${r.stderr}`);
}

function build(tools: { gcc: string }): string {
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  for (const f of ['threads.c', 'worker.js', 'Makefile'])
    fs.copyFileSync(path.join(SRC, f), path.join(BUILD_DIR, f));
  fs.writeFileSync(path.join(BUILD_DIR, 'sq.c'), 'int sq(int x){return x*x;}\n');
  const cc = (out: string, args: string[]) => {
    const r = spawnSync(tools.gcc, ['-O2', ...args, '-o', out], { cwd: BUILD_DIR, encoding: 'utf8' });
    if (r.status !== 0) throw new EnvironmentError(`gcc ${args.join(' ')} failed:\n${r.stderr}`);
  };
  cc('threads', ['-pthread', 'threads.c']);
  const tree = path.join(BUILD_DIR, '.exec-tree');
  cc(tree, ['-Wall', '-Wextra', path.join(HERE, 'exec-tree.c')]);
  return tree;
}

/** exec-tree's output: each exec's program and maps. */
function parseTree(text: string): RecordedExec[] {
  const out: RecordedExec[] = [];
  let at = 0;
  while (at < text.length) {
    const head = /^exec (\d+) (.*)\nblock maps (\d+)\n/.exec(text.slice(at));
    if (head === null) throw new Error(`exec-tree output unreadable at ${at}`);
    at += head[0].length;
    const len = Number(head[3]);
    out.push({ program: head[2], maps: text.slice(at, at + len) });
    at += len;
  }
  return out;
}

function fileOf(p: string): CaseFile {
  const bytes = fs.readFileSync(p);
  if (!p.startsWith(`${BUILD_DIR}/`)) return { kind: 'host', size: bytes.length, sha256: sha256(bytes) };
  const st = fs.statSync(p, { bigint: true });
  return {
    kind: 'build',
    size: bytes.length,
    sha256: sha256(bytes),
    ...devMajorMinor(st.dev),
    inode: Number(st.ino),
    thp: thpFileSystem(p),
    base64: bytes.toString('base64'),
  };
}

function record(c: (typeof CASES)[number], tree: string): LifecycleCase {
  const log = `${c.name}.strace`;
  fs.rmSync(path.join(BUILD_DIR, 'a.txt'), { force: true });
  run(
    'setarch',
    ['-R', 'strace', '-f', '-o', path.join(OUT, log), ...c.strace, ...c.command],
    `strace ${c.name}`,
  );
  fs.rmSync(path.join(BUILD_DIR, 'a.txt'), { force: true });
  const treeOut = path.join(BUILD_DIR, `.tree-${c.name}`);
  run('setarch', ['-R', tree, treeOut, ...c.command], `exec-tree ${c.name}`);
  const execs = parseTree(fs.readFileSync(treeOut, 'utf8'));
  fs.rmSync(treeOut);
  const size = fs.statSync(path.join(OUT, log)).size;
  if (size > MAX_LOG) throw new Error(`${log} is ${size} bytes, more than ${MAX_LOG}: trim the command`);
  const files: Record<string, CaseFile> = {};
  for (const e of execs) {
    for (const m of parseMaps(e.maps))
      if (m.name.startsWith('/') && !(m.name in files)) files[m.name] = fileOf(m.name);
  }
  const out: LifecycleCase = { ...c, log, execs, files };
  if (c.strace === MEMORY) {
    out.snapshot = `${c.name}.maps`;
    fs.writeFileSync(path.join(OUT, out.snapshot), execs[0].maps);
  }
  return out;
}

function main(argv: string[]): void {
  let names: Set<string> | undefined;
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--only') names = new Set(args.value().split(','));
    else args.unknown();
  }
  const tools = findTools();
  const tree = build(tools);
  fs.mkdirSync(OUT, { recursive: true });
  const manifest = path.join(OUT, 'cases.json');
  const old: LifecycleFixtures | undefined = fs.existsSync(manifest)
    ? JSON.parse(fs.readFileSync(manifest, 'utf8'))
    : undefined;
  const cases = CASES.map((c) => {
    if (names !== undefined && !names.has(c.name)) {
      const kept = old?.cases.find((o) => o.name === c.name);
      if (kept !== undefined) return kept;
    }
    process.stderr.write(`recording ${c.name}\n`);
    return record(c, tree);
  });
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' }).stdout.split('\n')[0];
  const kernel = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const fixtures: LifecycleFixtures = { kernel, strace, cases };
  fs.writeFileSync(manifest, `${JSON.stringify(fixtures, null, 1)}\n`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof EnvironmentError || e instanceof UsageError)) throw e;
  process.stderr.write(`record: ${e.message}\n`);
  process.exit(2);
}
