/**
 * One fuzz run: a kernel booted from a case's configuration, its task slots and their shadows, and
 * the checks after each operation: no exception but a page fault from a user access, a result of
 * the right shape, the rollback check after every failed call, the shadow after every access and
 * every few operations in full, and the invariant checker every `checkEvery` operations.
 */
import { readFileSync } from 'node:fs';
import {
  CLONE_VM,
  Kernel,
  KernelPanic,
  MREMAP_DONTUNMAP,
  PageFaultError,
  type Snapshot,
  type Task,
} from 'levitate-mm';
import { fixtureSnapshot } from '../linux-harness/model.js';
import type { Fixture } from '../linux-harness/record.js';
import type { Failure, FailureKind, FuzzConfig, FuzzOp } from './case.js';
import {
  callFailed,
  callRanges,
  checkFailedAccess,
  checkFailedCall,
  issue,
  reclaimedBefore,
} from './rollback.js';
import { Shadow } from './shadow.js';
import { captureSpace, compareStates, Identities } from './state.js';

/** The process a task starts as: a real one recorded on Linux for 4 KiB pages, a small made-up one otherwise. */
function snapshotFor(config: FuzzConfig): Snapshot {
  if (config.pageSize === 4096) {
    const url = new URL(`../../test/fixtures/linux-${config.arch}/seq-001.json`, import.meta.url);
    return fixtureSnapshot(JSON.parse(readFileSync(url, 'utf8')) as Fixture);
  }
  const top = 2 ** 48;
  const stack = top - 0x20000;
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return {
    maps:
      `${hex(0x400000)}-${hex(0x480000)} r-xp 00000000 00:02 6 /fuzz\n` +
      `${hex(0x480000)}-${hex(0x4a0000)} rw-p 00080000 00:02 6 /fuzz\n` +
      `${hex(stack)}-${hex(top)} rw-p 00000000 00:00 0 [stack]\n`,
    startBrk: 0x4c0000,
    brk: 0x4c0000,
    startStack: top - 0x1000,
  };
}

/** Hooks for tests of the fuzzer: change the kernel (e.g. plant a bug) right after boot. */
export interface SessionHooks {
  kernel?: (kernel: Kernel) => void;
  /** Called with a line for each operation and its outcome. */
  trace?: (line: string) => void;
}

export interface StepOutcome {
  failure: Failure | null;
  /** The syscall result (0 for accesses and exits), for the generator's symbolic arguments. */
  result: number;
}

const SWEEP_EVERY = 256;

interface Problem {
  kind: FailureKind;
  message: string;
}
const u64 = (s: string) => BigInt(s);

export class Session {
  readonly kernel: Kernel;
  readonly tasks: Task[] = [];
  readonly shadows: Shadow[] = [];
  /** Slots whose task is gone and could not be replaced (no frame for a root table). */
  private readonly empty = new Set<number>();
  private readonly ids = new Identities();
  private readonly snapshot: Snapshot;
  private steps = 0;

  constructor(
    readonly config: FuzzConfig,
    private readonly hooks: SessionHooks = {},
  ) {
    this.kernel = new Kernel({
      arch: config.arch,
      pageSize: config.pageSize,
      paging: config.paging,
      ramBytes: config.ramBytes,
      layout: {
        ...(config.totalRamPages !== undefined ? { totalRamPages: config.totalRamPages } : {}),
        ...(config.overcommitMemory !== undefined ? { overcommitMemory: config.overcommitMemory } : {}),
        ...(config.maxMapCount !== undefined ? { maxMapCount: config.maxMapCount } : {}),
        ...(config.protectionKeys !== undefined ? { protectionKeys: config.protectionKeys } : {}),
      },
    });
    hooks.kernel?.(this.kernel);
    this.snapshot = snapshotFor(config);
    for (let i = 0; i < config.tasks; i++) this.respawn(i);
  }

  /**
   * Starts a new task in `slot`. When RAM has no frame left for its root table the slot stays
   * empty (its operations are skipped) until a later operation finds room.
   */
  private respawn(slot: number): boolean {
    let task: Task;
    try {
      task = this.kernel.spawnFromSnapshot(this.snapshot);
    } catch (e) {
      if (this.kernel.frames.freePages > 0 || e instanceof KernelPanic) throw e;
      this.empty.add(slot);
      this.shadows[slot] = new Shadow(this.kernel.pageSize);
      return false;
    }
    this.empty.delete(slot);
    this.tasks[slot] = task;
    this.shadows[slot] = Shadow.ofTask(task);
    return true;
  }

