/**
 * Verdicts: what the model answered in the log's coordinates, whether that is Linux's answer, and
 * when it is not, why.
 *
 * Without --relocate the model's result must be Linux's, exactly. With --relocate, an address the
 * call names (a MAP_FIXED target, the mapping mremap resizes, a hint Linux took) is translated to
 * where the model has that memory, the break by the heap's relocation, and an address the kernel
 * chose (a mmap without MAP_FIXED, a mremap that moved) by where the model chose: it agrees with
 * Linux when it is at the same distance from the same neighbour (the nearest mapping the log knows
 * above it, below it for MAP_32BIT's bottom-up search), or at the same offset from the relocated
 * base of its area, which the area's first placement fixes (the log's randomization). A placement
 * aligned to a PMD for THP may sit up to a PMD away, since randomization moves neighbours by pages
 * and the alignment does not follow them.
 */
import {
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
} from '../abi/mman.js';
import type { AddressSpace } from '../mm/address-space.js';
import { formatResult } from '../trace/strace-format.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult } from '../trace/strace-types.js';
import { addInt, isZero, low32, sameInt, type TraceInt, traceInt } from '../trace/trace-int.js';
import type { LogRange } from './address-map.js';
import { type LogView, MAX_ADDR, type PlacementArea } from './relocation.js';

/** Why a call's result differs from Linux's. */
export type DivergenceReason =
  /** Without --relocate, in a log recorded with address randomization: the mapping is elsewhere. */
  | 'aslr'
  /** The model chose another place than Linux (relative to the neighbours, once relocated). */
  | 'placement'
  /** The call touches, or was placed around, memory the log never showed being mapped (execve's). */
  | 'unknown-memory'
  /** The call touches memory an earlier differing call left out of the model, or placed elsewhere. */
  | 'follows-difference'
  /** No known cause: the model and Linux disagree. */
  | 'unexplained';

export const DIVERGENCE_REASONS: readonly DivergenceReason[] = [
  'aslr',
  'placement',
  'unknown-memory',
  'follows-difference',
  'unexplained',
];

export type CallStatus =
  /** Same result (with --relocate: once translated into the log's coordinates). */
  | 'match'
  | 'differ'
  /** The model has no such call (pkey_mprotect with a protection key): the log's result is printed. */
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
  /**
   * The model's result as printed: in the log's coordinates (with --relocate, the model's address
   * minus the relocation the verdict found), the log's own result only when it did not run.
   */
  printed: SyscallResult;
  /** The output line (strace format; for a split call, the joined line). */
  line: string;
}

/**
 * How the log was recorded, as its first mapping placed by the kernel shows: without
 * randomization Linux puts it where the model does, less the little that execve mapped before
 * the log began (ld.so and the vdso: 244 KiB for python3 on this machine); with it, the mmap area
 * starts a random number of pages lower (vm.mmap_rnd_bits: 28 on x86-64, so up to 1 TiB; a smaller
 * setting, as arm64's minimum of 18 bits, can leave an offset below the threshold, which then
 * reads as memory the log never showed).
 */
export interface Randomization {
  randomized: boolean;
  /** The call that showed it. */
  line: number;
  logAddress: number;
  modelAddress: number;
}

/** How far below the model's placement Linux's first one must be to count as randomized. */
export const RANDOMIZED_BELOW = 64 * 2 ** 20;

const FIXED = MAP_FIXED | 0x100000; // MAP_FIXED | MAP_FIXED_NOREPLACE
const U64 = (1n << 64n) - 1n;

/** What the log shows of randomization, when `ev` is the kind of call that shows it. */
export function randomizationOf(ev: MemoryCallEvent, model: number): Randomization | undefined {
  const call = ev.call;
  const log = ev.result;
  if (call.syscall !== 'mmap' || !isZero(call.addr) || (low32(call.flags) & (FIXED | MAP_32BIT)) !== 0)
    return undefined;
  if (log.kind !== 'value' || log.value > MAX_ADDR || model < 0) return undefined;
  const v = Number(log.value);
  return { randomized: model - v > RANDOMIZED_BELOW, line: ev.line, logAddress: v, modelAddress: model };
}

export interface Verdict {
  match: boolean;
  /** The model's result in the log's coordinates: an address, 0, or -errno. */
  printed: number;
  reason?: DivergenceReason;
  causeLine?: number;
}

