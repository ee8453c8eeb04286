/**
 * The model's side of a fixture: boot a kernel configured as the recording machine was, start a
 * task from the recorded before-maps with the recorded files open, run every op, and say where
 * the model's answers differ from Linux's (the first differing result, the final
 * /proc/self/maps, the final VmFlags, or an invariant the checker finds broken).
 *
 * The differential suite (test/linux), the harness test and the differential fuzzer
 * (tools/fuzz-linux) all compare through `compareWithModel`.
 */
import {
  fileSystemRules,
  Kernel,
  type LayoutOptions,
  MemoryObject,
  type OpenFile,
  PageFaultError,
  procMaps,
  type Snapshot,
  smapsFlags,
  type Task,
} from '../../src/index.js';
import { type Fixture, type FixtureFile, normalizeShmemInodes } from './record.js';

const limit = (s: string) => (BigInt(s) >= 2n ** 63n ? Number.POSITIVE_INFINITY : Number(s));

/** The layout the fixture's machine had: RAM, sysctls, rlimits, and the zero-page behaviour it probed. */
function fixtureLayout(f: Fixture): LayoutOptions {
  const layout: { -readonly [K in keyof LayoutOptions]: LayoutOptions[K] } = {
    totalRamPages: Math.floor((f.memTotalKiB * 1024) / f.pageSize),
    overcommitMemory: f.settings.overcommit_memory as 0 | 1 | 2,
    overcommitRatio: f.settings.overcommit_ratio,
    maxMapCount: f.settings.max_map_count,
    dacMmapMinAddr: f.settings.mmap_min_addr,
    capSysRawio: f.euid === 0,
    rlimitStack: limit(f.rlimits.stack.cur),
    rlimitAs: limit(f.rlimits.as.cur),
    rlimitData: limit(f.rlimits.data.cur),
  };
  if (f.settings.zero_page_reads !== undefined) layout.zeroPageReads = f.settings.zero_page_reads;
  layout.protectionKeys = f.settings.protection_keys ?? false;
  const thp = f.settings.thp_enabled;
  if (thp === 'always' || thp === 'madvise' || thp === 'never') layout.thpEnabled = thp;
  return layout;
}

/** The open files of a fixture as the model's fd table: one page cache per (device, inode). */
export function fixtureFiles(files: readonly FixtureFile[]): Map<number, OpenFile> {
  const objects = new Map<string, MemoryObject>();
  const table = new Map<number, OpenFile>();
  for (const f of files) {
    const key = `${f.dev}:${f.inode}`;
    let object = objects.get(key);
    if (object === undefined) {
      const [major, minor] = f.dev.split(':').map((x) => Number.parseInt(x, 16));
      const device = f.fs === 'chr';
      object = new MemoryObject(f.path, major, minor, f.inode, f.path === '/dev/zero' ? 'dev-zero' : 'file', {
        size: device ? null : f.size,
        ...(device ? {} : fileSystemRules(f.fs, f.huge)),
        device,
      });
      objects.set(key, object);
    }
    table.set(f.fd, { file: object, readable: true, writable: f.mode === 'rw' });
  }
  return table;
}

/** The process the fixture's sequence ran in, as `spawnFromSnapshot` takes it: its maps, break and bounds. */
export function fixtureSnapshot(f: Pick<Fixture, 'mapsBefore' | 'initialBrk' | 'stat'>): Snapshot {
  return {
    maps: f.mapsBefore,
    startBrk: Number(f.stat.start_brk),
    brk: Number(f.initialBrk),
    startStack: Number(f.stat.start_stack),
    startData: Number(f.stat.start_data),
    endData: Number(f.stat.end_data),
  };
}

/**
 * Boots a kernel configured as the recording machine was and starts a task from the fixture's
 * snapshot, with its files open. `ramBytes` is the model's RAM: enough for every page the sequence
 * touches (the invariant checker's cost grows with it).
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
    layout: { ...fixtureLayout(f), ...layout },
  });
  const task = kernel.spawnFromSnapshot(fixtureSnapshot(f));
  for (const [fd, open] of fixtureFiles(f.files ?? [])) task.files.set(fd, open);
  return { kernel, task };
}

/** What replaying one fixture found: the first op whose result differed, and the final state. */
export interface ReplayOutcome {
  mismatch: string | null;
  /** Index of the first differing op, or -1. */
  mismatchAt: number;
  maps: string;
  vmflags: string[];
  check: string[];
}

