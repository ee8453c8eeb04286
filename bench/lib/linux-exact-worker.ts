/**
 * The model's side of bench/linux-exact.ts, in a forked plain-node process: one `Kernel({ arch:
 * 'x86_64', paging: 'demand', ramBytes: 1 GiB })` per scenario, each with one task, set up so every
 * pair changes the VMA count as it does in the C program (bench/kernel/mm-ops.c):
 *
 * - mmap1: a one-page mmap+munmap lands next to an anonymous RW neighbour (written, as the anonymous
 *   mapping next to ld.so is in the C process) and merges into it, then munmap splits it off again;
 * - mprotect-pop / -unpop: a 1024-page RW mapping, every page written (or none); page 512 to R
 *   (3-way split) and back to RW (the merge);
 * - brk: startBrk = brk = 0x4000_0000, a heap of one page, then +1 page / -1 page;
 * - touch: fresh `touchPages`-page mappings, `task.write(addr, [1])` into every page; only the
 *   writes are timed;
 * - scale@small / @large: the same neighbour, the 1024-page target plus one-page mappings at 16 TiB spaced one page
 *   apart with alternating R / RW, `smallCount` or `largeCount` VMAs in all (checked against
 *   task.mm.mapCount); a one-page mmap+munmap pair (merging into the neighbour, as in the kernel)
 *   and an mprotect split+merge pair of the target's page 512.
 *
 *   node linux-exact-worker.mjs <model entry file URL> <config JSON>
 *
 * Run by plain node after esbuild strips the types (load-model.ts): it imports only types.
 */
import type {
  ExactConfig,
  ExactReply,
  ExactRequest,
  OpName,
  OpResult,
  OpShape,
} from './linux-exact-protocol.js';

type Lib = typeof import('../../src/index.js');
type KernelT = InstanceType<Lib['Kernel']>;
type TaskT = ReturnType<KernelT['spawn']>;

const PAGE = 4096;
const RAM = 2 ** 30;
const TARGET_PAGES = 1024;
const SCALE_BASE = 0x1000_0000_0000;
const BRK_BASE = 0x4000_0000;
const SCALE_CHUNKS = 8;
const source = process.argv[2];
const config = JSON.parse(process.argv[3]) as ExactConfig;
const { Kernel, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE } = (await import(
  source
)) as Lib;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function fail(what: string, r: number): never {
  throw new Error(`${what} = ${r}`);
}

interface Scenario {
  kernel: KernelT;
  task: TaskT;
  /** Runs `n` repetitions; returns nothing (timed by the caller) and throws on any failure. */
  run(n: number): void;
  /** VMAs before, and the VMA-count change in the middle of one pair. */
  shape(): { vmas: number; delta: number };
  /** Times n repetitions itself (touch: only the writes count). */
  timed?(n: number): number;
}

function boot(): { kernel: KernelT; task: TaskT } {
  const kernel = new Kernel({ arch: 'x86_64', paging: 'demand', ramBytes: RAM, pageSize: PAGE });
  return { kernel, task: kernel.spawn() };
}

function mmap1Pairs(k: KernelT, n: number): void {
  const sys = k.sys;
  for (let i = 0; i < n; i++) {
    const a = sys.mmap(0, PAGE, RW, ANON, -1, 0);
    if (a < 0) fail('mmap', a);
    const r = sys.munmap(a, PAGE);
    if (r !== 0) fail('munmap', r);
  }
}

function mmap1Shape(k: KernelT, t: TaskT): { vmas: number; delta: number } {
  const vmas = t.mm.mapCount;
  const a = k.sys.mmap(0, PAGE, RW, ANON, -1, 0);
  if (a < 0) fail('mmap', a);
  const delta = t.mm.mapCount - vmas;
  k.sys.munmap(a, PAGE);
  return { vmas, delta };
}

function mprotectPairs(k: KernelT, mid: number, n: number): void {
  const sys = k.sys;
  for (let i = 0; i < n; i++) {
    let r = sys.mprotect(mid, PAGE, PROT_READ);
    if (r !== 0) fail('mprotect R', r);
    r = sys.mprotect(mid, PAGE, RW);
    if (r !== 0) fail('mprotect RW', r);
  }
}

