/**
 * This machine's CPU words for auxv (AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ), read from the auxv the
 * kernel gave this process (/proc/self/auxv), so that an exec in the model shows what a program
 * started here would get.
 */
import { readFileSync } from 'node:fs';
import { AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ } from '../exec/arch.js';
import type { Arch } from '../hal/addr.js';
import type { CpuWords } from '../mm/layout.js';

/** The host's words when it runs `arch` and its auxv is readable, else undefined (the model's). */
export function hostCpuWords(arch: Arch, auxvPath = '/proc/self/auxv'): CpuWords | undefined {
  if (arch !== (process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : null))
    return undefined;
  let bytes: Buffer;
  try {
    bytes = readFileSync(auxvPath);
  } catch {
    return undefined;
  }
  const words = new Map<number, number>();
  // Pairs of native 64-bit words, ending with AT_NULL.
  for (let at = 0; at + 16 <= bytes.length; at += 16) {
    const type = Number(bytes.readBigUInt64LE(at));
    if (type === 0) break;
    words.set(type, Number(bytes.readBigUInt64LE(at + 8)));
  }
  const hwcap = words.get(AT_HWCAP);
  const minSigStackSize = words.get(AT_MINSIGSTKSZ);
  if (hwcap === undefined || minSigStackSize === undefined) return undefined;
  return { hwcap, hwcap2: words.get(AT_HWCAP2) ?? 0, minSigStackSize };
}
