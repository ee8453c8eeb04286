/**
 * The replay engine: feeds the events of a parsed strace log through the model, one task per
 * process, and compares every memory call's result with the one Linux gave.
 *
 *   const r = new Replayer({ arch: 'x86_64', relocate: true });
 *   for await (const ev of parseStraceFile(path)) {
 *     const out = r.step(ev);         // a CallOutcome for memory calls, else undefined
 *     print(out ? out.line : ev.raw);
 *   }
 *   const summary = r.finish();
 *
 * Processes and threads. The first pid seen gets the first task (from the snapshot when there is
 * one). A later pid gets, in this order: what a `clone`/`fork`/`vfork` line of the log said (with
 * CLONE_VM or vfork: the parent's task, shared; otherwise a copy of the parent's mappings, made
 * through a /proc/PID/maps snapshot of it); a fresh empty task when its first memory call is
 * `brk(NULL)` (what every newly exec'd program does first); otherwise the task of the process seen
 * just before it (a thread: `-e trace=%memory` logs show no clone). A successful `execve` gives its
 * pid a fresh empty task; `+++ exited` / `+++ killed` end a task when its last pid goes.
 *
 * File descriptors. A `-e trace=%memory` log shows no open or close, so the fd table is rebuilt
 * from what the log shows: `openat`/`open`/`creat`/`memfd_create` results (with their access mode)
 * and `close` when present; else an fd is opened, read-write, the first time an mmap uses it, named
 * by its `-y` path (or `fd N`), and the log's own answer tells what the fd was when that can only
 * be the fd table's doing (EBADF: not open; EACCES for a shared writable mapping: open read-only).
 *
 * The break. A task without a `[heap]` in its snapshot starts its break where the log's first
 * `brk(NULL)` says it was (the break is placed by execve, before the log begins).
 */
import { EACCES, EBADF, EINVAL } from '../abi/errno.js';
import type { Arch } from '../hal/addr.js';
import { Kernel } from '../kernel/kernel.js';
import { procMaps } from '../kernel/procfs.js';
import type { Task } from '../kernel/task.js';
import type { LayoutOptions } from '../mm/layout.js';
import { MemoryObject } from '../mm/memory-object.js';
import type { SyscallArg } from '../syscall/args.js';
import type { PagingMode } from '../syscall/context.js';
import { type MapsEntry, parseMaps } from '../trace/proc-maps.js';
import { formatCall, formatResult, hex } from '../trace/strace-format.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult, TraceEvent } from '../trace/strace-types.js';
import { AddressMap } from './address-map.js';

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
}

/** Why a call's result differs from Linux's, when the difference has a known cause. */
export type DivergenceReason =
  /** Both placed the mapping, at different addresses: the log was recorded with ASLR (use --relocate). */
  | 'aslr'
  /** The call touches memory the log never showed being mapped (mapped by execve or before the log began). */
  | 'unknown-memory'
  /** The call touches memory an earlier differing call left out of the model, or placed elsewhere. */
  | 'follows-difference'
  /** A file mapping, and the model's mmap does not map files yet. */
  | 'file-mapping'
  /** No known cause: the model and Linux disagree. */
  | 'unexplained';

export type CallStatus =
  /** Same result (modulo relocation with --relocate). */
  | 'match'
  | 'differ'
  /** The model has no such call (yet): the log's result is printed unchanged. */
  | 'not-modelled'
  /** The log has no result to compare with (`= ?`, a restarted call): the model does not run it. */
  | 'no-result';

export interface CallOutcome {
  event: MemoryCallEvent;
  status: CallStatus;
  reason?: DivergenceReason;
  /** For `follows-difference`: the line of the earlier call. */
  causeLine?: number;
  /** The model's raw return value (an address, 0, or -errno); undefined when it did not run. */
  model?: number;
  /** The result to print: the log's own when they match, else the model's. */
  printed: SyscallResult;
  /** The output line (strace format; for a split call, the joined line). */
  line: string;
}

