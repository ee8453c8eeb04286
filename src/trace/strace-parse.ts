/**
 * A streaming parser for strace output.
 *
 * The core is `parseLine(line, state)`, which turns one line into one event and keeps only the calls
 * that are `<unfinished ...>` in `state`; `parseLines`, `parseReadable`, `parseStraceText` and
 * `parseStraceFile` drive it over whole inputs.
 */

import { ArgError, decodeMemoryArgs, FlagCaches } from './decode.js';
import { excerptAt, fail, LineError, TraceSyntaxError } from './errors.js';
import { parseLeader } from './strace-leader.js';
import { findResult, type ParsedTail } from './strace-result.js';
import {
  type LinePrefix,
  MEMORY_SYSCALLS,
  type MemoryCallEvent,
  type MemorySyscallName,
  type OtherCallEvent,
  type ParseOptions,
  type ResumedInfo,
  type TraceEvent,
  type UnfinishedEvent,
} from './strace-types.js';
import { traceInt } from './trace-int.js';
import { type Arch, type ArchXlat, xlatFor } from './xlat.js';

interface PendingCall {
  name: string;
  args: string;
  line: number;
  prefix: LinePrefix;
}

export interface ParseStats {
  lines: number;
  memoryCalls: number;
  otherCalls: number;
  /** Lines that could not be understood (lenient mode only; strict mode throws on the first). */
  invalid: number;
}

/** The state of a streaming parse: constant-size apart from `pending`. */
export interface ParserState {
  readonly file: string;
  readonly lenient: boolean;
  readonly arch: Arch;
  readonly xlat: ArchXlat;
  /** Flag expressions already decoded in this parse. */
  readonly flagCaches: FlagCaches;
  readonly defaultPid: number | undefined;
  /** Number of the last line given to parseLine. */
  lineNo: number;
  /** Calls printed with `<unfinished ...>` and not yet resumed, by pid. */
  readonly pending: Map<number | undefined, PendingCall>;
  /** The beginning of a call line into which strace wrote a `strace: ...` message. */
  partial: { text: string; line: number } | undefined;
  /** Whether a bare `N.N` timestamp means -ttt (epoch) or -r (relative); decided on the first one. */
  numericStyle: 'epoch' | 'relative' | undefined;
  /** The last line's leader text (see strace-leader.ts). */
  lastLeader: string;
  readonly stats: ParseStats;
  /** In lenient mode, the first error met. */
  firstError: TraceSyntaxError | undefined;
}

export function createParserState(options: ParseOptions = {}): ParserState {
  const arch = options.arch ?? 'x86_64';
  return {
    file: options.file ?? '<input>',
    lenient: options.lenient ?? false,
    arch,
    xlat: xlatFor(arch),
    flagCaches: new FlagCaches(),
    defaultPid: options.pid,
    lineNo: (options.firstLine ?? 1) - 1,
    pending: new Map(),
    partial: undefined,
    numericStyle: undefined,
    lastLeader: '',
    stats: { lines: 0, memoryCalls: 0, otherCalls: 0, invalid: 0 },
    firstError: undefined,
  };
}

const MEMORY_SET = new Set<string>(MEMORY_SYSCALLS);

const RE_RESUMED = /^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*) resumed>/;
const RE_EMBEDDED_MESSAGE = /strace: Process \d+ (?:attached|detached)$/;
const UNFINISHED = ' <unfinished ...>';
const DETACHED = ' <detached ...>';

/** Whether `ch` may start (`first`) or continue a syscall name: `[A-Za-z_][A-Za-z0-9_]*`. */
function isNameChar(ch: number, first: boolean): boolean {
  const l = ch | 0x20;
  return (l >= 97 && l <= 122) || ch === 95 || (!first && ch >= 48 && ch <= 57);
}

/** The end of `name(` at `pos` (the index of the `(`), or -1. */
function nameEnd(text: string, pos: number): number {
  if (!isNameChar(text.charCodeAt(pos), true)) return -1;
  let i = pos + 1;
  while (isNameChar(text.charCodeAt(i), false)) i++;
  return text.charCodeAt(i) === 40 ? i : -1;
}

