/**
 * A forked worker that runs the model's side of the benchmark for one arch, so each arch gets a
 * process (and JIT type feedback) of its own: `new Kernel({ arch, paging: 'eager', ... })`, one task,
 * then timed batches of `sys.mmap(0, n*4096, RW, MAP_PRIVATE|MAP_ANONYMOUS)` + `sys.munmap`.
 *
 *   node model-worker.mjs <arch> <model entry file URL> <ramBytes>
 *
 * Messages: see ModelRequest / ModelReply in protocol.ts. Run by plain node after esbuild strips
 * the types (load-model.ts), so it imports nothing but types from the bench.
 */
import type { BatchPlan, BatchResult, ModelArch, ModelReply, ModelRequest } from './protocol.js';

type Lib = typeof import('../../src/index.js');
const PAGE = 4096;
const arch = process.argv[2] as ModelArch;
const source = process.argv[3];
const ramBytes = Number(process.argv[4]);
const { Kernel, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } = (await import(source)) as Lib;

const kernel = new Kernel({ arch, ramBytes, pageSize: PAGE, paging: 'eager' });
kernel.spawn();
const sys = kernel.sys;
const PROT = PROT_READ | PROT_WRITE;
const FLAGS = MAP_PRIVATE | MAP_ANONYMOUS;

/** `iters` mmap+munmap pairs of `pages` pages; returns the elapsed ns. Throws on any failure. */
function batch(pages: number, iters: number): number {
  const len = pages * PAGE;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) {
    const addr = sys.mmap(0, len, PROT, FLAGS, -1, 0);
    if (addr < 0) throw new Error(`mmap(${pages} pages) = ${addr}`);
    const r = sys.munmap(addr, len);
    if (r !== 0) throw new Error(`munmap(${pages} pages) = ${r}`);
  }
  return Number(process.hrtime.bigint() - t0);
}

function handle(msg: ModelRequest): ModelReply {
  switch (msg.cmd) {
    case 'warmup': {
      // Every size for msPerSize ms (at least 3 pairs), twice round, so the JIT sees them all.
      const t0 = performance.now();
      let pagesDone = 0;
      for (let pass = 0; pass < 2; pass++) {
        for (const pages of msg.sizes) {
          const until = performance.now() + msg.msPerSize / 2;
          let n = 0;
          while (n < 3 || performance.now() < until) {
            batch(pages, 1);
            n++;
          }
          pagesDone += n * pages;
        }
      }
      return { ok: true, kind: 'warmup', pagesDone, ms: performance.now() - t0 };
    }
    case 'calibrate': {
      const plan: BatchPlan[] = msg.sizes.map((pages) => {
        // Grow a trial batch until it takes at least 5 ms, then scale to batchMs.
        let iters = 1;
        let ns = batch(pages, iters);
        while (ns < 5e6 && iters < 1e6) {
          iters *= 4;
          ns = batch(pages, iters);
        }
        const perOp = ns / iters;
        return { pages, iters: Math.max(msg.minIters, Math.ceil((msg.batchMs * 1e6) / perOp)) };
      });
      return { ok: true, kind: 'calibrate', plan };
    }
    case 'round': {
      const results: BatchResult[] = msg.plan.map(({ pages, iters }) => ({
        pages,
        iters,
        ns: batch(pages, iters),
      }));
      return { ok: true, kind: 'round', results };
    }
    case 'check': {
      const violations = kernel.check();
      return {
        ok: true,
        kind: 'check',
        violations,
        framesInUse: kernel.frames.usedPages,
      };
    }
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (msg: ModelRequest) => {
  let reply: ModelReply;
  try {
    reply = handle(msg);
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  process.send?.(reply);
});
process.send?.({ ok: true, kind: 'ready', arch, source } satisfies ModelReply);
