/**
 * A session of the view: a log replayed through the model (or the seed's demo), that can be put
 * at any call of its timeline. The log is replayed once when it opens, keeping every event and a
 * checkpoint of the whole model every few milliseconds of replay; going to a call restores the
 * nearest checkpoint before it and replays forward from there, so any step costs at most one
 * checkpoint interval of replay, wherever it is.
 */
import { type StepOutcome, seedScenario } from '../demo/seed-scenario.js';
import type { Arch } from '../hal/addr.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import type { LayoutOptions } from '../mm/layout.js';
import { drive, type TraceInput } from '../replay/drive.js';
import { type CallOutcome, type DivergenceReason, Replayer, resultText } from '../replay/engine.js';
import { LineSplitter } from '../trace/lines.js';
import { formatMemoryArgs } from '../trace/strace-format.js';
import { createParserState, parseLine } from '../trace/strace-parse.js';
import type { MemoryCall, MemoryCallEvent, TraceEvent } from '../trace/strace-types.js';
import { type Checkpoint, CheckpointStore } from './checkpoint.js';
import {
  type CallView,
  type FrameInfo,
  type LogInput,
  type StepView,
  type Timeline,
  Verdict,
  type ViewReplayOptions,
  type WalkView,
} from './protocol.js';
import {
  defaultAddress,
  type FrameState,
  frameCodes,
  frameInfo,
  frameState,
  framesView,
  type RegionKey,
  regionKeys,
  spaceView,
  tlbView,
  walkView,
} from './view-state.js';

/** A session the worker serves. */
export interface ViewSession {
  readonly timeline: Timeline;
  step(position: number): StepView;
  walk(address: number): WalkView;
  frame(frame: number): FrameInfo;
}

/**
 * When to take the next checkpoint: after this many events, or sooner when replaying them took
 * this many milliseconds (slow calls: eager population of big mappings), so that a step replays
 * at most about that much. Never closer than three times what the last checkpoint cost.
 */
const CHECKPOINT_EVENTS = 2048;
const CHECKPOINT_MS = 20;
/** Events replayed after a restore when the session warms up (see warmUp). */
const WARM_EVENTS = 8000;

const ARG_NAMES: Record<MemoryCall['syscall'], string[]> = {
  mmap: ['addr', 'length', 'prot', 'flags', 'fd', 'offset'],
  munmap: ['addr', 'length'],
  mprotect: ['addr', 'len', 'prot'],
  pkey_mprotect: ['addr', 'len', 'prot', 'pkey'],
  brk: ['brk'],
  mremap: ['old_address', 'old_size', 'new_size', 'flags', 'new_address'],
  madvise: ['addr', 'length', 'advice'],
};

const REASONS: Record<DivergenceReason, string> = {
  aslr: 'placed elsewhere: the log was recorded with address randomization (replay with --relocate)',
  'unknown-memory': 'works on memory mapped before the log began (give the start maps with --maps)',
  placement: 'the model placed the mapping at another position than Linux chose',
  'follows-difference': 'works on memory an earlier differing call left out or placed elsewhere',
  unexplained: 'no known cause: the model and Linux disagree',
};

/** The lines of a log the page holds as chunks (text, or the bytes of a File), a chunk at a time. */
async function* linesOfChunks(chunks: ReadonlyArray<string | Uint8Array>): AsyncGenerator<string> {
  const splitter = new LineSplitter();
  for (const chunk of chunks) {
    const out: string[] = [];
    splitter.push(chunk, out);
    yield* out;
  }
  const out: string[] = [];
  splitter.end(out);
  yield* out;
}

/** The decoded arguments of a call, named as in the syscall's prototype. */
function callArgs(call: MemoryCall, arch: Arch): Array<{ name: string; value: string }> {
  const names = ARG_NAMES[call.syscall];
  const parts = formatMemoryArgs(call, arch).split(', ');
  // An fd path may itself hold ", ": the parts beyond the names belong to the fd.
  while (parts.length > names.length) {
    const fd = names.indexOf('fd');
    parts.splice(fd, 2, `${parts[fd]}, ${parts[fd + 1]}`);
  }
  return names.slice(0, parts.length).map((name, i) => ({ name, value: parts[i] }));
}

function verdictOf(o: CallOutcome): Verdict {
  if (o.status === 'match') return o.event.result.kind === 'error' ? Verdict.Error : Verdict.Match;
  if (o.status === 'differ') return Verdict.Differs;
  return Verdict.Unchecked;
}

