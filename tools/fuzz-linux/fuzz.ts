/**
 * The differential fuzzer: fresh random sequences of the six memory calls (every flag, about a
 * fifth bad input, file mappings of real files, shared mappings, large lengths, offsets), each run
 * on a real kernel through the static harness and in the model. A sequence whose results, final
 * maps or VmFlags differ (or after which the invariant checker complains) is shrunk by delta
 * debugging to a small sequence that still differs the same way, and written as a fixture.
 *
 *   npm run fuzz:linux -- --count 10000 --seed 1 [--arch aarch64] [--out DIR] [--max-shrinks 20]
 *
 * x86-64 sequences run on this machine's kernel; aarch64 ones in the qemu guest of
 * tools/linux-harness-arm64 (see ./arm64.ts), a boot per batch. See README.md in this directory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Args, UsageError } from '../args.js';
import {
  type GenerateOptions,
  type GenFile,
  generateSequence,
  type Op,
  serializeSequence,
} from '../linux-harness/generate.js';
import { generateForkSequence } from '../linux-harness/generate-fork.js';
import { type CompareOptions, compareWithModel, type Difference } from '../linux-harness/model.js';
import { compareForkWithModel } from '../linux-harness/model-fork.js';
import {
  buildHarness,
  DEFAULT_BUILD_DIR,
  EnvironmentError,
  type Fixture,
  findTools,
  formatFixture,
  generatorFiles,
  HarnessError,
  type HarnessFile,
  recordOps,
  runHarness,
  type Tools,
} from '../linux-harness/record.js';
import { type ForkFixture, makeForkFixture, probeZeroPageReads } from '../linux-harness/record-fork.js';
import { defaultRoots, type FileRoots, fuzzFiles, removeRoots } from './files.js';
import { shrink } from './shrink.js';

/** One sequence to run on the real kernel. */
export interface Job {
  seed: number;
  ops: Op[];
}

/** Runs sequences on a real kernel: a fixture for each, or the error that stopped it (e.g. the guard). */
export interface Oracle {
  readonly arch: 'x86_64' | 'aarch64';
  /** The files every sequence has open at fds 3, 4, ... */
  readonly files: readonly HarnessFile[];
  run(jobs: readonly Job[]): Array<Fixture | Error>;
}

/**
 * This machine's kernel through the fork build of the harness: sequences in which processes fork
 * (`generateForkSequence`); the fixture also holds every live process's final maps.
 */
function forkOracle(harness: string, tools: Tools): Oracle {
  const zeroPageReads = probeZeroPageReads(harness, { tools });
  return {
    arch: 'x86_64',
    files: [],
    run: (jobs) =>
      jobs.map((j) => {
        try {
          const out = runHarness(harness, serializeSequence(j.ops), { tools, timeoutMs: 60_000 });
          return makeForkFixture(out, j.ops, j.seed, '', zeroPageReads);
        } catch (e) {
          if (e instanceof HarnessError) return e;
          throw e;
        }
      }),
  };
}

/** This machine's kernel through the static x86-64 harness. */
export function hostOracle(harness: string, tools: Tools, files: readonly HarnessFile[]): Oracle {
  return {
    arch: 'x86_64',
    files,
    run: (jobs) =>
      jobs.map((j) => {
        try {
          return recordOps(j.ops, j.seed, { harness, tools, files, arch: 'x86_64', wide: true });
        } catch (e) {
          if (e instanceof HarnessError) return e;
          throw e;
        }
      }),
  };
}

/** A difference found, with the sequence shrunk to one that still shows it. */
export interface Found {
  seed: number;
  difference: Difference;
  /** The shrunk sequence as recorded, with `found` filled in. */
  fixture: Fixture;
  originalOps: number;
  shrinkTests: number;
}

