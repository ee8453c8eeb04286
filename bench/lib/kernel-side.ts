/**
 * The real Linux kernel's side: build bench/kernel/mmap-populate.c with the system C compiler
 * (into the OS temp directory, keyed by the source's hash) and run it, pinned with taskset when
 * there is one, to time mmap(MAP_POPULATE)+munmap batches.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchPlan, BatchResult } from './protocol.js';

const SOURCE = fileURLToPath(new URL('../kernel/mmap-populate.c', import.meta.url));

export interface KernelRunner {
  binary: string;
  compiler: string;
  /** The command prefix that pins the program (`taskset -c N`), or [] when unpinned. */
  pin: string[];
  pinNote: string;
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

/** Builds the C program, or returns the reason it cannot be run here. */
export function prepareKernelSide(): KernelRunner | { skipped: string } {
  if (process.platform !== 'linux') {
    return { skipped: `not Linux (${process.platform}): MAP_POPULATE timing needs a Linux kernel` };
  }
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => !!c);
  const compiler = candidates.map(which).find((c) => c !== null) ?? null;
  if (compiler === null) {
    return { skipped: `no C compiler found (tried ${candidates.join(', ')}; set CC to use another)` };
  }
  const version = spawnSync(compiler, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).update(compiler).update(version).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'levitate-mm-bench');
  const binary = path.join(dir, `mmap-populate-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${binary}.${process.pid}`;
    const r = spawnSync(compiler, ['-O2', '-Wall', '-o', tmp, SOURCE], { encoding: 'utf8' });
    if (r.status !== 0) {
      return { skipped: `${compiler} failed to build bench/kernel/mmap-populate.c:\n${r.stderr}` };
    }
    renameSync(tmp, binary);
  }
  // Pin to the last CPU, away from CPU 0 where most interrupts land.
  const cpu = os.cpus().length - 1;
  const taskset = which('taskset');
  let pin: string[] = [];
  let pinNote = 'unpinned (no taskset)';
  if (taskset !== null) {
    const probe = spawnSync(taskset, ['-c', String(cpu), 'true']);
    if (probe.status === 0) {
      pin = [taskset, '-c', String(cpu)];
      pinNote = `taskset -c ${cpu}`;
    } else {
      pinNote = `unpinned (taskset -c ${cpu} refused)`;
    }
  }
  return { binary, compiler: `${compiler} -O2 (${version.trim()})`, pin, pinNote };
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
