/**
 * Programs the log runs: an `execve` line with result 0 is `kernel.execve` of the program it names,
 * with the argv and environment the line shows, read through the kernel's `ExecFiles` (the host's
 * files on the command line). The exec'd address space then holds what Linux's execve mapped (the
 * program, ld.so, the vDSO, the stack), so that the new program's first calls land where Linux put
 * them.
 *
 * Honest limits, each said once (a notice):
 * - strace cuts strings after `-s` bytes and, without `-v`, prints only the number of environment
 *   strings: the model then passes the strings as printed and empty ones for the environment, so
 *   the `[stack]` may start a page off Linux's (nothing else of the layout depends on them);
 * - a program that is not on this machine, or whose layout is not the log's (another build, or a
 *   log recorded with address randomization), is replayed from an empty address space, as when the
 *   log has no execve line. The layout is held against the log by the new program's first calls
 *   (its `brk(NULL)`, ld.so's first mappings, their RELRO `mprotect`s): the first of them that
 *   differs from Linux's, before a mapping the kernel placed has matched, means the layout is not
 *   the log's.
 *
 * A log without execve lines (`-e trace=%memory`) still shows a new program in the same pid (a
 * wrapper script's `exec`): its `brk(NULL)` answers another break than the one the process had, or
 * ld.so's first mapping after it lands on memory the process holds.
 */

import { MAP_FIXED, MAP_FIXED_NOREPLACE } from '../abi/mman.js';
import { hex } from '../hal/addr.js';
import type { Kernel } from '../kernel/kernel.js';
import { errnoName } from '../trace/errno.js';
import { parseExecArgs } from '../trace/process-args.js';
import type { MemoryCallEvent, OtherCallEvent } from '../trace/strace-types.js';
import { isZero, low32, sameInt } from '../trace/trace-int.js';
import type { Processes, SpaceState, TaskState } from './processes.js';
import { MAX_ADDR } from './relocation.js';

/** Calls after an exec that must match before its layout counts as the log's without a placed mapping. */
const VERIFY_CALLS = 16;

/** What the exec log tells the engine: notices (once per key), and each program the model loaded. */
export interface ExecHooks {
  notify(key: string, text: string): void;
  /** After kernel.execve loaded `program` (as /proc/PID/maps names it) for `pid` of the log. */
  loaded?(pid: number, program: string, space: SpaceState): void;
}

/** Whether a call is a mapping whose address the kernel chose (what shows where the mmap area begins). */
function placedMmap(ev: MemoryCallEvent): boolean {
  const c = ev.call;
  return c.syscall === 'mmap' && isZero(c.addr) && (low32(c.flags) & (MAP_FIXED | MAP_FIXED_NOREPLACE)) === 0;
}

export class ExecLog {
  constructor(
    private readonly kernel: Kernel,
    private readonly processes: Processes,
    private readonly hooks: ExecHooks,
  ) {}

  private notify(key: string, text: string): void {
    this.hooks.notify(key, text);
  }

  /** An `execve`/`execveat` line: false for any other line. */
  execLine(st: TaskState, ev: OtherCallEvent): boolean {
    if (ev.name !== 'execve' && ev.name !== 'execveat') return false;
    this.processes.sawProcessLines = true;
    const r = ev.result;
    // A failed execve changes nothing; one without a result (`= ?`) did not return to tell.
    if (r.kind !== 'value' || !isZero(r.value)) return true;
    const args = parseExecArgs(ev.name, ev.args);
    const where = `pid ${st.pid}, line ${ev.line}`;
    if (args === undefined || args.pathTruncated) {
      this.notify(
        `unreadable:${ev.line}`,
        `${where}: the program of this execve cannot be read from the log; replaying it from an empty address space`,
      );
      this.processes.replaceSpace(st, undefined);
      return true;
    }
    const path = args.path;
    const argv = args.argv?.strings ?? [];
    const envp: Array<string | Uint8Array> = [...(args.envp?.strings ?? [])];
    while (envp.length < (args.envp?.count ?? 0)) envp.push('');
    if (args.envp?.truncated || args.argv?.truncated) {
      this.notify(
        'abbreviated',
        'the log abbreviates execve arguments (strace -s cuts strings, and without -v prints only the number of ' +
          "environment strings): the [stack] of exec'd programs may start elsewhere than in Linux; record with " +
          '-v -s 4096 to have them in full',
      );
    }
    const space = this.processes.replaceSpace(st, path, (task) => {
      const e = this.kernel.execve(task, path, argv, envp);
      if (e < 0) {
        const relative = path.startsWith('/') ? '' : ', a path relative to where the traced command ran';
        this.notify(
          `missing:${path}`,
          `${path} (${where}) cannot be run on this machine (${errnoName(-e) ?? `errno ${-e}`}${relative}): ` +
            'replaying it from an empty address space, as if the log began after its exec',
        );
        return false;
      }
      return true;
    });
    if (space.origin === 'exec') {
      space.verifying = { calls: 0, path };
      this.hooks.loaded?.(st.pid, space.mm.image?.path ?? path, space);
    }
    return true;
  }