/** Runs one recorded op (a syscall, or a touch or peek by `task`); the answer as `recordedResult` gives it. */
export function replayOp(kernel: Kernel, task: Task, op: Fixture['ops'][number]): string {
  const a = op.args.map((x) => BigInt(x));
  const sys = kernel.sys;
  switch (op.op) {
    case 'mmap':
      return String(sys.mmap(a[0], a[1], a[2], a[3], a[4], a[5]));
    case 'munmap':
      return String(sys.munmap(a[0], a[1]));
    case 'mprotect':
      return String(sys.mprotect(a[0], a[1], a[2]));
    case 'brk':
      return String(sys.brk(a[0]));
    case 'mremap':
      return String(sys.mremap(a[0], a[1], a[2], a[3], a[4]));
    case 'madvise':
      return String(sys.madvise(a[0], a[1], a[2]));
    case 'touch':
    case 'peek':
      try {
        if (op.op === 'touch') {
          task.write(Number(a[0]), [Number(a[1])]);
          return '0';
        }
        return String(task.read(Number(a[0]), 1)[0]);
      } catch (e) {
        if (e instanceof PageFaultError && e.siCode !== null) return `fault ${e.siCode}`;
        throw e;
      }
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

/** The result a recorded op had, in `replayOp`'s notation (`-22`, `0`, `fault SEGV_MAPERR`). */
export function recordedResult(op: Fixture['ops'][number]): string {
  return op.result === 'fault' ? `fault ${op.fault}` : op.result;
}

/**
 * Replays every op; stops comparing at the first differing result and reports it (the later ops
 * still run, so the final state is the model's). `afterEach` sees the kernel after every op.
 */
export function replayFixture(
  f: Fixture,
  afterEach?: (kernel: Kernel, i: number) => void,
  layout: LayoutOptions = {},
  patch?: (kernel: Kernel) => void,
): ReplayOutcome {
  const { kernel, task } = bootFixture(f, layout);
  patch?.(kernel);
  let mismatch: string | null = null;
  let mismatchAt = -1;
  f.ops.forEach((op, i) => {
    const got = replayOp(kernel, task, op);
    const want = recordedResult(op);
    if (mismatch === null && got !== want) {
      mismatch = `op ${i} ${op.kind} ${op.op}(${op.args.join(', ')}): Linux ${want}, model ${got}`;
      mismatchAt = i;
    }
    afterEach?.(kernel, i);
  });
  return {
    mismatch,
    mismatchAt,
    maps: procMaps(task.mm),
    vmflags: smapsFlags(task.mm),
    check: kernel.check(),
  };
}

/** How the model's run of a fixture differs from Linux's; null when it does not. */
export interface Difference {
  /** What differs first: an op's result, the final maps, the final VmFlags, or the checker. */
  kind: 'op' | 'maps' | 'vmflags' | 'check';
  /** For `op`: the differing op's name and the generator's label of it (so a shrinker can keep to the same class). */
  op?: string;
  label?: string;
  detail: string;
}

/** The maps line that differs first, with both versions. */
function firstLineDiff(linux: string, model: string): string {
  const a = linux.split('\n');
  const b = model.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i])
      return `line ${i + 1}: Linux ${JSON.stringify(a[i] ?? '')}, model ${JSON.stringify(b[i] ?? '')}`;
  }
  return 'no line differs';
}

export interface CompareOptions {
  /** Layout options over the fixture's own. */
  layout?: LayoutOptions;
  /** Called with the booted kernel before the first op (tests plant model bugs with it). */
  patch?: (kernel: Kernel) => void;
  /** Run the invariant checker after every op (default), or only once at the end (faster). */
  checkEachOp?: boolean;
}

/**
 * Runs the fixture in the model with the invariant checker and returns the first difference from
 * what Linux recorded, or null when the model agrees on every result, the final maps (shmem inodes
 * renumbered) and every VmFlags line.
 */
export function compareWithModel(f: Fixture, options: CompareOptions = {}): Difference | null {
  let violation: string | null = null;
  const eachOp = options.checkEachOp ?? true;
  const out = replayFixture(
    f,
    (kernel, i) => {
      if (violation === null && (eachOp || i === f.ops.length - 1)) {
        const v = kernel.check();
        if (v.length > 0) violation = `after op ${i}: ${v[0]}`;
      }
    },
    options.layout,
    options.patch,
  );
  if (out.mismatch !== null) {
    const op = f.ops[out.mismatchAt];
    return { kind: 'op', op: op.op, label: op.kind, detail: out.mismatch };
  }
  const linuxMaps = normalizeShmemInodes(f.mapsAfter);
  const modelMaps = normalizeShmemInodes(out.maps);
  if (linuxMaps !== modelMaps) return { kind: 'maps', detail: firstLineDiff(linuxMaps, modelMaps) };
  const vf = f.vmflagsAfter.findIndex((v, i) => v !== out.vmflags[i]);
  if (vf >= 0 || f.vmflagsAfter.length !== out.vmflags.length) {
    const i = vf >= 0 ? vf : Math.min(f.vmflagsAfter.length, out.vmflags.length);
    const line = f.mapsAfter.split('\n')[i] ?? '';
    return {
      kind: 'vmflags',
      detail: `${line.split(' ')[0]}: Linux ${JSON.stringify(f.vmflagsAfter[i] ?? '')}, model ${JSON.stringify(out.vmflags[i] ?? '')}`,
    };
  }
  if (violation !== null) return { kind: 'check', detail: violation };
  return null;
}