/** Whether `text.trim() === ''`, without making the trimmed copy for the usual non-blank line. */
function isBlank(text: string): boolean {
  if (text.length === 0) return true;
  const ch = text.charCodeAt(0);
  // Every whitespace character is at most U+0020 or at least U+00A0.
  if (ch > 32 && ch < 0xa0) return false;
  return text.trim() === '';
}

/**
 * `text.slice(pos, end)` when it names a memory syscall, as the one string constant of that name
 * (no copy per line, and a Set lookup that need not hash it again); else the slice.
 */
function syscallName(text: string, pos: number, end: number): string {
  switch (end - pos) {
    case 3:
      if (text.startsWith('brk', pos)) return 'brk';
      break;
    case 4:
      if (text.startsWith('mmap', pos)) return 'mmap';
      break;
    case 6:
      if (text.startsWith('munmap', pos)) return 'munmap';
      if (text.startsWith('mremap', pos)) return 'mremap';
      break;
    case 7:
      if (text.startsWith('madvise', pos)) return 'madvise';
      break;
    case 8:
      if (text.startsWith('mprotect', pos)) return 'mprotect';
      break;
  }
  return text.slice(pos, end);
}

/** The event of a call line; `text` is the line (its `raw`), `prefix` and `pid` its leader's. */
function buildCall(
  state: ParserState,
  text: string,
  lineNo: number,
  prefix: LinePrefix,
  pid: number | undefined,
  name: string,
  args: string,
  argsIndex: number,
  tail: ParsedTail,
  resumed: ResumedInfo | undefined,
  resumedArgsIndex: number,
): MemoryCallEvent | OtherCallEvent {
  // Objects are built with a fixed shape (no spreads): this is the hot path of large logs.
  if (MEMORY_SET.has(name)) {
    try {
      const call = decodeMemoryArgs(name as MemorySyscallName, args, state.xlat, state.flagCaches);
      state.stats.memoryCalls++;
      return {
        kind: 'memory',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        name,
        args,
        result: tail.result,
        duration: tail.duration,
        resumed,
        call,
      };
    } catch (e) {
      if (!(e instanceof ArgError)) throw e;
      if (resumed && e.index < resumed.unfinishedArgs.length) {
        // The error is in the `<unfinished ...>` half, on an earlier line.
        const col = resumed.unfinishedPrefix.text.length + name.length + 1 + e.index;
        throw new LineError(col, e.expected, e.found, resumed.unfinishedLine);
      }
      const idx = resumed
        ? resumedArgsIndex + (e.index - resumed.unfinishedArgs.length)
        : argsIndex + e.index;
      throw new LineError(idx, e.expected, excerptAt(text, idx));
    }
  }
  state.stats.otherCalls++;
  return {
    kind: 'other',
    line: lineNo,
    raw: text,
    prefix,
    pid,
    name,
    args,
    result: tail.result,
    duration: tail.duration,
    resumed,
  };
}

