/**
 * The model's side of a fork fixture (`record-fork.ts`): process 0 starts from the recorded
 * snapshot, `fork` is `kernel.fork` of the process that ran it (the result is the new process's
 * number), `exit` is `kernel.exit`, and every other op runs in its own process after
 * `kernel.switchTo`. The fork suite (test/linux) and the fuzzer's fork mode compare through it.
 */
import { type Kernel, procMaps, smapsFlags, type Task } from '../../src/index.js';
import { bootFixture, type Difference, recordedResult, replayOp } from './model.js';
import { normalizeShmemInodes } from './record.js';
import type { ForkFixture } from './record-fork.js';

/** The model's RAM for a fork fixture: several times what the busiest recorded sequence touches. */
export const FORK_FIXTURE_RAM = 32 * 2 ** 20;

/** What replaying a fork fixture found: the first differing op, and every live process's final state. */
export interface ForkReplayOutcome {
  mismatch: string | null;
  /** By process number, for the processes alive at the end. */
  final: Map<number, { maps: string; vmflags: string[] }>;
  kernel: Kernel;
}

/** Replays a fork fixture (see the file comment). Stops at the first differing result. */
export function replayForkFixture(
  f: ForkFixture,
  afterEach?: (kernel: Kernel, i: number) => void,
): ForkReplayOutcome {
  const { kernel, task } = bootFixture(f, { zeroPageReads: f.settings.zero_page_reads }, FORK_FIXTURE_RAM);
  const procs = new Map<number, Task>([[0, task]]);
  let created = 1;
  let mismatch: string | null = null;
  f.ops.forEach((op, i) => {
    if (mismatch !== null) return;
    const proc = op.proc ?? 0;
    const t = procs.get(proc);
    if (t === undefined) throw new Error(`op ${i}: process ${proc} does not exist`);
    kernel.switchTo(t);
    let got: string;
    if (op.op === 'fork') {
      // Each fork line numbers a process, even one the kernel refuses.
      const child = kernel.fork(t);
      const n = created++;
      if (typeof child === 'number') got = String(child);
      else {
        procs.set(n, child);
        got = String(n);
      }
    } else if (op.op === 'exit') {
      kernel.exit(t);
      procs.delete(proc);
      got = '0';
    } else {
      got = replayOp(kernel, t, op);
    }
    const want = recordedResult(op);
    if (got !== want)
      mismatch = `op ${i} @${proc} ${op.kind} ${op.op}(${op.args.join(', ')}): Linux ${want}, model ${got}`;
    afterEach?.(kernel, i);
  });
  const final = new Map<number, { maps: string; vmflags: string[] }>();
  for (const [proc, t] of procs) final.set(proc, { maps: procMaps(t.mm), vmflags: smapsFlags(t.mm) });
  return { mismatch, final, kernel };
}

/**
 * The first difference between the model's run of a fork fixture and Linux's: a result, the set of
 * live processes, their maps (all processes' as one text, so that a shmem object shared by a fork
 * is named alike on both sides), their VmFlags, or the checker after the last op; null if none.
 */
export function compareForkWithModel(f: ForkFixture): Difference | null {
  let violation: string | null = null;
  const out = replayForkFixture(f, (kernel, i) => {
    if (i === f.ops.length - 1) violation = kernel.check()[0] ?? null;
  });
  if (out.mismatch !== null) {
    const i = Number(/^op (\d+)/.exec(out.mismatch)?.[1]);
    return { kind: 'op', op: f.ops[i]?.op, label: f.ops[i]?.kind, detail: out.mismatch };
  }
  const want = [{ proc: 0, mapsAfter: f.mapsAfter, vmflagsAfter: f.vmflagsAfter }, ...f.processes];
  const live = [...out.final.keys()].join(',');
  if (live !== want.map((w) => w.proc).join(',')) {
    return {
      kind: 'maps',
      detail: `live processes: Linux ${want.map((w) => w.proc).join(',')}, model ${live}`,
    };
  }
  const joined = (maps: { proc: number; maps: string }[]) =>
    normalizeShmemInodes(maps.map((m) => `process ${m.proc}\n${m.maps}`).join(''));
  const linux = joined(want.map((w) => ({ proc: w.proc, maps: w.mapsAfter })));
  const model = joined(want.map((w) => ({ proc: w.proc, maps: out.final.get(w.proc)!.maps })));
  if (linux !== model) {
    const a = linux.split('\n');
    const b = model.split('\n');
    const k = a.findIndex((l, i) => l !== b[i]);
    return {
      kind: 'maps',
      detail: `line ${k + 1}: Linux ${JSON.stringify(a[k])}, model ${JSON.stringify(b[k] ?? '')}`,
    };
  }
  for (const w of want) {
    const got = out.final.get(w.proc)!.vmflags;
    const k = w.vmflagsAfter.findIndex((v, i) => v !== got[i]);
    if (k >= 0 || got.length !== w.vmflagsAfter.length) {
      return {
        kind: 'vmflags',
        detail: `process ${w.proc} line ${k + 1}: Linux ${JSON.stringify(w.vmflagsAfter[k])}, model ${JSON.stringify(got[k])}`,
      };
    }
  }
  if (violation !== null) return { kind: 'check', detail: `after the last op: ${violation}` };
  return null;
}
