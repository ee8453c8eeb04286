/**
 * The replay engine: feeds the events of a parsed strace log through the model, one task per
 * process, and compares every memory call's result with the one Linux gave.
 *
 *   const r = new Replayer({ arch: 'x86_64', relocate: true });
 *   for await (const ev of parseLines(lines)) {
 *     const out = r.step(ev);         // a CallOutcome for memory calls, else undefined
 *     print(out ? out.line : ev.raw);
 *   }
 *   const summary = r.finish();
 *
 * The pieces: `processes.ts` (which task each pid runs in), `fd-table.ts` (the fds the log implies),
 * `relocation.ts` (the log's view of each address space and its translation to the model's),
 * `verdict.ts` (same result or not, and why), `snapshot-check.ts` (the starting snapshot).
 */
import type { Arch } from '../hal/addr.js';
import { Kernel } from '../kernel/kernel.js';
import type { LayoutOptions } from '../mm/layout.js';
import type { PagingMode } from '../syscall/context.js';
import type { MapsEntry } from '../trace/proc-maps.js';
import { formatCall } from '../trace/strace-format.js';
import type { MemoryCall, MemoryCallEvent, TraceEvent } from '../trace/strace-types.js';
import { low32 } from '../trace/trace-int.js';
import { type FileFactsOf, LogFiles } from './fd-table.js';
import { Processes, type TaskReport, type TaskState } from './processes.js';
import { checkAgainstSnapshot } from './snapshot-check.js';
import {
  type CallOutcome,
  DIVERGENCE_REASONS,
  type DivergenceReason,
  judge,
  modelResult,
  type Randomization,
  randomizationOf,
} from './verdict.js';

export type { TaskReport } from './processes.js';
export { archOfMaps, ReplayContradiction } from './snapshot-check.js';
export {
  type CallOutcome,
  type CallStatus,
  type DivergenceReason,
  modelResult,
  RANDOMIZED_BELOW,
  type Randomization,
  resultText,
} from './verdict.js';

export interface ReplayOptions {
  arch?: Arch;
  pageSize?: number;
  /** Simulated RAM (default 4 GiB: committed on the host only as pages are touched). */
  ramBytes?: number;
  /** Default `demand` (Linux's). */
  paging?: PagingMode;
  layout?: LayoutOptions;
  /** /proc/PID/maps text (or its parsed lines) the first task starts from. */
  maps?: string | readonly MapsEntry[];
  /** Name of the snapshot, for messages. */
  mapsName?: string;
  /** Translate addresses of mappings the log created to where the model placed them (ASLR). */
  relocate?: boolean;
  /**
   * The size and file system of a file the log maps, by path (its placement rule, MAP_SYNC);
   * the command line fills it from the file on this machine or from options. Default: unknown.
   */
  fileFacts?: FileFactsOf;
}

export interface ReplaySummary {
  arch: Arch;
  lines: number;
  /** Memory calls run through the model. */
  replayed: number;
  matched: number;
  differed: number;
  notModelled: number;
  noResult: number;
  /** Differing calls by reason. */
  reasons: Record<DivergenceReason, number>;
  /** Lines skipped by --lenient. */
  invalidLines: number;
  tasks: TaskReport[];
  /** Whether the log was recorded with address randomization, when a placed mapping showed it. */
  randomization?: Randomization;
  framesInUse: number;
  peakFramesInUse: number;
  pageSize: number;
}

export class Replayer {
  readonly kernel: Kernel;
  readonly arch: Arch;
  readonly relocate: boolean;
  private readonly processes: Processes;
  private readonly files: LogFiles;
  private readonly options: ReplayOptions;
  readonly counts = {
    lines: 0,
    replayed: 0,
    matched: 0,
    differed: 0,
    notModelled: 0,
    noResult: 0,
    invalid: 0,
    reasons: Object.fromEntries(DIVERGENCE_REASONS.map((r) => [r, 0])) as Record<DivergenceReason, number>,
  };
  private peakFrames = 0;
  /** What the log has shown of how it was recorded (its first mapping placed by the kernel). */
  private randomization: Randomization | undefined;

  constructor(options: ReplayOptions = {}) {
    this.options = options;
    this.files = new LogFiles(options.fileFacts);
    this.arch = options.arch ?? 'x86_64';
    this.relocate = options.relocate ?? false;
    this.kernel = new Kernel({
      arch: this.arch,
      pageSize: options.pageSize ?? 4096,
      ramBytes: options.ramBytes ?? 4 * 2 ** 30,
      paging: options.paging ?? 'demand',
      layout: options.layout,
    });
    this.processes = new Processes(this.kernel, this.relocate, options.maps);
  }

  /** The first task's /proc/PID/maps when it ended (exit) or at finish. */
  get firstMaps(): string | undefined {
    return this.processes.firstMaps;
  }

