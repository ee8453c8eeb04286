/**
 * The end of an strace call line: `) ` + padding + `= RESULT`, then the -T duration ` <secs>`.
 * Scanned by index on the whole line (no substrings or regular expressions for the usual
 * `= 0x7f...` or `= 0`); values below 2^53 are numbers (see trace-int.ts).
 */
import { errnoNumber } from './errno.js';
import { excerptAt, fail, LineError } from './errors.js';
import type { Duration, SyscallResult } from './strace-types.js';
import { type TraceInt, traceInt } from './trace-int.js';

export interface ParsedTail {
  /** The index of the `)` that closes the arguments. */
  close: number;
  result: SyscallResult;
  duration: Duration | undefined;
}

const RESTART_NAMES = new Set(['ERESTARTSYS', 'ERESTARTNOINTR', 'ERESTARTNOHAND', 'ERESTART_RESTARTBLOCK']);
const RE_ERRNO = /^ ([A-Z][A-Z0-9_]*) \(([^()]*)\)/;
const RE_ERRNO_NUM = /^ \(errno (\d+)\)/;

const isDigit = (ch: number) => ch >= 48 && ch <= 57;
const isHexDigit = (ch: number) => (ch >= 48 && ch <= 57) || ((ch | 0x20) >= 97 && (ch | 0x20) <= 102);

/**
 * End index (exclusive) of a `<...>` decoration starting at `start`, looking no further than `end`,
 * or -1. Handles `<a<b>>` and `[..->..]`.
 */