  /**
   * Before a memory call of `st`, in a log without process lines: a new program in the same pid
   * gets an empty address space (the log does not say which program it is).
   */
  beforeMemory(st: TaskState, ev: MemoryCallEvent): void {
    if (this.processes.sawProcessLines) return;
    const call = ev.call;
    const log = ev.result;
    const view = st.space.view;
    const value = log.kind === 'value' && log.value <= MAX_ADDR ? log.value : undefined;
    if (call.syscall === 'brk' && isZero(call.addr)) {
      // The first brk of an address space only places its break (or contradicts the snapshot).
      if (!view.brkChecked) return;
      if (value !== undefined && view.brkKnown && view.logStartBrk !== 0 && !sameInt(value, view.logBrk)) {
        this.newProgram(st, ev, `its brk(NULL) answers ${hex(value)}, not its break ${hex(view.logBrk)}`);
      }
      st.lastBrkNull = value;
      return;
    }
    const brkNull = st.lastBrkNull;
    st.lastBrkNull = undefined;
    if (brkNull === undefined || value === undefined || !placedMmap(ev) || call.syscall !== 'mmap') return;
    const page = view.pageSize;
    const len = Math.ceil(Number(call.length) / page) * page;
    if (view.map.firstOverlap(Number(value), Number(value) + len) === undefined) return;
    const space = this.newProgram(
      st,
      ev,
      `its first mapping, at ${hex(value)}, lands on memory the process holds`,
    );
    // The break of the new program is the one its brk(NULL) showed just before.
    space.view.placeBreak(
      { syscall: 'brk', addr: 0 },
      { kind: 'value', value: brkNull, hex: true },
      space.mm,
    );
  }

  /**
   * After a call of an exec'd space whose layout is still being held against the log: true when it
   * stays, false when the call showed it is not the log's, and `st` now has an empty address space
   * (the caller runs the call again in it).
   */
  verified(st: TaskState, ev: MemoryCallEvent, match: boolean, model: number): boolean {
    const space = st.space;
    const v = space.verifying;
    if (v === undefined) return true;
    const call = ev.call;
    const log = ev.result;
    if (!match) {
      const shown =
        log.kind === 'value' ? hex(log.value) : log.kind === 'error' ? `-1 ${errnoName(log.errno)}` : '?';
      const mine = model >= 0 ? hex(model) : `-1 ${errnoName(-model)}`;
      this.notify(
        `layout:${v.path}`,
        `${v.path} (pid ${st.pid}): its exec layout is not the log's (line ${ev.line}: ${call.syscall} answered ` +
          `${shown} in Linux, ${mine} in the model): the log was recorded with address randomization (record with ` +
          'setarch -R) or on another build of the program or of ld.so; replaying it from an empty address space',
      );
      const fresh = this.processes.replaceSpace(st, v.path);
      if (v.firstBreak !== undefined) {
        fresh.view.placeBreak(
          { syscall: 'brk', addr: 0 },
          { kind: 'value', value: v.firstBreak, hex: true },
          fresh.mm,
        );
      }
      return false;
    }
    if (call.syscall === 'brk' && isZero(call.addr) && log.kind === 'value') v.firstBreak ??= log.value;
    if (placedMmap(ev) || ++v.calls >= VERIFY_CALLS) space.verifying = undefined;
    return true;
  }

  private newProgram(st: TaskState, ev: MemoryCallEvent, why: string): SpaceState {
    this.notify(
      'reexec',
      `pid ${st.pid} runs a new program at line ${ev.line} (${why}), but the log has no execve line: replaying it ` +
        'from an empty address space; record with strace -f -e trace=%memory,%process to have execve in the log',
    );
    return this.processes.replaceSpace(st, undefined);
  }
}
