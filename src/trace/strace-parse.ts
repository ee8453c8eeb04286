/**
 * A streaming parser for strace output.
 *
 * The core is `parseLine(line, state)`, which turns one line into one event and keeps only the calls
 * that are `<unfinished ...>` in `state`; `parseLines`, `parseReadable`, `parseStraceText` and
 * `parseStraceFile` drive it over whole inputs.
 */

import { ArgError, decodeMemoryArgs } from './decode.js';
import { errnoNumber } from './errno.js';
import { excerptAt, TraceSyntaxError } from './errors.js';
import {
  type Duration,
  type LinePrefix,
  MEMORY_SYSCALLS,
  type MemoryCallEvent,
  type MemorySyscallName,
  type OtherCallEvent,
  type ParseOptions,
  type ResumedInfo,
  type SyscallResult,
  type Timestamp,
  type TraceEvent,
  type UnfinishedEvent,
} from './strace-types.js';
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
  readonly defaultPid: number | undefined;
  /** Number of the last line given to parseLine. */
  lineNo: number;
  /** Calls printed with `<unfinished ...>` and not yet resumed, by pid. */
  readonly pending: Map<number | undefined, PendingCall>;
  /** The beginning of a call line into which strace wrote a `strace: ...` message. */
  partial: { text: string; line: number } | undefined;
  /** Whether a bare `N.N` timestamp means -ttt (epoch) or -r (relative); decided on the first one. */
  numericStyle: 'epoch' | 'relative' | undefined;
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
    defaultPid: options.pid,
    lineNo: (options.firstLine ?? 1) - 1,
    pending: new Map(),
    partial: undefined,
    numericStyle: undefined,
    stats: { lines: 0, memoryCalls: 0, otherCalls: 0, invalid: 0 },
    firstError: undefined,
  };
}

/** Thrown inside the parser with a column in the (possibly joined) text. */
class LineError {
  constructor(
    readonly index: number,
    readonly expected: string,
    readonly found: string,
    /** When the error is in an earlier line (the `<unfinished ...>` half of a call). */
    readonly line?: number,
  ) {}
}

function fail(text: string, index: number, expected: string): never {
  throw new LineError(index, expected, excerptAt(text, index));
}

const MEMORY_SET = new Set<string>(MEMORY_SYSCALLS);

const RE_BRACKET_PID = /^\[pid +(\d+)\] /;
const RE_BARE_PID = /^(\d+) /;
const RE_CLOCK = /^(\d\d):(\d\d):(\d\d)(?:\.(\d+))? /;
const RE_NUMERIC = /^( *)(\d+)(?:\.(\d+))? /;
const RE_PAREN_REL = /^\(\+( *\d+(?:\.\d+)?)\) /;
const RE_NAME = /^[A-Za-z_][A-Za-z0-9_]*\(/;
const RE_RESUMED = /^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*) resumed>/;
const RE_EMBEDDED_MESSAGE = /strace: Process \d+ (?:attached|detached)$/;
const UNFINISHED = ' <unfinished ...>';
const DETACHED = ' <detached ...>';

function numericSeconds(intPart: string, frac: string | undefined): number {
  return Number(frac === undefined ? intPart : `${intPart}.${frac}`);
}

