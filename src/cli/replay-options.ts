/**
 * The layout of `levitate-mm replay`: its options, and the defaults taken from the machine it runs
 * on (/proc/meminfo, /proc/sys/vm and the CPU's flags in /proc/cpuinfo), as a log recorded here
 * would have seen them.
 */
import { readFileSync } from 'node:fs';
import type { LayoutOptions } from '../mm/layout.js';

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function meminfoBytes(text: string | undefined, key: string): number | undefined {
  const m = text === undefined ? null : new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** This machine's memory and VM sysctls, where readable (Linux); each may be undefined. */
export interface MachineDefaults {
  totalRamBytes?: number;
  totalSwapBytes?: number;
  overcommitMemory?: 0 | 1 | 2;
  overcommitRatio?: number;
  maxMapCount?: number;
  /** x86-64: the CPU has protection keys and the kernel enabled them (`ospke`). */
  protectionKeys?: boolean;
}

/**
 * The machine's values, read from `proc` (/proc, or a directory laid out like it: `meminfo`,
 * `sys/vm/overcommit_memory`, ... as `--proc` gives, so that a replay can use another machine's).
 */
export function machineDefaults(proc = '/proc'): MachineDefaults {
  const meminfo = readOr(`${proc}/meminfo`);
  const num = (p: string) => {
    const t = readOr(`${proc}/${p}`)?.trim();
    return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
  };
  const oc = num('sys/vm/overcommit_memory');
  const cpuinfo = readOr(`${proc}/cpuinfo`);
  return {
    totalRamBytes: meminfoBytes(meminfo, 'MemTotal'),
    totalSwapBytes: meminfoBytes(meminfo, 'SwapTotal'),
    overcommitMemory: oc === 0 || oc === 1 || oc === 2 ? oc : undefined,
    overcommitRatio: num('sys/vm/overcommit_ratio'),
    maxMapCount: num('sys/vm/max_map_count'),
    protectionKeys: cpuinfo === undefined ? undefined : /^flags\s*:.* ospke( |$)/m.test(cpuinfo),
  };
}

export interface LayoutFlags {
  mmapBase?: number;
  taskSize?: number;
  totalRam?: number;
  totalSwap?: number;
  overcommit?: string;
  maxMapCount?: number;
  rlimitAs?: number;
  rlimitData?: number;
  rlimitStack?: number;
  mmapMinAddr?: number;
}

/** The layout options: each flag given, else this machine's value, else the model's default. */
export function layoutFrom(flags: LayoutFlags, pageSize: number, machine: MachineDefaults): LayoutOptions {
  const layout: { -readonly [K in keyof LayoutOptions]: LayoutOptions[K] } = {};
  const ram = flags.totalRam ?? machine.totalRamBytes;
  if (ram !== undefined) layout.totalRamPages = Math.floor(ram / pageSize);
  const swap = flags.totalSwap ?? machine.totalSwapBytes;
  if (swap !== undefined) layout.totalSwapPages = Math.floor(swap / pageSize);
  if (flags.overcommit !== undefined) layout.overcommitMemory = Number(flags.overcommit) as 0 | 1 | 2;
  else if (machine.overcommitMemory !== undefined) layout.overcommitMemory = machine.overcommitMemory;
  if (machine.overcommitRatio !== undefined) layout.overcommitRatio = machine.overcommitRatio;
  const maxMapCount = flags.maxMapCount ?? machine.maxMapCount;
  if (maxMapCount !== undefined) layout.maxMapCount = maxMapCount;
  if (machine.protectionKeys !== undefined) layout.protectionKeys = machine.protectionKeys;
  if (flags.mmapBase !== undefined) layout.mmapBase = flags.mmapBase;
  if (flags.taskSize !== undefined) layout.taskSize = flags.taskSize;
  if (flags.rlimitAs !== undefined) layout.rlimitAs = flags.rlimitAs;
  if (flags.rlimitData !== undefined) layout.rlimitData = flags.rlimitData;
  if (flags.rlimitStack !== undefined) layout.rlimitStack = flags.rlimitStack;
  if (flags.mmapMinAddr !== undefined) layout.mmapMinAddr = flags.mmapMinAddr;
  return layout;
}
