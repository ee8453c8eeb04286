/**
 * Option values of `levitate-mm replay`: sizes, addresses, limits, and the defaults taken from the
 * machine it runs on (/proc/meminfo and /proc/sys/vm), as a log recorded here would have seen them.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { LayoutOptions } from '../mm/layout.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `4096`, `0x1000`, `64K`, `8M`, `8MiB`, `4G`, `1T`. */
export function parseBytes(value: string): number {
  const v = value.trim();
  if (/^0x[0-9a-f]+$/i.test(v)) return Number(BigInt(v));
  const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(v);
  if (!m) throw new InvalidArgumentError(`not a size: ${value} (use e.g. 4096, 0x1000, 64K, 8M, 4G)`);
  const n = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`size too large: ${value}`);
  return n;
}

/** A size or `unlimited` (RLIM_INFINITY). */
export function parseLimit(value: string): number {
  if (/^(unlimited|infinity)$/i.test(value.trim())) return Number.POSITIVE_INFINITY;
  return parseBytes(value);
}

/** An address: hex (`0x7ffff7fff000`) or decimal. */
export function parseAddress(value: string): number {
  const v = value.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new InvalidArgumentError(`not an address: ${value}`);
  const n = Number(BigInt(v));
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`address too large: ${value}`);
  return n;
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`not a count: ${value}`);
  return Number(value);
}

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
  return {
    totalRamBytes: meminfoBytes(meminfo, 'MemTotal'),
    totalSwapBytes: meminfoBytes(meminfo, 'SwapTotal'),
    overcommitMemory: oc === 0 || oc === 1 || oc === 2 ? oc : undefined,
    overcommitRatio: num('sys/vm/overcommit_ratio'),
    maxMapCount: num('sys/vm/max_map_count'),
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
  if (flags.mmapBase !== undefined) layout.mmapBase = flags.mmapBase;
  if (flags.taskSize !== undefined) layout.taskSize = flags.taskSize;
  if (flags.rlimitAs !== undefined) layout.rlimitAs = flags.rlimitAs;
  if (flags.rlimitData !== undefined) layout.rlimitData = flags.rlimitData;
  if (flags.rlimitStack !== undefined) layout.rlimitStack = flags.rlimitStack;
  if (flags.mmapMinAddr !== undefined) layout.mmapMinAddr = flags.mmapMinAddr;
  return layout;
}