/** The replay options of the page, as the Replayer takes them. */
export function replayOptions(o: ViewReplayOptions): ConstructorParameters<typeof Replayer>[0] {
  let layout: LayoutOptions | undefined;
  if (o.layout !== undefined) {
    const l: Record<string, number> = {};
    for (const [k, v] of Object.entries(o.layout)) l[k] = v === -1 ? Number.POSITIVE_INFINITY : v;
    layout = l as LayoutOptions;
  }
  return {
    arch: o.arch,
    pageSize: o.pageSize,
    ramBytes: o.ramBytes,
    paging: o.paging,
    relocate: o.relocate,
    layout,
    maps: o.maps,
    mapsName: o.mapsName,
  };
}

interface Lanes {
  lanes: Timeline['lanes'];
  byPid: Map<number, number>;
}

function laneOf(l: Lanes, pid: number): number {
  let i = l.byPid.get(pid);
  if (i === undefined) {
    i = l.lanes.length;
    l.byPid.set(pid, i);
    l.lanes.push({ pid, label: pid < 0 ? 'process' : `pid ${pid}` });
  }
  return i;
}

function stepViewOf(
  kernel: Kernel,
  task: Task | undefined,
  call: CallView,
  before: { regions: RegionKey[]; codes: Uint8Array | FrameState | undefined },
  t0: number,
): StepView {
  const live = task !== undefined && !task.exited ? task : undefined;
  return {
    position: call.position,
    call,
    space: live ? spaceView(live, before.regions) : null,
    tasks: [...kernel.tasks.values()].map((t) => ({ pid: t.pid, mappings: t.mm.mapCount })),
    frames: framesView(kernel, before.codes),
    tlb: tlbView(kernel),
    ms: performance.now() - t0,
  };
}

/** A strace log replayed through the model. */
export class ReplaySession implements ViewSession {
  readonly timeline: Timeline;
  /** The state before event `event` of each checkpoint, in event order. */
  private readonly checkpoints: Array<{ event: number; cp: Checkpoint }>;
  /** The next event the live replayer will run. */
  private at: number;
  /** The task of the call at the current position (kernel pid). */
  private current: Task | undefined;
  /** The frame codes of the model just before event `event` (the last step's result, for the next call's). */
  private codesAt: { event: number; codes: Uint8Array } | undefined;

  private constructor(
    private readonly store: CheckpointStore,
    private readonly replayer: Replayer,
    private readonly events: TraceEvent[],
    private readonly calls: CallOutcome[],
    private readonly callEvent: Uint32Array,
    private readonly callTask: Int32Array,
    checkpoints: Array<{ event: number; cp: Checkpoint }>,
    timeline: Timeline,
  ) {
    this.checkpoints = checkpoints;
    this.timeline = timeline;
    this.at = events.length;
  }

