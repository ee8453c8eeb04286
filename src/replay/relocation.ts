/**
 * The log's view of one address space, and how its addresses relate to the model's: an AddressMap
 * of every range the log showed being created (each with where the model holds the same memory)
 * and the relocation of the heap. With `--relocate`, an address argument is translated through it
 * before the model runs the call (a log recorded with ASLR has everything elsewhere).
 */
import {
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
} from '../abi/mman.js';
import type { AddressSpace } from '../mm/address-space.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult } from '../trace/strace-types.js';
import { addInt, isZero, low32, safeOf, sameInt, type TraceInt } from '../trace/trace-int.js';
import { AddressMap } from './address-map.js';

/** Log values above this are not addresses the model can hold (user addresses are below 2^53). */
/** Log values are numbers up to it (trace-int.ts); `<` and `>` compare either form with it. */
export const MAX_ADDR = Number.MAX_SAFE_INTEGER;

/** Where the kernel places mappings: the top-down mmap area, or MAP_32BIT's window (bottom-up). */
export type PlacementArea = 'mmap' | '32bit';

/** A log length rounded up to whole pages, or NaN when it is no length the model can hold. */
function pagesOf(n: TraceInt, page: number): number {
  return n > MAX_ADDR ? Number.NaN : Math.ceil(Number(n) / page) * page;
}

export class LogView {
  map = new AddressMap();
  /** Whether the break has been placed (snapshot [heap], or the log's first brk). */
  brkKnown = false;
  /** The model's break start minus the log's (relocation of the heap). */
  heapDelta = 0;
  /** The log's break start and current break. */
  logStartBrk = 0;
  logBrk = 0;
  /** Whether a brk call has been seen (the first is checked against the snapshot). */
  brkChecked = false;
  /**
   * The relocation of each placement area (model - log), fixed by the area's first placement: with
   * randomization, Linux's area starts elsewhere, and without a snapshot the model also lacks what
   * execve mapped at its top.
   */
  readonly areaDelta = new Map<PlacementArea, number>();
  /**
   * Relocations (model - log) of mappings the model placed elsewhere than Linux did, relative to
   * their neighbours, and of what followed them there: each with the line of the first such call.
   */
  readonly misplaced = new Map<number, number>();
  /**
   * Memory the model holds (in its own addresses) that the log does not: what stays in the model
   * after the log unmapped it (without --relocate the model unmaps the log's addresses, not where
   * it has that memory), and mappings Linux refused; each with the line that created it.
   */
  orphans = new AddressMap();

  constructor(
    readonly relocate: boolean,
    readonly pageSize: number,
  ) {}

  /** The view of an address space rebuilt from a snapshot: every VMA known where the model has it. */
  static ofSnapshot(mm: AddressSpace, relocate: boolean): LogView {
    const v = new LogView(relocate, mm.pageSize);
    for (const vma of mm.vmas) v.map.set(vma.start, vma.end, 0, 0);
    if (mm.startBrk !== 0) {
      v.brkKnown = true;
      v.logStartBrk = mm.startBrk;
      v.logBrk = mm.brk;
    }
    return v;
  }

  /** An independent copy (a forked process's view). */
  clone(): LogView {
    const v = new LogView(this.relocate, this.pageSize);
    v.map = this.map.clone();
    v.brkKnown = this.brkKnown;
    v.heapDelta = this.heapDelta;
    v.logStartBrk = this.logStartBrk;
    v.logBrk = this.logBrk;
    for (const [area, d] of this.areaDelta) v.areaDelta.set(area, d);
    for (const [d, line] of this.misplaced) v.misplaced.set(d, line);
    v.orphans = this.orphans.clone();
    return v;
  }

  /**
   * The break starts where the log first says it is, unless the snapshot placed it: execve placed
   * it before the log began.
   */
  placeBreak(call: MemoryCall, log: SyscallResult, mm: AddressSpace): void {
    if (call.syscall !== 'brk' || this.brkKnown) return;
    this.brkKnown = true;
    if (isZero(call.addr) && log.kind === 'value' && log.value <= MAX_ADDR) {
      const v = Number(log.value);
      this.logStartBrk = v;
      this.logBrk = v;
      if (mm.startBrk === 0 && mm.brk === 0) {
        mm.startBrk = v;
        mm.brk = v;
      }
      this.heapDelta = mm.brk - v;
    }
  }

  /** An address argument translated (with --relocate) by the delta of the log's mapping it falls in. */
  translate(a: TraceInt): TraceInt {
    if (!this.relocate) return a;
    const n = safeOf(a);
    if (!(n > 0)) return a;
    const d = this.map.deltaAt(n);
    return d === undefined || Number.isNaN(d) || d === 0 ? a : addInt(n, d);
  }

  /** A brk argument translated by the heap's relocation. */
  translateBreak(a: TraceInt): TraceInt {
    return this.relocate && !isZero(a) && a <= MAX_ADDR ? addInt(a, this.heapDelta) : a;
  }

