/**
 * The processes of a log on the kernel's own lifecycle: each pid of the log is a kernel task, and
 * what the log's process lines say happens to it happens in the kernel. A `clone`/`clone3`/`fork`/
 * `vfork` line is `kernel.clone` with the log's flags (CLONE_VM shares the address space, otherwise
 * it is copied as fork copies it; CLONE_FILES shares the fd table); an `execve` line is
 * `kernel.execve` of the program it names (see `exec-log.ts`); `+++ exited` / `+++ killed` is
 * `kernel.exit`, which tears an address space down with its last user.
 *
 * A child may show up before its parent's clone returns (`clone(... <unfinished ...>`, then the
 * child's lines): it is made from the clone in progress. A log without process lines
 * (`-e trace=%memory`) shows no clone at all: a pid not seen before is then a new program when its
 * first call is `brk(NULL)` (what every exec'd program does first), else a thread of the process
 * seen just before it.
 *
 * Each address space the log uses has a `SpaceState`: the log's view of it, how it began and the
 * counts of its calls, reported per process at the end.
 */

import type { MapsEntry } from '../abi/proc-maps.js';
import {
  CLONE_FILES,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_THREAD_FLAGS,
  CLONE_VFORK,
  CLONE_VM,
} from '../abi/sched.js';
import type { Kernel } from '../kernel/kernel.js';
import { procMaps } from '../kernel/procfs.js';
import type { Task } from '../kernel/task.js';
import type { AddressSpace } from '../mm/address-space.js';
import { parseCloneFlags } from '../trace/process-args.js';
import type { OtherCallEvent, TraceEvent, UnfinishedEvent } from '../trace/strace-types.js';
import { isZero, type TraceInt } from '../trace/trace-int.js';
import type { FdOwner } from './fd-table.js';
import { LogView } from './relocation.js';

/** How an address space of the log came to be. */
export type SpaceOrigin =
  /** Built by kernel.execve from the program's ELF, as the log's execve line says. */
  | 'exec'
  /** Rebuilt from the /proc/PID/maps snapshot given with --maps. */
  | 'snapshot'
  /** A fork's copy of its parent's. */
  | 'fork'
  /** Empty: what was mapped before the log began is unknown (no execve line, or one the model could not run). */
  | 'empty';

export interface TaskReport {
  /** The pids that used this address space. */
  pids: number[];
  /** The program its execve loaded, as the log names it (also when the model could not load it). */
  program?: string;
  origin: SpaceOrigin;
  /** Whether its last pid exited before the end of the log. */
  exited: boolean;
  /** Its memory calls: run through the model, and of those, with Linux's result or not. */
  replayed: number;
  matched: number;
  differed: number;
  mappings: number;
  peakMappings: number;
  mappedBytes: number;
  residentBytes: number;
  pageTablePages: number;
}

/** One address space of the log: the kernel's, the log's view of it, and what was seen of it. */
export interface SpaceState {
  readonly mm: AddressSpace;
  view: LogView;
  readonly origin: SpaceOrigin;
  readonly program: string | undefined;
  /** Every pid that used it, in order, and those using it now. */
  readonly allPids: number[];
  readonly pids: Set<number>;
  peakMappings: number;
  replayed: number;
  matched: number;
  differed: number;
  /** For an exec'd space, while its first calls are compared with the exec layout's (exec-log.ts). */
  verifying?: { calls: number; path: string; firstBreak?: TraceInt };
  final?: TaskReport;
}

/** One pid of the log: its kernel task and the address space it runs in. */
export interface TaskState extends FdOwner {
  readonly pid: number;
  task: Task;
  space: SpaceState;
  /** fds whose state the log showed (shared by CLONE_FILES tasks, as the kernel's fd table is). */
  trackedFds: Set<number>;
  /** The result of this pid's last call when it was `brk(NULL)` (a new program's first call). */
  lastBrkNull?: TraceInt;
}

const CLONES = /^(clone3?|fork|vfork)$/;
/** The clone flags the kernel's clone models (the rest have no effect on memory). */
const MEMORY_CLONE_FLAGS = CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_VFORK;