  /** Parses and replays `logs` once, keeping events and checkpoints. */
  static async open(
    title: string,
    logs: readonly LogInput[],
    options: ViewReplayOptions,
    progress: (text: string) => void,
    /** Events between checkpoints (tests make it small to go through many). */
    checkpointEvents = CHECKPOINT_EVENTS,
  ): Promise<ReplaySession> {
    const t0 = performance.now();
    const replayer = new Replayer(replayOptions(options));
    const store = new CheckpointStore();
    const events: TraceEvent[] = [];
    const calls: CallOutcome[] = [];
    const callEvent: number[] = [];
    const callTask: number[] = [];
    const checkpoints: Array<{ event: number; cp: Checkpoint }> = [];
    let since = performance.now();
    let lastEvent = 0;
    let minMs = CHECKPOINT_MS;
    const checkpoint = () => {
      const t = performance.now();
      checkpoints.push({ event: events.length, cp: store.take(replayer) });
      since = performance.now();
      minMs = Math.max(CHECKPOINT_MS, 3 * (since - t));
      lastEvent = events.length;
    };
    const recorder = {
      step(ev: TraceEvent): CallOutcome | undefined {
        const n = events.length - lastEvent;
        if (n >= checkpointEvents || ((n & 63) === 0 && n > 0 && performance.now() - since >= minMs))
          checkpoint();
        events.push(ev);
        const out = replayer.step(ev);
        if (out !== undefined) {
          calls.push(out);
          callEvent.push(events.length - 1);
          callTask.push(replayer.kernel.current?.pid ?? 0);
        }
        return out;
      },
    };
    checkpoint();
    const lenient = options.lenient ?? false;
    if (logs.length === 1) {
      // One log: its events in order, as drive would step them, without an await per line (the
      // page holds the whole log already; drive's merging is for the files of strace -ff).
      const [log] = logs;
      const state = createParserState({ file: log.name, lenient, arch: replayer.arch, pid: log.pid });
      const splitter = new LineSplitter();
      const feed = (lines: string[]) => {
        for (const l of lines) recorder.step(parseLine(l, state));
      };
      for (const chunk of log.chunks) {
        const lines: string[] = [];
        splitter.push(chunk, lines);
        feed(lines);
      }
      const last: string[] = [];
      splitter.end(last);
      feed(last);
    } else {
      const inputs: TraceInput[] = logs.map((l) => ({
        name: l.name,
        pid: l.pid,
        lines: () => linesOfChunks(l.chunks),
      }));
      await drive(
        recorder,
        inputs,
        { arch: replayer.arch, lenient },
        { line() {}, progress: (n) => progress(`${n} lines replayed`) },
      );
    }
    const summary = replayer.finish();
    const lanes: Lanes = { lanes: [], byPid: new Map() };
    const names: string[] = [];
    const nameIndex = new Map<string, number>();
    const n = calls.length;
    const verdict = new Uint8Array(n);
    const lane = new Uint16Array(n);
    const syscall = new Uint8Array(n);
    const line = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const o = calls[i];
      verdict[i] = verdictOf(o);
      lane[i] = laneOf(lanes, o.event.pid ?? -1);
      const name = o.event.call.syscall;
      let k = nameIndex.get(name);
      if (k === undefined) {
        k = names.length;
        names.push(name);
        nameIndex.set(name, k);
      }
      syscall[i] = k;
      line[i] = o.event.line;
    }
    const timeline: Timeline = {
      title,
      kind: 'replay',
      arch: replayer.arch,
      pageSize: replayer.kernel.pageSize,
      count: n,
      verdict,
      lane,
      syscall,
      line,
      names,
      lanes: lanes.lanes,
      summary:
        `${summary.replayed} calls replayed: ${summary.matched} same result, ${summary.differed} different` +
        (summary.notModelled + summary.noResult > 0
          ? `, ${summary.notModelled + summary.noResult} not compared`
          : ''),
      openMs: performance.now() - t0,
      checkpoints: checkpoints.length,
    };
    const s = new ReplaySession(
      store,
      replayer,
      events,
      calls,
      Uint32Array.from(callEvent),
      Int32Array.from(callTask),
      checkpoints,
      timeline,
    );
    const w0 = performance.now();
    s.warmUp();
    s.store.restore(checkpoints[0].cp);
    s.at = 0;
    s.current = undefined;
    s.codesAt = undefined;
    timeline.warmUpMs = performance.now() - w0;
    timeline.openMs = performance.now() - t0;
    return s;
  }

  /**
   * Runs the paths of a step once or twice before the user steps, so that the first steps are not
   * the slow ones. The first restore of a checkpoint throws out much of the optimized code of the
   * replay (the engine had specialized it on the state as the replay left it), which then runs
   * slowly until it is optimized again; and a step's views (frame codes over every frame of RAM,
   * the address space, the walk) have not run at all yet. So: a checkpoint restored and
   * WARM_EVENTS events replayed from it, then a few steps (far, next, previous) and a walk.
   */
  private warmUp(): void {
    const n = this.calls.length;
    if (n === 0) return;
    const c = this.checkpoints[Math.min(1, this.checkpoints.length - 1)];
    this.store.restore(c.cp);
    this.at = c.event;
    const end = Math.min(this.events.length, c.event + WARM_EVENTS);
    while (this.at < end) this.replayer.step(this.events[this.at++]);
    for (const p of [Math.floor(n / 3), Math.floor(n / 3) + 1, Math.floor(n / 3), Math.floor((2 * n) / 3)]) {
      const v = this.step(p);
      const a = defaultAddress(v);
      if (a !== null && v.space !== null) this.walk(a);
    }
  }

  /** Makes the live model the state just before event `e`. */
  private seekEvent(e: number): void {
    let lo = 0;
    let hi = this.checkpoints.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.checkpoints[mid].event <= e) lo = mid;
      else hi = mid - 1;
    }
    const c = this.checkpoints[lo];
    // Replay forward from where the model is when that is nearer than the checkpoint.
    if (e < this.at || c.event > this.at) {
      this.store.restore(c.cp);
      this.at = c.event;
    }
    while (this.at < e) this.replayer.step(this.events[this.at++]);
  }

  private get kernel(): Kernel {
    return this.replayer.kernel;
  }

  step(position: number): StepView {
    const t0 = performance.now();
    if (this.calls.length === 0) throw new Error('the log has no memory calls');
    const p = Math.max(0, Math.min(position, this.calls.length - 1));
    const e = this.callEvent[p];
    this.seekEvent(e);
    const task = this.kernel.tasks.get(this.callTask[p]);
    // A step to the next call starts where the last one ended: its frames are known already.
    // Otherwise what the codes depend on is kept (a copy of two arrays, not a pass over RAM).
    const codes = this.codesAt?.event === e ? this.codesAt.codes : frameState(this.kernel);
    const before = { regions: regionKeys(task?.mm), codes };
    this.replayer.step(this.events[e]);
    this.at = e + 1;
    this.current = this.kernel.tasks.get(this.callTask[p]);
    const view = stepViewOf(this.kernel, this.current, this.callView(p), before, t0);
    // The page gets the codes themselves (their buffer is transferred): keep a copy.
    this.codesAt = { event: e + 1, codes: view.frames.codes.slice() };
    return view;
  }

  private callView(p: number): CallView {
    const o = this.calls[p];
    const ev: MemoryCallEvent = o.event;
    const name = ev.call.syscall;
    const ran = o.status === 'match' || o.status === 'differ';
    const view: CallView = {
      position: p,
      title: ev.raw,
      syscall: name,
      pid: ev.pid ?? -1,
      line: ev.line,
      args: callArgs(ev.call, this.replayer.arch),
      linux: resultText(name, ev.result),
      model: ran ? resultText(name, o.status === 'match' ? ev.result : o.printed) : '',
      verdict: verdictOf(o),
      notes: [],
    };
    if (o.model !== undefined && o.model >= 0 && /^(mmap|mremap|brk)$/.test(name) && o.status === 'match') {
      view.notes.push(`the model placed it at 0x${o.model.toString(16)}`);
    }
    if (!ran) view.notes.push(o.status === 'no-result' ? 'the log has no result: not run' : 'not modelled');
    if (o.reason !== undefined) view.reason = REASONS[o.reason];
    if (o.causeLine !== undefined) view.causeLine = o.causeLine;
    return view;
  }

  walk(address: number): WalkView {
    const task = this.current ?? [...this.kernel.tasks.values()][0];
    if (task === undefined) throw new Error('no live process at this step');
    return walkView(this.kernel, task, address);
  }

  frame(f: number): FrameInfo {
    return frameInfo(this.kernel, f);
  }
}