function mprotectShape(k: KernelT, t: TaskT, mid: number): { vmas: number; delta: number } {
  const vmas = t.mm.mapCount;
  k.sys.mprotect(mid, PAGE, PROT_READ);
  const delta = t.mm.mapCount - vmas;
  k.sys.mprotect(mid, PAGE, RW);
  if (t.mm.mapCount !== vmas) throw new Error('mprotect did not merge back');
  return { vmas, delta };
}

function target(k: KernelT, t: TaskT, populate: boolean): number {
  const a = k.sys.mmap(0, TARGET_PAGES * PAGE, RW, ANON, -1, 0);
  if (a < 0) fail('mmap target', a);
  if (populate) for (let p = 0; p < TARGET_PAGES; p++) t.write(a + p * PAGE, [1]);
  return a + (TARGET_PAGES / 2) * PAGE;
}

/** The C process's anonymous RW mapping below [vvar] (written), where its one-page mmaps land. */
function neighbour(k: KernelT, t: TaskT): void {
  const nb = k.sys.mmap(0, 2 * PAGE, RW, ANON, -1, 0);
  if (nb < 0) fail('mmap neighbour', nb);
  t.write(nb, [1]);
}

function scaleSpace(count: number): { kernel: KernelT; task: TaskT; mid: number } {
  const { kernel, task } = boot();
  neighbour(kernel, task);
  const mid = target(kernel, task, false);
  const spaced = count - task.mm.mapCount;
  for (let i = 0; i < spaced; i++) {
    const a = kernel.sys.mmap(
      SCALE_BASE + i * 2 * PAGE,
      PAGE,
      i & 1 ? PROT_READ : RW,
      ANON | MAP_FIXED_NOREPLACE,
      -1,
      0,
    );
    if (a < 0) fail(`scale mmap ${i} of ${spaced}`, a);
  }
  if (task.mm.mapCount !== count) throw new Error(`scale: wanted ${count} VMAs, have ${task.mm.mapCount}`);
  return { kernel, task, mid };
}

const t0 = performance.now();
const scenarios = new Map<OpName, Scenario>();
{
  const { kernel, task } = boot();
  neighbour(kernel, task);
  scenarios.set('mmap1', {
    kernel,
    task,
    run: (n) => mmap1Pairs(kernel, n),
    shape: () => mmap1Shape(kernel, task),
  });
}
for (const populate of [true, false]) {
  const { kernel, task } = boot();
  const mid = target(kernel, task, populate);
  scenarios.set(populate ? 'mprotect-pop' : 'mprotect-unpop', {
    kernel,
    task,
    run: (n) => mprotectPairs(kernel, mid, n),
    shape: () => mprotectShape(kernel, task, mid),
  });
}
{
  const { kernel, task } = boot();
  task.mm.startBrk = task.mm.brk = BRK_BASE;
  const sys = kernel.sys;
  if (sys.brk(BRK_BASE + PAGE) !== BRK_BASE + PAGE) throw new Error('brk base');
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      let r = sys.brk(BRK_BASE + 2 * PAGE);
      if (r !== BRK_BASE + 2 * PAGE) fail('brk grow', r);
      r = sys.brk(BRK_BASE + PAGE);
      if (r !== BRK_BASE + PAGE) fail('brk shrink', r);
    }
  };
  scenarios.set('brk', {
    kernel,
    task,
    run,
    shape: () => {
      const vmas = task.mm.mapCount;
      sys.brk(BRK_BASE + 2 * PAGE);
      const delta = task.mm.mapCount - vmas;
      sys.brk(BRK_BASE + PAGE);
      return { vmas, delta };
    },
  });
}
{
  const { kernel, task } = boot();
  const pages = config.touchPages;
  const len = pages * PAGE;
  const sys = kernel.sys;
  const timed = (n: number) => {
    let ns = 0;
    for (let m = 0; m < n; m++) {
      const a = sys.mmap(0, len, RW, ANON, -1, 0);
      if (a < 0) fail('mmap touch', a);
      const s = process.hrtime.bigint();
      for (let i = 0; i < pages; i++) task.write(a + i * PAGE, [1]);
      ns += Number(process.hrtime.bigint() - s);
      const r = sys.munmap(a, len);
      if (r !== 0) fail('munmap touch', r);
    }
    return ns;
  };
  scenarios.set('touch', {
    kernel,
    task,
    run: (n) => void timed(n),
    timed,
    shape: () => {
      const vmas = task.mm.mapCount;
      const a = sys.mmap(0, len, RW, ANON, -1, 0);
      const delta = task.mm.mapCount - vmas;
      sys.munmap(a, len);
      return { vmas, delta };
    },
  });
}
for (const [size, count] of [
  ['small', config.smallCount],
  ['large', config.largeCount],
] as const) {
  const { kernel, task, mid } = scaleSpace(count);
  scenarios.set(`scale-mmap@${size}`, {
    kernel,
    task,
    run: (n) => mmap1Pairs(kernel, n),
    shape: () => mmap1Shape(kernel, task),
  });
  scenarios.set(`scale-mprotect@${size}`, {
    kernel,
    task,
    run: (n) => mprotectPairs(kernel, mid, n),
    shape: () => mprotectShape(kernel, task, mid),
  });
}
const buildMs = performance.now() - t0;

