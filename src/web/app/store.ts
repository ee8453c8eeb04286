/**
 * The page's state, as signals every panel reads: the timeline, the position on it, the view of
 * that step, the chosen address and its walk. One worker computes everything; a seek asked while
 * another is in flight replaces any seek still waiting, so scrubbing never queues up work.
 */
import { batch, signal } from '@preact/signals';
import {
  type FrameInfo,
  type FromWorker,
  type SessionSource,
  type StepView,
  type Timeline,
  type ToWorker,
  Verdict,
  type ViewReplayOptions,
  type WalkView,
} from '../protocol.js';
import { shareEqual, shareStep } from './memo.js';

export const timeline = signal<Timeline | null>(null);
/** The position of the step shown (it moves with the step's view, so that every panel agrees with it). */
export const position = signal(0);
export const view = signal<StepView | null>(null);
export const address = signal<number | null>(null);
export const walk = signal<WalkView | null>(null);
export const frameInfo = signal<FrameInfo | null>(null);
export const status = signal('starting');
export const error = signal('');
/** Milliseconds from asking for a step to the first frame painted with all of it drawn. */
export const lastStepMs = signal(0);
/**
 * When the page started, had the timeline, first painted a step, and last painted one
 * (performance.now() ms), for the benchmark.
 */
export const timing = { start: performance.now(), opened: 0, firstDrawn: 0, painted: 0 };
/** Options for logs dropped on the page. */
export const dropOptions = signal<ViewReplayOptions>({ relocate: true });

/**
 * Calls `f` once the next frame has been painted: a message posted from inside a
 * requestAnimationFrame callback runs only after that frame's style, layout and paint.
 */
export function afterNextPaint(f: () => void): void {
  requestAnimationFrame(() => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => f();
    ch.port2.postMessage(null);
  });
}

type Send = Omit<ToWorker, 'id'> & { type: ToWorker['type'] };

/** The connection to the worker. */
class Client {
  private readonly worker: Worker;
  private nextId = 1;
  private openId = 0;
  private seekInFlight = false;
  private seekWaiting: number | null = null;
  private seekStart = 0;
  /** The frame codes of the last step received (a step whose codes are the same comes without them). */
  private codes: Uint8Array | undefined;
  /** The position last asked for (steps by one or ten go on from it, even before it is shown). */
  private target = 0;
  /** Called after each step view has been rendered (the page calls `rendered`). */
  private renderWaiters: Array<() => void> = [];

  constructor(workerSource: string) {
    const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
    this.worker = new Worker(url);
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e) => {
      error.value = `worker: ${e.message}`;
    };
  }

  private send(m: Send, transfer: Transferable[] = []): number {
    const id = this.nextId++;
    this.worker.postMessage({ ...m, id } as ToWorker, transfer);
    return id;
  }

  open(source: SessionSource, transfer: Transferable[] = []): void {
    timeline.value = null;
    view.value = null;
    walk.value = null;
    address.value = null;
    error.value = '';
    status.value = 'opening';
    this.seekInFlight = false;
    this.seekWaiting = null;
    this.target = 0;
    this.codes = undefined;
    position.value = 0;
    this.openId = this.send({ type: 'open', source } as Send, transfer);
  }

  seek(p: number): void {
    const t = timeline.value;
    if (t === null || t.count === 0) return;
    const q = Math.max(0, Math.min(t.count - 1, p));
    this.target = q;
    if (this.seekInFlight) {
      this.seekWaiting = q;
      return;
    }
    this.seekInFlight = true;
    this.seekStart = performance.now();
    this.send({ type: 'seek', position: q, address: address.value } as Send);
  }

  /** The position last asked for: where the next step by one (or ten) starts from. */
  get at(): number {
    return this.target;
  }

  requestWalk(a: number): void {
    address.value = a;
    this.send({ type: 'walk', address: a } as Send);
  }

  requestFrame(f: number): void {
    this.send({ type: 'frame', frame: f } as Send);
  }

  /** The page painted the current view. */
  rendered(): void {
    if (view.value !== null) {
      timing.painted = performance.now();
      lastStepMs.value = timing.painted - this.seekStart;
      // For traces of the page (the benchmark's --trace): the step from its seek to its paint.
      performance.clearMeasures('step');
      performance.measure('step', { start: this.seekStart, end: timing.painted });
      if (timing.firstDrawn === 0) timing.firstDrawn = timing.painted;
    }
    const w = this.renderWaiters;
    this.renderWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once the step now asked for has been drawn. */
  whenRendered(): Promise<void> {
    return new Promise((resolve) => this.renderWaiters.push(resolve));
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case 'progress':
        if (m.id === this.openId) status.value = m.text;
        return;
      case 'opened':
        if (m.id !== this.openId) return;
        timeline.value = m.timeline;
        timing.opened = performance.now();
        status.value =
          m.timeline.count === 0
            ? 'the log has no memory calls'
            : `opened in ${m.timeline.openMs.toFixed(0)} ms`;
        this.seek(firstInteresting(m.timeline));
        return;
      case 'step': {
        // A step of the session shown before the last open: nothing to do with this one.
        if (m.id < this.openId) return;
        this.seekInFlight = false;
        if (m.sameCodes === true && this.codes !== undefined) m.view.frames.codes = this.codes;
        else this.codes = m.view.frames.codes;
        if (this.seekWaiting !== null) {
          const w = this.seekWaiting;
          this.seekWaiting = null;
          this.seek(w);
          return;
        }
        const shown = view.value;
        batch(() => {
          // Parts equal to the last step's keep their identity: the panels they feed are not drawn again.
          view.value = shareStep(view.value, m.view);
          position.value = m.view.position;
          walk.value = shareEqual(walk.value, m.walk);
          if (address.value === null && m.walk !== null) address.value = m.walk.address;
        });
        // The same step again (nothing to draw): it is on screen with the next frame all the same.
        if (view.value === shown) afterNextPaint(() => this.rendered());
        return;
      }
      case 'walk':
        walk.value = shareEqual(walk.value, m.walk);
        return;
      case 'frame':
        frameInfo.value = m.info;
        return;
      case 'error':
        if (m.id === this.openId) status.value = 'failed';
        this.seekInFlight = false;
        error.value = m.message;
        return;
    }
  }
}

/** The first difference of a log, else its last call (the demo starts at its first step). */
function firstInteresting(t: Timeline): number {
  if (t.kind === 'demo') return 0;
  const d = t.verdict.indexOf(Verdict.Differs);
  return d >= 0 ? d : t.count - 1;
}

let client: Client | undefined;

export function connect(workerSource: string): Client {
  client = new Client(workerSource);
  return client;
}

export function worker(): Client {
  if (client === undefined) throw new Error('the worker is not connected');
  return client;
}

/** The next (dir 1) or previous (dir -1) call from `from` whose verdict is `v`, or -1. */
export function findVerdict(t: Timeline, from: number, dir: 1 | -1, v: Verdict): number {
  for (let i = from + dir; i >= 0 && i < t.count; i += dir) if (t.verdict[i] === v) return i;
  return -1;
}

/** The position of the call on log line `line` (or the last before it). */
export function positionOfLine(t: Timeline, line: number): number {
  let lo = 0;
  let hi = t.count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t.line[mid] <= line) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