/** A mapping the kernel placed, in Linux or in the model: Linux's address, the model's, the length. */
interface Placed {
  v: number;
  m: number;
  len: number;
  area: PlacementArea;
  /** Whether THP may have aligned it (private anonymous, a multiple of the PMD size). */
  thp: boolean;
  /** The address the call named (a hint, the mapping mremap grows) when the model's answer is it. */
  named?: TraceInt;
}

function pageAlign(n: TraceInt, page: number): number {
  return n > MAX_ADDR ? Number.NaN : Math.ceil(Number(n) / page) * page;
}

/**
 * The call's mapping when Linux chose its address and the model may have chosen another: a mmap
 * without MAP_FIXED that did not get its hint in Linux, a mremap that Linux moved on its own.
 */
function placed(view: LogView, mm: AddressSpace, call: MemoryCall, v: number, m: number): Placed | undefined {
  const pmd = mm.layout.pmdSize;
  if (call.syscall === 'mmap') {
    if ((low32(call.flags) & FIXED) !== 0 || (!isZero(call.addr) && sameInt(call.addr, v))) return undefined;
    const len = pageAlign(call.length, view.pageSize);
    const anonPrivate = (low32(call.flags) & (MAP_ANONYMOUS | MAP_SHARED)) === MAP_ANONYMOUS;
    const area = (low32(call.flags) & MAP_32BIT) !== 0 ? '32bit' : 'mmap';
    const p: Placed = { v, m, len, area, thp: anonPrivate && isZero(call.addr) && len % pmd === 0 };
    if (!isZero(call.addr) && sameInt(view.translate(call.addr), m)) p.named = call.addr;
    return p;
  }
  if (call.syscall === 'mremap') {
    if ((low32(call.flags) & MREMAP_MAYMOVE) === 0 || (low32(call.flags) & MREMAP_FIXED) !== 0)
      return undefined;
    if (sameInt(call.oldAddress, v)) return undefined;
    const len = pageAlign(call.newSize, view.pageSize);
    const p: Placed = { v, m, len, area: 'mmap', thp: len % pmd === 0 };
    if (sameInt(view.translate(call.oldAddress), m)) p.named = call.oldAddress;
    return p;
  }
  return undefined;
}

/**
 * Whether [start, end) of the log's view is known, and the first range in it that the model does
 * not hold at `delta` (model - log).
 */
function occupancy(
  view: LogView,
  start: number,
  end: number,
  delta: number,
): { covered: boolean; mismatchLine?: number } {
  let covered = true;
  let at = start;
  while (at < end) {
    const hit = view.map.firstOverlap(at, end);
    if (hit === undefined) break;
    if (hit.start > at) covered = false;
    if (hit.delta !== delta) return { covered, mismatchLine: hit.line };
    at = hit.end;
  }
  return { covered: covered && at >= end };
}

/**
 * Where the model's placement is relative to Linux's: `delta` (model - log) when they agree, else
 * the relocation the reference gives and, when the gap Linux chose is bounded by a mapping the
 * model lacks or placed elsewhere, that mapping's line.
 */
function comparePlacement(
  view: LogView,
  mm: AddressSpace,
  p: Placed,
  line: number,
): { agrees: boolean; delta: number; cause?: number } {
  const d = p.m - p.v;
  const above = view.map.nextFrom(p.v + p.len);
  const below = view.map.prevTo(p.v);
  const neighbour = p.area === '32bit' ? below : above;
  // The references: the neighbour's relocation, then the area's.
  const near = neighbour !== undefined && !Number.isNaN(neighbour.delta) ? neighbour.delta : undefined;
  const base = view.areaDelta.get(p.area);
  const pmd = mm.layout.pmdSize;
  const aligned = p.thp && p.v % pmd === 0 && p.m % pmd === 0;
  if (
    (near === undefined && base === undefined) ||
    agreesWith(near, d, aligned, pmd) ||
    agreesWith(base, d, aligned, pmd)
  ) {
    if (base === undefined) view.areaDelta.set(p.area, d);
    return { agrees: true, delta: d };
  }
  const delta = (near ?? base)!;
  const cause = causeOf(view, above) ?? causeOf(view, below);
  view.misplaced.set(d, cause ?? line);
  return cause === undefined ? { agrees: false, delta } : { agrees: false, delta, cause };
}

/** Whether relocation `d` agrees with the reference `r` (within a PMD when THP may have aligned it). */
function agreesWith(r: number | undefined, d: number, aligned: boolean, pmd: number): boolean {
  return r !== undefined && (r === d || (aligned && Math.abs(d - r) < pmd));
}