function parsePrefix(text: string, state: ParserState): { prefix: LinePrefix; pos: number } {
  let pos = 0;
  const prefix: LinePrefix = { text: '' };
  const bracket = RE_BRACKET_PID.exec(text);
  const bare = bracket ? null : RE_BARE_PID.exec(text);
  if (bracket) {
    prefix.pid = Number(bracket[1]);
    prefix.pidStyle = 'bracket';
    pos = bracket[0].length;
  } else if (bare) {
    // strace prints "%-5u " : the pid left-aligned in 5 columns, then a space.
    prefix.pid = Number(bare[1]);
    prefix.pidStyle = 'bare';
    pos = bare[1].length;
    let need = Math.max(5 - bare[1].length, 0) + 1;
    while (need > 0 && text[pos] === ' ') {
      pos++;
      need--;
    }
  }
  let rest = text.slice(pos);
  const clock = RE_CLOCK.exec(rest);
  const numeric = clock ? null : RE_NUMERIC.exec(rest);
  if (clock) {
    const seconds = Number(clock[1]) * 3600 + Number(clock[2]) * 60 + numericSeconds(clock[3], clock[4]);
    prefix.time = { text: clock[0].slice(0, -1), style: 'clock', seconds };
    pos += clock[0].length;
    rest = text.slice(pos);
  } else if (numeric) {
    const after = rest.slice(numeric[0].length);
    let style: Timestamp['style'];
    if (RE_PAREN_REL.test(after)) style = 'epoch';
    else {
      // -r pads to 6 integer digits; -ttt prints 10 (seconds since 1970).
      state.numericStyle ??= numeric[1].length > 0 || numeric[2].length < 9 ? 'relative' : 'epoch';
      style = state.numericStyle;
    }
    const ts: Timestamp = {
      text: numeric[0].slice(0, -1),
      style,
      seconds: numericSeconds(numeric[2], numeric[3]),
    };
    if (style === 'epoch') prefix.time = ts;
    else prefix.relative = ts;
    pos += numeric[0].length;
    rest = text.slice(pos);
  }
  const rel = prefix.time ? RE_PAREN_REL.exec(rest) : null;
  if (rel) {
    prefix.relative = { text: rel[1], style: 'relative', seconds: Number(rel[1].trim()) };
    pos += rel[0].length;
  }
  prefix.text = text.slice(0, pos);
  return { prefix, pos };
}

const RESTART_NAMES = new Set(['ERESTARTSYS', 'ERESTARTNOINTR', 'ERESTARTNOHAND', 'ERESTART_RESTARTBLOCK']);
const RE_DURATION = / <(\d+(?:\.\d+)?)>$/;
const RE_NUMBER = /^(0x[0-9a-fA-F]+|-?\d+)/;
const RE_ERRNO = /^ ([A-Z][A-Z0-9_]*) \(([^()]*)\)/;
const RE_ERRNO_NUM = /^ \(errno (\d+)\)/;

/** End index (exclusive) of a `<...>` decoration starting at `start`, or -1. Handles `<a<b>>` and `[..->..]`. */
function decorationEnd(text: string, start: number): number {
  let depth = 0;
  let bracket = 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      i++;
    } else if (ch === '[') bracket++;
    else if (ch === ']' && bracket > 0) bracket--;
    else if (bracket === 0 && ch === '<') depth++;
    else if (bracket === 0 && ch === '>') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

interface ParsedTail {
  result: SyscallResult;
  duration?: Duration;
}

