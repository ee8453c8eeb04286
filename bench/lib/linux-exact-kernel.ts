/**
 * The real kernel's side of bench/linux-exact.ts: build bench/kernel/mm-ops.c with the system C
 * compiler (into the OS temp directory, keyed by the source's hash) and run it, pinned with taskset
 * like bench/lib/kernel-side.ts does, one process per round.
 */
import { spawnSync } from 'node:child_process';
import { buildCProgram, type KernelRunner } from './c-program.js';
import type { ExactConfig, OpName, OpResult, OpShape } from './linux-exact-protocol.js';

/** Builds mm-ops.c, or returns the reason it cannot be run here. */
export function prepareMmOps(): KernelRunner | { skipped: string } {
  return buildCProgram('mm-ops');
}

export interface KernelRound {
  results: OpResult[];
  shapes: OpShape[];
}

/**
 * One process of mm-ops over every operation with `plan[op]` repetitions (the scale ops of one size
 * share one count: the larger of the two). Throws if it fails or prints something unexpected.
 */
export function runMmOps(
  runner: KernelRunner,
  plan: Record<OpName, number>,
  config: ExactConfig,
): KernelRound {
  const scaleIters = (s: 'small' | 'large') => Math.max(plan[`scale-mmap@${s}`], plan[`scale-mprotect@${s}`]);
  const args = [
    `mmap1:${plan.mmap1}`,
    `mprotect-pop:${plan['mprotect-pop']}`,
    `mprotect-unpop:${plan['mprotect-unpop']}`,
    `brk:${plan.brk}`,
    `touch:${config.touchPages}:${plan.touch}`,
    `scale:0:${scaleIters('small')}`,
    `scale:${config.largeCount}:${scaleIters('large')}`,
  ];
  const cmd = [...runner.pin, runner.binary, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited ${r.status}: ${r.stderr}`);
  const results: OpResult[] = [];
  const shapes: OpShape[] = [];
  for (const line of r.stdout.split('\n')) {
    const m =
      /^kernel op=(\S+)(?: pages=\d+)?(?: count=(\d+))? iters=(\d+) ns=(\d+) vmas=(\d+) delta=(-?\d+)$/.exec(
        line.trim(),
      );
    if (m === null) continue;
    const [, name, count, iters, ns, vmas, delta] = m;
    const op = (count === undefined ? name : `${name}@${count === '0' ? 'small' : 'large'}`) as OpName;
    results.push({ op, iters: Number(iters), ns: Number(ns) });
    shapes.push({ op, vmas: Number(vmas), delta: Number(delta) });
  }
  if (results.length !== 9) throw new Error(`unexpected output from ${runner.binary}:\n${r.stdout}`);
  return { results, shapes };
}

/** Repetitions per op that take about batchMs, from a small trial run (after an untimed one). */
export function calibrateMmOps(
  runner: KernelRunner,
  batchMs: number,
  config: ExactConfig,
): Record<OpName, number> {
  const trial = {
    mmap1: 200,
    'mprotect-pop': 50,
    'mprotect-unpop': 200,
    brk: 200,
    touch: 1,
    'scale-mmap@small': 200,
    'scale-mprotect@small': 200,
    'scale-mmap@large': 200,
    'scale-mprotect@large': 200,
  } satisfies Record<OpName, number>;
  runMmOps(runner, trial, config);
  // The fastest of three trial runs per op, as the model worker does.
  const best = new Map<OpName, number>();
  for (let t = 0; t < 3; t++) {
    for (const { op, iters, ns } of runMmOps(runner, trial, config).results)
      best.set(op, Math.min(best.get(op) ?? Number.POSITIVE_INFINITY, ns / iters));
  }
  const plan = {} as Record<OpName, number>;
  for (const [op, perOp] of best) plan[op] = Math.max(1, Math.ceil((batchMs * 1e6) / perOp));
  return plan;
}
