/**
 * Runs fuzz cases: generated from a seed, or replayed from a saved list of operations; shrinks a
 * failing case by delta debugging over its operations; and runs a campaign of generated cases over
 * a set of configurations until an operation budget or a time limit.
 */
import { PAGE_SIZES, type PagingMode } from 'levitate-mm';
import { mulberry32 } from '../linux-harness/generate.js';
import type { Failure, FuzzCase, FuzzConfig, FuzzOp } from './case.js';
import { failureSignature } from './case.js';
import { CaseGenerator } from './generate.js';
import { Session, type SessionHooks } from './session.js';

export interface RunResult {
  ops: FuzzOp[];
  failure: Failure | null;
}

/** Replays the operations of a case, stopping at the first failure. */
export function replayCase(c: Pick<FuzzCase, 'config' | 'ops'>, hooks?: SessionHooks): RunResult {
  const session = new Session(c.config, hooks);
  for (const [i, op] of c.ops.entries()) {
    const { failure } = session.step(op, i);
    if (failure !== null) return { ops: c.ops.slice(0, i + 1), failure };
  }
  return { ops: c.ops, failure: session.finish(c.ops.length) };
}

/** Generates and runs a case of `length` operations from `seed`. */
export function generateCase(
  seed: number,
  config: FuzzConfig,
  length: number,
  hooks?: SessionHooks,
): RunResult {
  const session = new Session(config, hooks);
  const gen = new CaseGenerator(seed, config, length, session);
  const ops: FuzzOp[] = [];
  for (let op = gen.next(); op !== null; op = gen.next()) {
    ops.push(op);
    const { failure, result } = session.step(op, ops.length - 1);
    if (failure !== null) return { ops, failure };
    gen.record(result);
  }
  return { ops, failure: session.finish(ops.length) };
}

/**
 * Delta debugging (ddmin) over the operations: removes chunks, then single operations, then
 * injected failures and extra task slots, keeping each change under which the case still fails in
 * the same way (same kind of failure). Bounded by `maxRuns` replays and `timeMs`; the invariant
 * checker runs in the replays only when that is what failed (it changes nothing).
 */
