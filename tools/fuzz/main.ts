/**
 * `npm run fuzz`: the fuzz campaign. Seeded random operations on every configuration chosen (both
 * architectures, both paging modes, every page size), one worker process per job; every failure is
 * shrunk and saved as a case (JSON) that `--replay` reruns.
 *
 *   npm run fuzz -- [--seed N] [--ops N] [--arch A] [--paging P] [--page-size S] [--time-limit SEC]
 *                   [--check-every K] [--jobs N] [--out DIR]
 *   npm run fuzz -- --replay FILE [--verbose]
 *
 * Exit status: 0 nothing found, 1 a failure found (or replayed), 2 bad usage.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAGE_SIZES, type PagingMode } from 'levitate-mm';
import { Args, UsageError } from '../args.js';
import {
  type CampaignReport,
  configurations,
  type FoundFailure,
  replayCase,
  runCampaign,
} from './campaign.js';
import { type FuzzCase, failureSignature, formatCase, parseCase } from './case.js';

interface Options {
  seed: number;
  ops: number;
  arches: ('aarch64' | 'x86_64')[];
  pagings: PagingMode[];
  pageSizes: number[] | null;
  timeLimit: number;
  checkEvery: number;
  jobs: number;
  out: string;
  replay: string | null;
  verbose: boolean;
  worker: number | null;
}

const USAGE = `usage: npm run fuzz -- [options]
  --seed N          campaign seed (default 1)
  --ops N           operations per architecture (default 100000)
  --arch A          aarch64, x86_64 or all (default all)
  --paging P        eager, demand or all (default all)
  --page-size S     4096, 16384, 65536 or all (default all the arch supports)
  --time-limit SEC  stop starting cases after SEC seconds (default 600)
  --check-every K   run the invariant checker after every K-th operation (default 1)
  --jobs N          worker processes (default: one per core)
  --out DIR         where failing cases are saved (default fuzz-cases)
  --replay FILE     rerun a saved case and report what it finds
  --verbose         with --replay: print every operation and its outcome`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    seed: 1,
    ops: 100_000,
    arches: ['x86_64', 'aarch64'],
    pagings: ['eager', 'demand'],
    pageSizes: null,
    timeLimit: 600,
    checkEvery: 1,
    jobs: availableParallelism(),
    out: 'fuzz-cases',
    replay: null,
    verbose: false,
    worker: null,
  };
  const args = new Args(argv);
  for (const a of args) {
    switch (a) {
      case '--seed':
        o.seed = args.int(0);
        break;
      case '--ops':
        o.ops = args.int(1);
        break;
      case '--arch': {
        const arch = args.oneOf(['aarch64', 'x86_64', 'all'] as const);
        o.arches = arch === 'all' ? ['x86_64', 'aarch64'] : [arch];
        break;
      }
      case '--paging': {
        const p = args.oneOf(['eager', 'demand', 'all'] as const);
        o.pagings = p === 'all' ? ['eager', 'demand'] : [p];
        break;
      }
      case '--page-size': {
        const s = args.oneOf([...PAGE_SIZES.aarch64.map(String), 'all']);
        o.pageSizes = s === 'all' ? null : [Number(s)];
        break;
      }
      case '--time-limit':
        o.timeLimit = args.int(1);
        break;
      case '--check-every':
        o.checkEvery = args.int(1);
        break;
      case '--jobs':
        o.jobs = args.int(1);
        break;
      case '--out':
        o.out = args.value();
        break;
      case '--replay':
        o.replay = args.value();
        break;
      case '--verbose':
        o.verbose = true;
        break;
      case '--worker':
        o.worker = args.int(0);
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        args.unknown();
    }
  }
  if (configurations(o.arches, o.pagings, o.pageSizes).length === 0)
    throw new UsageError(
      `no configuration: page size ${o.pageSizes} is not supported on ${o.arches.join(', ')}`,
    );
  return o;
}

function replay(o: Options): number {
  const file = o.replay!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${file}: cannot read it`);
  }
  let c: FuzzCase;
  try {
    c = parseCase(text, file);
  } catch (e) {
    throw new UsageError(e instanceof SyntaxError ? `${file}: not JSON: ${e.message}` : (e as Error).message);
  }
  const run = replayCase(c, o.verbose ? { trace: (line) => process.stderr.write(`${line}\n`) } : {});
  const cfg = c.config;
  const what = `${cfg.arch} ${cfg.paging} ${cfg.pageSize / 1024}K, ${cfg.tasks} task(s), ${c.ops.length} operations`;
  if (run.failure === null) {
    process.stdout.write(`${file}: ${what}: no failure\n`);
    return 0;
  }
  const f = run.failure;
  process.stdout.write(`${file}: ${what}: ${f.kind} after operation ${f.op}: ${f.message}\n`);
  return 1;
}

/** One job's share of the campaign, reported to the parent. */
function worker(o: Options, job: number): void {
  const configs = configurations(o.arches, o.pagings, o.pageSizes);
  let last = 0;
  const report = runCampaign({
    seed: o.seed,
    opsPerArch: Math.ceil(o.ops / o.jobs),
    configs,
    timeLimitMs: o.timeLimit * 1000,
    checkEvery: o.checkEvery,
    job,
    jobs: o.jobs,
    onCase: (r) => {
      if (Date.now() - last < 2000) return;
      last = Date.now();
      process.send?.({ progress: r.ops });
    },
  });
  process.send?.({ report }, () => process.disconnect());
}

