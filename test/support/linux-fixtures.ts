import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Kernel,
  type LayoutOptions,
  type PageFaultError,
  procMaps,
  smapsFlags,
  type Task,
} from 'levitate-mm';

/** One recorded sequence (tools/linux-harness/README.md describes the format). */
export interface Fixture {
  kernel: string;
  arch: 'x86_64' | 'aarch64';
  pageSize: number;
  memTotalKiB: number;
  settings: {
    overcommit_memory: 0 | 1 | 2;
    overcommit_ratio: number;
    max_map_count: number;
    mmap_min_addr: number;
  };
  rlimits: Record<'stack' | 'as' | 'data', { cur: string; max: string }>;
  stat: Record<'start_code' | 'end_code' | 'start_data' | 'end_data' | 'start_brk' | 'start_stack', string>;
  euid: number;
  initialBrk: string;
  mapsBefore: string;
  ops: { op: string; proc?: number; args: string[]; result: string; fault?: string; kind: string }[];
  mapsAfter: string;
  vmflagsAfter: string[];
}

export function loadFixtures(dir: string): { name: string; fixture: Fixture }[] {
  const path = fileURLToPath(new URL(`../fixtures/${dir}/`, import.meta.url));
  return readdirSync(path)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, fixture: JSON.parse(readFileSync(path + name, 'utf8')) as Fixture }));
}

const limit = (s: string) => (BigInt(s) >= 2n ** 63n ? Number.POSITIVE_INFINITY : Number(s));

/** Renumbers shmem inodes (a system-wide counter), as the recorder does. */
export { normalizeShmemInodes } from '../../tools/linux-harness/record.js';

/** What replaying one fixture found: the first op whose result differed, and the final state. */
export interface ReplayOutcome {
  mismatch: string | null;
  maps: string;
  vmflags: string[];
  check: string[];
}

/**
 * Boots a kernel configured as the recording machine was and starts a task from the fixture's
 * snapshot. `ramBytes` is the model's RAM: enough for every page the sequence touches (the
 * invariant checker's cost grows with it).
 */
export function bootFixture(
  f: Fixture,
  layout: LayoutOptions = {},
  ramBytes = 256 * 2 ** 20,
): { kernel: Kernel; task: Task } {
  const kernel = new Kernel({
    arch: f.arch,
    pageSize: f.pageSize,
    paging: 'demand',
    ramBytes,
    layout: {
      totalRamPages: Math.floor((f.memTotalKiB * 1024) / f.pageSize),
      overcommitMemory: f.settings.overcommit_memory,
      overcommitRatio: f.settings.overcommit_ratio,
      maxMapCount: f.settings.max_map_count,
      dacMmapMinAddr: f.settings.mmap_min_addr,
      capSysRawio: f.euid === 0,
      rlimitStack: limit(f.rlimits.stack.cur),
      rlimitAs: limit(f.rlimits.as.cur),
      rlimitData: limit(f.rlimits.data.cur),
      ...layout,
    },
  });
  const task = kernel.spawnFromSnapshot({
    maps: f.mapsBefore,
    startBrk: Number(f.stat.start_brk),
    brk: Number(f.initialBrk),
    startStack: Number(f.stat.start_stack),
    startData: Number(f.stat.start_data),
    endData: Number(f.stat.end_data),
  });
  return { kernel, task };
}

/** Runs one recorded op (a syscall, or a touch or peek by `task`) and returns its result as recorded. */
export function replayOp(kernel: Kernel, task: Task, op: Fixture['ops'][number]): string {
  const a = op.args.map((x) => BigInt(x));
  switch (op.op) {
    case 'mmap':
      return String(kernel.sys.mmap(a[0], a[1], a[2], a[3], a[4], a[5]));
    case 'munmap':
      return String(kernel.sys.munmap(a[0], a[1]));
    case 'mprotect':
      return String(kernel.sys.mprotect(a[0], a[1], a[2]));
    case 'brk':
      return String(kernel.sys.brk(a[0]));
    case 'mremap':
      return String(kernel.sys.mremap(a[0], a[1], a[2], a[3], a[4]));
    case 'madvise':
      return String(kernel.sys.madvise(a[0], a[1], a[2]));
    case 'touch':
    case 'peek':
      try {
        if (op.op === 'peek') return String(task.read(Number(a[0]), 1)[0]);
        task.write(Number(a[0]), [Number(a[1])]);
        return '0';
      } catch (e) {
        const pf = e as PageFaultError;
        return pf.siCode ? `fault ${pf.siCode}` : `error ${String(e)}`;
      }
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

/** The result a recorded op had, in `replayOp`'s form. */
export function recordedResult(op: Fixture['ops'][number]): string {
  return op.result === 'fault' ? `fault ${op.fault}` : op.result;
}

/** Replays every op; stops at the first differing result and reports it. */
export function replayFixture(
  f: Fixture,
  afterEach?: (kernel: Kernel, i: number) => void,
  layout: LayoutOptions = {},
): ReplayOutcome {
  const { kernel, task } = bootFixture(f, layout);
  let mismatch: string | null = null;
  f.ops.forEach((op, i) => {
    if (mismatch !== null) return;
    const got = replayOp(kernel, task, op);
    const want = recordedResult(op);
    if (got !== want)
      mismatch = `op ${i} ${op.kind} ${op.op}(${op.args.join(', ')}): Linux ${want}, model ${got}`;
    afterEach?.(kernel, i);
  });
  return { mismatch, maps: procMaps(task.mm), vmflags: smapsFlags(task.mm), check: kernel.check() };
}
