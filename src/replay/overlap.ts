/**
 * Overlapping calls of the threads of one address space. strace prints a call that another task's
 * line interrupted in two pieces (`mmap(... <unfinished ...>`, later `<... mmap resumed>) = X`);
 * the call took effect somewhere in between, not necessarily in the order the pieces were printed.
 * The replay runs each call at its return (the printed order) and keeps, while calls of the space
 * are pending, a window of the calls it ran since, each with a checkpoint of the address space and
 * the log's view before it. When a result contradicts the log, `linearize` searches the orders the
 * log allows (a pending call, whose arguments its first piece shows, may have to go first), going
 * back through the checkpoints. An order in which every result is Linux's replaces the printed one;
 * when there is none within the bound, the printed order stays and the call differs: a real
 * difference of the model.
 *
 * The window closes when no call of the space is pending, and at any other line of its tasks
 * (clone, exec, exit), which the search does not move calls across. Only its last `WINDOW` calls
 * can move: calls further back are taken as final. A call already reported as differing no longer
 * constrains the search (its report stays), a call reported as matching keeps its result.
 */

import type { Arch } from '../hal/addr.js';
import type { SpaceCheckpoint } from '../kernel/checkpoint.js';
import type { Kernel } from '../kernel/kernel.js';
import { ArgError, decodeMemoryArgs, FlagCaches } from '../trace/decode.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult, UnfinishedEvent } from '../trace/strace-types.js';
import { sameInt } from '../trace/trace-int.js';
import { xlatFor } from '../trace/xlat.js';
import { linearize, type Operation } from './linearize.js';
import type { SpaceState, TaskState } from './processes.js';
import type { LogView } from './relocation.js';
import type { ReplayContradiction } from './snapshot-check.js';
import type { Verdict } from './verdict.js';

/** Calls of a window that the search may still move. */
const WINDOW = 24;
/** Model steps one search may take. */
const MAX_STEPS = 4000;
/**
 * Model steps all the searches that found no order may take in one log: a log where the model
 * differs for another reason than the order (a program it could not load) would otherwise search
 * at every call of its threads.
 */
const FAILED_STEPS = 5 * MAX_STEPS;
/**
 * Pending calls one order may run before their return: each fits anywhere, so every one allowed
 * multiplies the orders to try.
 */
const MAX_EARLY = 4;
const MEMORY = new Set(['mmap', 'munmap', 'mprotect', 'pkey_mprotect', 'brk', 'mremap', 'madvise']);

/** A memory call in a window: what it asks, when it was invoked and returned, and what the model answered. */
export interface CallOp extends Operation {
  readonly st: TaskState;
  invoked: number;
  returned: number | undefined;
  call: MemoryCall | undefined;
  /** Its line, once it returned. */
  ev: MemoryCallEvent | undefined;
  /** Whether its log result must be the model's (no longer, once it was reported as differing). */
  constrained: boolean;
  /** Whether the model ran it before its return (an order the search found put it there). */
  early?: boolean;
  /** The model's answer and verdict the last time it ran; a snapshot contradiction it raised. */
  model?: number;
  verdict?: Verdict;
  contradiction?: ReplayContradiction;
}

/** What the engine runs a call with. */
export interface CallRunner {
  /**
   * Runs `op`'s call in the model as its task: for a returned call, judges it against the log and
   * brings the log's view up to date (`op.model`, `op.verdict`; a snapshot contradiction in
   * `op.contradiction`); for a pending one, updates the view as if Linux had answered as the model.
   */
  run(op: CallOp): void;
}

interface Entry {
  op: CallOp;
  before: SpaceCheckpoint;
  view: LogView;
}

interface Window {
  readonly space: SpaceState;
  entries: Entry[];
}

/** What the searches found, for the summary. */
export interface OverlapCounts {
  /** Contradictions in the printed order that were searched. */
  searches: number;
  /** Of those, resolved by another order. */
  reordered: number;
  /** Of those, with no consistent order (every order tried): real differences. */
  inconsistent: number;
  /** Of those, where the search reached its bound. */
  bounded: number;
  /**
   * Contradictions not searched: the call works on memory an earlier differing call left out (no
   * order of the calls around it changes that), or searches that found nothing used up their
   * budget for the log.
   */
  notSearched: number;
}

export class Overlaps {
  private readonly pending = new Map<number, CallOp>();
  private readonly windows = new Map<SpaceState, Window>();
  readonly counts: OverlapCounts = { searches: 0, reordered: 0, inconsistent: 0, bounded: 0, notSearched: 0 };
  /** Model steps the searches that found no order may still take, over the whole log. */
  private failedBudget = FAILED_STEPS;

