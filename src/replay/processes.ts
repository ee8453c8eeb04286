/**
 * The processes of a log: which task (address space) each pid's calls run in, and when a task ends.
 *
 * The first pid seen gets the first task (from the snapshot when there is one). A later pid gets,
 * in this order: what a `clone`/`fork`/`vfork` line of the log said (with CLONE_VM or vfork: the
 * parent's task, shared; otherwise a copy of the parent's mappings, made through a /proc/PID/maps
 * snapshot of it); a fresh empty task when its first memory call is `brk(NULL)` (what every newly
 * exec'd program does first); otherwise the task of the process seen just before it (a thread:
 * `-e trace=%memory` logs show no clone). A successful `execve` gives its pid a fresh empty task;
 * `+++ exited` / `+++ killed` end a task when its last pid goes.
 *
 * This is the replay's own stand-in for fork and execve: everything that creates or ends a task
 * goes through `Processes`, so that kernel operations can take its place.
 */
import type { Kernel } from '../kernel/kernel.js';
import { procMaps } from '../kernel/procfs.js';
import type { Task } from '../kernel/task.js';
import type { MapsEntry } from '../trace/proc-maps.js';
import type { TraceEvent } from '../trace/strace-types.js';
import type { FdOwner } from './fd-table.js';
import { LogView } from './relocation.js';

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

/** One address space of the log: the model's task and the log's view of it. */
export interface TaskState extends FdOwner {
  readonly task: Task;
  readonly view: LogView;
  readonly pids: Set<number>;
  readonly allPids: number[];
  peakMappings: number;
  /** Whether this task holds the snapshot (contradiction checks apply). */
  readonly fromSnapshot: boolean;
  final?: TaskReport;
}

const CLONES = /^(clone3?|fork|vfork)$/;

export class Processes {
  private readonly byPid = new Map<number, TaskState>();
  private readonly states: TaskState[] = [];
  private first: TaskState | undefined;
  private last: TaskState | undefined;
  /** Children announced by a clone/fork line of the log: pid → (parent, shares the address space). */
  private readonly children = new Map<number, { parent: TaskState; shareVm: boolean }>();
  /** Clones in progress (`clone(... <unfinished ...>`): parent pid → shares the address space. */
  private readonly cloning = new Map<number, boolean>();
  /** Whether the first pid has been seen. */
  private started = false;
  /** The first task's /proc/PID/maps when it ended (exit) or at finish. */
  firstMaps: string | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly relocate: boolean,
    /** The snapshot the first task starts from. */
    maps?: string | readonly MapsEntry[],
  ) {
    if (maps !== undefined) {
      // Built now, so that a bad snapshot is reported before any line is read.
      this.first = this.newState(kernel.spawnFromSnapshot({ maps }), true);
    }
  }

  /** Whether any pid is alive. */
  get anyAlive(): boolean {
    return this.byPid.size > 0;
  }

  /** The task of a pid already seen, or undefined. */
  known(pid: number | undefined): TaskState | undefined {
    return this.byPid.get(pid ?? -1);
  }

  /** The task an event's pid runs in (a new one as the log implies, for a pid not seen before). */
  taskFor(ev: TraceEvent): TaskState {
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
      else st = parent ?? this.last ?? this.newState(this.kernel.spawn(), false);
    }
    return this.attach(st, pid);
  }

  /** A memory call of `st` begins: the task a later unknown pid most likely shares (a thread). */
  calling(st: TaskState): void {
    this.last = st;
  }

  /** The model ran a call of `st`: its peak number of mappings. */
  called(st: TaskState): void {
    const maps = st.task.mm.mapCount;
    if (maps > st.peakMappings) st.peakMappings = maps;
  }

  /** `clone(... <unfinished ...>`: its child may appear before the clone's result. */
  cloneStarted(ev: TraceEvent & { kind: 'unfinished' }): void {
    if (CLONES.test(ev.name) && ev.pid !== undefined) {
      this.cloning.set(ev.pid, ev.name === 'vfork' || /CLONE_VM\b/.test(ev.args));
    }
  }

  /** A process line of the log (clone, fork, vfork, execve); false for any other line. */
  other(ev: TraceEvent & { kind: 'other' }): boolean {
    const r = ev.result;
    const name = ev.name;
    if (CLONES.test(name)) {
      if (ev.pid !== undefined) this.cloning.delete(ev.pid);
      if (r.kind !== 'value' || r.value <= 0n) return true;
      const parent = this.byPid.get(ev.pid ?? -1) ?? this.taskFor(ev);
      const args = ev.resumed ? ev.resumed.unfinishedArgs + ev.resumed.resumedArgs : ev.args;
      const shareVm = name === 'vfork' || /CLONE_VM\b/.test(args);
      const child = Number(r.value);
      if (!this.byPid.has(child)) this.children.set(child, { parent, shareVm });
      this.last ??= parent;
      return true;
    }
    if (name !== 'execve' && name !== 'execveat') return false;
    if (ev.pid === undefined && this.byPid.size === 0) return true;
    if (r.kind === 'value' && r.value === 0n) {
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
        this.last = st;
      }
    }
    return true;
  }

  /** `+++ exited` / `+++ killed`: without a pid (a log of one process), every pid goes. */
  exited(pid: number | undefined): void {
    if (pid !== undefined) this.detach(pid);
    else if (this.first && this.byPid.size > 0) for (const p of [...this.byPid.keys()]) this.detach(p);
  }

  /** Reports of every task (those still alive as they are now); sets `firstMaps`. */
  finish(): TaskReport[] {
    const tasks: TaskReport[] = [];
    for (const st of this.states) {
      if (st.final) tasks.push(st.final);
      else if (st.pids.size > 0 || st === this.first) tasks.push(this.report(st, false));
    }
    if (this.first && this.first.final === undefined) this.firstMaps = procMaps(this.first.task.mm);
    return tasks;
  }

  private newState(task: Task, fromSnapshot: boolean, view?: LogView): TaskState {
    const st: TaskState = {
      task,
      view:
        view ??
        (fromSnapshot
          ? LogView.ofSnapshot(task.mm, this.relocate)
          : new LogView(this.relocate, task.mm.pageSize)),
      pids: new Set(),
      allPids: [],
      peakMappings: task.mm.mapCount,
      fromSnapshot,
      trackedFds: new Set(),
    };
    this.states.push(st);
    return st;
  }

  private attach(st: TaskState, pid: number): TaskState {
    st.pids.add(pid);
    if (pid >= 0) st.allPids.push(pid);
    this.byPid.set(pid, st);
    return st;
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
      if (this.last === st) this.last = undefined;
    }
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
    const st = this.newState(task, false, parent.view.clone());
    for (const fd of parent.trackedFds) st.trackedFds.add(fd);
    return st;
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
}