  /**
   * The log no longer has [start, end) where it had it (an unmap, or a mapping put over it). The
   * memory the model still holds for it stays in the model: remembered as an orphan, to explain
   * what it blocks later. `modelDid` says whether the model's call succeeded, and so unmapped the
   * same addresses (with --relocate: their translation, so nothing of the range stays).
   */
  private forget(start: number, end: number, modelDid: boolean): void {
    // With --relocate, a call the model made too took the model's copy with it: nothing stays.
    for (let at = start; at < end && !(modelDid && this.relocate); ) {
      const r = this.map.overlapping(at, end);
      if (r === undefined) break;
      const from = Math.max(r.start, start);
      const to = Math.min(r.end, end);
      const stays = !modelDid || (!this.relocate && r.delta !== 0);
      if (stays && !Number.isNaN(r.delta)) this.orphans.set(from + r.delta, to + r.delta, 0, r.line);
      at = to;
    }
    if (modelDid && !this.relocate) this.orphans.remove(start, end);
    this.map.remove(start, end);
  }

  /** A mremap that Linux refused and the model did: what the model has now that the log has not. */
  private movedAlone(call: MemoryCall & { syscall: 'mremap' }, model: number, line: number): void {
    const page = this.pageSize;
    const old = call.oldAddress;
    if (old > MAX_ADDR || call.oldSize > MAX_ADDR || call.newSize > MAX_ADDR) return;
    const newLen = Math.ceil(Number(call.newSize) / page) * page;
    this.orphans.set(model, model + newLen, 0, line);
    if (sameInt(this.translate(old), model) || (low32(call.flags) & MREMAP_DONTUNMAP) !== 0) return;
    // The model moved it away: the log's mapping is no longer where the model had it.
    const start = Number(old);
    const end = start + Math.ceil(Number(call.oldSize) / page) * page;
    const pieces: Array<{ from: number; to: number; line: number }> = [];
    for (let at = start; at < end; ) {
      const r = this.map.firstOverlap(at, end);
      if (r === undefined) break;
      pieces.push({ from: Math.max(r.start, start), to: Math.min(r.end, end), line: r.line });
      at = Math.min(r.end, end);
    }
    for (const p of pieces) this.map.set(p.from, p.to, Number.NaN, p.line);
  }

  /**
   * Brings the view up to date with a call's effect in the log. `model` is the model's answer
   * (undefined when it did not run the call); `modelBrk` the model's break after it.
   */
  track(ev: MemoryCallEvent, model: number | undefined, modelBrk: number): void {
    const call = ev.call;
    const log = ev.result;
    const page = this.pageSize;
    const ok = model !== undefined && model >= 0;
    if (call.syscall === 'mmap' && ok) {
      const len = pagesOf(call.length, page);
      if (!Number.isNaN(len)) {
        this.orphans.remove(model, model + len);
        // A mapping Linux refused: the model holds memory the log never has.
        if (log.kind === 'error') this.orphans.set(model, model + len, 0, ev.line);
      }
    }
    if (call.syscall === 'mremap' && ok && log.kind === 'error') this.movedAlone(call, model, ev.line);
    if (log.kind !== 'value' || log.value > MAX_ADDR) return;
    const v = Number(log.value);
    switch (call.syscall) {
      case 'mmap': {
        const len = pagesOf(call.length, page);
        if (Number.isNaN(len)) return;
        if ((low32(call.flags) & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) this.forget(v, v + len, ok);
        this.map.set(v, v + len, ok ? model - v : model === undefined ? 0 : Number.NaN, ev.line);
        return;
      }
      case 'munmap': {
        if (call.addr > MAX_ADDR) return;
        const len = pagesOf(call.length, page);
        if (!Number.isNaN(len)) this.forget(Number(call.addr), Number(call.addr) + len, ok);
        return;
      }
      case 'mremap': {
        if (call.oldAddress > MAX_ADDR) return;
        const old = Number(call.oldAddress);
        const oldLen = pagesOf(call.oldSize, page);
        const newLen = pagesOf(call.newSize, page);
        if (Number.isNaN(oldLen) || Number.isNaN(newLen)) return;
        if (v === old) {
          if (newLen < oldLen) this.forget(old + newLen, old + oldLen, ok);
          else {
            const d = this.map.deltaAt(old);
            this.map.set(old, old + newLen, ok ? model - v : (d ?? Number.NaN), ev.line);
          }
        } else {
          if ((low32(call.flags) & MREMAP_DONTUNMAP) === 0 && (low32(call.flags) & MREMAP_MAYMOVE) !== 0)
            this.forget(old, old + oldLen, ok);
          if ((low32(call.flags) & MREMAP_FIXED) !== 0) this.forget(v, v + newLen, ok);
          this.map.set(v, v + newLen, ok ? model - v : Number.NaN, ev.line);
        }
        return;
      }
      case 'brk': {
        if (!this.brkKnown || this.logStartBrk === 0) return;
        const startPage = Math.ceil(this.logStartBrk / page) * page;
        const oldEnd = Math.ceil(this.logBrk / page) * page;
        const newEnd = Math.ceil(v / page) * page;
        if (newEnd > oldEnd) {
          const same = modelBrk - this.heapDelta === v || model === undefined;
          this.map.set(Math.max(oldEnd, startPage), newEnd, same ? this.heapDelta : Number.NaN, ev.line);
        } else if (newEnd < oldEnd) this.forget(newEnd, oldEnd, modelBrk - this.heapDelta === v);
        this.logBrk = v;
        return;
      }
      default:
        return;
    }
  }
}