function decorationEnd(text: string, start: number, end: number): number {
  let depth = 0;
  let bracket = 0;
  for (let i = start; i < end; i++) {
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

/** Where ` <DIGITS[.DIGITS]>` ends `text` (the index of its space), if it starts at `from` or later; else -1. */
function durationStart(text: string, from: number): number {
  const end = text.length;
  if (text.charCodeAt(end - 1) !== 62) return -1;
  let i = end - 2;
  while (i >= from && isDigit(text.charCodeAt(i))) i--;
  if (text.charCodeAt(i) === 46 && i < end - 2) {
    const dot = i;
    i--;
    while (i >= from && isDigit(text.charCodeAt(i))) i--;
    if (i === dot - 1) return -1;
  } else if (i === end - 2) return -1;
  if (text.charCodeAt(i) !== 60 || i - 1 < from || text.charCodeAt(i - 1) !== 32) return -1;
  return i - 1;
}

/**
 * Parse `= RESULT[ <duration>]` starting at `pos` (at the `=`), to the end of `text`; `close` is the
 * `)` before it, handed back in the tail (one object per line, not two).
 */
function parseResultTail(text: string, pos: number, close: number): ParsedTail | LineError {
  if (text.charCodeAt(pos) !== 61 || text.charCodeAt(pos + 1) !== 32)
    return new LineError(pos, '"= " and a result', excerptAt(text, pos));
  const bodyStart = pos + 2;
  let end = text.length;
  let duration: Duration | undefined;
  const d = durationStart(text, bodyStart);
  if (d >= 0) {
    const secs = text.slice(d + 2, end - 1);
    duration = { text: secs, seconds: Number(secs) };
    end = d;
  }
  if (text.charCodeAt(bodyStart) === 63 /* ? */) return unknownResult(text, bodyStart, end, close, duration);

  // A number: 0x and hex digits, or decimal with an optional minus sign.
  let i = bodyStart;
  let hex = false;
  let v = 0;
  let negative = false;
  if (
    text.charCodeAt(i) === 48 &&
    text.charCodeAt(i + 1) === 120 &&
    i + 2 < end &&
    isHexDigit(text.charCodeAt(i + 2))
  ) {
    hex = true;
    i += 2;
    for (let ch = text.charCodeAt(i); i < end && isHexDigit(ch); ch = text.charCodeAt(++i))
      v = v * 16 + (ch <= 57 ? ch - 48 : (ch | 0x20) - 87);
  } else {
    if (text.charCodeAt(i) === 45) {
      negative = true;
      i++;
    }
    const digits = i;
    for (let ch = text.charCodeAt(i); i < end && isDigit(ch); ch = text.charCodeAt(++i))
      v = v * 10 + (ch - 48);
    if (i === digits)
      return new LineError(bodyStart, 'a result: a number, 0x..., or "?"', excerptAt(text, bodyStart));
  }
  // Exact below 2^53 (see decode.ts); beyond, BigInt reads the digits.
  const value: TraceInt =
    v <= Number.MAX_SAFE_INTEGER
      ? negative && v !== 0
        ? -v
        : v
      : traceInt(BigInt(text.slice(bodyStart, i)));

  let decoration: string | undefined;
  if (i < end && text.charCodeAt(i) === 60 /* < */) {
    let e = decorationEnd(text, i, end);
    if (e < 0) {
      e = text.lastIndexOf('>', end - 1) + 1;
      if (e <= i) return new LineError(i, 'a "<...>" decoration', excerptAt(text, i));
    }
    decoration = text.slice(i + 1, e - 1);
    i = e;
  }
  if (i === end) {
    const result: SyscallResult = { kind: 'value', value, hex };
    if (decoration !== undefined) result.decoration = decoration;
    return { close, result, duration };
  }
  let rest = text.slice(i, end);
  if (value < 0 && !hex) {
    const em = RE_ERRNO.exec(rest);
    if (em) {
      const errno = errnoNumber(em[1]);
      if (errno === undefined) return new LineError(i + 1, 'an errno name', excerptAt(text, i + 1));
      rest = rest.slice(em[0].length);
      if (rest !== '' && !rest.startsWith(' ')) {
        return new LineError(i + em[0].length, 'the end of the line', excerptAt(text, i + em[0].length));
      }
      const result: SyscallResult = { kind: 'error', value, errno };
      if (rest !== '') result.aux = rest;
      return { close, result, duration };
    }
    const en = RE_ERRNO_NUM.exec(rest);
    if (en) {
      rest = rest.slice(en[0].length);
      const result: SyscallResult = { kind: 'error', value, errno: Number(en[1]) };
      if (rest !== '') result.aux = rest;
      return { close, result, duration };
    }
  }
  if (!rest.startsWith(' (')) {
    return new LineError(i, 'the end of the line after the result', excerptAt(text, i));
  }
  const result: SyscallResult = { kind: 'value', value, hex };
  if (decoration !== undefined) result.decoration = decoration;
  result.aux = rest;
  return { close, result, duration };
}

/** `= ?`, `= ? <unavailable>`, `= ? ERESTARTSYS (...)`: the body from `at` (the `?`) to `end`. */
function unknownResult(
  text: string,
  at: number,
  end: number,
  close: number,
  duration: Duration | undefined,
): ParsedTail | LineError {
  const rest = text.slice(at + 1, end);
  if (rest === '') return { close, result: { kind: 'none' }, duration };
  if (rest === ' <unavailable>') return { close, result: { kind: 'unavailable' }, duration };
  const r = /^ (ERESTART[A-Z_]*) \((.*)\)$/.exec(rest);
  if (r && RESTART_NAMES.has(r[1])) {
    return { close, result: { kind: 'restart', name: r[1], errno: errnoNumber(r[1])! }, duration };
  }
  return new LineError(at + 1, 'the end of the line after "= ?"', excerptAt(text, at + 1));
}

/**
 * Find `) ` + padding + `= RESULT` at the end of `text`, searching from the right so that `) = ` inside
 * a quoted argument is not mistaken for it. Returns the index of the `)` (in `close`) and the tail.
 */
export function findResult(text: string, from: number): ParsedTail {
  let firstError: LineError | undefined;
  let i = text.lastIndexOf(') ', text.length);
  while (i >= from) {
    let j = i + 2;
    while (text.charCodeAt(j) === 32) j++;
    if (text.charCodeAt(j) === 61 /* = */) {
      const t = parseResultTail(text, j, i);
      if (!(t instanceof LineError)) return t;
      firstError ??= t;
    }
    if (i === 0) break;
    i = text.lastIndexOf(') ', i - 1);
  }
  if (firstError) throw firstError;
  return fail(text, text.length, '") = " and a result, or " <unfinished ...>"');
}