function parseBody(text: string, state: ParserState, lineNo: number): TraceEvent {
  const prefix = parseLeader(text, state);
  const pos = prefix.text.length;
  const pid = prefix.pid ?? state.defaultPid;
  // A call line starts with its name: one character rules out `+++`, `---` and `<...` (a call
  // line's own checks, below, are then the only ones).
  const first = text.charCodeAt(pos);
  if (first === 43 /* + */ && text.startsWith('+++ ', pos)) {
    const body = text.slice(pos);
    const exited = /^\+\+\+ exited with (\d+) \+\+\+$/.exec(body);
    if (exited)
      return {
        kind: 'exit',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        status: Number(exited[1]),
      };
    const killed = /^\+\+\+ killed by (SIG[A-Z0-9_]+|\d+)( \(core dumped\))? \+\+\+$/.exec(body);
    if (killed)
      return {
        kind: 'killed',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        signal: killed[1],
        coreDumped: killed[2] !== undefined,
      };
    const sup = /^\+\+\+ superseded by execve in pid (\d+) \+\+\+$/.exec(body);
    if (sup)
      return {
        kind: 'superseded',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        byPid: Number(sup[1]),
      };
    return fail(
      text,
      pos + 4,
      '"exited with N +++", "killed by SIG... +++" or "superseded by execve in pid N +++"',
    );
  }
  if (first === 45 /* - */ && text.startsWith('--- ', pos)) {
    const body = text.slice(pos);
    const stopped = /^--- stopped by (SIG[A-Z0-9_]+) ---$/.exec(body);
    if (stopped)
      return {
        kind: 'signal',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        signal: stopped[1],
        info: '',
        stopped: true,
      };
    const sig = /^--- (SIG[A-Z0-9_+]+|\d+) \{(.*)\} ---$/.exec(body);
    if (sig) {
      const info = sig[2];
      const ev: TraceEvent = {
        kind: 'signal',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        signal: sig[1],
        info,
        stopped: false,
      };
      const a = /(?:^|, )si_addr=(NULL|0x[0-9a-fA-F]+)/.exec(info);
      if (a) ev.siAddr = a[1] === 'NULL' ? 0 : traceInt(BigInt(a[1]));
      const c = /(?:^|, )si_code=([A-Za-z0-9_]+)/.exec(info);
      if (c) ev.siCode = c[1];
      return ev;
    }
    return fail(text, pos + 4, 'a signal: "SIGxxx {...} ---" or "stopped by SIGxxx ---"');
  }

  const resumedMatch =
    first === 60 /* < */ && text.startsWith('<... ', pos) ? RE_RESUMED.exec(text.slice(pos)) : null;
  if (resumedMatch) {
    const name = resumedMatch[1];
    const argsIndex = pos + resumedMatch[0].length;
    const pend = state.pending.get(pid);
    if (text.endsWith(UNFINISHED)) {
      // Resumed and interrupted again: keep accumulating.
      const more = text.slice(argsIndex, text.length - UNFINISHED.length);
      const pendingCall: PendingCall =
        pend && pend.name === name
          ? { ...pend, args: pend.args + more }
          : { name, args: more, line: lineNo, prefix };
      state.pending.set(pid, pendingCall);
      return {
        kind: 'unfinished',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        name,
        args: more,
      };
    }
    const tail = findResult(text, argsIndex);
    const resumedArgs = text.slice(argsIndex, tail.close);
    if (!pend || pend.name !== name) {
      state.stats.otherCalls++;
      const ev: OtherCallEvent = {
        kind: 'other',
        line: lineNo,
        raw: text,
        prefix,
        pid,
        name,
        args: resumedArgs,
        result: tail.result,
        orphan: true,
      };
      if (tail.duration) ev.duration = tail.duration;
      return ev;
    }
    state.pending.delete(pid);
    const resumed: ResumedInfo = {
      unfinishedLine: pend.line,
      unfinishedPrefix: pend.prefix,
      unfinishedArgs: pend.args,
      resumedArgs,
    };
    return buildCall(
      state,
      text,
      lineNo,
      prefix,
      pid,
      name,
      pend.args + resumedArgs,
      -1,
      tail,
      resumed,
      argsIndex,
    );
  }

  const paren = nameEnd(text, pos);
  if (paren < 0) {
    return fail(text, pos, 'a syscall name, "+++", "---" or "<... resumed>"');
  }
  const name = syscallName(text, pos, paren);
  const argsIndex = paren + 1;
  // Both end with `>`; a line with a result mostly ends with a digit.
  if (text.charCodeAt(text.length - 1) === 62 && (text.endsWith(UNFINISHED) || text.endsWith(DETACHED))) {
    const detached = text.endsWith(DETACHED);
    const args = text.slice(argsIndex, text.length - (detached ? DETACHED : UNFINISHED).length);
    if (!detached) state.pending.set(pid, { name, args, line: lineNo, prefix });
    const ev: UnfinishedEvent = {
      kind: 'unfinished',
      line: lineNo,
      raw: text,
      prefix,
      pid,
      name,
      args,
    };
    if (detached) ev.detached = true;
    return ev;
  }
  const tail = findResult(text, argsIndex);
  return buildCall(
    state,
    text,
    lineNo,
    prefix,
    pid,
    name,
    text.slice(argsIndex, tail.close),
    argsIndex,
    tail,
    undefined,
    -1,
  );
}

/**
 * Parse one line of strace output (without its newline) and return its event.
 * Throws `TraceSyntaxError` on a line it cannot understand, unless the state is lenient, in which case
 * it returns an `invalid` event and counts it.
 */