/** Parse `= RESULT[ <duration>]` starting at `pos` (at the `=`), to the end of `text`; undefined if it is not one. */
function parseResultTail(text: string, pos: number): ParsedTail | LineError {
  if (!text.startsWith('= ', pos)) return new LineError(pos, '"= " and a result', excerptAt(text, pos));
  let body = text.slice(pos + 2);
  const bodyStart = pos + 2;
  let duration: Duration | undefined;
  const d = RE_DURATION.exec(body);
  if (d) {
    duration = { text: d[1], seconds: Number(d[1]) };
    body = body.slice(0, d.index);
  }
  const out = (result: SyscallResult): ParsedTail => (duration ? { result, duration } : { result });
  if (body.startsWith('?')) {
    const rest = body.slice(1);
    if (rest === '') return out({ kind: 'none' });
    if (rest === ' <unavailable>') return out({ kind: 'unavailable' });
    const r = /^ (ERESTART[A-Z_]*) \((.*)\)$/.exec(rest);
    if (r && RESTART_NAMES.has(r[1])) {
      return out({ kind: 'restart', name: r[1], errno: errnoNumber(r[1])! });
    }
    return new LineError(bodyStart + 1, 'the end of the line after "= ?"', excerptAt(text, bodyStart + 1));
  }
  const n = RE_NUMBER.exec(body);
  if (!n) return new LineError(bodyStart, 'a result: a number, 0x..., or "?"', excerptAt(text, bodyStart));
  const hex = n[1].startsWith('0x');
  const value = BigInt(n[1]);
  let i = n[1].length;
  let decoration: string | undefined;
  if (body[i] === '<') {
    let e = decorationEnd(body, i);
    if (e < 0) {
      e = body.lastIndexOf('>') + 1;
      if (e <= i) return new LineError(bodyStart + i, 'a "<...>" decoration', excerptAt(text, bodyStart + i));
    }
    decoration = body.slice(i + 1, e - 1);
    i = e;
  }
  let rest = body.slice(i);
  if (value < 0n && !hex) {
    const em = RE_ERRNO.exec(rest);
    if (em) {
      const errno = errnoNumber(em[1]);
      if (errno === undefined)
        return new LineError(bodyStart + i + 1, 'an errno name', excerptAt(text, bodyStart + i + 1));
      rest = rest.slice(em[0].length);
      if (rest !== '' && !rest.startsWith(' ')) {
        return new LineError(
          bodyStart + i + em[0].length,
          'the end of the line',
          excerptAt(text, bodyStart + i + em[0].length),
        );
      }
      const result: SyscallResult = { kind: 'error', value, errno };
      if (rest !== '') result.aux = rest;
      return out(result);
    }
    const en = RE_ERRNO_NUM.exec(rest);
    if (en) {
      rest = rest.slice(en[0].length);
      const result: SyscallResult = { kind: 'error', value, errno: Number(en[1]) };
      if (rest !== '') result.aux = rest;
      return out(result);
    }
  }
  if (rest !== '' && !rest.startsWith(' (')) {
    return new LineError(
      bodyStart + i,
      'the end of the line after the result',
      excerptAt(text, bodyStart + i),
    );
  }
  const result: SyscallResult = { kind: 'value', value, hex };
  if (decoration !== undefined) result.decoration = decoration;
  if (rest !== '') result.aux = rest;
  return out(result);
}

/**
 * Find `) ` + padding + `= RESULT` at the end of `text`, searching from the right so that `) = ` inside
 * a quoted argument is not mistaken for it. Returns the index of the `)` and the parsed tail.
 */
function findResult(text: string, from: number): { close: number; tail: ParsedTail } {
  let firstError: LineError | undefined;
  let i = text.lastIndexOf(') ', text.length);
  while (i >= from) {
    let j = i + 2;
    while (text[j] === ' ') j++;
    if (text[j] === '=') {
      const t = parseResultTail(text, j);
      if (!(t instanceof LineError)) return { close: i, tail: t };
      firstError ??= t;
    }
    if (i === 0) break;
    i = text.lastIndexOf(') ', i - 1);
  }
  if (firstError) throw firstError;
  return fail(text, text.length, '") = " and a result, or " <unfinished ...>"');
}

interface EventFields {
  line: number;
  raw: string;
  prefix: LinePrefix;
  pid: number | undefined;
}

function buildCall(
  state: ParserState,
  text: string,
  base: EventFields,
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
      const call = decodeMemoryArgs(name as MemorySyscallName, args, state.xlat);
      state.stats.memoryCalls++;
      return {
        kind: 'memory',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
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
    line: base.line,
    raw: base.raw,
    prefix: base.prefix,
    pid: base.pid,
    name,
    args,
    result: tail.result,
    duration: tail.duration,
    resumed,
  };
}