export function shrinkCase(c: FuzzCase, hooks?: SessionHooks, maxRuns = 2000, timeMs = 60_000): FuzzCase {
  if (c.failure === undefined) return c;
  const kind = c.failure.kind;
  const deadline = Date.now() + timeMs;
  let runs = 0;
  const quick = (config: FuzzConfig) => (kind === 'checker' ? config : { ...config, checkEvery: 2 ** 30 });
  let best = { config: c.config, ops: c.ops.slice(0, c.failure.op + 1) };
  const attempt = (config: FuzzConfig, ops: FuzzOp[]): boolean => {
    if (runs >= maxRuns || Date.now() > deadline) return false;
    runs++;
    const r = replayCase({ config: quick(config), ops }, hooks);
    if (r.failure === null || r.failure.kind !== kind) return false;
    best = { config, ops: r.ops };
    return true;
  };
  let n = 2;
  while (best.ops.length >= 2 && runs < maxRuns && Date.now() <= deadline) {
    const ops = best.ops;
    const size = Math.ceil(ops.length / n);
    let reduced = false;
    for (let start = 0; start < ops.length; start += size) {
      if (attempt(best.config, [...ops.slice(0, start), ...ops.slice(start + size)])) {
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      n = Math.min(n * 2, ops.length);
    }
  }
  for (let i = 0; i < best.ops.length; i++) {
    const op = best.ops[i];
    if (!('inject' in op) || op.inject === undefined) continue;
    const { inject: _, ...plain } = op;
    attempt(
      best.config,
      best.ops.map((o, j) => (j === i ? (plain as FuzzOp) : o)),
    );
  }
  const used = new Set(best.ops.map((o) => o.task));
  if (best.config.tasks > 1 && used.size === 1)
    attempt(
      { ...best.config, tasks: 1 },
      best.ops.map((o) => ({ ...o, task: 0 })),
    );
  // The failure as the saved case will show it, with the case's own checker setting.
  const final = replayCase(best, hooks);
  return {
    ...c,
    config: best.config,
    ops: final.ops,
    failure: final.failure ?? c.failure,
    shrunkFrom: c.ops.length,
  };
}

/** Every configuration the model supports, filtered by the campaign's choices. */
export function configurations(
  arches: readonly ('aarch64' | 'x86_64')[],
  pagings: readonly PagingMode[],
  pageSizes: readonly number[] | null,
): Pick<FuzzConfig, 'arch' | 'paging' | 'pageSize'>[] {
  return arches.flatMap((arch) =>
    PAGE_SIZES[arch]
      .filter((pageSize) => pageSizes === null || pageSizes.includes(pageSize))
      .flatMap((pageSize) => pagings.map((paging) => ({ arch, paging, pageSize }))),
  );
}

/** A case's random configuration on top of (arch, paging, page size): RAM, tasks, limits. */
export function caseConfig(
  seed: number,
  base: Pick<FuzzConfig, 'arch' | 'paging' | 'pageSize'>,
  checkEvery: number,
): { config: FuzzConfig; length: number } {
  const random = mulberry32(seed ^ 0x5bd1e995);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  // At most 64 MiB: with 64 KiB pages more frames only make the checks slower.
  const frames = Math.min(pick([384, 1024, 4096]), 2 ** 26 / base.pageSize);
  const config: FuzzConfig = {
    ...base,
    ramBytes: frames * base.pageSize,
    tasks: pick([1, 1, 2, 3]),
    checkEvery,
  };
  // Most cases let the commit heuristic count far more RAM than there is, so that eager paging
  // and populating calls really run out of frames.
  if (random() < 0.7) config.totalRamPages = 2 ** 22;
  const oc = random();
  if (oc < 0.1) config.overcommitMemory = 1;
  else if (oc < 0.2) config.overcommitMemory = 2;
  if (random() < 0.15) config.maxMapCount = 16 + Math.floor(random() * 64);
  const length = 200 + Math.floor(random() * 1300);
  // Drawn last, so that every other choice of a case is what the same seed gave before.
  if (base.arch === 'x86_64' && random() < 0.5) config.protectionKeys = true;
  return { config, length };
}

export interface CampaignOptions {
  seed: number;
  /** Operations per architecture (for this job). */
  opsPerArch: number;
  configs: Pick<FuzzConfig, 'arch' | 'paging' | 'pageSize'>[];
  timeLimitMs: number;
  checkEvery: number;
  /** Cases no longer than this (default: as the case seed says, up to 1500 operations). */
  maxCaseLength?: number;
  /** This job's share: cases i with i % jobs === job. */
  job: number;
  jobs: number;
  hooks?: SessionHooks;
  onCase?: (report: CampaignReport) => void;
}

export interface FoundFailure {
  signature: string;
  count: number;
  /** The first case found with this signature, shrunk. */
  case: FuzzCase;
}

export interface CampaignReport {
  ops: Record<string, number>;
  byConfig: Record<string, number>;
  cases: number;
  failures: FoundFailure[];
  elapsedMs: number;
  /** CPU time the campaign used (user + system). */
  cpuMs: number;
}

const configName = (c: Pick<FuzzConfig, 'arch' | 'paging' | 'pageSize'>) =>
  `${c.arch} ${c.paging} ${c.pageSize / 1024}K`;

/** Runs generated cases round the configurations until every architecture's budget or the time is used. */
export function runCampaign(o: CampaignOptions): CampaignReport {
  const started = Date.now();
  const cpu = process.cpuUsage();
  const report: CampaignReport = { ops: {}, byConfig: {}, cases: 0, failures: [], elapsedMs: 0, cpuMs: 0 };
  const cpuMs = () => {
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 1000;
  };
  const arches = [...new Set(o.configs.map((c) => c.arch))];
  for (const a of arches) report.ops[a] = 0;
  const found = new Map<string, FoundFailure>();
  // Each case goes to the architecture with the fewest operations so far (x86_64 has 2
  // configurations, aarch64 6: dealing cases round all 8 gave x86_64 a quarter of them), then round
  // that architecture's configurations.
  const casesOf: Record<string, number> = {};
  for (let i = o.job; ; i += o.jobs) {
    if (Date.now() - started >= o.timeLimitMs) break;
    const open = arches.filter((a) => report.ops[a] < o.opsPerArch);
    if (open.length === 0) break;
    const arch = open.reduce((a, b) => (report.ops[b] < report.ops[a] ? b : a));
    const mine = o.configs.filter((c) => c.arch === arch);
    casesOf[arch] = (casesOf[arch] ?? 0) + 1;
    const base = mine[(casesOf[arch] - 1) % mine.length];
    const seed = (Math.imul(o.seed, 0x01000193) ^ i) >>> 0;
    const { config, length } = caseConfig(seed, base, o.checkEvery);
    const run = generateCase(seed, config, Math.min(length, o.maxCaseLength ?? length), o.hooks);
    report.cases++;
    report.ops[base.arch] += run.ops.length;
    report.byConfig[configName(base)] = (report.byConfig[configName(base)] ?? 0) + run.ops.length;
    if (run.failure !== null) {
      const signature = failureSignature(run.failure);
      const known = found.get(signature);
      if (known !== undefined) known.count++;
      else {
        const c: FuzzCase = {
          format: 'levitate-mm fuzz case',
          version: 1,
          seed,
          config,
          ops: run.ops,
          failure: run.failure,
        };
        found.set(signature, { signature, count: 1, case: shrinkCase(c, o.hooks) });
      }
    }
    report.failures = [...found.values()];
    report.elapsedMs = Date.now() - started;
    report.cpuMs = cpuMs();
    o.onCase?.(report);
  }
  report.failures = [...found.values()];
  report.elapsedMs = Date.now() - started;
  report.cpuMs = cpuMs();
  return report;
}
