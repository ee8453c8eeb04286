/**
 * Printing memory calls back in strace 6.1's own format, so that `diff` of a log against the printed
 * output shows exactly the calls whose results differ.
 *
 * The rules reproduced (strace src/syscall.c, src/strace.c, src/mem.c, src/xlat.c):
 * - the leader: `[pid %5u] ` or `%-5u `, then `-t/-tt/-ttt` time and `-r` relative time;
 * - `name(args)`, then `) `, then spaces up to column 40 (`-a`), then `= result`;
 * - hex results (`%#lx`, so 0 prints as `0`) for mmap, brk and mremap, decimal for the others;
 * - errors as `-1 ENAME (strerror text)`; `-T` as ` <secs>`;
 * - flags in strace's table order, unknown bits as `|0x..`, nothing known as `0x.. /* PROT_??? *\/`.
 */

import { hex } from '../hal/addr.js';
import { errnoName, errnoText } from './errno.js';
import type {
  Duration,
  LinePrefix,
  MemoryCall,
  ResumedInfo,
  SyscallResult,
  TraceEvent,
} from './strace-types.js';
import {
  type Arch,
  type ArchXlat,
  MAP_HUGE_MASK,
  MAP_HUGE_SHIFT,
  MAP_TYPE_MASK,
  type XlatEntry,
  xlatFor,
} from './xlat.js';

const U64 = (1n << 64n) - 1n;

/** strace's `%#llx`: `0` for zero, else `hex` (negative values as unsigned 64-bit). */
export function formatHex(v: bigint): string {
  return v === 0n ? '0' : hex(v);
}

/** strace's printaddr: NULL for 0, else `%#llx`. */
export function formatAddr(v: bigint): string {
  return v === 0n ? 'NULL' : formatHex(v);
}

function unsignedDec(v: bigint): string {
  return (v < 0n ? v & U64 : v).toString();
}

/** strace's printflags64 (abbreviated style). `dflt` is the `X_???` comment for unknown bits. */
export function formatFlags(value: bigint, table: readonly XlatEntry[], dflt: string | null): string {
  let flags = value < 0n ? value & U64 : value;
  const parts: string[] = [];
  for (const [name, v] of table) {
    if (!(flags !== 0n || parts.length === 0)) break;
    if (flags === v || (v !== 0n && (flags & v) === v)) {
      parts.push(name);
      flags &= ~v;
    }
    if (flags === 0n) break;
  }
  if (parts.length > 0) {
    if (flags !== 0n) parts.push(formatHex(flags));
    return parts.join('|');
  }
  if (flags !== 0n) return dflt === null ? formatHex(flags) : `${formatHex(flags)} /* ${dflt} */`;
  return '0';
}

/** strace's printxval: the name, or `0x.. /* X_??? *\/`. */
export function formatXval(value: bigint, table: readonly XlatEntry[], dflt: string): string {
  for (const [name, v] of table) if (v === value) return name;
  return `${formatHex(value)} /* ${dflt} */`;
}

/** strace's print_mmap_flags. */
export function formatMmapFlags(value: bigint, x: ArchXlat): string {
  let flags = value < 0n ? value & U64 : value;
  let out = formatXval(flags & MAP_TYPE_MASK, x.mapTypes, 'MAP_???');
  flags &= ~MAP_TYPE_MASK;
  const mask = MAP_HUGE_MASK << MAP_HUGE_SHIFT;
  const huge = flags & mask;
  flags &= ~mask;
  if (flags !== 0n) out += `|${formatFlags(flags, x.mapFlags, null)}`;
  if (huge !== 0n) out += `|${huge >> MAP_HUGE_SHIFT}<<MAP_HUGE_SHIFT`;
  return out;
}

/** The argument text of a memory call, as strace prints it (without the parentheses). */
export function formatMemoryArgs(call: MemoryCall, arch: Arch = 'x86_64'): string {
  const x = xlatFor(arch);
  const prot = (p: bigint) => formatFlags(p, x.prot, 'PROT_???');
  switch (call.syscall) {
    case 'mmap': {
      const fd = call.fdPath === undefined ? call.fd.toString() : `${call.fd}<${call.fdPath}>`;
      return [
        formatAddr(call.addr),
        unsignedDec(call.length),
        prot(call.prot),
        formatMmapFlags(call.flags, x),
        fd,
        formatHex(call.offset),
      ].join(', ');
    }
    case 'munmap':
      return `${formatAddr(call.addr)}, ${unsignedDec(call.length)}`;
    case 'mprotect':
      return `${formatAddr(call.addr)}, ${unsignedDec(call.length)}, ${prot(call.prot)}`;
    case 'pkey_mprotect':
      return `${formatAddr(call.addr)}, ${unsignedDec(call.length)}, ${prot(call.prot)}, ${call.pkey}`;
    case 'brk':
      return formatAddr(call.addr);
    case 'mremap': {
      let s = `${formatAddr(call.oldAddress)}, ${unsignedDec(call.oldSize)}, ${unsignedDec(call.newSize)}, ${formatFlags(call.flags, x.mremapFlags, 'MREMAP_???')}`;
      if (call.newAddress !== undefined) s += `, ${formatAddr(call.newAddress)}`;
      return s;
    }
    case 'madvise':
      return `${formatAddr(call.addr)}, ${unsignedDec(call.length)}, ${formatXval(call.advice, x.madvise, 'MADV_???')}`;
  }
}

