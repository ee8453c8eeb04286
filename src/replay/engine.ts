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
 * The pieces: `processes.ts` (each pid a kernel task: clone, fork, vfork and exit as the log says),
 * `exec-log.ts` (execve of the log's programs from their ELF files), `fd-table.ts` (the fds the log
 * implies), `relocation.ts` (the log's view of each address space and its translation to the
 * model's), `verdict.ts` (same result or not, and why), `snapshot-check.ts` (the starting snapshot).
 */

import type { MapsEntry } from '../abi/proc-maps.js';
import type { ExecFiles } from '../exec/files.js';
import type { Arch } from '../hal/addr.js';
import { Kernel } from '../kernel/kernel.js';
import { procMaps } from '../kernel/procfs.js';
import type { LayoutOptions } from '../mm/layout.js';
import type { PagingMode } from '../syscall/context.js';
import { formatCall } from '../trace/strace-format.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult, TraceEvent } from '../trace/strace-types.js';
import { low32 } from '../trace/trace-int.js';
import { ExecLog } from './exec-log.js';
import { type FileFactsOf, LogFiles } from './fd-table.js';
import { type CallOp, type OverlapCounts, Overlaps } from './overlap.js';
import { Processes, type SpaceState, type TaskReport, type TaskState } from './processes.js';
import { checkAgainstSnapshot, ReplayContradiction } from './snapshot-check.js';
import {
  type CallOutcome,
  DIVERGENCE_REASONS,
  type DivergenceReason,
  judge,
  modelResult,
  type Randomization,
  randomizationOf,
  type Verdict,
} from './verdict.js';

export type { SpaceOrigin, TaskReport } from './processes.js';
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
  /**
   * Where execve finds the programs the log runs (the command line gives the host's files). Without
   * it every program of an execve line is missing, and replayed from an empty address space.
   */
  execFiles?: ExecFiles;
  /** Called with each notice (see `ReplaySummary.notices`) when it is first made. */
  onNotice?: (text: string) => void;
  /** Called after each execve the model ran from the program's ELF, with its /proc/PID/maps then. */
  onExec?: (exec: { pid: number; program: string; maps: string }) => void;
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
  /** One report per address space that ran memory calls (a process image: its pids, program and counts). */
  tasks: TaskReport[];
  /**
   * What the model could not do as the log says, each once: programs not on this machine or of
   * another build, abbreviated execve arguments, new programs without an execve line.
   */
  notices: string[];
  /** What the search for the order of overlapping calls of threads found (see overlap.ts). */
  overlaps: OverlapCounts;
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
  private readonly execs: ExecLog;
  private readonly overlaps: Overlaps;
  private readonly options: ReplayOptions;
  private readonly notices: string[] = [];
  private readonly noticeKeys = new Set<string>();
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
      execFiles: options.execFiles,
    });
    this.processes = new Processes(this.kernel, this.relocate, options.maps);
    this.execs = new ExecLog(this.kernel, this.processes, {
      notify: (key, text) => this.notice(key, text),
      loaded: (pid, program, space) => options.onExec?.({ pid, program, maps: procMaps(space.mm) }),
    });
    this.overlaps = new Overlaps(this.kernel, this.arch, { run: (op) => this.runOp(op) });
    const program = this.snapshotProgram();
    if (program !== undefined) this.files.thpFiles = program.thpUnmappedArea;
  }

  /** The program file the snapshot shows mapped first, as this machine has it. */
  private snapshotProgram() {
    if (this.options.maps === undefined || this.options.execFiles === undefined) return undefined;
    for (const v of this.processes.snapshotSpace?.vmas ?? []) {
      if (v.file === null || !v.file.path.startsWith('/')) continue;
      const f = this.options.execFiles.openExec(v.file.path);
      return typeof f === 'number' ? undefined : f;
    }
    return undefined;
  }

  private notice(key: string, text: string): void {
    if (this.noticeKeys.has(key)) return;
    this.noticeKeys.add(key);
    this.notices.push(text);
    this.options.onNotice?.(text);
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
        if (ev.pid !== undefined) {
          const st = this.processes.taskFor(ev);
          this.processes.calling(st);
          this.overlaps.invoked(st, ev);
        }
        return undefined;
      case 'exit':
      case 'killed':
        this.processLine(ev.pid);
        if (ev.pid !== undefined) this.overlaps.drop(ev.pid);
        this.processes.exited(ev.pid);
        return undefined;
      case 'invalid':
        this.counts.invalid++;
        return undefined;
      default:
        return undefined;
    }
  }

  /** A process line of `pid` (clone, exec, exit): no call of its address space moves across it. */
  private processLine(pid: number | undefined): void {
    const st = this.processes.known(pid);
    if (st !== undefined) this.overlaps.barrier(st.space);
  }

  private other(ev: TraceEvent & { kind: 'other' }): void {
    if (/^(clone3?|fork|vfork|execve|execveat)$/.test(ev.name)) this.processLine(ev.pid);
    if (this.processes.cloneLine(ev)) return;
    if (ev.name === 'execve' || ev.name === 'execveat') {
      const st = this.processes.taskFor(ev);
      this.execs.execLine(st, ev);
      if (st.space.origin === 'exec' && !this.files.thpFiles) {
        // The log's files are taken to live on the file system of the programs it runs.
        this.files.thpFiles = st.space.mm.vmas.first()?.file?.placement === 'thp';
      }
      return;
    }
    if (ev.pid === undefined && !this.processes.anyAlive) return;
    const st = this.processes.known(ev.pid);
    if (st !== undefined) this.files.other(st, ev);
  }

  /** Runs the call in the model (addresses translated with --relocate); undefined when it has no such call. */
  private run(st: TaskState, call: MemoryCall): number | undefined {
    const s = this.kernel.sys;
    const v = st.space.view;
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
    const log = ev.result;
    if (log.kind !== 'value' && log.kind !== 'error') {
      if (ev.pid !== undefined) this.overlaps.drop(ev.pid);
      this.counts.noResult++;
      return { event: ev, status: 'no-result', printed: log, line: ev.raw };
    }
    this.execs.beforeMemory(st, ev);
    let model: number | undefined;
    let verdict: Verdict | undefined;
    if (this.searchesOverlaps(st)) {
      const op = this.overlaps.returned(st, ev);
      model = op.model;
      verdict = op.verdict;
    } else {
      let r = this.attempt(st, ev, log);
      if (r.model !== undefined && !this.execs.verified(st, ev, r.verdict.match, r.model)) {
        // The exec layout was not the log's: the call again, in the empty address space now in its place.
        r = this.attempt(st, ev, log);
      }
      model = r.model;
      verdict = r.verdict;
      st.space.view.track(ev, model, st.space.mm.brk);
    }
    const space = st.space;
    if (model === undefined || verdict === undefined) {
      this.counts.notModelled++;
      return { event: ev, status: 'not-modelled', printed: log, line: ev.raw };
    }
    this.counts.replayed++;
    space.replayed++;
    let out: CallOutcome;
    if (verdict.match) {
      this.counts.matched++;
      space.matched++;
      out = { event: ev, status: 'match', model, printed: log, line: ev.raw };
    } else {
      this.counts.differed++;
      space.differed++;
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
    this.processes.called(space);
    const frames = this.kernel.frames.usedPages;
    if (frames > this.peakFrames) this.peakFrames = frames;
    return out;
  }

  /**
   * Whether the calls of `st` go through the search for the order of overlapping calls: not with
   * --relocate (whose verdicts depend on the order they were judged in), not in eager paging (whose
   * checkpoints would copy every page), not while an exec layout is being held against the log.
   */
  private searchesOverlaps(st: TaskState): boolean {
    return !this.relocate && this.kernel.paging === 'demand' && st.space.verifying === undefined;
  }

  /** Runs a memory call of `st` in the model and judges its result (the view is not yet updated). */
  private attempt(
    st: TaskState,
    ev: MemoryCallEvent,
    log: SyscallResult & { kind: 'value' | 'error' },
  ): { model: number | undefined; verdict: Verdict } {
    const call = ev.call;
    if (this.kernel.current !== st.task) this.kernel.switchTo(st.task);
    const space: SpaceState = st.space;
    const view = space.view;
    const mm = space.mm;
    view.placeBreak(call, log, mm);
    if (call.syscall === 'mmap') this.files.beforeMmap(st, call, log);
    if (space.origin === 'snapshot' && !this.relocate) {
      const firstBrk = call.syscall === 'brk' && !view.brkChecked;
      checkAgainstSnapshot(view, mm, ev, firstBrk, this.options.mapsName ?? 'the snapshot');
    }
    if (call.syscall === 'brk') view.brkChecked = true;
    const model = this.run(st, call);
    if (model === undefined) return { model, verdict: { match: false, printed: 0 } };
    this.randomization ??= randomizationOf(ev, model);
    return { model, verdict: judge(view, mm, call, log, model, this.randomization, ev.line) };
  }

  /** Runs a call of the window (see overlap.ts) and brings the view up to date. */
  private runOp(op: CallOp): void {
    const st = op.st;
    const call = op.call!;
    const space = st.space;
    if (this.kernel.current !== st.task) this.kernel.switchTo(st.task);
    op.contradiction = undefined;
    const ev = op.ev;
    const log: SyscallResult & { kind: 'value' | 'error' } =
      ev !== undefined && (ev.result.kind === 'value' || ev.result.kind === 'error')
        ? ev.result
        : { kind: 'value', value: 0, hex: false };
    const view = space.view;
    if (ev !== undefined) {
      view.placeBreak(call, log, space.mm);
      if (space.origin === 'snapshot') {
        const firstBrk = call.syscall === 'brk' && !view.brkChecked;
        try {
          checkAgainstSnapshot(view, space.mm, ev, firstBrk, this.options.mapsName ?? 'the snapshot');
        } catch (e) {
          if (!(e instanceof ReplayContradiction)) throw e;
          op.contradiction = e;
          return;
        }
      }
      if (call.syscall === 'brk') view.brkChecked = true;
    }
    if (call.syscall === 'mmap') this.files.beforeMmap(st, call, log);
    const model = this.run(st, call);
    op.model = model;
    if (model === undefined) {
      op.verdict = undefined;
      if (ev !== undefined) view.track(ev, undefined, space.mm.brk);
      return;
    }
    if (ev !== undefined) {
      this.randomization ??= randomizationOf(ev, model);
      op.verdict = judge(view, space.mm, call, log, model, this.randomization, ev.line);
      view.track(ev, model, space.mm.brk);
    } else {
      // Pending: its line is not known yet; the view takes the model's answer as Linux's.
      const assumed: MemoryCallEvent = {
        kind: 'memory',
        call,
        name: call.syscall,
        args: '',
        result: modelResult(model),
        line: op.invoked,
        raw: '',
        prefix: { text: '' },
        pid: st.pid,
      };
      view.track(assumed, model, space.mm.brk);
    }
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
      notices: [...this.notices],
      overlaps: { ...this.overlaps.counts },
      randomization: this.randomization,
      framesInUse: frames,
      peakFramesInUse: Math.max(frames, this.peakFrames),
      pageSize: this.kernel.pageSize,
    };
  }
}
