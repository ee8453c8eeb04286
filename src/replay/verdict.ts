/**
 * Verdicts: whether the model's answer to a call is Linux's, and when it is not, why.
 */
import { EINVAL } from '../abi/errno.js';
import type { AddressSpace } from '../mm/address-space.js';
import { formatResult } from '../trace/strace-format.js';
import type { MemoryCall, MemoryCallEvent, SyscallResult } from '../trace/strace-types.js';
import { type LogView, MAX_ADDR } from './relocation.js';

/** Why a call's result differs from Linux's, when the difference has a known cause. */
export type DivergenceReason =
  /** Both placed the mapping, at different addresses: the log was recorded with ASLR (use --relocate). */
  | 'aslr'
  /** The call touches memory the log never showed being mapped (mapped by execve or before the log began). */
  | 'unknown-memory'
  /** The call touches memory an earlier differing call left out of the model, or placed elsewhere. */
  | 'follows-difference'
  /** A file mapping, and the model's mmap does not map files yet. */
  | 'file-mapping'
  /** No known cause: the model and Linux disagree. */
  | 'unexplained';

export const DIVERGENCE_REASONS: readonly DivergenceReason[] = [
  'aslr',
  'unknown-memory',
  'follows-difference',
  'file-mapping',
  'unexplained',
];

export type CallStatus =
  /** Same result (modulo relocation with --relocate). */
  | 'match'
  | 'differ'
  /** The model has no such call (yet): the log's result is printed unchanged. */
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
  /** The result to print: the log's own when they match, else the model's. */
  printed: SyscallResult;
  /** The output line (strace format; for a split call, the joined line). */
  line: string;
}

const MAP_FIXED = 0x10n;
const MAP_FIXED_NOREPLACE = 0x100000n;
const MREMAP_FIXED = 0x2n;
const U64 = (1n << 64n) - 1n;

/** Whether the model's answer is Linux's (with --relocate: modulo the translation of addresses). */
export function sameResult(view: LogView, call: MemoryCall, log: SyscallResult, model: number): boolean {
  if (log.kind === 'error') return model === -log.errno;
  if (log.kind !== 'value' || model < 0) return false;
  const v = log.value;
  if (!view.relocate) return v === BigInt(model);
  switch (call.syscall) {
    case 'mmap':
      if ((call.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0n) return view.translate(v) === BigInt(model);
      return true; // placed by the kernel: the model's address is where this mapping now lives
    case 'mremap':
      if (v === call.oldAddress) return view.translate(v) === BigInt(model);
      if ((call.flags & MREMAP_FIXED) !== 0n) return view.translate(v) === BigInt(model);
      // Moved by Linux: the model must have moved it too.
      return BigInt(model) !== view.translate(call.oldAddress);
    case 'brk':
      return v + BigInt(view.heapDelta) === BigInt(model);
    default:
      return v === BigInt(model);
  }
}

/** The range a call works on, in the log's coordinates, when it has one. */
function rangeOf(call: MemoryCall, page: number): [number, number] | undefined {
  const r = (a: bigint, len: bigint): [number, number] | undefined => {
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
      return r(call.oldAddress, call.oldSize === 0n ? 1n : call.oldSize);
    default:
      return undefined;
  }
}

/** Why a call whose result differs from Linux's differs. */
export function divergence(
  view: LogView,
  mm: AddressSpace,
  call: MemoryCall,
  log: SyscallResult,
  model: number,
  fileMappings: boolean,
): { reason: DivergenceReason; causeLine?: number } {
  const relocate = view.relocate;
  const range = rangeOf(call, view.pageSize);
  if (range !== undefined) {
    const seen = view.map.inspect(range[0], range[1], !relocate);
    if (seen.mismatchLine !== undefined)
      return { reason: 'follows-difference', causeLine: seen.mismatchLine };
    if (!seen.covered) return { reason: 'unknown-memory' };
  }
  if (call.syscall === 'mmap') {
    if ((call.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0n && call.addr <= MAX_ADDR) {
      const len = call.length > MAX_ADDR ? 0 : Number(call.length);
      const seen = view.map.inspect(Number(call.addr), Number(call.addr) + len, !relocate);
      if (seen.mismatchLine !== undefined)
        return { reason: 'follows-difference', causeLine: seen.mismatchLine };
    }
    const anon = (call.flags & 0x20n) !== 0n;
    if (!anon && !fileMappings && model === -EINVAL) {
      return { reason: 'file-mapping' };
    }
  }
  if (call.syscall === 'brk' && !relocate && log.kind === 'value' && model >= 0) {
    if (log.value - BigInt(view.logStartBrk) === BigInt(model - mm.startBrk)) return { reason: 'aslr' };
  }
  if (
    !relocate &&
    log.kind === 'value' &&
    model >= 0 &&
    (call.syscall === 'mmap' || call.syscall === 'mremap' || call.syscall === 'brk')
  ) {
    return { reason: 'aslr' };
  }
  return { reason: 'unexplained' };
}

/** The model's return value as strace would print it. */
export function modelResult(model: number): SyscallResult {
  if (model < 0 && model >= -4095) return { kind: 'error', value: -1n, errno: -model };
  return { kind: 'value', value: BigInt(model) & U64, hex: true };
}

/** A result as text (`0x7f..`, `0`, `-1 ENOMEM (Cannot allocate memory)`), for reports. */
export function resultText(name: string, r: SyscallResult): string {
  return formatResult(name, r).slice(2);
}