export interface TaskReport {
  /** The pids that used this task's address space. */
  pids: number[];
  /** Whether its last pid exited before the end of the log. */
  exited: boolean;
  mappings: number;
  peakMappings: number;
  mappedBytes: number;
  residentBytes: number;
  pageTablePages: number;
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
  framesInUse: number;
  peakFramesInUse: number;
  pageSize: number;
}

/** The log contradicts its starting snapshot: it cannot be a log of the process the snapshot shows. */
export class ReplayContradiction extends Error {
  override name = 'ReplayContradiction';
}

const MAP_SHARED_TYPE = 0x1n;
const MAP_TYPE = 0xfn;
const MAP_FIXED = 0x10n;
const MAP_FIXED_NOREPLACE = 0x100000n;
const PROT_WRITE = 0x2n;
const MREMAP_MAYMOVE = 0x1n;
const MREMAP_FIXED = 0x2n;
const MREMAP_DONTUNMAP = 0x4n;
const MAX_ADDR = BigInt(Number.MAX_SAFE_INTEGER);

interface TaskState {
  task: Task;
  map: AddressMap;
  pids: Set<number>;
  allPids: number[];
  /** Whether the break has been placed (snapshot [heap], or the log's first brk). */
  brkKnown: boolean;
  /** The log's break start and the model's break start minus it (relocation of the heap). */
  heapDelta: number;
  logStartBrk: number;
  logBrk: number;
  peakMappings: number;
  /** Whether a brk call has been seen (the first is checked against the snapshot). */
  brkChecked: boolean;
  /** Whether this task holds the snapshot (contradiction checks apply). */
  fromSnapshot: boolean;
  /** fds whose state the log showed (open/close), so no inference from mmap results. */
  trackedFds: Set<number>;
  final?: TaskReport;
}

type SysFn = (...args: SyscallArg[]) => number;

/** The pieces of a `-yy` fd decoration `path<char 1:5>`: the path and the device numbers. */
function fdFile(path: string): MemoryObject {
  const m = /^(.*)<(?:char|block) (\d+):(\d+)>$/.exec(path);
  if (m) {
    const kind = m[1] === '/dev/zero' ? 'dev-zero' : 'file';
    return new MemoryObject(m[1], Number(m[2]), Number(m[3]), syntheticInode(m[1]), kind, {
      device: m[0].includes('<char'),
    });
  }
  return new MemoryObject(path, 0, 0, syntheticInode(path), path === '/dev/zero' ? 'dev-zero' : 'file');
}

const inodes = new Map<string, number>();
function syntheticInode(path: string): number {
  let n = inodes.get(path);
  if (n === undefined) {
    n = inodes.size + 1;
    inodes.set(path, n);
  }
  return n;
}

const U64 = (1n << 64n) - 1n;

export class Replayer {
  readonly kernel: Kernel;
  readonly arch: Arch;
  readonly relocate: boolean;
  private readonly sys: Record<string, SysFn | undefined>;
  /** Whether the model's mmap maps files (probed once). */
  readonly fileMappings: boolean;
  private readonly byPid = new Map<number, TaskState>();
  private readonly states: TaskState[] = [];
  private first: TaskState | undefined;
  private lastState: TaskState | undefined;
  /** Children announced by a clone/fork line of the log: pid → (parent, shares the address space). */
  private readonly children = new Map<number, { parent: TaskState; shareVm: boolean }>();
  /** Clones in progress (`clone(... <unfinished ...>`): parent pid → shares the address space. */
  private readonly cloning = new Map<number, boolean>();
  /** The files of the fd paths seen, so that one path is one page cache. */
  private readonly files = new Map<string, MemoryObject>();
  private readonly options: ReplayOptions;
  readonly counts = {
    lines: 0,
    replayed: 0,
    matched: 0,
    differed: 0,
    notModelled: 0,
    noResult: 0,
    invalid: 0,
    reasons: {
      aslr: 0,
      'unknown-memory': 0,
      'follows-difference': 0,
      'file-mapping': 0,
      unexplained: 0,
    } as Record<DivergenceReason, number>,
  };
  private peakFrames = 0;
  /** Whether the first pid has been seen. */
  private started = false;
  /** The first task's /proc/PID/maps when it ended (exit) or at finish. */
  firstMaps: string | undefined;