/** The line of the misplaced mapping a neighbour is, or follows from. */
function causeOf(view: LogView, r: LogRange | undefined): number | undefined {
  return r === undefined ? undefined : Number.isNaN(r.delta) ? r.line : view.misplaced.get(r.delta);
}

/** The relocation of an address the call names (0 without --relocate or outside known memory). */
function named(view: LogView, a: TraceInt): number {
  return a > MAX_ADDR ? 0 : Number(view.translate(a)) - Number(a);
}

/**
 * What the model holds in [start, end) of its own address space, besides the mapping the call just
 * made at [own, ownEnd), that the log does not have there: the line of the log's mapping it is (one
 * the model placed elsewhere, or an orphan), or undefined.
 */
function occupant(
  view: LogView,
  mm: AddressSpace,
  start: number,
  end: number,
  own: number,
  ownEnd: number,
): number | undefined {
  let found: number | undefined;
  mm.vmas.forEachInRange(start, end, (vma) => {
    if (found !== undefined) return;
    for (const at of [Math.max(vma.start, start), ownEnd]) {
      if (at >= Math.min(vma.end, end) || (at >= own && at < ownEnd)) continue;
      const r = view.map.holding(at);
      found = r === undefined ? view.orphans.find(at)?.line : r.delta === 0 ? undefined : r.line;
      if (found !== undefined) return;
    }
  });
  return found;
}

/** The model's address translated into the log's coordinates when Linux has no address to compare. */
function unpaired(view: LogView, call: MemoryCall, m: number): number {
  if (!view.relocate) return m;
  switch (call.syscall) {
    case 'mmap':
      if ((low32(call.flags) & FIXED) !== 0 || (!isZero(call.addr) && sameInt(view.translate(call.addr), m)))
        return m - named(view, call.addr);
      return m - (view.areaDelta.get((low32(call.flags) & MAP_32BIT) !== 0 ? '32bit' : 'mmap') ?? 0);
    case 'mremap': {
      if (call.newAddress !== undefined) return m - named(view, call.newAddress);
      if (sameInt(view.translate(call.oldAddress), m)) return m - named(view, call.oldAddress);
      return m - (view.areaDelta.get('mmap') ?? 0);
    }
    case 'brk':
      return m - view.heapDelta;
    default:
      return m;
  }
}

/** The range a call works on, in the log's coordinates, when it has one. */
function rangeOf(call: MemoryCall, page: number): [number, number] | undefined {
  const r = (a: TraceInt, len: TraceInt): [number, number] | undefined => {
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
      return r(call.oldAddress, isZero(call.oldSize) ? 1 : call.oldSize);
    case 'mmap':
      return (low32(call.flags) & FIXED) !== 0 ? r(call.addr, call.length) : undefined;
    default:
      return undefined;
  }
}

/**
 * The verdict on the call of input line `line`: `model` is the model's raw answer, `randomization`
 * what the log has shown of how it was recorded (undefined while it has shown nothing).
 */
export function judge(
  view: LogView,
  mm: AddressSpace,
  call: MemoryCall,
  log: SyscallResult & { kind: 'value' | 'error' },
  model: number,
  randomization: Randomization | undefined,
  line: number,
): Verdict {
  if (model < 0) {
    if (log.kind === 'error' && model === -log.errno) return { match: true, printed: model };
    return {
      match: false,
      printed: model,
      ...why(view, mm, call, log, model, model, undefined, randomization),
    };
  }
  if (log.kind === 'error' || log.value > MAX_ADDR) {
    const printed = unpaired(view, call, model);
    return { match: false, printed, ...why(view, mm, call, log, model, printed, undefined, randomization) };
  }
  const v = Number(log.value);
  let printed = model;
  let cause: number | undefined;
  const p = view.relocate ? placed(view, mm, call, v, model) : undefined;
  if (p?.named !== undefined) {
    // The model took the address the call named, Linux did not.
    printed = model - named(view, p.named);
    view.misplaced.set(model - v, line);
  } else if (p !== undefined) {
    const c = comparePlacement(view, mm, p, line);
    printed = model - c.delta;
    cause = c.cause;
  } else if (view.relocate) {
    switch (call.syscall) {
      case 'mmap':
      case 'mremap':
        // MAP_FIXED, a hint Linux took, a mremap in place or to MREMAP_FIXED: the address is named.
        printed = model - named(view, log.value);
        break;
      case 'brk':
        printed = model - view.heapDelta;
        break;
    }
  }
  if (printed === v) return { match: true, printed };
  return { match: false, printed, ...why(view, mm, call, log, model, printed, cause, randomization) };
}

