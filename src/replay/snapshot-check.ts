/**
 * The snapshot a replay starts from (`--maps`): which arch it belongs to, and whether the log can
 * be of the process it shows.
 */

import { MAP_FIXED, MAP_FIXED_NOREPLACE } from '../abi/mman.js';
import { type MapsEntry, parseMaps } from '../abi/proc-maps.js';
import { type Arch, hex } from '../hal/addr.js';
import type { AddressSpace } from '../mm/address-space.js';
import type { MemoryCallEvent } from '../trace/strace-types.js';
import { isZero, low32, sameInt } from '../trace/trace-int.js';
import { type LogView, MAX_ADDR } from './relocation.js';

/** The log contradicts its starting snapshot: it cannot be a log of the process the snapshot shows. */
export class ReplayContradiction extends Error {
  override name = 'ReplayContradiction';
}

/**
 * Throws a ReplayContradiction when the log cannot be of the process the snapshot shows: its first
 * `brk(NULL)` is not the snapshot's break, or the kernel placed a mapping over one the snapshot has.
 */
export function checkAgainstSnapshot(
  view: LogView,
  mm: AddressSpace,
  ev: MemoryCallEvent,
  firstBrk: boolean,
  snapshotName: string,
): void {
  const call = ev.call;
  const log = ev.result;
  if (log.kind !== 'value' || log.value > MAX_ADDR) return;
  const where = `line ${ev.line}`;
  if (
    firstBrk &&
    call.syscall === 'brk' &&
    isZero(call.addr) &&
    mm.startBrk !== 0 &&
    !sameInt(log.value, mm.brk)
  ) {
    throw new ReplayContradiction(
      `${where}: brk(NULL) returned ${hex(log.value)}, but the break in ${snapshotName} is ${hex(mm.brk)}: ` +
        'the snapshot is not of this process at the start of the log ' +
        '(for a log recorded with address randomization, use --relocate)',
    );
  }
  if (call.syscall === 'mmap' && (low32(call.flags) & (MAP_FIXED | MAP_FIXED_NOREPLACE)) === 0) {
    const v = Number(log.value);
    const len = Math.ceil(Number(call.length) / view.pageSize) * view.pageSize;
    for (let a = v; a < v + len; ) {
      const hit = view.map.firstOverlap(a, v + len);
      if (hit === undefined) break;
      if (hit.line === 0) {
        throw new ReplayContradiction(
          `${where}: mmap returned ${hex(v)}, overlapping ${hex(hit.start)}-${hex(hit.end)} ` +
            `which ${snapshotName} has mapped: the snapshot is not of this process at the start of the log ` +
            '(for a log recorded with address randomization, use --relocate)',
        );
      }
      a = hit.end;
    }
  }
}

/** The arch a /proc/PID/maps snapshot belongs to, when its addresses say: [vsyscall] or above 2^47. */
export function archOfMaps(maps: string | readonly MapsEntry[]): Arch | undefined {
  const entries = typeof maps === 'string' ? parseMaps(maps) : maps;
  if (entries.some((e) => e.name === '[vsyscall]')) return 'x86_64';
  if (entries.some((e) => e.end > 1n << 47n)) return 'aarch64';
  return undefined;
}