  constructor(options: ReplayOptions = {}) {
    this.options = options;
    this.arch = options.arch ?? 'x86_64';
    this.relocate = options.relocate ?? false;
    this.kernel = new Kernel({
      arch: this.arch,
      pageSize: options.pageSize ?? 4096,
      ramBytes: options.ramBytes ?? 4 * 2 ** 30,
      paging: options.paging ?? 'demand',
      layout: options.layout,
    });
    this.sys = this.kernel.sys as unknown as Record<string, SysFn | undefined>;
    for (const name of ['mmap', 'munmap', 'mprotect', 'brk', 'mremap', 'madvise']) {
      const f = this.sys[name];
      this.sys[name] = typeof f === 'function' ? f.bind(this.kernel.sys) : undefined;
    }
    this.fileMappings = probeFileMappings(options);
    if (options.maps !== undefined) {
      // Validate now, so that a bad snapshot is reported before any line is read.
      this.first = this.newState(this.kernel.spawnFromSnapshot({ maps: options.maps }), true);
    }
  }

  /** Which of the six calls the model has (the others are printed with the log's result). */
  get modelled(): string[] {
    return ['mmap', 'munmap', 'mprotect', 'brk', 'mremap', 'madvise'].filter(
      (n) => this.sys[n] !== undefined,
    );
  }

  private newState(task: Task, fromSnapshot: boolean): TaskState {
    const st: TaskState = {
      task,
      map: new AddressMap(),
      pids: new Set(),
      allPids: [],
      brkKnown: false,
      heapDelta: 0,
      logStartBrk: 0,
      logBrk: 0,
      peakMappings: task.mm.mapCount,
      brkChecked: false,
      fromSnapshot,
      trackedFds: new Set(),
    };
    if (fromSnapshot) {
      const mm = task.mm;
      for (const vma of mm.vmas) st.map.set(vma.start, vma.end, 0, 0);
      if (mm.startBrk !== 0) {
        st.brkKnown = true;
        st.logStartBrk = mm.startBrk;
        st.logBrk = mm.brk;
      }
    }
    this.states.push(st);
    return st;
  }

  private attach(st: TaskState, pid: number): TaskState {
    st.pids.add(pid);
    if (pid >= 0) st.allPids.push(pid);
    this.byPid.set(pid, st);
    return st;
  }

  /** A copy of a task's mappings (fork without exec): a snapshot of its maps in a new task. */
  private forkOf(parent: TaskState): TaskState {
    const mm = parent.task.mm;
    const task = this.kernel.spawnFromSnapshot({
      maps: procMaps(mm),
      startBrk: mm.startBrk,
      brk: mm.brk,
      startStack: mm.startStack,
    });
    for (const [fd, f] of parent.task.files) task.files.set(fd, f);
    const st = this.newState(task, false);
    st.map = parent.map.clone();
    st.brkKnown = parent.brkKnown;
    st.heapDelta = parent.heapDelta;
    st.logStartBrk = parent.logStartBrk;
    st.logBrk = parent.logBrk;
    for (const fd of parent.trackedFds) st.trackedFds.add(fd);
    return st;
  }

  private stateFor(ev: TraceEvent): TaskState {
    const pid = ev.pid ?? -1;
    const known = this.byPid.get(pid);
    if (known !== undefined) return known;
    let st: TaskState;
    if (!this.started) {
      this.started = true;
      st = this.first ?? this.newState(this.kernel.spawn(), false);
      this.first = st;
    } else {
      const child = this.children.get(pid);
      this.children.delete(pid);
      let parent: TaskState | undefined;
      let share: boolean | undefined;
      if (child) {
        parent = child.parent;
        share = child.shareVm;
      } else if (this.cloning.size > 0) {
        const last = [...this.cloning.entries()].pop()!;
        parent = this.byPid.get(last[0]);
        share = last[1];
      }
      const execd = ev.kind === 'memory' && ev.call.syscall === 'brk' && ev.call.addr === 0n;
      if (execd && !share) st = this.newState(this.kernel.spawn(), false);
      else if (parent && share === false) st = this.forkOf(parent);
      else st = parent ?? this.lastState ?? this.newState(this.kernel.spawn(), false);
    }
    return this.attach(st, pid);
  }