  /** The flag expressions of the pending calls' arguments, parsed once each. */
  private readonly flagCaches = new FlagCaches();

  constructor(
    private readonly kernel: Kernel,
    private readonly arch: Arch,
    private readonly runner: CallRunner,
  ) {}

  /** `mmap(... <unfinished ...>`: the call is pending from this line. */
  invoked(st: TaskState, ev: UnfinishedEvent): void {
    if (!MEMORY.has(ev.name)) return;
    let call: MemoryCall | undefined;
    try {
      call = decodeMemoryArgs(ev.name as MemoryCall['syscall'], ev.args, xlatFor(this.arch), this.flagCaches);
    } catch (e) {
      if (!(e instanceof ArgError)) throw e;
    }
    this.pending.set(st.pid, {
      st,
      invoked: ev.line,
      returned: undefined,
      call,
      ev: undefined,
      constrained: true,
    });
  }

  /** A pid's pending call will not return (its task exited, or the line had no result). */
  drop(pid: number): void {
    const op = this.pending.get(pid);
    if (op === undefined) return;
    this.pending.delete(pid);
    const w = this.windows.get(op.st.space);
    if (w !== undefined) {
      // A call the search ran early, which never returned, must not stay in the model (unless it
      // is too far back to take out).
      if (w.entries.some((e) => e.op === op))
        this.rebuild(
          w,
          w.entries.map((e) => e.op).filter((o) => o !== op),
        );
      this.closeIfIdle(w);
    }
  }

  /** Another line of a task of `space` (clone, exec, exit): calls do not move across it. */
  barrier(space: SpaceState): void {
    this.windows.delete(space);
  }

  /**
   * A memory call of `st` returned on `ev`: runs it where it belongs (at its return, unless the
   * search puts it elsewhere) and returns it with the model's answer and verdict.
   */
  returned(st: TaskState, ev: MemoryCallEvent): CallOp {
    let op = this.pending.get(st.pid);
    if (op !== undefined && (op.call === undefined || op.call.syscall === ev.call.syscall)) {
      this.pending.delete(st.pid);
    } else {
      op = { st, invoked: ev.line, returned: undefined, call: undefined, ev: undefined, constrained: true };
    }
    op.returned = ev.line;
    op.ev = ev;
    op.call = ev.call;
    const space = st.space;
    let w = this.windows.get(space);
    if (op.early) {
      // The search ran it before its return, assuming Linux answered as the model did: was it so?
      op.early = false;
      if (op.model !== undefined && sameResult(ev.result, op.model)) {
        // It did: the view took that answer already.
        op.verdict = { match: true, printed: op.model };
      } else if (w?.entries.some((e) => e.op === op)) {
        this.search(w, op);
      } else {
        // Too far back to move: the model keeps the answer it gave then.
        op.verdict = { match: false, printed: op.model ?? 0 };
        op.constrained = false;
      }
    } else {
      if (w === undefined && this.othersPending(space, op)) {
        w = { space, entries: [] };
        this.windows.set(space, w);
      }
      if (w !== undefined) {
        w.entries.push({ op, before: this.kernel.checkpoint(space.mm), view: space.view.clone() });
        if (w.entries.length > WINDOW) w.entries.shift();
      }
      this.runner.run(op);
      const fine = op.contradiction === undefined && (op.verdict?.match ?? true);
      if (!fine && w !== undefined) this.search(w, op);
    }
    if (op.contradiction !== undefined) throw op.contradiction;
    if (w !== undefined) this.closeIfIdle(w);
    if (this.kernel.current !== st.task) this.kernel.switchTo(st.task);
    return op;
  }

  /** Whether a call of `space` other than `op` is pending. */
  private othersPending(space: SpaceState, op: CallOp | undefined): boolean {
    for (const p of this.pending.values()) if (p !== op && p.st.space === space) return true;
    return false;
  }

  private closeIfIdle(w: Window): void {
    if (!this.othersPending(w.space, undefined)) this.windows.delete(w.space);
  }

