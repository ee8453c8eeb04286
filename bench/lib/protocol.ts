/**
 * Messages between bench/run.ts and its forked workers (Node IPC), and the shapes both sides share.
 */

/** One timed batch: `iters` mmap+munmap pairs of `pages` pages, `ns` for the whole batch. */
export interface BatchResult {
  pages: number;
  iters: number;
  ns: number;
}

/** A batch to run: `iters` pairs of `pages` pages. */
export interface BatchPlan {
  pages: number;
  iters: number;
}

export type ModelArch = 'x86_64' | 'aarch64';

/** Parent → model worker. */
export type ModelRequest =
  | { cmd: 'warmup'; sizes: number[]; msPerSize: number }
  | { cmd: 'calibrate'; sizes: number[]; batchMs: number; minIters: number }
  | { cmd: 'round'; plan: BatchPlan[] }
  | { cmd: 'check' }
  | { cmd: 'exit' };

/** Model worker → parent. */
export type ModelReply =
  | { ok: true; kind: 'ready'; arch: ModelArch; source: string }
  | { ok: true; kind: 'warmup'; pagesDone: number; ms: number }
  | { ok: true; kind: 'calibrate'; plan: BatchPlan[] }
  | { ok: true; kind: 'round'; results: BatchResult[] }
  | { ok: true; kind: 'check'; violations: string[]; framesInUse: number }
  | { ok: false; error: string };

/** Host memory as process.memoryUsage() reports it, after a forced GC. */
export interface MemSample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** What bench/lib/memory-worker.ts measures for one arch. */
export interface MemoryReport {
  arch: ModelArch;
  pages: number;
  ramBytes: number;
  totalFrames: number;
  /** Before the kernel is built (the module loaded and warmed on a scratch kernel). */
  beforeBoot: MemSample;
  /** After `new Kernel(...)` + `spawn()`: the fixed cost of the simulated RAM size. */
  booted: MemSample;
  /** After mmap of `pages` pages (eager), nothing written. */
  mapped: MemSample;
  /** After writing one byte into every mapped page (every page's simulated RAM now touched). */
  written: MemSample;
  /** After a second mapping of as many pages, written the same way (the marginal cost). */
  secondWritten: MemSample;
  /** After munmap of the whole range. */
  unmapped: MemSample;
  /** PhysicalMemory.committedBytes at those points. */
  committed: { mapped: number; written: number; secondWritten: number; unmapped: number };
}
