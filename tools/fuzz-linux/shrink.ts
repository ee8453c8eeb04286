/**
 * Delta debugging (Zeller's ddmin) over a sequence of harness ops: the smallest sequence found
 * that still has the property (for the fuzzer: "Linux and the model still differ the same way").
 *
 * Ops refer to earlier results (`$3+0x2000`), so removing an op also removes every op that refers
 * to it, directly or through another removed op, and the references of the rest are renumbered.
 * Op 0 (the sentinel reservation that keeps ranges away from the harness's own mappings) stays.
 *
 * The property is asked about a batch of candidates at once, because on arm64 every question is a
 * boot of a virtual machine: one boot answers all the candidates of a round.
 */
import type { Op } from '../linux-harness/generate.js';

/** Answers, for each candidate sequence, whether it still has the property. */
export type BatchPredicate = (candidates: readonly Op[][]) => boolean[];

const REF = /\$(\d+)/g;

/** The op indices an op's arguments refer to. */
export function references(op: Op): number[] {
  const out: number[] = [];
  for (const a of op.args) for (const m of a.matchAll(REF)) out.push(Number(m[1]));
  return out;
}

/**
 * `ops` without the ops at `drop` and without every op that (transitively) refers to one of them,
 * with the `$N` references of the remaining ops renumbered.
 */
export function removeOps(ops: readonly Op[], drop: ReadonlySet<number>): Op[] {
  const gone = new Set(drop);
  const newIndex = new Map<number, number>();
  const out: Op[] = [];
  ops.forEach((op, i) => {
    if (gone.has(i) || references(op).some((r) => gone.has(r))) {
      gone.add(i);
      return;
    }
    newIndex.set(i, out.length);
    out.push({
      ...op,
      args: op.args.map((a) => a.replace(REF, (_m, n: string) => `$${newIndex.get(Number(n))}`)),
    });
  });
  return out;
}

export interface ShrinkResult {
  ops: Op[];
  /** Questions asked (candidates evaluated) and rounds (batches). */
  tests: number;
  rounds: number;
}

/**
 * ddmin: split the removable ops into n chunks and try removing each; keep the smallest smaller
 * sequence that still has the property (then n-1 chunks), else split finer, down to single ops.
 * Op 0 and the ops `keep` names stay (a fork: removing it would renumber the processes after it).
 * `maxRounds` bounds the work.
 */
export function shrink(
  ops: readonly Op[],
  holds: BatchPredicate,
  options: { maxRounds?: number; keep?: (op: Op) => boolean } = {},
): ShrinkResult {
  const maxRounds = options.maxRounds ?? 200;
  const keep = options.keep ?? (() => false);
  let current = [...ops];
  let n = 2;
  let tests = 0;
  let rounds = 0;
  for (;;) {
    const removable = current.map((_, i) => i).filter((i) => i > 0 && !keep(current[i]));
    if (removable.length === 0 || rounds >= maxRounds) break;
    const body = removable.length;
    n = Math.min(n, body);
    const chunk = Math.ceil(body / n);
    const seen = new Set<string>();
    const candidates: Op[][] = [];
    for (let start = 0; start < body; start += chunk) {
      const drop = new Set(removable.slice(start, start + chunk));
      const c = removeOps(current, drop);
      const key = JSON.stringify(c);
      if (c.length < current.length && !seen.has(key)) {
        seen.add(key);
        candidates.push(c);
      }
    }
    rounds++;
    tests += candidates.length;
    const answers = holds(candidates);
    // Prefer the smallest candidate that still holds.
    let best = -1;
    answers.forEach((ok, i) => {
      if (ok && (best < 0 || candidates[i].length < candidates[best].length)) best = i;
    });
    if (best >= 0) {
      current = candidates[best];
      n = Math.max(n - 1, 2);
      continue;
    }
    if (chunk <= 1) break;
    n = n * 2;
  }
  return { ops: current, tests, rounds };
}