/**
 * Why a call whose result differs from Linux's differs: `printed` is the model's answer in the log's
 * coordinates, `cause` the line of a misplaced neighbour that bounds the gap Linux chose.
 */
function why(
  view: LogView,
  mm: AddressSpace,
  call: MemoryCall,
  log: SyscallResult,
  model: number,
  printed: number,
  cause: number | undefined,
  randomization: Randomization | undefined,
): { reason: DivergenceReason; causeLine?: number } {
  const strict = !view.relocate;
  const range = rangeOf(call, view.pageSize);
  if (range !== undefined) {
    const seen = view.map.inspect(range[0], range[1], strict);
    if (seen.mismatchLine !== undefined)
      return { reason: 'follows-difference', causeLine: seen.mismatchLine };
    if (!seen.covered && call.syscall !== 'mmap') return { reason: 'unknown-memory' };
  }
  if (log.kind !== 'value' || log.value > MAX_ADDR || model < 0) return { reason: 'unexplained' };
  const v = Number(log.value);
  const randomized = strict && randomization?.randomized === true;
  if (call.syscall === 'brk') {
    // The break moved as Linux's did, from another start: the heap was randomized.
    const samePlace = sameInt(addInt(log.value, -view.logStartBrk), model - mm.startBrk);
    return { reason: randomized && samePlace ? 'aslr' : 'unexplained' };
  }
  if (
    call.syscall === 'mmap' &&
    (low32(call.flags) & FIXED) === 0 &&
    !isZero(call.addr) &&
    sameInt(call.addr, v)
  ) {
    // Linux took the hint, the model did not.
    return { reason: randomized ? 'aslr' : 'placement' };
  }
  if (
    call.syscall === 'mremap' &&
    sameInt(call.oldAddress, v) &&
    !sameInt(view.translate(call.oldAddress), model)
  ) {
    // Linux resized it in place, the model could not: what the model has right after it.
    const at = Number(view.translate(call.oldAddress));
    const from = at + pageAlign(call.oldSize, view.pageSize);
    const line = occupant(view, mm, from, at + pageAlign(call.newSize, view.pageSize), model, model);
    return line === undefined ? { reason: 'unexplained' } : { reason: 'follows-difference', causeLine: line };
  }
  const p = placed(view, mm, call, v, model);
  if (p === undefined) return { reason: 'unexplained' };
  if (cause !== undefined) return { reason: 'follows-difference', causeLine: cause };
  if (randomized) return { reason: 'aslr' };
  const pmd = mm.layout.pmdSize;
  const thpAligned = v % pmd === 0 && p.len >= pmd && Math.abs(printed - v) < pmd;
  if (p.named !== undefined || (!thpAligned && (p.area === '32bit' ? printed < v : printed > v))) {
    // Linux did not take the place the model took (the named address, or one its search meets
    // first), and not for THP alignment (a PMD-aligned address less than a PMD away): what held
    // that place in Linux?
    const seen = occupancy(view, printed, printed + p.len, model - printed);
    if (seen.mismatchLine !== undefined)
      return { reason: 'follows-difference', causeLine: seen.mismatchLine };
    if (!seen.covered) return { reason: 'unknown-memory' };
  }
  if (p.area === '32bit' ? printed > v : printed < v) {
    // The model did not take the place Linux took: what holds it in the model?
    const at = v + (model - printed);
    const line = occupant(view, mm, at, at + p.len, model, model + p.len);
    if (line !== undefined) return { reason: 'follows-difference', causeLine: line };
  }
  if (strict) {
    // The model has a neighbour of the gap Linux chose elsewhere: its placement follows from that.
    for (const r of [view.map.above(v + p.len), view.map.below(v)]) {
      if (r !== undefined && r.delta !== 0) return { reason: 'follows-difference', causeLine: r.line };
    }
  }
  return { reason: 'placement' };
}

/** The model's return value as strace would print it. */
export function modelResult(model: number): SyscallResult {
  if (model < 0 && model >= -4095) return { kind: 'error', value: -1, errno: -model };
  return { kind: 'value', value: model >= 0 ? model : traceInt(BigInt(model) & U64), hex: true };
}

/** A result as text (`0x7f..`, `0`, `-1 ENOMEM (Cannot allocate memory)`), for reports. */
export function resultText(name: string, r: SyscallResult): string {
  return formatResult(name, r).slice(2);
}
