/**
 * Records the fork fixtures: builds the fork variant of the harness (`harness-fork`, see
 * README.md, "Sequences with fork"), runs the hand-written scenarios (fork-scenarios.ts) and the
 * generated fork sequences (generate-fork.ts) under `setarch x86_64 -R`, and writes one JSON fixture
 * per sequence: the single-process fixture format, plus `proc` on the ops of other processes and
 * the final maps and VmFlags of every process still alive in `processes`.
 *
 *   npx tsx tools/linux-harness/record-fork.ts [--count 48] [--seed 1]
 *        [--out test/fixtures/linux-x86_64-fork] [--build-dir DIR] [--no-verify]
 *   npx tsx tools/linux-harness/record-fork.ts --print 7    # the harness input of seed 7 (or a scenario)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Args, UsageError } from '../args.js';
import { FORK_SCENARIOS, scenarioOps } from './fork-scenarios.js';
import type { Op } from './generate.js';
import { serializeSequence } from './generate.js';
import { FORK_GENERATOR_VERSION, generateForkSequence } from './generate-fork.js';
import {
  buildHarness,
  DEFAULT_BUILD_DIR,
  EnvironmentError,
  type Fixture,
  findTools,
  formatFixture,
  makeFixture,
  normalizeShmemInodes,
  parseHarnessOutput,
  type RunOptions,
  runHarness,
  type Tools,
  vmflagsAligned,
} from './record.js';

/** The final state of a process other than process 0. */
export interface ProcessAfter {
  proc: number;
  /** The process that forked it. */
  parent: number;
  mapsAfter: string;
  vmflagsAfter: string[];
}

/** A fork fixture: `mapsAfter`/`vmflagsAfter` are process 0's, `processes` the other live ones'. */
export interface ForkFixture extends Fixture {
  settings: Fixture['settings'] & {
    /**
     * Whether a read fault of private anonymous memory mapped the zero page (no anon_vma, so the
     * VMA still merges and fork copies nothing) or a page of its own: kernels of the same version
     * differ (`probeZeroPageReads`).
     */
    zero_page_reads: boolean;
  };
  /** The scenario's name, or '' for a generated sequence (then `seed` reproduces it). */
  scenario: string;
  processes: ProcessAfter[];
}

/** A fork sequence never runs longer than this (the processes pass a token, so a bug could hang). */
const TIMEOUT_MS = 60_000;

/** The parent of each process, from the fork ops (process n + 1 comes from the n-th fork). */
function parents(ops: readonly Op[]): number[] {
  const out = [-1];
  for (const o of ops) if (o.op === 'fork') out.push(o.proc ?? 0);
  return out;
}

/**
 * Runs `mmap` + `peek` of one private anonymous page and reads its Rss in smaps: 0 kB when the read
 * mapped the shared zero page.
 */
export function probeZeroPageReads(harness: string, opts: RunOptions = {}): boolean {
  const raw = parseHarnessOutput(runHarness(harness, 'mmap 0 0x1000 3 0x22 -1 0\npeek $0\n', opts));
  const start = BigInt(raw.ops[0].result).toString(16);
  const smaps = raw.blocks.get('smaps_after') ?? '';
  const entry = smaps.slice(smaps.indexOf(`\n${start}-`) + 1);
  const rss = /^Rss:\s+(\d+) kB$/m.exec(entry);
  if (!smaps.includes(`\n${start}-`) || rss === null) throw new Error('zero-page probe: no smaps entry');
  return rss[1] === '0';
}

/** Builds a fork fixture from the harness's output and the ops it ran. */
export function makeForkFixture(
  out: string,
  ops: readonly Op[],
  seed: number,
  scenario: string,
  zeroPageReads: boolean,
): ForkFixture {
  const base = makeFixture(out, ops, seed);
  const raw = parseHarnessOutput(out);
  const parentOf = parents(ops);
  const processes: ProcessAfter[] = [];
  // A process that exited, or whose fork was refused, reports nothing.
  const gone = new Set<number>();
  raw.ops.forEach((r, i) => {
    if (r.name === 'exit') gone.add(r.proc ?? 0);
    if (r.name === 'fork' && r.result.startsWith('-'))
      gone.add(1 + ops.slice(0, i).filter((o) => o.op === 'fork').length);
  });
  for (let proc = 1; proc < parentOf.length; proc++) {
    const maps = raw.blocks.get(`maps_after@${proc}`);
    if (maps === undefined) {
      if (!gone.has(proc)) throw new Error(`process ${proc} did not report its maps`);
      continue;
    }
    const smaps = raw.blocks.get(`smaps_after@${proc}`);
    if (smaps === undefined) throw new Error(`process ${proc} reported maps but no smaps`);
    processes.push({
      proc,
      parent: parentOf[proc],
      mapsAfter: maps,
      vmflagsAfter: vmflagsAligned(maps, smaps),
    });
  }
  const { mapsAfter, vmflagsAfter, ...head } = base;
  return {
    ...head,
    settings: { ...head.settings, zero_page_reads: zeroPageReads },
    generatorVersion: FORK_GENERATOR_VERSION,
    scenario,
    mapsAfter,
    vmflagsAfter,
    processes,
  };
}