function shapes(): OpShape[] {
  return [...scenarios].map(([op, s]) => ({ op, ...s.shape() }));
}

/** ns for `n` repetitions of `op`. */
function batch(op: OpName, n: number): number {
  const s = scenarios.get(op)!;
  if (s.timed) return s.timed(n);
  const t = process.hrtime.bigint();
  s.run(n);
  return Number(process.hrtime.bigint() - t);
}

function handle(msg: ExactRequest): ExactReply {
  switch (msg.cmd) {
    case 'warmup': {
      // Every operation for msPerOp ms (at least 3 repetitions), in two passes round all of them.
      const s = performance.now();
      for (let pass = 0; pass < 2; pass++) {
        for (const op of scenarios.keys()) {
          const until = performance.now() + msg.msPerOp / 2;
          let n = 0;
          while (n < 3 || performance.now() < until) {
            batch(op, 1);
            n++;
          }
        }
      }
      return { ok: true, kind: 'warmup', ms: performance.now() - s };
    }
    case 'calibrate': {
      const plan = {} as Record<OpName, number>;
      for (const op of scenarios.keys()) {
        // Grow a trial batch to at least 5 ms; take the fastest of three such trials, so that a
        // burst of host load during calibration does not leave the op with tiny batches.
        let best = Number.POSITIVE_INFINITY;
        let iters = 1;
        for (let trial = 0; trial < 3; trial++) {
          let ns = batch(op, iters);
          while (ns < 5e6 && iters < 1e7) {
            iters *= 4;
            ns = batch(op, iters);
          }
          best = Math.min(best, ns / iters);
        }
        plan[op] = Math.max(1, Math.ceil((msg.batchMs * 1e6) / best));
      }
      return { ok: true, kind: 'calibrate', plan };
    }
    case 'round': {
      const results: OpResult[] = [];
      for (const op of scenarios.keys()) {
        if (!op.startsWith('scale-')) results.push({ op, iters: msg.plan[op], ns: batch(op, msg.plan[op]) });
      }
      // The small and the large address space alternate in SCALE_CHUNKS slices of their batches, so
      // that a burst of load on the host falls on both sizes alike.
      for (const name of ['scale-mmap', 'scale-mprotect'] as const) {
        const small = `${name}@small` as const;
        const large = `${name}@large` as const;
        const per = {
          [small]: Math.ceil(msg.plan[small] / SCALE_CHUNKS),
          [large]: Math.ceil(msg.plan[large] / SCALE_CHUNKS),
        };
        const ns = { [small]: 0, [large]: 0 };
        for (let c = 0; c < SCALE_CHUNKS; c++) {
          for (const op of c % 2 === 0 ? [small, large] : [large, small]) ns[op] += batch(op, per[op]);
        }
        for (const op of [small, large]) results.push({ op, iters: per[op] * SCALE_CHUNKS, ns: ns[op] });
      }
      return { ok: true, kind: 'round', results };
    }
    case 'check': {
      const violations: string[] = [];
      for (const [op, s] of scenarios) for (const v of s.kernel.check()) violations.push(`${op}: ${v}`);
      return { ok: true, kind: 'check', violations, shapes: shapes() };
    }
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (msg: ExactRequest) => {
  let reply: ExactReply;
  try {
    reply = handle(msg);
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  process.send?.(reply);
});
process.send?.({ ok: true, kind: 'ready', shapes: shapes(), buildMs } satisfies ExactReply);
