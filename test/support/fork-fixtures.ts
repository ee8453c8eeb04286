import { type Kernel, procMaps, smapsFlags, type Task } from 'levitate-mm';
import { bootFixture, type Fixture, recordedResult, replayOp } from './linux-fixtures.js';

/** The model's RAM for a fork fixture: several times what the busiest recorded sequence touches. */
export const FORK_FIXTURE_RAM = 32 * 2 ** 20;

/** A sequence with fork recorded by the fork build of the harness (tools/linux-harness/README.md). */
export interface ForkFixture extends Fixture {
  settings: Fixture['settings'] & { zero_page_reads: boolean };
  scenario: string;
  seed: number;
  /** The final state of every process but process 0 still alive at the end. */
  processes: { proc: number; parent: number; mapsAfter: string; vmflagsAfter: string[] }[];
}

/** What replaying a fork fixture found: the first differing op, and every live process's final state. */
export interface ForkReplayOutcome {
  mismatch: string | null;
  /** By process number, for the processes alive at the end. */
  final: Map<number, { maps: string; vmflags: string[] }>;
  kernel: Kernel;
}

/**
 * Replays a fork fixture: process 0 starts from the recorded snapshot, `fork` is `kernel.fork` of
 * the process that ran it (the result is the new process's number), `exit` is `kernel.exit`, and
 * every other op runs in its own process after `kernel.switchTo`. Stops at the first differing result.
 */
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