  /** Runs one operation and the checks after it. */
  step(op: FuzzOp, index: number): StepOutcome {
    const outcome = this.checkedStep(op, index);
    this.hooks.trace?.(
      `${index} ${describeOp(op)} = ${outcome.result}${outcome.failure ? ` -> ${outcome.failure.kind}: ${outcome.failure.message}` : ''}`,
    );
    return outcome;
  }

  private checkedStep(op: FuzzOp, index: number): StepOutcome {
    const fail = (kind: FailureKind, message: string): StepOutcome => ({
      failure: { op: index, kind, message },
      result: 0,
    });
    const { kernel } = this;
    if (op.task < 0 || op.task >= this.tasks.length) return fail('exception', `no task slot ${op.task}`);
    if (this.empty.has(op.task) && !this.respawn(op.task)) return { failure: null, result: 0 };
    const task = this.tasks[op.task];
    if (kernel.current !== task) kernel.switchTo(task);
    let result = 0;
    try {
      if (op.call === 'exit') {
        kernel.exit(task);
        this.respawn(op.task);
      } else if (op.call === 'fork') {
        const outcome = this.fork(op, task);
        if (typeof outcome !== 'number') return fail(outcome.kind, outcome.message);
        result = outcome;
      } else {
        const outcome = this.run(op, task);
        if (typeof outcome !== 'number') return fail(outcome.kind, outcome.message);
        result = outcome;
      }
    } catch (e) {
      kernel.frames.failAfter(-1);
      return fail(
        e instanceof KernelPanic ? 'panic' : 'exception',
        e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      );
    }
    this.steps++;
    if (this.steps % this.config.checkEvery === 0) {
      const problems = kernel.check();
      if (problems.length > 0) return fail('checker', problems.slice(0, 4).join('; '));
    }
    if (this.steps % SWEEP_EVERY === 0 && !this.empty.has(op.task)) {
      const problems = this.shadows[op.task].sweep(kernel, this.tasks[op.task]);
      if (problems.length > 0) return fail('shadow', problems.join('; '));
    }
    return { failure: null, result };
  }

  /** The final checks: the invariant checker and a full shadow sweep of every task. */
  finish(index: number): Failure | null {
    const problems = this.kernel.check();
    if (problems.length > 0) return { op: index, kind: 'checker', message: problems.slice(0, 4).join('; ') };
    for (const [i, task] of this.tasks.entries()) {
      if (this.empty.has(i)) continue;
      const diff = this.shadows[i].sweep(this.kernel, task);
      if (diff.length > 0)
        return { op: index, kind: 'shadow', message: `task slot ${i}: ${diff.join('; ')}` };
    }
    return null;
  }

  /**
   * fork (or clone with CLONE_VM) into another slot, whose task exits first. A failed fork leaves
   * the parent exactly as it was, and the slot gets a new task.
   */
  private fork(op: Extract<FuzzOp, { call: 'fork' }>, parent: Task): number | Problem {
    const { kernel } = this;
    if (op.into === op.task || op.into < 0 || op.into >= this.tasks.length)
      return { kind: 'exception', message: `fork into slot ${op.into} from slot ${op.task}` };
    if (!this.empty.has(op.into)) kernel.exit(this.tasks[op.into]);
    const before = captureSpace(kernel, parent, this.ids);
    const reclaimed = kernel.frames.reclaimed;
    if (op.inject !== undefined) kernel.frames.failAfter(op.inject);
    const child = op.shareMm ? kernel.clone(parent, CLONE_VM) : kernel.fork(parent);
    kernel.frames.failAfter(-1);
    if (typeof child === 'number') {
      const after = captureSpace(kernel, parent, this.ids);
      // Copying pages may have reclaimed MADV_FREE pages on the way: that stays, as in Linux, and
      // the frames it freed are free; everything the fork took it gave back.
      const was = reclaimedBefore(before, after, kernel.frames.reclaimed - reclaimed, false);
      const problems = compareStates(was, after, kernel.pageSize);
      if (problems.length > 0)
        return { kind: 'rollback', message: `fork answered ${child}: ${problems.join('; ')}` };
      this.respawn(op.into);
      return child;
    }
    this.tasks[op.into] = child;
    this.empty.delete(op.into);
    this.shadows[op.into] = op.shareMm ? this.shadows[op.task] : this.shadows[op.task].forked();
    return child.pid;
  }