  /** Feed one event. Memory calls are run and compared; the other events update processes and fds. */
  step(ev: TraceEvent): CallOutcome | undefined {
    this.counts.lines++;
    switch (ev.kind) {
      case 'memory':
        return this.memory(ev);
      case 'other':
        this.other(ev);
        return undefined;
      case 'unfinished':
        this.processes.cloneStarted(ev);
        return undefined;
      case 'exit':
      case 'killed':
        this.processes.exited(ev.pid);
        return undefined;
      case 'invalid':
        this.counts.invalid++;
        return undefined;
      default:
        return undefined;
    }
  }

  private other(ev: TraceEvent & { kind: 'other' }): void {
    if (this.processes.other(ev)) return;
    if (ev.pid === undefined && !this.processes.anyAlive) return;
    const st = this.processes.known(ev.pid);
    if (st !== undefined) this.files.other(st, ev);
  }

  /** Runs the call in the model (addresses translated with --relocate); undefined when it has no such call. */
  private run(st: TaskState, call: MemoryCall): number | undefined {
    const s = this.kernel.sys;
    const v = st.view;
    switch (call.syscall) {
      case 'mmap':
        return s.mmap(v.translate(call.addr), call.length, call.prot, call.flags, call.fd, call.offset);
      case 'munmap':
        return s.munmap(v.translate(call.addr), call.length);
      case 'mprotect':
        return s.mprotect(v.translate(call.addr), call.length, call.prot);
      case 'pkey_mprotect':
        // With pkey -1 it is mprotect; the model has no protection keys.
        if ((low32(call.pkey) | 0) !== -1) return undefined;
        return s.mprotect(v.translate(call.addr), call.length, call.prot);
      case 'brk':
        return s.brk(v.translateBreak(call.addr));
      case 'mremap': {
        const na = call.newAddress === undefined ? 0 : v.translate(call.newAddress);
        return s.mremap(v.translate(call.oldAddress), call.oldSize, call.newSize, call.flags, na);
      }
      case 'madvise':
        return s.madvise(v.translate(call.addr), call.length, call.advice);
    }
  }

  private memory(ev: MemoryCallEvent): CallOutcome {
    const st = this.processes.taskFor(ev);
    this.processes.calling(st);
    const call = ev.call;
    const log = ev.result;
    if (log.kind !== 'value' && log.kind !== 'error') {
      this.counts.noResult++;
      return { event: ev, status: 'no-result', printed: log, line: ev.raw };
    }
    if (this.kernel.current !== st.task) this.kernel.switchTo(st.task);
    const view = st.view;
    const mm = st.task.mm;
    view.placeBreak(call, log, mm);
    if (call.syscall === 'mmap') this.files.beforeMmap(st, call, log);
    if (st.fromSnapshot && !this.relocate) {
      const firstBrk = call.syscall === 'brk' && !view.brkChecked;
      checkAgainstSnapshot(view, mm, ev, firstBrk, this.options.mapsName ?? 'the snapshot');
    }
    if (call.syscall === 'brk') view.brkChecked = true;
    const model = this.run(st, call);
    if (model === undefined) {
      this.counts.notModelled++;
      view.track(ev, undefined, mm.brk);
      return { event: ev, status: 'not-modelled', printed: log, line: ev.raw };
    }
    this.counts.replayed++;
    this.randomization ??= randomizationOf(ev, model);
    const verdict = judge(view, mm, call, log, model, this.randomization, ev.line);
    let out: CallOutcome;
    if (verdict.match) {
      this.counts.matched++;
      out = { event: ev, status: 'match', model, printed: log, line: ev.raw };
    } else {
      this.counts.differed++;
      const reason = verdict.reason ?? 'unexplained';
      this.counts.reasons[reason]++;
      const printed = modelResult(verdict.printed);
      out = {
        event: ev,
        status: 'differ',
        reason,
        model,
        printed,
        line: formatCall(ev, { arch: this.arch, result: printed }),
      };
      if (verdict.causeLine !== undefined) out.causeLine = verdict.causeLine;
    }
    view.track(ev, model, mm.brk);
    this.processes.called(st);
    const frames = this.kernel.frames.usedPages;
    if (frames > this.peakFrames) this.peakFrames = frames;
    return out;
  }

  /** Ends the replay: reports of every task (those still alive as they are now). */
  finish(): ReplaySummary {
    const tasks = this.processes.finish();
    const frames = this.kernel.frames.usedPages;
    const c = this.counts;
    return {
      arch: this.arch,
      lines: c.lines,
      replayed: c.replayed,
      matched: c.matched,
      differed: c.differed,
      notModelled: c.notModelled,
      noResult: c.noResult,
      reasons: { ...c.reasons },
      invalidLines: c.invalid,
      tasks,
      randomization: this.randomization,
      framesInUse: frames,
      peakFramesInUse: Math.max(frames, this.peakFrames),
      pageSize: this.kernel.pageSize,
    };
  }
}