  /** The printed order contradicted the log at `op`: the search, and the order it leaves in the model. */
  private search(w: Window, op: CallOp): void {
    if (op.verdict?.reason === 'follows-difference' || this.failedBudget <= 0) {
      this.counts.notSearched++;
      op.constrained = false;
      return;
    }
    this.counts.searches++;
    const base = w.entries[0];
    const inWindow = new Set(w.entries.map((e) => e.op));
    const ops: CallOp[] = [...inWindow];
    if (!inWindow.has(op)) ops.push(op);
    for (const p of this.pending.values()) {
      if (p.st.space === w.space && p.call !== undefined && !inWindow.has(p)) ops.push(p);
    }
    const printed = w.entries.map((e) => e.op);
    if (!printed.includes(op)) printed.push(op);
    const space = w.space;
    const model = {
      reset: () => {
        if (!this.kernel.restore(base.before)) throw new Error('replay: RAM ran out restoring a checkpoint');
        space.view = base.view.clone();
      },
      step: (o: CallOp) => {
        this.runner.run(o);
        if (o.contradiction !== undefined) return false;
        return !o.constrained || o.returned === undefined || (o.verdict?.match ?? true);
      },
      key: () => spaceKey(space),
      save: () => ({ cp: this.kernel.checkpoint(space.mm), view: space.view.clone() }),
      load: (state: unknown) => {
        const s = state as { cp: SpaceCheckpoint; view: LogView };
        if (!this.kernel.restore(s.cp)) throw new Error('replay: RAM ran out restoring a checkpoint');
        space.view = s.view.clone();
      },
    };
    // The calls that returned first, in every order the log allows; only then with pending calls
    // put before them (their results are unknown, so they fit anywhere and multiply the orders).
    // The order the model holds now is consistent up to `op`: the search starts from it, with the
    // window's checkpoints as its states.
    const at = w.entries.findIndex((e) => e.op === op);
    const start = {
      prefix: w.entries.slice(0, at < 0 ? w.entries.length : at).map((e) => e.op),
      state: (d: number) => ({ cp: w.entries[d].before, view: w.entries[d].view }),
    };
    // Orders with one pending call run early first, then two, ... (the fewer moved, the likelier).
    let result = linearize(ops, model, { maxSteps: MAX_STEPS, maxPending: 1 }, start);
    let steps = result.steps;
    for (let early = 2; !result.ok && early <= MAX_EARLY && steps < MAX_STEPS; early++) {
      result = linearize(ops, model, { maxSteps: MAX_STEPS - steps, maxPending: early }, start);
      steps += result.steps;
    }
    result.steps = steps;
    if (result.ok) {
      if (result.order.some((o, i) => o !== printed[i])) this.counts.reordered++;
      this.rebuild(w, result.order);
      return;
    }
    if (result.exhausted) this.counts.inconsistent++;
    else this.counts.bounded++;
    this.failedBudget -= result.steps;
    // No order explains the log: the printed one stays, and the call is reported as it differs there.
    this.rebuild(w, printed);
    op.constrained = false;
  }

  /** Runs `order` again from the window's first checkpoint, with a checkpoint before each call. */
  private rebuild(w: Window, order: readonly CallOp[]): void {
    const base = w.entries[0];
    if (base === undefined) return;
    for (const e of w.entries) if (e.op.returned === undefined) e.op.early = false;
    for (const o of order) if (o.returned === undefined) o.early = true;
    if (!this.kernel.restore(base.before)) throw new Error('replay: RAM ran out restoring a checkpoint');
    w.space.view = base.view.clone();
    const entries: Entry[] = [];
    for (const o of order) {
      const before = entries.length === 0 ? base.before : this.kernel.checkpoint(w.space.mm);
      entries.push({ op: o, before, view: entries.length === 0 ? base.view : w.space.view.clone() });
      this.runner.run(o);
    }
    w.entries = entries.slice(-WINDOW);
  }
}

/** The state of an address space as far as later results depend on it: its VMAs and break. */
function spaceKey(space: SpaceState): string {
  const mm = space.mm;
  // Two 32-bit FNV-1a hashes of the fields, in two orders (a collision only prunes a search).
  let a = 0x811c9dc5;
  let b = 0x01000193;
  const mix = (x: number) => {
    const lo = x >>> 0;
    const hi = Math.floor(x / 2 ** 32) >>> 0;
    a = Math.imul(a ^ lo, 0x01000193);
    a = Math.imul(a ^ hi, 0x01000193);
    b = Math.imul(b ^ hi, 0x811c9dc5) ^ lo;
  };
  mix(mm.startBrk);
  mix(mm.brk);
  for (const v of mm.vmas) {
    mix(v.start);
    mix(v.end);
    mix(v.flags);
    mix(v.pgoff);
    mix(v.anon?.id ?? -1);
    mix(v.file?.inode ?? -1);
  }
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}.${mm.mapCount}`;
}

/** Whether the model's raw answer is the log's result (what a verdict without --relocate compares). */
function sameResult(log: SyscallResult, model: number): boolean {
  if (log.kind === 'error') return model === -log.errno;
  return log.kind === 'value' && model >= 0 && sameInt(log.value, model);
}
