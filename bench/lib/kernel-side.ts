/**
 * The real Linux kernel's side: build bench/kernel/mmap-populate.c with the system C compiler
 * (into the OS temp directory, keyed by the source's hash) and run it, pinned with taskset when
 * there is one, to time mmap(MAP_POPULATE)+munmap batches.
 */
import { spawnSync } from 'node:child_process';
import { buildCProgram, type KernelRunner } from './c-program.js';
import type { BatchPlan, BatchResult } from './protocol.js';
import { fmtNs } from './stats.js';

export type { KernelRunner } from './c-program.js';

/** Builds the C program, or returns the reason it cannot be run here. */
export function prepareKernelSide(): KernelRunner | { skipped: string } {
  if (process.platform !== 'linux') {
    return { skipped: `not Linux (${process.platform}): MAP_POPULATE timing needs a Linux kernel` };
  }
  return buildCProgram('mmap-populate');
}

/** Runs one process of the C program over `plan`; throws if it fails or under-populates. */
export function runKernelBatches(runner: KernelRunner, plan: BatchPlan[]): BatchResult[] {
  const args = plan.map((p) => `${p.pages}:${p.iters}`);
  const cmd = [...runner.pin, runner.binary, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited ${r.status}: ${r.stderr}`);
  const results: BatchResult[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^kernel pages=(\d+) iters=(\d+) ns=(\d+) resident=(-?\d+)$/.exec(line.trim());
    if (m === null) continue;
    const [pages, iters, ns, resident] = m.slice(1).map(Number);
    if (resident !== pages) {
      throw new Error(`MAP_POPULATE left ${resident} of ${pages} pages resident: not comparable`);
    }
    results.push({ pages, iters, ns });
  }
  if (results.length !== plan.length)
    throw new Error(`unexpected output from ${runner.binary}:\n${r.stdout}`);
  return results;
}

/** Batch sizes that take about batchMs each, from one small trial run. */
export function calibrateKernel(
  runner: KernelRunner,
  sizes: number[],
  batchMs: number,
  minIters: number,
): BatchPlan[] {
  // ~4 MiB... 256 MiB per trial, a few ms each.
  const trial = sizes.map((pages) => ({ pages, iters: Math.max(1, Math.ceil(2048 / pages)) }));
  runKernelBatches(runner, trial); // first touch of the binary, page cache, etc.
  const res = runKernelBatches(runner, trial);
  return res.map(({ pages, iters, ns }) => ({
    pages,
    iters: Math.max(minIters, Math.ceil((batchMs * 1e6) / (ns / iters))),
  }));
}

/**
 * ns per null syscall (getppid), the lowest of three runs: about 50–300 ns on bare metal, several µs
 * under a hypervisor that traps every syscall (PVM, gVisor-like sandboxes), which then dominates
 * the kernel's figures.
 */
export function nullSyscallNs(runner: KernelRunner): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const iters = 20000;
    const cmd = [...runner.pin, runner.binary, `getppid:${iters}`];
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
    const m = /kernel null-syscall iters=(\d+) ns=(\d+)/.exec(r.stdout);
    if (m !== null) best = Math.min(best, Number(m[2]) / Number(m[1]));
  }
  return best;
}

/** Above this a null syscall is trapping to a hypervisor: bare metal with PTI is ~100–300 ns. */
export const SLOW_SYSCALL_NS = 1000;

/**
 * The kernel side of a benchmark, unless `--no-kernel`: its C program built by `prepare`, the
 * null-syscall time measured, and both printed (with `warning` when syscalls trap). Null when
 * skipped, with the reason printed.
 */
export function startKernelSide(
  prepare: () => KernelRunner | { skipped: string },
  noKernel: boolean,
  log: (s: string) => void,
  warning: (ns: number) => string,
): { runner: KernelRunner | null; syscallNs: number } {
  if (noKernel) {
    log('kernel side SKIPPED: --no-kernel');
    return { runner: null, syscallNs: Number.NaN };
  }
  const k = prepare();
  if ('skipped' in k) {
    log(`kernel side SKIPPED: ${k.skipped}`);
    return { runner: null, syscallNs: Number.NaN };
  }
  log(`kernel side: ${k.binary} built with ${k.compiler}, ${k.pinNote}`);
  const syscallNs = nullSyscallNs(k);
  log(`  null syscall (getppid): ${fmtNs(syscallNs)} ns`);
  if (syscallNs > SLOW_SYSCALL_NS) log(`  ${warning(syscallNs)}`);
  return { runner: k, syscallNs };
}
