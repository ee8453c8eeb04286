/**
 * Building and pinning the benchmarks' C programs (bench/kernel/*.c): compiled with the system C
 * compiler at -O2 into the OS temp directory, keyed by the source's and the compiler's hash, and
 * run pinned to the last CPU with taskset when there is one.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Builds bench/kernel/<name>.c, or returns the reason it cannot be built or run here. */
export function buildCProgram(name: string): KernelRunner | { skipped: string } {
  if (process.platform !== 'linux') return { skipped: `not Linux (${process.platform})` };
  const source = fileURLToPath(new URL(`../kernel/${name}.c`, import.meta.url));
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => !!c);
  const compiler = candidates.map(which).find((c) => c !== null) ?? null;
  if (compiler === null) {
    return { skipped: `no C compiler found (tried ${candidates.join(', ')}; set CC to use another)` };
  }
  const version = spawnSync(compiler, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const hash = createHash('sha256')
    .update(readFileSync(source))
    .update(compiler)
    .update(version)
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(os.tmpdir(), 'levitate-mm-bench');
  const binary = path.join(dir, `${name}-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${binary}.${process.pid}`;
    const r = spawnSync(compiler, ['-O2', '-Wall', '-o', tmp, source], { encoding: 'utf8' });
    if (r.status !== 0)
      return { skipped: `${compiler} failed to build bench/kernel/${name}.c:\n${r.stderr}` };
    renameSync(tmp, binary);
  }
  // Pin to the last CPU, away from CPU 0 where most interrupts land.
  const cpu = os.cpus().length - 1;
  const taskset = which('taskset');
  let pin: string[] = [];
  let pinNote = 'unpinned (no taskset)';
  if (taskset !== null) {
    if (spawnSync(taskset, ['-c', String(cpu), 'true']).status === 0) {
      pin = [taskset, '-c', String(cpu)];
      pinNote = `taskset -c ${cpu}`;
    } else pinNote = `unpinned (taskset -c ${cpu} refused)`;
  }
  return { binary, compiler: `${compiler} -O2 (${version.trim()})`, pin, pinNote };
}

/** Whether `cmd` is on the PATH. */
export function hasCommand(cmd: string): boolean {
  return which(cmd) !== null;
}