export interface ForkRecordOptions extends RunOptions {
  harness: string;
  verify?: boolean;
  /** What `probeZeroPageReads` found for this harness on this kernel. */
  zeroPageReads: boolean;
}

/** Runs one fork sequence (twice with `verify`, requiring the same fixture) and returns it. */
export function recordFork(
  ops: readonly Op[],
  seed: number,
  scenario: string,
  opts: ForkRecordOptions,
): { fixture: ForkFixture; text: string } {
  const seq = serializeSequence(ops);
  const what = scenario !== '' ? `scenario ${scenario}` : `seed ${seed}`;
  const run = (): ForkFixture => {
    try {
      const out = runHarness(opts.harness, seq, { timeoutMs: TIMEOUT_MS, ...opts });
      return makeForkFixture(out, ops, seed, scenario, opts.zeroPageReads);
    } catch (e) {
      throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const fixture = run();
  const text = formatFixture(fixture);
  if (opts.verify) {
    const norm = (f: ForkFixture): string => {
      const normalized: ForkFixture = {
        ...f,
        mapsAfter: normalizeShmemInodes(f.mapsAfter),
        processes: f.processes.map((p) => ({ ...p, mapsAfter: normalizeShmemInodes(p.mapsAfter) })),
      };
      return formatFixture(normalized);
    };
    if (norm(run()) !== norm(fixture)) throw new Error(`${what}: two runs of the same sequence differ`);
  }
  return { fixture, text };
}

/** The scenario ops by name. */
export function scenario(name: string): Op[] {
  const s = FORK_SCENARIOS.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no fork scenario ${name}`);
  return scenarioOps(s.text);
}

const USAGE = `usage: record-fork.ts [--count 48] [--seed 1] [--out test/fixtures/linux-x86_64-fork]
                      [--build-dir DIR] [--no-verify]
       record-fork.ts --print SEED|SCENARIO     (the harness input, recording nothing)
`;

interface CliOptions {
  count: number;
  seed: number;
  out: string;
  buildDir: string;
  verify: boolean;
  print?: string;
  help: boolean;
}

function parseCli(argv: string[]): CliOptions {
  const o: CliOptions = {
    count: 48,
    seed: 1,
    out: 'test/fixtures/linux-x86_64-fork',
    buildDir: DEFAULT_BUILD_DIR,
    verify: true,
    help: false,
  };
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--count') o.count = args.int();
    else if (a === '--seed') o.seed = args.int();
    else if (a === '--out') o.out = args.value();
    else if (a === '--build-dir') o.buildDir = args.value();
    else if (a === '--no-verify') o.verify = false;
    else if (a === '--print') o.print = args.value();
    else if (a === '--help' || a === '-h') o.help = true;
    else args.unknown();
  }
  return o;
}

function main(argv: string[]): void {
  const o = parseCli(argv);
  if (o.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (o.print !== undefined) {
    const ops = /^-?\d+$/.test(o.print) ? generateForkSequence(Number(o.print)) : scenario(o.print);
    process.stdout.write(serializeSequence(ops));
    return;
  }
  let tools: Tools;
  let harness: string;
  try {
    tools = findTools();
    harness = buildHarness(o.buildDir, tools, 'fork');
  } catch (e) {
    if (e instanceof EnvironmentError) {
      process.stderr.write(`record-fork: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  fs.mkdirSync(o.out, { recursive: true });
  for (const f of fs.readdirSync(o.out))
    if (/^(seq|scenario)-.*\.json$/.test(f)) fs.rmSync(path.join(o.out, f));
  const opts = { harness, tools, verify: o.verify, zeroPageReads: probeZeroPageReads(harness, { tools }) };
  const counts = new Map<string, number>();
  let nOps = 0;
  let forks = 0;
  const write = (name: string, ops: Op[], seed: number, scenarioName: string) => {
    const { fixture, text } = recordFork(ops, seed, scenarioName, opts);
    fs.writeFileSync(path.join(o.out, name), text);
    for (const op of fixture.ops) {
      nOps++;
      const key = `${op.op}${op.proc ? ' (child)' : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (op.op === 'fork') forks++;
    }
  };
  for (const s of FORK_SCENARIOS) write(`scenario-${s.name}.json`, scenarioOps(s.text), 0, s.name);
  for (let i = 0; i < o.count; i++) {
    const seed = o.seed + i;
    write(`seq-${String(i + 1).padStart(3, '0')}.json`, generateForkSequence(seed), seed, '');
  }
  const lines = [
    `recorded ${FORK_SCENARIOS.length} scenarios and ${o.count} sequences (seeds ${o.seed}..${o.seed + o.count - 1}) into ${o.out}`,
    `harness ${harness}; verify ${o.verify ? 'on (each run twice)' : 'off'}; read faults map the zero page: ${opts.zeroPageReads}`,
    `ops ${nOps}, forks ${forks}`,
    ...[...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${k.padEnd(18)} ${String(v).padStart(5)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`record-fork: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}