export function parseLine(line: string, state: ParserState): TraceEvent {
  const lineNo = ++state.lineNo;
  state.stats.lines++;
  let text = line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
  let splitAt: number | undefined;
  let errorLine = lineNo;
  let columnShift = 0;
  if (state.partial) {
    splitAt = state.partial.text.length;
    columnShift = -splitAt;
    text = state.partial.text + text;
    state.partial = undefined;
  }
  try {
    if (isBlank(text)) return { kind: 'blank', line: lineNo, raw: text, prefix: { text: '' } };
    if (text.charCodeAt(0) === 115 /* s */ && text.startsWith('strace: ')) return messageEvent(text, lineNo);
    const mm =
      text.charCodeAt(text.length - 1) === 100 /* d */ && text.endsWith('tached')
        ? RE_EMBEDDED_MESSAGE.exec(text)
        : null;
    if (mm && mm.index > 0 && splitAt === undefined) {
      // strace wrote a message to stderr in the middle of a call line: the call continues on the next line.
      state.partial = { text: text.slice(0, mm.index), line: lineNo };
      return messageEvent(mm[0], lineNo);
    }
    const ev = parseBody(text, state, lineNo);
    // strace never resumes the unfinished call of a process that is gone.
    if (ev.kind === 'exit' || ev.kind === 'killed' || ev.kind === 'superseded') state.pending.delete(ev.pid);
    if (splitAt !== undefined && (ev.kind === 'memory' || ev.kind === 'other')) ev.splitAt = splitAt;
    return ev;
  } catch (e) {
    if (!(e instanceof LineError)) throw e;
    let col = e.index + 1;
    if (e.line !== undefined) errorLine = e.line;
    else if (splitAt !== undefined && e.index < splitAt) errorLine = lineNo - 1;
    else col += columnShift;
    const err = new TraceSyntaxError(state.file, errorLine, col, e.expected, e.found);
    if (!state.lenient) throw err;
    state.stats.invalid++;
    state.firstError ??= err;
    return { kind: 'invalid', line: lineNo, raw: text, prefix: { text: '' }, error: err };
  }
}

function messageEvent(text: string, lineNo: number): TraceEvent {
  const ev: TraceEvent = {
    kind: 'message',
    line: lineNo,
    raw: text,
    prefix: { text: '' },
    text: text.slice(8),
  };
  const a = /^strace: Process (\d+) attached/.exec(text);
  if (a) ev.attached = Number(a[1]);
  const d = /^strace: Process (\d+) detached/.exec(text);
  if (d) ev.detached = Number(d[1]);
  return ev;
}

/** Calls left `<unfinished ...>` at the end of the input (e.g. the process was killed during them). */
export function finishParse(
  state: ParserState,
): Array<{ pid?: number; name: string; args: string; line: number }> {
  const left = [...state.pending.entries()].map(([pid, p]) =>
    pid === undefined
      ? { name: p.name, args: p.args, line: p.line }
      : { pid, name: p.name, args: p.args, line: p.line },
  );
  state.pending.clear();
  return left;
}

/** Parse a whole text (e.g. a small log read into memory). */
export function parseStraceText(
  text: string,
  options: ParseOptions = {},
): { events: TraceEvent[]; state: ParserState } {
  const state = createParserState(options);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const events: TraceEvent[] = [];
  for (const l of lines) {
    events.push(parseLine(l, state));
  }
  return { events, state };
}

/**
 * Parse lines from any (async) iterable of lines, yielding one event per line, in constant memory apart
 * from pending unfinished calls. Pass a state to read its stats afterwards.
 */
export async function* parseLines(
  lines: AsyncIterable<string> | Iterable<string>,
  options: ParseOptions = {},
  state: ParserState = createParserState(options),
): AsyncGenerator<TraceEvent, ParserState, undefined> {
  for await (const l of lines) {
    yield parseLine(l, state);
  }
  return state;
}

/** The pid in a -ff output file name (`trace.1234` → 1234), or undefined. */
export function pidFromFileName(path: string): number | undefined {
  const m = /\.(\d+)$/.exec(path.slice(path.lastIndexOf('/') + 1));
  return m ? Number(m[1]) : undefined;
}
