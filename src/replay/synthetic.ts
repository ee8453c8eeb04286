/**
 * Synthetic strace logs written by the model itself: a seeded sequence of memory calls run in a
 * fresh kernel, each printed with the model's own answer in strace's format. Replaying such a log
 * must reproduce it byte for byte; shifting its addresses (as ASLR would) must replay the same
 * with relocation. Used by the tests and by the replay benchmark.
 */
import { Kernel } from '../kernel/kernel.js';
import { formatCall } from '../trace/strace-format.js';
import type { MemoryCall, SyscallResult } from '../trace/strace-types.js';
import { modelResult } from './engine.js';

export interface SyntheticOptions {
  calls: number;
  seed?: number;
  /** Added to every address the log shows (an ASLR offset); page-aligned. */
  shift?: bigint;
  /** The break the process starts with. */
  startBrk?: number;
  pid?: number;
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Sys = Record<string, ((...a: Array<number | bigint>) => number) | undefined>;

/**
 * Generates the lines of a log (without newlines). Only the calls the model has are used. Live
 * mappings are kept below 64 so the log exercises placement, splitting and reuse.
 */
export function* syntheticLog(options: SyntheticOptions): Generator<string> {
  const random = rng(options.seed ?? 1);
  const kernel = new Kernel({ arch: 'x86_64', ramBytes: 2 ** 26, paging: 'demand' });
  const task = kernel.spawn();
  const startBrk = options.startBrk ?? 0x5555_5556_0000;
  task.mm.startBrk = startBrk;
  task.mm.brk = startBrk;
  const sys = kernel.sys as unknown as Sys;
  const has = (n: string) => typeof sys[n] === 'function';
  const shift = options.shift ?? 0n;
  const page = 4096;
  const live: Array<{ addr: number; len: number }> = [];
  const prefix = options.pid === undefined ? undefined : `${String(options.pid).padEnd(5)} `;
  const S = (v: number) => (v === 0 ? 0n : BigInt(v) + shift);
  const line = (call: MemoryCall, r: number, name: string) => {
    let result: SyscallResult = modelResult(r);
    if (r >= 0 && (name === 'mmap' || name === 'mremap' || name === 'brk') && r !== 0) {
      result = { kind: 'value', value: BigInt(r) + shift, hex: true };
    }
    return formatCall({ call, result, prefix: prefix === undefined ? undefined : { text: prefix } });
  };
  let brk = startBrk;
  yield line({ syscall: 'brk', addr: 0n }, sys.brk ? sys.brk.call(kernel.sys, 0) : brk, 'brk');
  for (let i = 1; i < options.calls; i++) {
    const x = random();
    const pick = () => live[Math.floor(random() * live.length)];
    if (live.length < 8 || (x < 0.35 && live.length < 64)) {
      const len = (1 + Math.floor(random() * 16)) * page;
      const prot = random() < 0.8 ? 3 : 1;
      const r = sys.mmap!.call(kernel.sys, 0, len, prot, 0x22, -1, 0);
      if (r >= 0) live.push({ addr: r, len });
      yield line(
        {
          syscall: 'mmap',
          addr: 0n,
          length: BigInt(len),
          prot: BigInt(prot),
          flags: 0x22n,
          fd: -1n,
          offset: 0n,
        },
        r,
        'mmap',
      );
    } else if (x < 0.55) {
      const idx = Math.floor(random() * live.length);
      const m = live[idx];
      const r = sys.munmap!.call(kernel.sys, m.addr, m.len);
      live.splice(idx, 1);
      yield line({ syscall: 'munmap', addr: S(m.addr), length: BigInt(m.len) }, r, 'munmap');
    } else if (x < 0.7 && has('mprotect')) {
      const m = pick();
      const off = Math.floor(random() * (m.len / page)) * page;
      const len = page * (1 + Math.floor(random() * ((m.len - off) / page)));
      const prot = random() < 0.5 ? 1 : 3;
      const r = sys.mprotect!.call(kernel.sys, m.addr + off, len, prot);
      yield line(
        { syscall: 'mprotect', addr: S(m.addr + off), length: BigInt(len), prot: BigInt(prot) },
        r,
        'mprotect',
      );
    } else if (x < 0.8 && has('brk')) {
      const next = brk + (random() < 0.7 ? 1 : -1) * page * (1 + Math.floor(random() * 8));
      const target = next < startBrk ? startBrk + page : next;
      const r = sys.brk!.call(kernel.sys, target);
      brk = r;
      yield line({ syscall: 'brk', addr: S(target) }, r, 'brk');
    } else if (x < 0.9 && has('madvise')) {
      const m = pick();
      const r = sys.madvise!.call(kernel.sys, m.addr, m.len, 4);
      yield line({ syscall: 'madvise', addr: S(m.addr), length: BigInt(m.len), advice: 4n }, r, 'madvise');
    } else if (has('mremap')) {
      const idx = Math.floor(random() * live.length);
      const m = live[idx];
      const newLen = m.len + page * (1 + Math.floor(random() * 4));
      const r = sys.mremap!.call(kernel.sys, m.addr, m.len, newLen, 1, 0);
      if (r >= 0) live[idx] = { addr: r, len: newLen };
      yield line(
        {
          syscall: 'mremap',
          oldAddress: S(m.addr),
          oldSize: BigInt(m.len),
          newSize: BigInt(newLen),
          flags: 1n,
        },
        r,
        'mremap',
      );
    } else {
      // MAP_FIXED over the middle of a live mapping (ld.so's pattern).
      const m = pick();
      const r = sys.mmap!.call(kernel.sys, m.addr, page, 1, 0x32, -1, 0);
      yield line(
        {
          syscall: 'mmap',
          addr: S(m.addr),
          length: BigInt(page),
          prot: 1n,
          flags: 0x32n,
          fd: -1n,
          offset: 0n,
        },
        r,
        'mmap',
      );
    }
  }
}
