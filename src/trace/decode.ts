/**
 * Decoding of the arguments of the memory syscalls from strace's text, with exact error positions.
 */

import { excerptAt } from './errors.js';
import type { MemoryCall, MemorySyscallName } from './strace-types.js';
import { type TraceInt, traceInt } from './trace-int.js';
import { type ArchXlat, MAP_HUGE_SHIFT } from './xlat.js';

/** An error inside an argument text: `index` is relative to the start of that text. */
export class ArgError {
  constructor(
    readonly index: number,
    readonly expected: string,
    readonly found: string,
  ) {}
}

class Cursor {
  pos = 0;
  constructor(public text: string) {}

  /** Starts over on `text` (one cursor serves every line of a parse). */
  reset(text: string): void {
    this.text = text;
    this.pos = 0;
  }

  fail(expected: string, at = this.pos): never {
    throw new ArgError(at, expected, excerptAt(this.text, at));
  }

  eat(s: string): boolean {
    if (this.text.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  expect(s: string, what = JSON.stringify(s)): void {
    if (!this.eat(s)) this.fail(what);
  }

  match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }
}

const HEX = /0[xX][0-9a-fA-F]+/y;
const DEC = /[0-9]+/y;
const NAME = /[A-Z_][A-Z0-9_]*/y;
const COMMENT = / \/\* [^*]*(?:\*(?!\/)[^*]*)* \*\//y;

function isHexDigit(ch: number): boolean {
  return (ch >= 48 && ch <= 57) || (ch >= 97 && ch <= 102) || (ch >= 65 && ch <= 70);
}

/** A decimal or 0x-hex number, scanned by hand (this is the hot path of large logs). */
function num(c: Cursor, what: string): TraceInt {
  const t = c.text;
  const start = c.pos;
  let i = start;
  const hex =
    t.charCodeAt(i) === 48 && (t.charCodeAt(i + 1) | 0x20) === 120 && isHexDigit(t.charCodeAt(i + 2));
  let v = 0;
  if (hex) {
    i += 2;
    for (let ch = t.charCodeAt(i); isHexDigit(ch); ch = t.charCodeAt(++i))
      v = v * 16 + (ch <= 57 ? ch - 48 : (ch | 0x20) - 87);
  } else {
    for (let ch = t.charCodeAt(i); ch >= 48 && ch <= 57; ch = t.charCodeAt(++i)) v = v * 10 + (ch - 48);
    if (i === start) return c.fail(what);
  }
  c.pos = i;
  // Every partial value below 2^53 is exact in a double, and rounding never brings a larger one
  // back below it: a result up to MAX_SAFE_INTEGER is the exact value.
  return v <= Number.MAX_SAFE_INTEGER ? v : BigInt(t.slice(start, i));
}

function addr(c: Cursor): TraceInt {
  // An address is a number far more often than NULL: its first character tells which.
  if (c.text.charCodeAt(c.pos) === 78 /* N */ && c.eat('NULL')) return 0;
  return num(c, 'an address (NULL or 0x...)');
}

function unsigned(c: Cursor, what = 'an unsigned number'): TraceInt {
  return num(c, what);
}

function signed(c: Cursor, what: string): TraceInt {
  if (c.text.charCodeAt(c.pos) === 45) {
    c.pos++;
    const v = num(c, what);
    return typeof v === 'number' ? (v === 0 ? 0 : -v) : traceInt(-v);
  }
  return num(c, what);
}

const FLAG_CACHE_LIMIT = 4096;
/** Expressions compared in place before the map is asked: a log's calls take turns with a few. */
const RECENT = 4;

/** Decoded flag expressions of one table: a log repeats the same few all the time. */
class FlagCache {
  readonly values = new Map<string, TraceInt>();
  /**
   * The expressions met last (most recent first) and their values: the next line's is usually one
   * of them (mmap's PROT_READ|PROT_WRITE, then mprotect's PROT_READ, ...), found without cutting it
   * out of the line or hashing it.
   */
  readonly recent: string[] = [];
  readonly recentValues: TraceInt[] = [];
}

/** The first of `cache.recent` that `t` has at `pos`, ending at a comma or the end: its index, or -1. */
function recentAt(t: string, pos: number, cache: FlagCache): number {
  const recent = cache.recent;
  for (let k = 0; k < recent.length; k++) {
    const r = recent[k];
    const after = pos + r.length;
    // The character after it first: a cheap test that rules out most of the others.
    if ((after === t.length || t.charCodeAt(after) === 44) && t.startsWith(r, pos)) return k;
  }
  return -1;
}

/** Makes `token` the most recent expression of `cache`. */
function remember(cache: FlagCache, token: string, value: TraceInt): void {
  const recent = cache.recent;
  const values = cache.recentValues;
  let k = recent.indexOf(token);
  if (k < 0) k = recent.length < RECENT ? recent.length : RECENT - 1;
  for (; k > 0; k--) {
    recent[k] = recent[k - 1];
    values[k] = values[k - 1];
  }
  recent[0] = token;
  values[0] = value;
}

/**
 * What the decoding of one parse keeps from line to line: the flag caches (prot, mmap flags and
 * mremap flags), and the cursor, reset for each line rather than made anew.
 */
export class FlagCaches {
  readonly prot = new FlagCache();
  readonly map = new FlagCache();
  readonly mremap = new FlagCache();
  readonly cursor = new Cursor('');
}

/**
 * A flags expression: `A|B|0x10`, `0x8 /* MAP_??? *\/|MAP_ANONYMOUS`, `21<<MAP_HUGE_SHIFT`.
 * `names` maps each accepted name to its value. An expression is the text up to the next comma:
 * one seen before is not parsed again, and one of the last few is not even cut out of the line.
 */
function flags(c: Cursor, names: Map<string, bigint>, what: string, cache: FlagCache): TraceInt {
  const t = c.text;
  const pos = c.pos;
  const k = recentAt(t, pos, cache);
  if (k >= 0) {
    c.pos = pos + cache.recent[k].length;
    const value = cache.recentValues[k];
    if (k > 0) remember(cache, cache.recent[k], value);
    return value;
  }
  let end = t.indexOf(',', pos);
  if (end < 0) end = t.length;
  const token = t.slice(pos, end);
  let value = cache.values.get(token);
  if (value !== undefined) c.pos = end;
  else {
    value = traceInt(flagsUncached(c, names, what));
    if (c.pos !== end) return value;
    if (cache.values.size >= FLAG_CACHE_LIMIT) cache.values.clear();
    cache.values.set(token, value);
  }
  remember(cache, token, value);
  return value;
}

function flagsUncached(c: Cursor, names: Map<string, bigint>, what: string): bigint {
  let value = 0n;
  for (;;) {
    const start = c.pos;
    const name = c.match(NAME);
    if (name !== undefined) {
      const v = names.get(name);
      if (v === undefined) c.fail(what, start);
      value |= v;
    } else {
      const n = c.match(HEX) ?? c.match(DEC);
      if (n === undefined) c.fail(what);
      let v = BigInt(n);
      if (c.eat('<<')) {
        if (!c.eat('MAP_HUGE_SHIFT')) c.fail('MAP_HUGE_SHIFT');
        v <<= MAP_HUGE_SHIFT;
      }
      value |= v;
    }
    c.match(COMMENT);
    if (!c.eat('|')) return value;
  }
}

/** A single value such as MADV_DONTNEED or `0x4bc /* MADV_??? *\/`. */
function xval(c: Cursor, names: Map<string, bigint>, what: string): TraceInt {
  const start = c.pos;
  const name = c.match(NAME);
  let v: bigint;
  if (name !== undefined) {
    const known = names.get(name);
    if (known === undefined) c.fail(what, start);
    v = known;
  } else {
    const n = c.match(HEX) ?? c.match(DEC);
    if (n === undefined) c.fail(what);
    v = BigInt(n);
  }
  c.match(COMMENT);
  return traceInt(v);
}

const SEP = ', ';

function sep(c: Cursor): void {
  const t = c.text;
  const pos = c.pos;
  if (t.charCodeAt(pos) === 44 && t.charCodeAt(pos + 1) === 32) c.pos = pos + 2;
  else c.expect(SEP, '", " and another argument');
}

function end(c: Cursor): void {
  if (!c.atEnd()) c.fail('")" (end of the arguments)');
}

const OFFSET_AT_END = /, (0[xX][0-9a-fA-F]+|[0-9]+)$/;

/** Decode the argument text of a memory syscall (the text between the parentheses). */
export function decodeMemoryArgs(
  name: MemorySyscallName,
  args: string,
  x: ArchXlat,
  caches: FlagCaches,
): MemoryCall {
  const c: Cursor = caches.cursor;
  c.reset(args);
  switch (name) {
    case 'mmap': {
      const a = addr(c);
      sep(c);
      const length = unsigned(c, 'a length');
      sep(c);
      const prot = flags(c, x.protByName, 'a PROT_* flag or a number', caches.prot);
      sep(c);
      const fl = flags(c, x.mapByName, 'a MAP_* flag or a number', caches.map);
      sep(c);
      const fd = signed(c, 'a file descriptor');
      let fdPath: string | undefined;
      if (args[c.pos] === '<') {
        // -y/-yy: the decoration may contain anything; it ends right before ", OFFSET)".
        const m = OFFSET_AT_END.exec(args);
        if (!m || m.index <= c.pos || args[m.index - 1] !== '>')
          c.fail('a "<path>" decoration and ", offset"');
        fdPath = args.slice(c.pos + 1, m.index - 1);
        c.pos = m.index;
      }
      sep(c);
      const offset = unsigned(c, 'an offset');
      end(c);
      const call: MemoryCall = { syscall: 'mmap', addr: a, length, prot, flags: fl, fd, offset };
      if (fdPath !== undefined) call.fdPath = fdPath;
      return call;
    }
    case 'munmap': {
      const a = addr(c);
      sep(c);
      const length = unsigned(c, 'a length');
      end(c);
      return { syscall: 'munmap', addr: a, length };
    }
    case 'mprotect':
    case 'pkey_mprotect': {
      const a = addr(c);
      sep(c);
      const length = unsigned(c, 'a length');
      sep(c);
      const prot = flags(c, x.protByName, 'a PROT_* flag or a number', caches.prot);
      if (name === 'pkey_mprotect') {
        sep(c);
        const pkey = signed(c, 'a protection key');
        end(c);
        return { syscall: 'pkey_mprotect', addr: a, length, prot, pkey };
      }
      end(c);
      return { syscall: 'mprotect', addr: a, length, prot };
    }
    case 'brk': {
      const a = addr(c);
      end(c);
      return { syscall: 'brk', addr: a };
    }
    case 'mremap': {
      const oldAddress = addr(c);
      sep(c);
      const oldSize = unsigned(c, 'a length');
      sep(c);
      const newSize = unsigned(c, 'a length');
      sep(c);
      const fl = flags(c, x.mremapByName, 'a MREMAP_* flag or a number', caches.mremap);
      if (c.atEnd()) return { syscall: 'mremap', oldAddress, oldSize, newSize, flags: fl };
      sep(c);
      const newAddress = addr(c);
      end(c);
      return { syscall: 'mremap', oldAddress, oldSize, newSize, flags: fl, newAddress };
    }
    case 'madvise': {
      const a = addr(c);
      sep(c);
      const length = unsigned(c, 'a length');
      sep(c);
      const advice = xval(c, x.madviseByName, 'a MADV_* advice or a number');
      end(c);
      return { syscall: 'madvise', addr: a, length, advice };
    }
  }
}