  /** Runs a syscall or an access; returns its result, or the problem found. */
  private run(op: Exclude<FuzzOp, { call: 'exit' | 'fork' }>, task: Task): number | Problem {
    const { kernel } = this;
    const slot = op.task;
    const ps = kernel.pageSize;
    let ranges: [number, number][];
    if (op.call === 'read' || op.call === 'write') {
      const at = Number(BigInt.asUintN(64, u64(op.addr)));
      const n = op.call === 'read' ? op.len : op.data.length / 2;
      ranges = [[at - (at % ps), Math.min(at + n + ps, kernel.geometry.vaSpan)]];
    } else {
      ranges = callRanges(op.call, op.args.map(u64), ps, kernel.geometry.vaSpan, task.mm.brk);
    }
    const before = captureSpace(kernel, task, this.ids, ranges);
    const refusals = kernel.frames.failures;
    const reclaimed = kernel.frames.reclaimed;
    if (op.inject !== undefined) kernel.frames.failAfter(op.inject);
    if (op.call === 'read' || op.call === 'write') {
      const addr = u64(op.addr);
      const data = op.call === 'write' ? Uint8Array.from(Buffer.from(op.data, 'hex')) : null;
      const len = data?.length ?? (op as { len: number }).len;
      let bytes: Uint8Array | null = null;
      try {
        if (data !== null) task.write(addr, data);
        else bytes = task.read(addr, len);
      } catch (e) {
        kernel.frames.failAfter(-1);
        if (!(e instanceof PageFaultError)) throw e;
        const { problems, grown } = checkFailedAccess(
          kernel,
          task,
          this.ids,
          before,
          Number(addr),
          len,
          e.address,
          e.reason === 'out-of-memory' || kernel.frames.reclaimed > reclaimed,
        );
        if (problems.length > 0)
          return { kind: 'rollback', message: `${op.call} that faulted: ${problems.join('; ')}` };
        for (const [start, end] of grown) this.shadows[slot].grow(start, end);
        return 0;
      }
      kernel.frames.failAfter(-1);
      const at = Number(addr);
      const wrong =
        data !== null ? this.shadows[slot].applyWrite(at, data) : this.shadows[slot].checkRead(at, bytes!);
      return wrong === null ? 0 : { kind: 'shadow', message: wrong };
    }
    const args = op.args.map(u64);
    const result = issue(kernel, op.call, args);
    kernel.frames.failAfter(-1);
    const shape = badShape(op.call, result, kernel);
    if (shape !== null) return { kind: 'result', message: `${op.call} answered ${result}: ${shape}` };
    const shadow = this.shadows[slot];
    if (!callFailed(op.call, result, before, args)) {
      shadow.applyCall(op.call, args, result, before.counters.brk, kernel.layout.taskSize);
      return result;
    }
    const verdict = checkFailedCall({
      kernel,
      task,
      ids: this.ids,
      before,
      name: op.call,
      args,
      result,
      allocationFailed: kernel.frames.failures > refusals,
      reclaimedFrames: kernel.frames.reclaimed - reclaimed,
    });
    if (verdict.problems.length > 0)
      return {
        kind: 'rollback',
        message: `${op.call} answered ${result}: ${verdict.problems.slice(0, 6).join('; ')}`,
      };
    for (const [s, e] of verdict.applied)
      shadow.applyCall(
        op.call,
        [BigInt(s), BigInt(e - s), args[2]],
        0,
        before.counters.brk,
        kernel.layout.taskSize,
      );
    for (const [s, e] of verdict.unmapped ?? []) shadow.unmap(s, e);
    const dontUnmap = (Number(BigInt.asUintN(32, args[3] ?? 0n)) & MREMAP_DONTUNMAP) !== 0;
    for (const m of verdict.moved ?? []) shadow.move(m.from, m.to, m.len, dontUnmap);
    return result;
  }
}

/** What is wrong with the shape of a result, or null: an errno is -1..-4095, an address page-aligned in user space. */
function badShape(name: string, r: number, kernel: Kernel): string | null {
  if (!Number.isSafeInteger(r)) return 'not an integer';
  if (name === 'brk') return r >= 0 ? null : 'a negative break';
  if (r < 0) return r >= -4095 ? null : 'below -4095';
  if (name === 'mmap' || name === 'mremap') {
    if (r % kernel.pageSize !== 0) return 'not page-aligned';
    return r < kernel.layout.taskSize ? null : 'beyond TASK_SIZE';
  }
  return r === 0 ? null : 'neither 0 nor an errno';
}

/** One operation as a line: `task 1: mmap(0x0, 0x2000, …) [inject 2]`. */
export function describeOp(op: FuzzOp): string {
  const inject = 'inject' in op && op.inject !== undefined ? ` [allocation ${op.inject} fails]` : '';
  const what =
    op.call === 'exit'
      ? 'exit'
      : op.call === 'fork'
        ? `${op.shareMm ? 'clone(CLONE_VM)' : 'fork'} into task ${op.into}`
        : op.call === 'read'
          ? `read(${op.addr}, ${op.len})`
          : op.call === 'write'
            ? `write(${op.addr}, ${op.data.length / 2} bytes)`
            : `${op.call}(${op.args.join(', ')})`;
  return `task ${op.task}: ${what}${inject}`;
}