export interface FuzzOptions {
  count: number;
  seed: number;
  oracle: Oracle;
  /** The model comparison (default: compareWithModel with the checker after the last op). */
  compare?: (f: Fixture) => Difference | null;
  /** The sequence of a seed (default: `generateSequence` with the oracle's files and `wide`). */
  generate?: (seed: number) => Op[];
  /** Ops the shrinker must keep (default: none but the sentinel). */
  keep?: (op: Op) => boolean;
  minOps?: number;
  maxOps?: number;
  /** Generate the wide shapes (default true). */
  wide?: boolean;
  /** Sequences per oracle batch (one qemu boot on arm64; default 1). */
  batch?: number;
  /** Differences to shrink in all (default 20), and per class (default 2); the others are only counted. */
  maxShrinks?: number;
  maxShrinksPerClass?: number;
  /** Called for every shrunk difference (the CLI writes it as a fixture). */
  onFound?: (found: Found) => void;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface FuzzReport {
  arch: string;
  kernel: string;
  sequences: number;
  ops: number;
  /** Sequences the harness refused (its guard): not compared. */
  refused: number;
  /** Differing sequences by class (`op mmap mmap:file-private-thp`, `maps`, ...). */
  differences: Map<string, number>;
  found: Found[];
}

/** The class a difference belongs to: shrinking keeps to it, and only a few per class are shrunk. */
function differenceClass(d: Difference): string {
  return d.kind === 'op' ? `op ${d.op} ${(d.label ?? '').split(':')[0]}` : d.kind;
}

const sameClass = (a: Difference, b: Difference | null): boolean =>
  b !== null && a.kind === b.kind && (a.kind !== 'op' || a.op === b.op);

/** The generator options of a campaign. */
function campaignOptions(
  oracle: Oracle,
  o: Pick<FuzzOptions, 'minOps' | 'maxOps' | 'wide'>,
): GenerateOptions {
  const files: GenFile[] = generatorFiles(oracle.files);
  const g: GenerateOptions = { arch: oracle.arch, files, wide: o.wide ?? true };
  if (o.minOps !== undefined) g.minOps = o.minOps;
  if (o.maxOps !== undefined) g.maxOps = o.maxOps;
  return g;
}

/** Runs a campaign: `count` sequences from seed `seed` on, each on the kernel and in the model. */
export function fuzz(o: FuzzOptions): FuzzReport {
  const compare = o.compare ?? ((f: Fixture) => compareWithModel(f, { checkEachOp: false }));
  const gen = campaignOptions(o.oracle, o);
  const batch = Math.max(1, o.batch ?? 1);
  const maxShrinks = o.maxShrinks ?? 20;
  const perClass = o.maxShrinksPerClass ?? 2;
  const report: FuzzReport = {
    arch: o.oracle.arch,
    kernel: '',
    sequences: 0,
    ops: 0,
    refused: 0,
    differences: new Map(),
    found: [],
  };
  const shrunkPerClass = new Map<string, number>();
  const pending: Array<{ job: Job; fixture: Fixture; difference: Difference }> = [];
  for (let first = 0; first < o.count; first += batch) {
    const jobs: Job[] = [];
    for (let i = first; i < Math.min(o.count, first + batch); i++) {
      const seed = o.seed + i;
      jobs.push({ seed, ops: o.generate ? o.generate(seed) : generateSequence(seed, gen) });
    }
    const results = o.oracle.run(jobs);
    results.forEach((r, i) => {
      report.sequences++;
      if (r instanceof Error) {
        report.refused++;
        o.log?.(`seed ${jobs[i].seed}: refused by the harness: ${r.message}`);
        return;
      }
      report.kernel ||= r.kernel;
      report.ops += r.ops.length;
      const d = compare(r);
      if (d === null) return;
      const cls = differenceClass(d);
      report.differences.set(cls, (report.differences.get(cls) ?? 0) + 1);
      o.log?.(`seed ${jobs[i].seed}: ${d.kind}: ${d.detail}`);
      const n = shrunkPerClass.get(cls) ?? 0;
      if (n < perClass && pending.length + report.found.length < maxShrinks) {
        shrunkPerClass.set(cls, n + 1);
        pending.push({ job: jobs[i], fixture: r, difference: d });
      }
    });
    for (const p of pending.splice(0)) {
      const found = shrinkDifference(o.oracle, compare, p.job, p.difference, o.keep);
      report.found.push(found);
      o.log?.(
        `seed ${p.job.seed}: shrunk ${p.job.ops.length} ops to ${found.fixture.ops.length} (${found.shrinkTests} runs): ${found.difference.detail}`,
      );
      o.onFound?.(found);
    }
    if (o.log && (first + batch) % 1000 < batch) {
      o.log(
        `${report.sequences} sequences, ${[...report.differences.values()].reduce((a, b) => a + b, 0)} differ`,
      );
    }
  }
  return report;
}

/** Shrinks one differing sequence; the shrunk sequence's fixture is the kernel's own recording of it. */
function shrinkDifference(
  oracle: Oracle,
  compare: (f: Fixture) => Difference | null,
  job: Job,
  difference: Difference,
  keep?: (op: Op) => boolean,
): Found {
  const kept = new Map<string, { fixture: Fixture; difference: Difference }>();
  const result = shrink(
    job.ops,
    (candidates) =>
      oracle.run(candidates.map((ops) => ({ seed: job.seed, ops }))).map((r, i) => {
        if (r instanceof Error) return false;
        const d = compare(r);
        if (d === null || !sameClass(difference, d)) return false;
        kept.set(JSON.stringify(candidates[i]), { fixture: r, difference: d });
        return true;
      }),
    { keep },
  );
  let best = kept.get(JSON.stringify(result.ops));
  if (best === undefined) {
    // Nothing smaller still differed: the original sequence is the answer.
    const again = oracle.run([{ seed: job.seed, ops: result.ops }])[0];
    if (again instanceof Error) throw again;
    best = { fixture: again, difference: compare(again) ?? difference };
  }
  const { fixture, difference: d } = best;
  fixture.found = { seed: job.seed, ops: job.ops.length, difference: `${d.kind}: ${d.detail}` };
  return { seed: job.seed, difference: d, fixture, originalOps: job.ops.length, shrinkTests: result.tests };
}

// ---- CLI -------------------------------------------------------------------------------------

interface Cli {
  count: number;
  seed: number;
  arch: 'x86_64' | 'aarch64';
  out: string;
  buildDir: string;
  minOps?: number;
  maxOps?: number;
  maxShrinks: number;
  files: boolean;
  wide: boolean;
  hugeTmpfs?: string;
  batch: number;
  summary?: string;
  fork: boolean;
}

const USAGE =
  'usage: fuzz.ts [--count 1000] [--seed 1] [--arch x86_64|aarch64] [--out DIR] [--build-dir DIR]\n' +
  '               [--min-ops 40] [--max-ops 80] [--max-shrinks 20] [--no-files] [--no-wide]\n' +
  '               [--huge-tmpfs DIR] [--batch N (aarch64: sequences per boot)] [--summary FILE.json]\n' +
  '               [--fork (x86_64: sequences in which processes fork, no files)]\n';

function parseCli(argv: string[]): Cli {
  const o: Cli = {
    count: 1000,
    seed: 1,
    arch: 'x86_64',
    out: path.join(os.tmpdir(), 'levitate-mm-fuzz-linux'),
    buildDir: DEFAULT_BUILD_DIR,
    maxShrinks: 20,
    files: true,
    wide: true,
    batch: 250,
    fork: false,
  };
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--count') o.count = args.int();
    else if (a === '--seed') o.seed = args.int();
    else if (a === '--arch') o.arch = args.oneOf(['x86_64', 'aarch64'] as const);
    else if (a === '--out') o.out = args.value();
    else if (a === '--build-dir') o.buildDir = args.value();
    else if (a === '--min-ops') o.minOps = args.int();
    else if (a === '--max-ops') o.maxOps = args.int();
    else if (a === '--max-shrinks') o.maxShrinks = args.int();
    else if (a === '--no-files') o.files = false;
    else if (a === '--no-wide') o.wide = false;
    else if (a === '--huge-tmpfs') o.hugeTmpfs = args.value();
    else if (a === '--batch') o.batch = Math.max(1, args.int());
    else if (a === '--summary') o.summary = args.value();
    else if (a === '--fork') o.fork = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else args.unknown();
  }
  return o;
}

