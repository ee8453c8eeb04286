/**
 * Values on the command line: sizes, limits, addresses and counts. Each parser throws commander's
 * InvalidArgumentError, which the command line reports as one line, exit status 2, as it does a
 * UsageError found later.
 */
import { InvalidArgumentError } from 'commander';
import { RAM_CHUNK_BYTES } from '../hal/ram.js';

/** A mistake in the input or the options, found after parsing: one line on stderr, exit status 2. */
export class UsageError extends Error {}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `4096`, `0x1000`, `64K`, `8M`, `8MiB`, `4G`, `1T`. */
export function parseBytes(value: string): number {
  const v = value.trim();
  const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(v);
  if (!m && !/^0x[0-9a-f]+$/i.test(v))
    throw new InvalidArgumentError(`not a size: ${value} (use e.g. 4096, 0x1000, 64K, 8M, 4G)`);
  const n = m ? Number(m[1]) * UNITS[m[2].toUpperCase()] : Number(BigInt(v));
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

/** What simulated RAM must be a multiple of: the host commits it in chunks, and whole pages. */
export function ramGranule(pageSize: number): number {
  return Math.max(RAM_CHUNK_BYTES, pageSize);
}