  private detach(pid: number): void {
    const st = this.byPid.get(pid);
    if (st === undefined) return;
    this.byPid.delete(pid);
    st.pids.delete(pid);
    if (st.pids.size === 0 && st.final === undefined) {
      st.final = this.report(st, true);
      if (st === this.first) this.firstMaps = procMaps(st.task.mm);
      this.kernel.exit(st.task);
      if (this.lastState === st) this.lastState = undefined;
    }
  }

  private report(st: TaskState, exited: boolean): TaskReport {
    const mm = st.task.mm;
    return {
      pids: st.allPids,
      exited,
      mappings: mm.mapCount,
      peakMappings: st.peakMappings,
      mappedBytes: mm.totalVm * mm.pageSize,
      residentBytes: mm.pageTable.leaves().length * mm.pageSize,
      pageTablePages: mm.pageTable.tables().length,
    };
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
        if (/^(clone3?|fork|vfork)$/.test(ev.name) && ev.pid !== undefined) {
          this.cloning.set(ev.pid, ev.name === 'vfork' || /CLONE_VM\b/.test(ev.args));
        }
        return undefined;
      case 'exit':
      case 'killed':
        if (ev.pid !== undefined) this.detach(ev.pid);
        else if (this.first && this.byPid.size > 0)
          for (const pid of [...this.byPid.keys()]) this.detach(pid);
        return undefined;
      case 'invalid':
        this.counts.invalid++;
        return undefined;
      default:
        return undefined;
    }
  }

  private other(ev: TraceEvent & { kind: 'other' }): void {
    const r = ev.result;
    const name = ev.name;
    if (/^(clone3?|fork|vfork)$/.test(name)) {
      if (ev.pid !== undefined) this.cloning.delete(ev.pid);
      if (r.kind !== 'value' || r.value <= 0n) return;
      const parent = this.byPid.get(ev.pid ?? -1) ?? this.stateFor(ev);
      const args = ev.resumed ? ev.resumed.unfinishedArgs + ev.resumed.resumedArgs : ev.args;
      const shareVm = name === 'vfork' || /CLONE_VM\b/.test(args);
      const child = Number(r.value);
      if (!this.byPid.has(child)) this.children.set(child, { parent, shareVm });
      this.lastState ??= parent;
      return;
    }
    if (ev.pid === undefined && this.byPid.size === 0) return;
    if ((name === 'execve' || name === 'execveat') && r.kind === 'value' && r.value === 0n) {
      const pid = ev.pid ?? -1;
      if (this.byPid.has(pid)) {
        const old = this.byPid.get(pid)!;
        const wasFirst = old === this.first;
        this.detach(pid);
        const st = this.attach(this.newState(this.kernel.spawn(), false), pid);
        if (wasFirst) {
          this.first = st;
          this.firstMaps = undefined;
        }
        this.lastState = st;
      }
      return;
    }
    const st = this.byPid.get(ev.pid ?? -1);
    if (st === undefined) return;
    if (/^(openat2?|open|creat|memfd_create)$/.test(name) && r.kind === 'value' && r.value >= 0n) {
      const fd = Number(r.value);
      const args = ev.args;
      const path =
        r.decoration ??
        (/"((?:[^"\\]|\\.)*)"/.exec(args)?.[1] ?? `fd ${fd}`) + (name === 'memfd_create' ? ' (deleted)' : '');
      const acc =
        name === 'creat' ? 'O_WRONLY' : (/\bO_(RDONLY|WRONLY|RDWR)\b/.exec(args)?.[0] ?? 'O_RDONLY');
      st.task.files.set(fd, {
        file: this.fileNamed(name === 'memfd_create' ? `/memfd:${path}` : path),
        readable: acc !== 'O_WRONLY',
        writable: acc !== 'O_RDONLY',
      });
      st.trackedFds.add(fd);
    } else if (name === 'close' && r.kind === 'value' && r.value === 0n) {
      const fd = Number.parseInt(ev.args, 10);
      st.task.files.delete(fd);
      st.trackedFds.add(fd);
    }
  }

  private fileNamed(path: string): MemoryObject {
    let f = this.files.get(path);
    if (f === undefined) {
      f = fdFile(path);
      this.files.set(path, f);
    }
    return f;
  }

  /** An fd an mmap of the log uses: registered from its -y path when the log did not show its open. */
  private prepareFd(st: TaskState, call: MemoryCall & { syscall: 'mmap' }, log: SyscallResult): void {
    if ((call.flags & 0x20n) !== 0n) return; // MAP_ANONYMOUS ignores the fd
    const fd = Number(BigInt.asIntN(32, call.fd));
    if (fd < 0 || st.trackedFds.has(fd)) return;
    const files = st.task.files;
    if (log.kind === 'error' && log.errno === EBADF) {
      files.delete(fd);
      return;
    }
    const path = call.fdPath ?? `fd ${fd}`;
    const current = files.get(fd);
    const readOnly =
      log.kind === 'error' &&
      log.errno === EACCES &&
      (call.flags & MAP_TYPE) === MAP_SHARED_TYPE &&
      (call.prot & PROT_WRITE) !== 0n;
    if (current !== undefined && current.file.path === path.replace(/<(?:char|block) \d+:\d+>$/, '')) {
      if (readOnly && current.writable) files.set(fd, { ...current, writable: false });
      return;
    }
    files.set(fd, { file: this.fileNamed(path), readable: true, writable: !readOnly });
  }

  /** Translate an address argument (with --relocate) by the delta of the log's mapping it falls in. */
  private tr(st: TaskState, a: bigint): bigint {
    if (!this.relocate || a > MAX_ADDR || a <= 0n) return a;
    const d = st.map.deltaAt(Number(a));
    return d === undefined || Number.isNaN(d) || d === 0 ? a : a + BigInt(d);
  }

  private run(st: TaskState, call: MemoryCall): number | undefined {
    const s = this.sys;
    switch (call.syscall) {
      case 'mmap':
        return s.mmap?.(this.tr(st, call.addr), call.length, call.prot, call.flags, call.fd, call.offset);
      case 'munmap':
        return s.munmap?.(this.tr(st, call.addr), call.length);
      case 'mprotect':
        return s.mprotect?.(this.tr(st, call.addr), call.length, call.prot);
      case 'pkey_mprotect':
        // With pkey -1 it is mprotect; the model has no protection keys.
        if (BigInt.asIntN(32, call.pkey) !== -1n) return undefined;
        return s.mprotect?.(this.tr(st, call.addr), call.length, call.prot);
      case 'brk': {
        let a = call.addr;
        if (this.relocate && a !== 0n && a <= MAX_ADDR) a += BigInt(st.heapDelta);
        return s.brk?.(a);
      }
      case 'mremap': {
        const na = call.newAddress === undefined ? 0n : this.tr(st, call.newAddress);
        return s.mremap?.(this.tr(st, call.oldAddress), call.oldSize, call.newSize, call.flags, na);
      }
      case 'madvise':
        return s.madvise?.(this.tr(st, call.addr), call.length, call.advice);
    }
  }

  private memory(ev: MemoryCallEvent): CallOutcome {
    const st = this.stateFor(ev);
    this.lastState = st;
    const call = ev.call;
    const log = ev.result;
    if (log.kind !== 'value' && log.kind !== 'error') {
      this.counts.noResult++;
      return { event: ev, status: 'no-result', printed: log, line: ev.raw };
    }
    if (this.kernel.current !== st.task) this.kernel.switchTo(st.task);
    // The break starts where the log first says it is, unless the snapshot placed it.
    if (call.syscall === 'brk' && !st.brkKnown) {
      st.brkKnown = true;
      if (call.addr === 0n && log.kind === 'value' && log.value <= MAX_ADDR) {
        const v = Number(log.value);
        st.logStartBrk = v;
        st.logBrk = v;
        const mm = st.task.mm;
        if (mm.startBrk === 0 && mm.brk === 0) {
          mm.startBrk = v;
          mm.brk = v;
        }
        st.heapDelta = mm.brk - v;
      }
    }
    if (call.syscall === 'mmap') this.prepareFd(st, call, log);
    if (st.fromSnapshot && !this.relocate)
      this.checkSnapshot(st, ev, call.syscall === 'brk' && !st.brkChecked);
    if (call.syscall === 'brk') st.brkChecked = true;
    const model = this.run(st, call);
    if (model === undefined) {
      this.counts.notModelled++;
      this.track(st, ev, undefined);
      return { event: ev, status: 'not-modelled', printed: log, line: ev.raw };
    }
    this.counts.replayed++;
    const match = this.compare(st, call, log, model);
    const printed = match ? log : modelResult(model);
    let out: CallOutcome;
    if (match) {
      this.counts.matched++;
      out = { event: ev, status: 'match', model, printed, line: ev.raw };
    } else {
      this.counts.differed++;
      const { reason, causeLine } = this.classify(st, call, log, model);
      this.counts.reasons[reason]++;
      out = {
        event: ev,
        status: 'differ',
        reason,
        model,
        printed,
        line: formatCall(ev, { arch: this.arch, result: printed }),
      };
      if (causeLine !== undefined) out.causeLine = causeLine;
    }
    this.track(st, ev, model);
    const maps = st.task.mm.mapCount;
    if (maps > st.peakMappings) st.peakMappings = maps;
    const frames = this.kernel.frames.usedPages;
    if (frames > this.peakFrames) this.peakFrames = frames;
    return out;
  }

  /** Whether the model's answer is Linux's (with --relocate: modulo the translation of addresses). */
  private compare(st: TaskState, call: MemoryCall, log: SyscallResult, model: number): boolean {
    if (log.kind === 'error') return model === -log.errno;
    if (log.kind !== 'value' || model < 0) return false;
    const v = log.value;
    if (!this.relocate) return v === BigInt(model);
    switch (call.syscall) {
      case 'mmap':
        if ((call.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0n) return this.tr(st, v) === BigInt(model);
        return true; // placed by the kernel: the model's address is where this mapping now lives
      case 'mremap':
        if (v === call.oldAddress) return this.tr(st, v) === BigInt(model);
        if ((call.flags & MREMAP_FIXED) !== 0n) return this.tr(st, v) === BigInt(model);
        // Moved by Linux: the model must have moved it too.
        return BigInt(model) !== this.tr(st, call.oldAddress);
      case 'brk':
        return v + BigInt(st.heapDelta) === BigInt(model);
      default:
        return v === BigInt(model);
    }
  }

  /** The range a call works on, in the log's coordinates, when it has one. */
  private range(call: MemoryCall): [number, number] | undefined {
    const page = this.kernel.pageSize;
    const r = (a: bigint, len: bigint): [number, number] | undefined => {
      if (a > MAX_ADDR || len > MAX_ADDR) return undefined;
      const s = Number(a);
      return [s - (s % page), Math.ceil((s + Number(len)) / page) * page];
    };
    switch (call.syscall) {
      case 'munmap':
      case 'mprotect':
      case 'pkey_mprotect':
      case 'madvise':
        return r(call.addr, call.length);
      case 'mremap':
        return r(call.oldAddress, call.oldSize === 0n ? 1n : call.oldSize);
      default:
        return undefined;
    }
  }

  private classify(
    st: TaskState,
    call: MemoryCall,
    log: SyscallResult,
    model: number,
  ): { reason: DivergenceReason; causeLine?: number } {
    const range = this.range(call);
    if (range !== undefined) {
      const seen = st.map.inspect(range[0], range[1], !this.relocate);
      if (seen.mismatchLine !== undefined)
        return { reason: 'follows-difference', causeLine: seen.mismatchLine };
      if (!seen.covered) return { reason: 'unknown-memory' };
    }
    if (call.syscall === 'mmap') {
      if ((call.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0n && call.addr <= MAX_ADDR) {
        const len = call.length > MAX_ADDR ? 0 : Number(call.length);
        const seen = st.map.inspect(Number(call.addr), Number(call.addr) + len, !this.relocate);
        if (seen.mismatchLine !== undefined)
          return { reason: 'follows-difference', causeLine: seen.mismatchLine };
      }
      const anon = (call.flags & 0x20n) !== 0n;
      if (!anon && !this.fileMappings && model === -EINVAL) {
        return { reason: 'file-mapping' };
      }
    }
    if (call.syscall === 'brk' && !this.relocate && log.kind === 'value' && model >= 0) {
      if (log.value - BigInt(st.logStartBrk) === BigInt(model - st.task.mm.startBrk))
        return { reason: 'aslr' };
    }
    if (
      !this.relocate &&
      log.kind === 'value' &&
      model >= 0 &&
      (call.syscall === 'mmap' || call.syscall === 'mremap' || call.syscall === 'brk')
    ) {
      return { reason: 'aslr' };
    }
    return { reason: 'unexplained' };
  }

  /** Bring the log's view (the address map) up to date with a call's effect in the log. */
  private track(st: TaskState, ev: MemoryCallEvent, model: number | undefined): void {
    const call = ev.call;
    const log = ev.result;
    if (log.kind !== 'value' || log.value > MAX_ADDR) return;
    const page = this.kernel.pageSize;
    const v = Number(log.value);
    const ok = model !== undefined && model >= 0;
    const align = (n: bigint) => (n > MAX_ADDR ? Number.NaN : Math.ceil(Number(n) / page) * page);
    switch (call.syscall) {
      case 'mmap': {
        const len = align(call.length);
        if (Number.isNaN(len)) return;
        st.map.set(v, v + len, ok ? model - v : model === undefined ? 0 : Number.NaN, ev.line);
        return;
      }
      case 'munmap': {
        if (call.addr > MAX_ADDR) return;
        const len = align(call.length);
        if (!Number.isNaN(len)) st.map.remove(Number(call.addr), Number(call.addr) + len);
        return;
      }
      case 'mremap': {
        if (call.oldAddress > MAX_ADDR) return;
        const old = Number(call.oldAddress);
        const oldLen = align(call.oldSize);
        const newLen = align(call.newSize);
        if (Number.isNaN(oldLen) || Number.isNaN(newLen)) return;
        if (v === old) {
          if (newLen < oldLen) st.map.remove(old + newLen, old + oldLen);
          else {
            const d = st.map.deltaAt(old);
            st.map.set(old, old + newLen, ok ? model - v : (d ?? Number.NaN), ev.line);
          }
        } else {
          if ((call.flags & MREMAP_DONTUNMAP) === 0n && (call.flags & MREMAP_MAYMOVE) !== 0n)
            st.map.remove(old, old + oldLen);
          st.map.set(v, v + newLen, ok ? model - v : Number.NaN, ev.line);
        }
        return;
      }
      case 'brk': {
        if (!st.brkKnown || st.logStartBrk === 0) return;
        const startPage = Math.ceil(st.logStartBrk / page) * page;
        const oldEnd = Math.ceil(st.logBrk / page) * page;
        const newEnd = Math.ceil(v / page) * page;
        if (newEnd > oldEnd) {
          const modelBrk = st.task.mm.brk;
          const same = modelBrk - st.heapDelta === v || model === undefined;
          st.map.set(Math.max(oldEnd, startPage), newEnd, same ? st.heapDelta : Number.NaN, ev.line);
        } else if (newEnd < oldEnd) st.map.remove(newEnd, oldEnd);
        st.logBrk = v;
        return;
      }
      default:
        return;
    }
  }

  /** Stops with a ReplayContradiction when the log cannot be of the process the snapshot shows. */
  private checkSnapshot(st: TaskState, ev: MemoryCallEvent, firstBrk: boolean): void {
    const call = ev.call;
    const log = ev.result;
    if (log.kind !== 'value' || log.value > MAX_ADDR) return;
    const where = `line ${ev.line}`;
    const snapshot = this.options.mapsName ?? 'the snapshot';
    if (
      firstBrk &&
      call.syscall === 'brk' &&
      call.addr === 0n &&
      st.task.mm.startBrk !== 0 &&
      log.value !== BigInt(st.task.mm.brk)
    ) {
      throw new ReplayContradiction(
        `${where}: brk(NULL) returned ${hex(log.value)}, but the break in ${snapshot} is ${hex(BigInt(st.task.mm.brk))}: ` +
          'the snapshot is not of this process at the start of the log ' +
          '(for a log recorded with address randomization, use --relocate)',
      );
    }
    if (call.syscall === 'mmap' && (call.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) === 0n) {
      const v = Number(log.value);
      const len = Math.ceil(Number(call.length) / this.kernel.pageSize) * this.kernel.pageSize;
      for (let a = v; a < v + len; ) {
        const hit = st.map.firstOverlap(a, v + len);
        if (hit === undefined) break;
        if (hit.line === 0) {
          throw new ReplayContradiction(
            `${where}: mmap returned 0x${v.toString(16)}, overlapping 0x${hit.start.toString(16)}-0x${hit.end.toString(16)} ` +
              `which ${snapshot} has mapped: the snapshot is not of this process at the start of the log ` +
              '(for a log recorded with address randomization, use --relocate)',
          );
        }
        a = hit.end;
      }
    }
  }

  /** Ends the replay: reports of every task (those still alive as they are now). */
  finish(): ReplaySummary {
    const tasks: TaskReport[] = [];
    for (const st of this.states) {
      if (st.final) tasks.push(st.final);
      else if (st.pids.size > 0 || st === this.first) tasks.push(this.report(st, false));
    }
    if (this.first && this.first.final === undefined) this.firstMaps = procMaps(this.first.task.mm);
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
      framesInUse: frames,
      peakFramesInUse: Math.max(frames, this.peakFrames),
      pageSize: this.kernel.pageSize,
    };
  }
}