/** Writes a found difference as a fixture: `<out>/<arch>-seed<seed>.json`. */
function writeFound(out: string, arch: string, f: Found): string {
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, `${arch}-seed${f.seed}.json`);
  fs.writeFileSync(file, formatFixture(f.fixture));
  return file;
}

function printReport(r: FuzzReport, started: number, files: readonly HarnessFile[], written: string[]): void {
  const total = [...r.differences.values()].reduce((a, b) => a + b, 0);
  const lines = [
    `fuzz:linux ${r.arch} on ${r.kernel || '(no kernel answered)'}: ${r.sequences} sequences, ${r.ops} ops, ` +
      `${r.refused} refused by the guard, ${total} differ, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    `files: ${files.map((f) => `${f.path} (${f.mode}${f.size === undefined ? '' : `, ${f.size} B`})`).join(', ')}`,
    ...[...r.differences].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${String(v).padStart(5)}  ${k}`),
    ...written.map((w) => `wrote ${w}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[]): Promise<void> {
  const o = parseCli(argv);
  const started = Date.now();
  const tag = `${process.pid}`;
  const roots: FileRoots = defaultRoots(tag);
  if (o.hugeTmpfs) roots.hugeTmpfs = path.join(o.hugeTmpfs, `levitate-mm-fuzz-${tag}`);
  let oracle: Oracle;
  let cleanup = () => removeRoots(roots);
  let fork: Pick<FuzzOptions, 'generate' | 'compare' | 'keep'> = {};
  if (o.fork) {
    if (o.arch !== 'x86_64')
      throw new UsageError('--fork runs on x86_64 only (the fork build of the harness)');
    const tools = findTools();
    oracle = forkOracle(buildHarness(o.buildDir, tools, 'fork'), tools);
    fork = {
      generate: (seed) =>
        generateForkSequence(seed, {
          ...(o.minOps !== undefined ? { minOps: o.minOps } : {}),
          ...(o.maxOps !== undefined ? { maxOps: o.maxOps } : {}),
        }),
      compare: (f) => compareForkWithModel(f as ForkFixture),
      keep: (op) => op.op === 'fork',
    };
  } else if (o.arch === 'x86_64') {
    const tools = findTools();
    const harness = buildHarness(o.buildDir, tools);
    oracle = hostOracle(harness, tools, o.files ? fuzzFiles(roots) : []);
  } else {
    const { guestOracle } = await import('./arm64.js');
    const g = guestOracle({ files: o.files, log: (s) => process.stderr.write(`fuzz:linux: ${s}\n`) });
    oracle = g.oracle;
    cleanup = g.cleanup;
  }
  const written: string[] = [];
  try {
    const report = fuzz({
      count: o.count,
      seed: o.seed,
      oracle,
      minOps: o.minOps,
      maxOps: o.maxOps,
      wide: o.wide,
      batch: o.arch === 'aarch64' ? o.batch : 1,
      maxShrinks: o.maxShrinks,
      ...fork,
      onFound: (f) => written.push(writeFound(o.out, o.arch, f)),
      log: (s) => process.stderr.write(`fuzz:linux: ${s}\n`),
    });
    printReport(report, started, oracle.files, written);
    if (o.summary) {
      fs.writeFileSync(
        o.summary,
        `${JSON.stringify(
          {
            arch: report.arch,
            kernel: report.kernel,
            seed: o.seed,
            sequences: report.sequences,
            ops: report.ops,
            refused: report.refused,
            differences: Object.fromEntries(report.differences),
            found: written,
          },
          null,
          1,
        )}\n`,
      );
    }
  } finally {
    cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    if (e instanceof UsageError || e instanceof EnvironmentError) {
      process.stderr.write(`fuzz:linux: ${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fuzz:linux: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

export type { CompareOptions };