/** Calls `onFailure` whenever `kernel`'s frame allocator refuses an allocation. */
function watchFailures(kernel: Kernel, onFailure: () => void): void {
  const frames = kernel.frames;
  const allocPage = frames.allocPage.bind(frames);
  const allocBlock = frames.allocBlock.bind(frames);
  const check = <T>(r: T | null): T | null => {
    if (r === null) onFailure();
    return r;
  };
  frames.allocPage = (use) => check(allocPage(use));
  frames.allocBlock = (order, use) => check(allocBlock(order, use));
}

/** A timeline position of the demo: a step, or the moment inside it when an allocation failed. */
interface DemoPosition {
  step: number;
  atFailure: boolean;
}

/**
 * The seed's scenario, one timeline position per step, and for a step in which an allocation
 * fails one more just before it: the model at the moment of the failure, half way through the
 * call, before the guard puts everything back. Going to a position runs the scenario again on a
 * fresh kernel up to it (a few milliseconds: it has nine steps).
 */
export class DemoSession implements ViewSession {
  readonly timeline: Timeline;
  private readonly outcomes: StepOutcome[];
  private readonly positions: DemoPosition[] = [];
  private scenario: ReturnType<typeof seedScenario>;

  constructor(private readonly options: { arch?: Arch; pageSize?: number; ramBytes?: number }) {
    const t0 = performance.now();
    this.scenario = seedScenario(this.kernelOptions());
    let step = 0;
    const failing = new Set<number>();
    watchFailures(this.scenario.kernel, () => failing.add(step));
    this.outcomes = this.scenario.steps.map((s, i) => {
      step = i;
      return s.run();
    });
    this.outcomes.forEach((_, i) => {
      if (failing.has(i)) this.positions.push({ step: i, atFailure: true });
      this.positions.push({ step: i, atFailure: false });
    });
    const n = this.positions.length;
    const verdict = new Uint8Array(n);
    const names: string[] = [];
    const syscall = new Uint8Array(n);
    this.positions.forEach((pos, i) => {
      const o = this.outcomes[pos.step];
      verdict[i] = !o.ok ? Verdict.Differs : pos.atFailure || o.failed ? Verdict.Error : Verdict.Match;
      const name = /^(\w+)\(/.exec(o.call)?.[1] ?? o.call;
      if (!names.includes(name)) names.push(name);
      syscall[i] = names.indexOf(name);
    });
    const k = this.scenario.kernel;
    this.timeline = {
      title: `the seed's scenario (${k.arch}, ${k.pageSize}-byte pages, ${k.ram.size / 2 ** 20} MiB RAM, eager paging)`,
      kind: 'demo',
      arch: k.arch,
      pageSize: k.pageSize,
      count: n,
      verdict,
      lane: new Uint16Array(n),
      syscall,
      line: Uint32Array.from(this.positions, (pos) => pos.step + 1),
      names,
      lanes: [{ pid: 1, label: 'pid 1' }],
      summary: `${this.outcomes.length} steps, ${this.outcomes.filter((o) => o.ok).length} behaved as the seed expects`,
      openMs: performance.now() - t0,
      checkpoints: 0,
    };
  }

  private kernelOptions() {
    return {
      arch: this.options.arch ?? 'aarch64',
      pageSize: this.options.pageSize,
      ramBytes: this.options.ramBytes ?? 8 * 2 ** 20,
    };
  }

  step(position: number): StepView {
    const t0 = performance.now();
    const p = Math.max(0, Math.min(position, this.positions.length - 1));
    const { step, atFailure } = this.positions[p];
    this.scenario = seedScenario(this.kernelOptions());
    for (let i = 0; i < step; i++) this.scenario.steps[i].run();
    const kernel = this.scenario.kernel;
    const before = { regions: regionKeys(this.scenario.task()?.mm), codes: frameCodes(kernel) };
    const o = this.outcomes[step];
    const call: CallView = {
      position: p,
      title: `${step + 1}. ${this.scenario.steps[step].title}`,
      syscall: this.timeline.names[this.timeline.syscall[p]],
      pid: 1,
      line: step + 1,
      args: [{ name: 'call', value: o.call }],
      linux: o.expected,
      model: o.result,
      verdict: this.timeline.verdict[p] as Verdict,
      notes: o.notes,
    };
    if (atFailure) {
      // The view is taken inside the call, at the refused allocation; the call then completes, and
      // the model is put back as it was at the refusal, for the walks and frames asked next.
      let at: StepView | undefined;
      const store = new CheckpointStore();
      let refused: Checkpoint | undefined;
      const allocated = kernel.frames.allocations;
      watchFailures(kernel, () => {
        if (at !== undefined) return;
        call.title += ': at the refused allocation';
        call.model = `allocation ${kernel.frames.allocations - allocated + 1} refused`;
        call.notes = [
          `${kernel.frames.allocations - allocated} frames taken so far (pages and tables), now the guard unwinds them all`,
          'step on to see the state after the rollback',
        ];
        at = stepViewOf(kernel, this.scenario.task(), call, before, t0);
        refused = store.take(kernel);
      });
      this.scenario.steps[step].run();
      if (at === undefined || refused === undefined)
        throw new Error(`step ${step + 1} no longer fails an allocation`);
      store.restore(refused);
      return at;
    }
    this.scenario.steps[step].run();
    if (!o.ok) call.reason = `expected ${o.expected}`;
    return stepViewOf(kernel, this.scenario.task(), call, before, t0);
  }

  walk(address: number): WalkView {
    const task = this.scenario.task();
    if (task === undefined) throw new Error('no task yet at this step');
    return walkView(this.scenario.kernel, task, address);
  }

  frame(f: number): FrameInfo {
    return frameInfo(this.scenario.kernel, f);
  }
}
