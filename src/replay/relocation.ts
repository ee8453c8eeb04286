/**
 * The log's view of one address space, and how its addresses relate to the model's: an AddressMap
 * of every range the log showed being created (each with where the model holds the same memory)
 * and the relocation of the heap. With `--relocate`, an address argument is translated through it
 * before the model runs the call (a log recorded with ASLR has everything elsewhere).
 */
import type { AddressSpace } from '../mm/address-space.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult } from '../trace/strace-types.js';
import { AddressMap } from './address-map.js';

const MREMAP_MAYMOVE = 0x1n;
const MREMAP_DONTUNMAP = 0x4n;
/** Log values above this are not addresses the model can hold (user addresses are below 2^53). */
export const MAX_ADDR = BigInt(Number.MAX_SAFE_INTEGER);

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
    return v;
  }

  /**
   * The break starts where the log first says it is, unless the snapshot placed it: execve placed
   * it before the log began.
   */
  placeBreak(call: MemoryCall, log: SyscallResult, mm: AddressSpace): void {
    if (call.syscall !== 'brk' || this.brkKnown) return;
    this.brkKnown = true;
    if (call.addr === 0n && log.kind === 'value' && log.value <= MAX_ADDR) {
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
  translate(a: bigint): bigint {
    if (!this.relocate || a > MAX_ADDR || a <= 0n) return a;
    const d = this.map.deltaAt(Number(a));
    return d === undefined || Number.isNaN(d) || d === 0 ? a : a + BigInt(d);
  }

  /** A brk argument translated by the heap's relocation. */
  translateBreak(a: bigint): bigint {
    return this.relocate && a !== 0n && a <= MAX_ADDR ? a + BigInt(this.heapDelta) : a;
  }

  /**
   * Brings the view up to date with a call's effect in the log. `model` is the model's answer
   * (undefined when it did not run the call); `modelBrk` the model's break after it.
   */
  track(ev: MemoryCallEvent, model: number | undefined, modelBrk: number): void {
    const call = ev.call;
    const log = ev.result;
    if (log.kind !== 'value' || log.value > MAX_ADDR) return;
    const page = this.pageSize;
    const v = Number(log.value);
    const ok = model !== undefined && model >= 0;
    const align = (n: bigint) => (n > MAX_ADDR ? Number.NaN : Math.ceil(Number(n) / page) * page);
    switch (call.syscall) {
      case 'mmap': {
        const len = align(call.length);
        if (Number.isNaN(len)) return;
        this.map.set(v, v + len, ok ? model - v : model === undefined ? 0 : Number.NaN, ev.line);
        return;
      }
      case 'munmap': {
        if (call.addr > MAX_ADDR) return;
        const len = align(call.length);
        if (!Number.isNaN(len)) this.map.remove(Number(call.addr), Number(call.addr) + len);
        return;
      }
      case 'mremap': {
        if (call.oldAddress > MAX_ADDR) return;
        const old = Number(call.oldAddress);
        const oldLen = align(call.oldSize);
        const newLen = align(call.newSize);
        if (Number.isNaN(oldLen) || Number.isNaN(newLen)) return;
        if (v === old) {
          if (newLen < oldLen) this.map.remove(old + newLen, old + oldLen);
          else {
            const d = this.map.deltaAt(old);
            this.map.set(old, old + newLen, ok ? model - v : (d ?? Number.NaN), ev.line);
          }
        } else {
          if ((call.flags & MREMAP_DONTUNMAP) === 0n && (call.flags & MREMAP_MAYMOVE) !== 0n)
            this.map.remove(old, old + oldLen);
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
        } else if (newEnd < oldEnd) this.map.remove(newEnd, oldEnd);
        this.logBrk = v;
        return;
      }
      default:
        return;
    }
  }
}