/** The model's return value as strace would print it. */
export function modelResult(model: number): SyscallResult {
  if (model < 0 && model >= -4095) return { kind: 'error', value: -1n, errno: -model };
  return { kind: 'value', value: BigInt(model) & U64, hex: true };
}

/** A result as text (`0x7f..`, `0`, `-1 ENOMEM (Cannot allocate memory)`), for reports. */
export function resultText(name: string, r: SyscallResult): string {
  return formatResult(name, r).slice(2);
}

/** Whether the model's mmap maps files: one probe mmap of a registered fd in a scratch kernel. */
function probeFileMappings(options: ReplayOptions): boolean {
  const k = new Kernel({
    arch: options.arch ?? 'x86_64',
    pageSize: options.pageSize ?? 4096,
    ramBytes: 2 ** 22,
  });
  const t = k.spawn();
  t.files.set(3, { file: new MemoryObject('/probe', 0, 0, 1, 'file'), readable: true, writable: true });
  const r = k.sys.mmap(0, k.pageSize, 1, 2, 3, 0);
  return r >= 0;
}

/** The arch a /proc/PID/maps snapshot belongs to, when its addresses say: [vsyscall] or above 2^47. */
export function archOfMaps(maps: string | readonly MapsEntry[]): Arch | undefined {
  const entries = typeof maps === 'string' ? parseMaps(maps) : maps;
  if (entries.some((e) => e.name === '[vsyscall]')) return 'x86_64';
  if (entries.some((e) => e.end > 1n << 47n)) return 'aarch64';
  return undefined;
}
