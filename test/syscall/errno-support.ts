/**
 * Shared helpers of the errno-* and merge-* tests: a demand-paged x86_64 kernel with one empty
 * task (no randomization, nothing mapped), and its /proc/PID/maps and smaps VmFlags as arrays.
 * Every expectation in those files was first run as a C program on the reference machine's
 * Linux 6.18.44 (raw syscalls, maps and smaps read back), with the same addresses.
 */

import {
  Kernel,
  type KernelOptions,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  procMaps,
  smapsFlags,
  type Task,
} from 'levitate-mm';

export const P = 4096;
export const RW = PROT_READ | PROT_WRITE;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
/** x86_64 TASK_SIZE with 4-level paging. */
export const TASK_SIZE = 2 ** 47 - P;
/** Where the probes put their mappings: free on both Linux (a PIE under setarch -R) and the model. */
export const A = 0x10000000;

/** 'ok', or the si_code of the fault one byte's access at `addr` gives, as the C probes printed. */
export function accessProbe(t: Task, addr: number, access: 'read' | 'write'): string {
  try {
    if (access === 'read') t.read(addr, 1);
    else t.write(addr, [1]);
    return 'ok';
  } catch (e) {
    return (e as { siCode: string }).siCode;
  }
}

export interface Setup {
  readonly k: Kernel;
  readonly t: Task;
  readonly sys: Kernel['sys'];
}

export function setup(layout: KernelOptions['layout'] = {}, options: KernelOptions = {}): Setup {
  const k = new Kernel({ arch: 'x86_64', paging: 'demand', ...options, layout });
  const t = k.spawn();
  return { k, t, sys: k.sys };
}

/** The /proc/PID/maps lines (each keeps Linux's trailing space after the inode of an unnamed line). */
export function maps(t: Task): string[] {
  return procMaps(t.mm)
    .split('\n')
    .filter((l) => l !== '');
}

/** The smaps `VmFlags:` values, one per VMA, in address order. */
export function vmFlags(t: Task): string[] {
  return smapsFlags(t.mm);
}

/** An unnamed anonymous maps line. */
export function anonLine(start: number, end: number, perms: string): string {
  return `${start.toString(16).padStart(8, '0')}-${end.toString(16).padStart(8, '0')} ${perms} 00000000 00:00 0 `;
}
