/**
 * The parsed form of strace output.
 *
 * Every syscall argument and result is a TraceInt: a number when it is a safe integer, a bigint
 * beyond, so that full 64-bit values such as `18446744073709547520` (= -4096 as an unsigned long)
 * are kept exactly. Addresses, lengths, offsets and flags are unsigned 64-bit values exactly as
 * strace printed them; `fd` and `pkey` are signed (strace prints them as `int`); a successful
 * result is the value strace printed (hex results are unsigned, decimal ones signed).
 */

import type { TraceSyntaxError } from './errors.js';
import type { TraceInt } from './trace-int.js';
import type { Arch } from './xlat.js';

export type { Arch } from './xlat.js';

/** A timestamp from -t/-tt/-ttt (`time`) or -r (`relative`), with its exact text. */
export interface Timestamp {
  /** The text as printed, without the separating space (for -r it keeps strace's left padding). */
  text: string;
  /** `clock` = -t/-tt (HH:MM:SS[.frac], local time of day); `epoch` = -ttt; `relative` = -r. */
  style: 'clock' | 'epoch' | 'relative';
  /** Seconds: since midnight for `clock`, since the epoch for `epoch`, since the previous line for `relative`. */
  seconds: number;
}

/**
 * Everything strace prints before the syscall name (or before `+++`, `---`, `<...`).
 * `text` is the exact original text; the other fields are its decoded parts.
 */
export interface LinePrefix {
  text: string;
  /** From `-f`: `[pid  1234] ` (`bracket`, strace writing to a terminal/stderr) or `1234  ` (`bare`, with -o). */
  pid?: number;
  pidStyle?: 'bracket' | 'bare';
  time?: Timestamp;
  relative?: Timestamp;
}

/** The result after `= `. */
export type SyscallResult =
  /** `= 0`, `= 0x7f3a1c2e5000`, `= 3</etc/ld.so.cache>`, `= 0x1 (flags FD_CLOEXEC)`. */
  | {
      kind: 'value';
      value: TraceInt;
      /** Whether strace printed the value in hex (`0x...`; note that its `%#lx` prints zero as `0`). */
      hex: boolean;
      /** The text inside `<...>` after the value (-y/-yy), if any. */
      decoration?: string;
      /** Anything strace printed after the value, such as ` (flags FD_CLOEXEC)`, verbatim with its leading space. */
      aux?: string;
    }
  /** `= -1 ENOMEM (Cannot allocate memory)` or `= -1 (errno 600)`. */
  | {
      kind: 'error';
      /** The returned value, almost always -1n. */
      value: TraceInt;
      errno: number;
      /** Anything after the errno text, such as ` (INJECTED)`, verbatim. */
      aux?: string;
    }
  /** `= ?` (exit, execve in a dead process, ...). */
  | { kind: 'none' }
  /** `= ? <unavailable>`: strace could not read the result. */
  | { kind: 'unavailable' }
  /** `= ? ERESTARTSYS (To be restarted if SA_RESTART is set)` and the other ERESTART* codes. */
  | { kind: 'restart'; errno: number; name: string };

export interface Duration {
  /** The text between `<` and `>` (e.g. `0.000012`). */
  text: string;
  seconds: number;
}

/** The fully decoded memory syscalls. */
export type MemoryCall =
  | {
      syscall: 'mmap';
      addr: TraceInt;
      length: TraceInt;
      prot: TraceInt;
      flags: TraceInt;
      fd: TraceInt;
      /** The text inside `<...>` after the fd from -y/-yy, e.g. `/usr/lib/x86_64-linux-gnu/libc.so.6`. */
      fdPath?: string;
      offset: TraceInt;
    }
  | { syscall: 'munmap'; addr: TraceInt; length: TraceInt }
  | { syscall: 'mprotect'; addr: TraceInt; length: TraceInt; prot: TraceInt }
  | { syscall: 'pkey_mprotect'; addr: TraceInt; length: TraceInt; prot: TraceInt; pkey: TraceInt }
  | { syscall: 'brk'; addr: TraceInt }
  | {
      syscall: 'mremap';
      oldAddress: TraceInt;
      oldSize: TraceInt;
      newSize: TraceInt;
      flags: TraceInt;
      /** Present when flags has both MREMAP_MAYMOVE and MREMAP_FIXED (strace prints it only then). */
      newAddress?: TraceInt;
    }
  | { syscall: 'madvise'; addr: TraceInt; length: TraceInt; advice: TraceInt };

export type MemorySyscallName = MemoryCall['syscall'];