export class Processes {
  private readonly byPid = new Map<number, TaskState>();
  private readonly spaces = new Map<AddressSpace, SpaceState>();
  /** Every address space the log used, in order of creation. */
  private readonly order: SpaceState[] = [];
  private first: TaskState | undefined;
  private last: TaskState | undefined;
  /** Clones in progress (`clone(... <unfinished ...>`): parent pid → flags. */
  private readonly cloning = new Map<number, number>();
  /** The snapshot's task, made before any line is read (a bad snapshot is reported first). */
  private readonly snapshotTask: Task | undefined;
  /** Whether the log has process lines (then pids are never guessed from the memory calls). */
  sawProcessLines = false;
  /** The first process's /proc/PID/maps when it ended (exit) or at finish. */
  firstMaps: string | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly relocate: boolean,
    maps?: string | readonly MapsEntry[],
  ) {
    if (maps !== undefined) this.snapshotTask = kernel.spawnFromSnapshot({ maps });
  }

  /** The address space the snapshot was rebuilt into, if there is one. */
  get snapshotSpace(): AddressSpace | undefined {
    return this.snapshotTask?.mm;
  }

  /** Whether any pid is alive. */
  get anyAlive(): boolean {
    return this.byPid.size > 0;
  }

  /** The task of a pid already seen, or undefined. */
  known(pid: number | undefined): TaskState | undefined {
    return this.byPid.get(pid ?? -1);
  }

  /** The address space state of a kernel address space the log uses. */
  spaceOf(mm: AddressSpace): SpaceState | undefined {
    return this.spaces.get(mm);
  }

  /** The task an event's pid runs in (a new one as the log implies, for a pid not seen before). */
  taskFor(ev: TraceEvent): TaskState {
    const pid = ev.pid ?? -1;
    const known = this.byPid.get(pid);
    if (known !== undefined) return known;
    if (this.first === undefined) {
      const task = this.snapshotTask ?? this.kernel.spawn();
      const st = this.attach(pid, task, this.newSpace(task.mm, this.snapshotTask ? 'snapshot' : 'empty'));
      this.first = st;
      return st;
    }
    const cloning = [...this.cloning.entries()].pop();
    if (cloning !== undefined) {
      const parent = this.byPid.get(cloning[0]);
      if (parent !== undefined) return this.cloneOf(parent, cloning[1], pid);
    }
    const execd = ev.kind === 'memory' && ev.call.syscall === 'brk' && isZero(ev.call.addr);
    if (execd || this.last === undefined) {
      // A new program, forked and exec'd where the log does not show it.
      const task = this.kernel.spawn();
      return this.attach(pid, task, this.newSpace(task.mm, 'empty'));
    }
    return this.cloneOf(this.last, CLONE_THREAD_FLAGS, pid);
  }

  /** A memory call of `st` begins: the task a later unknown pid most likely shares (a thread). */
  calling(st: TaskState): void {
    this.last = st;
  }

  /** The model ran a call in `space`: its peak number of mappings. */
  called(space: SpaceState): void {
    const maps = space.mm.mapCount;
    if (maps > space.peakMappings) space.peakMappings = maps;
  }

  /** `clone(... <unfinished ...>`: its child may appear before the clone's result. */
  cloneStarted(ev: UnfinishedEvent): void {
    const flags = parseCloneFlags(ev.name, ev.args);
    if (flags === undefined || ev.pid === undefined) return;
    this.sawProcessLines = true;
    this.cloning.set(ev.pid, flags);
  }

  /** A clone/fork/vfork line with its result: the child exists from now on. Returns false for other lines. */
  cloneLine(ev: OtherCallEvent): boolean {
    if (!CLONES.test(ev.name)) return false;
    this.sawProcessLines = true;
    if (ev.pid !== undefined) this.cloning.delete(ev.pid);
    const r = ev.result;
    if (r.kind !== 'value' || r.value <= 0) return true;
    const parent = this.taskFor(ev);
    const child = Number(r.value);
    if (!this.byPid.has(child)) this.cloneOf(parent, parseCloneFlags(ev.name, ev.args) ?? 0, child);
    this.last ??= parent;
    return true;
  }

  /**
   * Gives `st` a new address space: `exec` runs the execve in the kernel (true when it loaded the
   * program); without it, or when it fails, an empty one of a new task takes the place of the old
   * (what was mapped before is unknown: the kernel empties an address space only by exec). The old
   * space's report is taken first, since the kernel frees it with its last user.
   */
  replaceSpace(st: TaskState, program: string | undefined, exec?: (task: Task) => boolean): SpaceState {
    const wasFirst = this.first === st;
    this.leave(st.space, st.pid);
    let origin: SpaceOrigin = 'exec';
    if (exec === undefined || !exec(st.task)) {
      origin = 'empty';
      const task = this.kernel.spawn();
      for (const [fd, f] of st.task.files) task.files.set(fd, f);
      this.kernel.exit(st.task);
      st.task = task;
    }
    const space = this.newSpace(st.task.mm, origin, program);
    st.space = space;
    space.pids.add(st.pid);
    space.allPids.push(st.pid);
    if (wasFirst) this.firstMaps = undefined;
    this.last = st;
    return space;
  }

  /** `+++ exited` / `+++ killed`: without a pid (a log of one process), every pid goes. */
  exited(pid: number | undefined): void {
    if (pid !== undefined) this.detach(pid);
    else for (const p of [...this.byPid.keys()]) this.detach(p);
  }

  /** Reports of every address space that ran calls (those still in use as they are now); sets `firstMaps`. */
  finish(): TaskReport[] {
    const out: TaskReport[] = [];
    const firstSpace = this.first?.space;
    for (const s of this.order) {
      if (s.replayed === 0 && s !== firstSpace) continue;
      out.push(s.final ?? this.report(s, false));
    }
    if (firstSpace !== undefined && firstSpace.final === undefined) this.firstMaps = procMaps(firstSpace.mm);
    return out;
  }

  private newSpace(mm: AddressSpace, origin: SpaceOrigin, program?: string, view?: LogView): SpaceState {
    const known = origin === 'snapshot' || origin === 'exec';
    const s: SpaceState = {
      mm,
      view: view ?? (known ? LogView.ofSnapshot(mm, this.relocate) : new LogView(this.relocate, mm.pageSize)),
      origin,
      program,
      allPids: [],
      pids: new Set(),
      peakMappings: mm.mapCount,
      replayed: 0,
      matched: 0,
      differed: 0,
    };
    this.spaces.set(mm, s);
    this.order.push(s);
    return s;
  }

  private attach(pid: number, task: Task, space: SpaceState, trackedFds = new Set<number>()): TaskState {
    const st: TaskState = { pid, task, space, trackedFds };
    space.pids.add(pid);
    if (pid >= 0) space.allPids.push(pid);
    this.byPid.set(pid, st);
    return st;
  }

  /** `kernel.clone` of `parent` with the log's flags, for the child `pid`. */
  private cloneOf(parent: TaskState, logFlags: number, pid: number): TaskState {
    const flags = logFlags & MEMORY_CLONE_FLAGS;
    let child = this.kernel.clone(parent.task, flags);
    // A combination the kernel refuses cannot have succeeded in the log: keep what it says of memory.
    if (typeof child === 'number')
      child = this.kernel.clone(parent.task, flags & CLONE_VM ? CLONE_THREAD_FLAGS : 0);
    if (typeof child === 'number')
      throw new Error(`clone of pid ${parent.pid} failed in the model (${child})`);
    let space = parent.space;
    if (!(flags & CLONE_VM)) {
      space = this.newSpace(child.mm, 'fork', parent.space.program, parent.space.view.clone());
    }
    const fds = flags & CLONE_FILES ? parent.trackedFds : new Set(parent.trackedFds);
    return this.attach(pid, child, space, fds);
  }

  private detach(pid: number): void {
    const st = this.byPid.get(pid);
    if (st === undefined) return;
    this.byPid.delete(pid);
    this.leave(st.space, pid);
    this.kernel.exit(st.task);
    if (this.last === st) this.last = undefined;
  }

  /** `pid` no longer uses `space`; its report is taken when its last user goes (the kernel frees it then). */
  private leave(space: SpaceState, pid: number): void {
    space.pids.delete(pid);
    if (space.pids.size > 0 || space.final !== undefined) return;
    // The kernel tears the space down with its last task: the report is of its state just before.
    space.final = this.report(space, true);
    if (space === this.first?.space) this.firstMaps = procMaps(space.mm);
  }

  private report(s: SpaceState, exited: boolean): TaskReport {
    const mm = s.mm;
    const r: TaskReport = {
      pids: s.allPids,
      origin: s.origin,
      exited,
      replayed: s.replayed,
      matched: s.matched,
      differed: s.differed,
      mappings: mm.mapCount,
      peakMappings: s.peakMappings,
      mappedBytes: mm.totalVm * mm.pageSize,
      residentBytes: mm.pageTable.presentLeaves * mm.pageSize,
      pageTablePages: mm.pageTable.tablePages,
    };
    if (s.program !== undefined) r.program = s.program;
    return r;
  }
}