const HEX_RESULT = new Set(['mmap', 'brk', 'mremap']);

const RESTART_TEXT: Record<string, string> = {
  ERESTARTSYS: 'To be restarted if SA_RESTART is set',
  ERESTARTNOINTR: 'To be restarted',
  ERESTARTNOHAND: 'To be restarted if no handler',
  ERESTART_RESTARTBLOCK: 'Interrupted by signal',
};

/** `= ...` for a result of syscall `name` (hex for mmap/brk/mremap, as strace's RVAL_HEX). */
export function formatResult(name: string, result: SyscallResult): string {
  switch (result.kind) {
    case 'none':
      return '= ?';
    case 'unavailable':
      return '= ? <unavailable>';
    case 'restart':
      return `= ? ${result.name} (${RESTART_TEXT[result.name] ?? errnoText(result.errno)})`;
    case 'error': {
      const n = errnoName(result.errno);
      const body = n === undefined ? `(errno ${result.errno})` : `${n} (${errnoText(result.errno)})`;
      return `= ${result.value} ${body}${result.aux ?? ''}`;
    }
    case 'value': {
      const v = HEX_RESULT.has(name) ? formatHex(result.value) : result.value.toString();
      const deco = result.decoration === undefined ? '' : `<${result.decoration}>`;
      return `= ${v}${deco}${result.aux ?? ''}`;
    }
  }
}

/** Byte length in UTF-8 (strace counts bytes for its column). */
function byteLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

/** Build a prefix (its `text`) from its parts, as strace prints them. */
export function makePrefix(parts: Omit<LinePrefix, 'text'>): LinePrefix {
  let text = '';
  if (parts.pid !== undefined) {
    text +=
      parts.pidStyle === 'bracket'
        ? `[pid ${String(parts.pid).padStart(5)}] `
        : `${String(parts.pid).padEnd(5)} `;
  }
  if (parts.time) text += `${parts.time.text} `;
  if (parts.relative) text += parts.time ? `(+${parts.relative.text}) ` : `${parts.relative.text} `;
  return { ...parts, text };
}

/** Anything formatCall can print: a parsed MemoryCallEvent, or a call the model built. */
export interface PrintableCall {
  call: MemoryCall;
  result: SyscallResult;
  prefix?: LinePrefix;
  duration?: Duration;
  resumed?: ResumedInfo;
}

export interface FormatOptions {
  /** Constants to print with. Default `x86_64`. */
  arch?: Arch;
  /** Print this result instead of the event's own (the model's answer). */
  result?: SyscallResult;
  /** The leader (pid, timestamps): default the event's; a string or LinePrefix replaces it; false drops it. */
  prefix?: LinePrefix | string | false;
  /** The -T duration: default the event's; false drops it. */
  duration?: Duration | false;
  /** Drop -y/-yy fd decorations. Default false (printed when the call has them). */
  noFdPaths?: boolean;
  /** The result column (strace's -a). Default 40. */
  column?: number;
  /**
   * For a call that strace split into `<unfinished ...>` + `<... resumed>`: `original` (default) prints the
   * resumed line, the one carrying the result, as strace did; `joined` prints the whole call on one line.
   */
  layout?: 'original' | 'joined';
}

/**
 * Print a memory call in strace's format, without a newline. With the event's own result and the
 * defaults, a call parsed from a real strace 6.1 log prints as the original line, byte for byte.
 */
export function formatCall(event: PrintableCall, options: FormatOptions = {}): string {
  const arch = options.arch ?? 'x86_64';
  let call = event.call;
  if (options.noFdPaths && call.syscall === 'mmap' && call.fdPath !== undefined) {
    const { fdPath: _drop, ...rest } = call;
    call = rest;
  }
  const p = options.prefix;
  const prefix = p === false ? '' : typeof p === 'string' ? p : ((p ?? event.prefix)?.text ?? '');
  const name = call.syscall;
  const resumed = event.resumed;
  let head: string;
  if (resumed && (options.layout ?? 'original') === 'original') {
    head = `${prefix}<... ${name} resumed>${resumed.resumedArgs}`;
  } else {
    head = `${prefix}${name}(${formatMemoryArgs(call, arch)}`;
  }
  let line = `${head}) `;
  const column = options.column ?? 40;
  const len = byteLength(line);
  if (len < column) line += ' '.repeat(column - len);
  line += formatResult(name, options.result ?? event.result);
  const d = options.duration === false ? undefined : (options.duration ?? event.duration);
  if (d) line += ` <${d.text}>`;
  return line;
}

/**
 * Print any event: memory calls through formatCall (with `options`, e.g. a substituted result), every
 * other line verbatim.
 */
export function formatEvent(event: TraceEvent, options: FormatOptions = {}): string {
  if (event.kind === 'memory') return formatCall(event, options);
  return event.raw;
}