const pretty = (n: number) => n.toLocaleString('en-US');

function campaign(o: Options): Promise<number> {
  const script = fileURLToPath(import.meta.url);
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--worker' && all[i - 1] !== '--worker');
  const started = Date.now();
  const progress: Record<string, number>[] = [];
  const reports: CampaignReport[] = [];
  const configs = configurations(o.arches, o.pagings, o.pageSizes);
  process.stderr.write(
    `fuzz: seed ${o.seed}, ${pretty(o.ops)} operations per arch on ${configs.length} configurations, ${o.jobs} job(s), checker every ${o.checkEvery}\n`,
  );
  const ticker = setInterval(() => {
    const total = progress.reduce((s, p) => s + Object.values(p).reduce((a, b) => a + b, 0), 0);
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(
      `  ${pretty(total)} operations, ${secs.toFixed(0)} s, ${pretty(Math.round(total / secs))} ops/s\n`,
    );
  }, 15_000);
  const jobs = Array.from({ length: o.jobs }, (_, job) => {
    return new Promise<void>((resolve, reject) => {
      const child = fork(script, [...args, '--worker', String(job)], { execArgv: process.execArgv });
      child.on('message', (m: { progress?: Record<string, number>; report?: CampaignReport }) => {
        if (m.progress) progress[job] = m.progress;
        if (m.report) reports[job] = m.report;
      });
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`fuzz job ${job} exited with ${code}`)),
      );
    });
  });
  return Promise.all(jobs).then(
    () => {
      clearInterval(ticker);
      return summarize(o, reports, Date.now() - started);
    },
    (e) => {
      clearInterval(ticker);
      throw e;
    },
  );
}

function summarize(o: Options, reports: CampaignReport[], elapsedMs: number): number {
  const ops: Record<string, number> = {};
  const byConfig: Record<string, number> = {};
  const found = new Map<string, FoundFailure>();
  let cases = 0;
  let cpuMs = 0;
  for (const r of reports) {
    cases += r.cases;
    cpuMs += r.cpuMs;
    for (const [k, v] of Object.entries(r.ops)) ops[k] = (ops[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.byConfig)) byConfig[k] = (byConfig[k] ?? 0) + v;
    for (const f of r.failures) {
      const known = found.get(f.signature);
      if (known) known.count += f.count;
      else found.set(f.signature, { ...f });
    }
  }
  const total = Object.values(ops).reduce((a, b) => a + b, 0);
  const secs = elapsedMs / 1000;
  const out: string[] = [];
  out.push(
    `${pretty(total)} operations in ${pretty(cases)} cases, ${secs.toFixed(0)} s (${pretty(Math.round(total / secs))} ops/s), seed ${o.seed}, checker every ${o.checkEvery}`,
  );
  out.push(
    `  ${(cpuMs / 1000).toFixed(0)} CPU seconds in ${reports.length} job(s): ${pretty(Math.round(total / (cpuMs / 1000)))} operations per CPU second`,
  );
  out.push(
    `  by arch: ${Object.entries(ops)
      .map(([k, v]) => `${k} ${pretty(v)}`)
      .join(', ')}`,
  );
  out.push(
    `  by configuration: ${Object.entries(byConfig)
      .map(([k, v]) => `${k} ${pretty(v)}`)
      .join(', ')}`,
  );
  if (found.size === 0) {
    out.push('  violations found: 0');
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  }
  mkdirSync(o.out, { recursive: true });
  out.push(
    `  violations found: ${[...found.values()].reduce((s, f) => s + f.count, 0)} (${found.size} distinct)`,
  );
  for (const f of found.values()) {
    const c = f.case;
    const name = `${c.config.arch}-${c.config.paging}-${c.config.pageSize / 1024}k-seed${c.seed}.json`;
    const file = join(o.out, name);
    writeFileSync(file, formatCase(c));
    out.push(`  ${f.count} x ${failureSignature(c.failure!)}`);
    out.push(`    shrunk to ${c.ops.length} of ${c.shrunkFrom} operations: ${file}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 1;
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
    if (o.worker !== null) {
      worker(o, o.worker);
      return;
    }
    process.exitCode = o.replay !== null ? replay(o) : await campaign(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fuzz: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}

await main();