function parseBody(text: string, state: ParserState, lineNo: number): TraceEvent {
  const { prefix, pos } = parsePrefix(text, state);
  const pid = prefix.pid ?? state.defaultPid;
  const base: EventFields = { line: lineNo, raw: text, prefix, pid };
  const body = text.slice(pos);
  if (body.startsWith('+++ ')) {
    const exited = /^\+\+\+ exited with (\d+) \+\+\+$/.exec(body);
    if (exited)
      return {
        kind: 'exit',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
        status: Number(exited[1]),
      };
    const killed = /^\+\+\+ killed by (SIG[A-Z0-9_]+|\d+)( \(core dumped\))? \+\+\+$/.exec(body);
    if (killed)
      return {
        kind: 'killed',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
        signal: killed[1],
        coreDumped: killed[2] !== undefined,
      };
    const sup = /^\+\+\+ superseded by execve in pid (\d+) \+\+\+$/.exec(body);
    if (sup)
      return {
        kind: 'superseded',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
        byPid: Number(sup[1]),
      };
    return fail(
      text,
      pos + 4,
      '"exited with N +++", "killed by SIG... +++" or "superseded by execve in pid N +++"',
    );
  }
  if (body.startsWith('--- ')) {
    const stopped = /^--- stopped by (SIG[A-Z0-9_]+) ---$/.exec(body);
    if (stopped)
      return {
        kind: 'signal',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
        signal: stopped[1],
        info: '',
        stopped: true,
      };
    const sig = /^--- (SIG[A-Z0-9_+]+|\d+) \{(.*)\} ---$/.exec(body);
    if (sig) {
      const info = sig[2];
      const ev: TraceEvent = {
        kind: 'signal',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
        signal: sig[1],
        info,
        stopped: false,
      };
      const a = /(?:^|, )si_addr=(NULL|0x[0-9a-fA-F]+)/.exec(info);
      if (a) ev.siAddr = a[1] === 'NULL' ? 0n : BigInt(a[1]);
      const c = /(?:^|, )si_code=([A-Za-z0-9_]+)/.exec(info);
      if (c) ev.siCode = c[1];
      return ev;
    }
    return fail(text, pos + 4, 'a signal: "SIGxxx {...} ---" or "stopped by SIGxxx ---"');
  }

  const resumedMatch = RE_RESUMED.exec(body);
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
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
        name,
        args: more,
      };
    }
    const { close, tail } = findResult(text, argsIndex);
    const resumedArgs = text.slice(argsIndex, close);
    if (!pend || pend.name !== name) {
      state.stats.otherCalls++;
      const ev: OtherCallEvent = {
        kind: 'other',
        line: base.line,
        raw: base.raw,
        prefix: base.prefix,
        pid: base.pid,
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
    return buildCall(state, text, base, name, pend.args + resumedArgs, -1, tail, resumed, argsIndex);
  }

  const nameMatch = RE_NAME.exec(body);
  if (!nameMatch) {
    return fail(text, pos, 'a syscall name, "+++", "---" or "<... resumed>"');
  }
  const name = nameMatch[0].slice(0, -1);
  const argsIndex = pos + nameMatch[0].length;
  if (text.endsWith(UNFINISHED) || text.endsWith(DETACHED)) {
    const detached = text.endsWith(DETACHED);
    const args = text.slice(argsIndex, text.length - (detached ? DETACHED : UNFINISHED).length);
    if (!detached) state.pending.set(pid, { name, args, line: lineNo, prefix });
    const ev: UnfinishedEvent = {
      kind: 'unfinished',
      line: base.line,
      raw: base.raw,
      prefix: base.prefix,
      pid: base.pid,
      name,
      args,
    };
    if (detached) ev.detached = true;
    return ev;
  }
  const { close, tail } = findResult(text, argsIndex);
  return buildCall(state, text, base, name, text.slice(argsIndex, close), argsIndex, tail, undefined, -1);
}

/**
 * Parse one line of strace output (without its newline) and return its event.
 * Throws `TraceSyntaxError` on a line it cannot understand, unless the state is lenient, in which case
 * it returns an `invalid` event and counts it.
 */
export function parseLine(line: string, state: ParserState): TraceEvent {
  const lineNo = ++state.lineNo;
  state.stats.lines++;
  let text = line.endsWith('\r') ? line.slice(0, -1) : line;
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
    if (text.trim() === '') return { kind: 'blank', line: lineNo, raw: text, prefix: { text: '' } };
    if (text.startsWith('strace: ')) return messageEvent(text, lineNo);
    const mm = RE_EMBEDDED_MESSAGE.exec(text);
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