export const MEMORY_SYSCALLS: readonly MemorySyscallName[] = [
  'mmap',
  'munmap',
  'mprotect',
  'pkey_mprotect',
  'brk',
  'mremap',
  'madvise',
];

/** Fields shared by every event. */
export interface EventBase {
  /** 1-based line number of the line that produced the event. */
  line: number;
  /** The exact line text (without the newline). For a call split by a `strace:` message, both parts joined. */
  raw: string;
  prefix: LinePrefix;
  /** The pid: from the prefix, else the parser's default pid (e.g. from a -ff file name), else undefined. */
  pid?: number;
}

/**
 * How a call that strace printed in two pieces was joined:
 * `mmap(... <unfinished ...>` on line `unfinishedLine`, then `<... mmap resumed>...) = X` on `line`.
 */
export interface ResumedInfo {
  unfinishedLine: number;
  unfinishedPrefix: LinePrefix;
  /** The argument text printed before ` <unfinished ...>`. */
  unfinishedArgs: string;
  /** The argument text printed after `resumed>`, before `)`. */
  resumedArgs: string;
}

interface CallFields {
  name: string;
  /** The full argument text between the parentheses (for a joined call: both parts concatenated). */
  args: string;
  result: SyscallResult;
  duration?: Duration;
  resumed?: ResumedInfo;
  /**
   * Set when a `strace: Process N attached` message was written into the middle of this call's line
   * (strace writing to stderr): `raw` is then the call with the message removed, i.e. two input lines joined.
   */
  splitAt?: number;
}

/** A decoded memory syscall. */
export interface MemoryCallEvent extends EventBase, CallFields {
  kind: 'memory';
  call: MemoryCall;
}

/** Any other syscall: read and passed over. */
export interface OtherCallEvent extends EventBase, CallFields {
  kind: 'other';
  /** True for a `<... x resumed>` line with no `<unfinished ...>` line before it (arguments incomplete). */
  orphan?: boolean;
}

/** `name(args <unfinished ...>`: the call is reported again, joined, on its `resumed` line. */
export interface UnfinishedEvent extends EventBase {
  kind: 'unfinished';
  name: string;
  args: string;
  /** ` <detached ...>` instead of ` <unfinished ...>` (strace detached during the call). */
  detached?: boolean;
}

/** `+++ exited with N +++` */
export interface ExitEvent extends EventBase {
  kind: 'exit';
  status: number;
}

/** `+++ killed by SIGSEGV +++` / `+++ killed by SIGSEGV (core dumped) +++` */
export interface KilledEvent extends EventBase {
  kind: 'killed';
  signal: string;
  coreDumped: boolean;
}

/** `+++ superseded by execve in pid N +++` */
export interface SupersededEvent extends EventBase {
  kind: 'superseded';
  byPid: number;
}

/** `--- SIGSEGV {si_signo=SIGSEGV, ...} ---` or `--- stopped by SIGSTOP ---` */
export interface SignalEvent extends EventBase {
  kind: 'signal';
  signal: string;
  /** The text between the braces, verbatim (empty for `stopped by`). */
  info: string;
  stopped: boolean;
  /** si_addr decoded, when present (SIGSEGV/SIGBUS). */
  siAddr?: TraceInt;
  /** si_code text, when present (e.g. `SEGV_MAPERR`). */
  siCode?: string;
}

/** `strace: Process N attached` and other lines strace writes about itself. */
export interface MessageEvent extends EventBase {
  kind: 'message';
  text: string;
  attached?: number;
  detached?: number;
}

/** An empty line. */
export interface BlankEvent extends EventBase {
  kind: 'blank';
}

/** In lenient mode, a line that could not be understood (it is counted and passed over). */
export interface InvalidEvent extends EventBase {
  kind: 'invalid';
  error: TraceSyntaxError;
}

export type CallEvent = MemoryCallEvent | OtherCallEvent;

export type TraceEvent =
  | MemoryCallEvent
  | OtherCallEvent
  | UnfinishedEvent
  | ExitEvent
  | KilledEvent
  | SupersededEvent
  | SignalEvent
  | MessageEvent
  | BlankEvent
  | InvalidEvent;

export interface ParseOptions {
  /** The name used in error messages (`file:line:column: ...`). Default `<input>`. */
  file?: string;
  /** Skip and count lines that cannot be understood instead of throwing. Default false. */
  lenient?: boolean;
  /** Which architecture's constants to use. Default `x86_64`. */
  arch?: Arch;
  /** The pid of lines without a pid prefix (e.g. taken from a -ff file name `trace.1234`). */
  pid?: number;
  /** The line number of the first line (default 1). */
  firstLine?: number;
}
