/**
 * Seeded generator of memory-syscall sequences for the Linux differential harness.
 *
 * `generateSequence(seed, opts)` is a pure function: the same seed and options always give the
 * same ops. Arguments are symbolic expressions the harness resolves at run time:
 *   number      decimal or 0x-hex, optionally with a leading '-' (taken modulo 2^64)
 *   $N          the raw result of op N (0-based index in the sequence)
 *   $brk        the initial program break (brk(0) before the first op)
 *   $brkpage    $brk rounded up to a page
 *   $startbrk   start_brk from /proc/self/stat
 *   terms are combined with '+' and '-', no spaces: `$3+0x2000`, `$startbrk-0x1000`
 *
 * `opts.arch` selects the target's address-space constants: 'x86_64' (the default; its output is
 * unchanged by the option's existence) or 'aarch64' (TASK_SIZE 2^48, so the "beyond TASK_SIZE"
 * addresses differ, and MAP_32BIT is an ignored bit there, so such mappings are top-down).
 * Both consume the PRNG identically; only constants and region bookkeeping differ.
 *
 * CLI: npx tsx tools/linux-harness/generate.ts --seed 7 [--min-ops 40] [--max-ops 80] [--arch aarch64] [--json]
 */
import { pathToFileURL } from 'node:url';
import {
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
} from '../../src/abi/mman.js';
import { hex } from '../../src/hal/addr.js';
import { Args, UsageError } from '../args.js';
import { badFile, mmapFile, mmapWide } from './generate-wide.js';

export type OpName =
  | 'mmap'
  | 'munmap'
  | 'mprotect'
  | 'brk'
  | 'mremap'
  | 'madvise'
  | 'touch'
  | 'peek'
  // Only in sequences for the fork build of the harness (generate-fork.ts):
  | 'fork'
  | 'exit';

export interface Op {
  op: OpName;
  /** Symbolic arguments, one expression per syscall argument (touch: addr, byte value). */
  args: string[];
  /** What the generator meant to exercise, e.g. `mmap:hint-free` or `bad:munmap-len0`. */
  kind: string;
  /** The process that runs the op (fork sequences only; absent: process 0). */
  proc?: number;
}

export interface GenerateOptions {
  minOps?: number;
  maxOps?: number;
  /** Probability that a generated op is a deliberate bad input. */
  badFraction?: number;
  /** Target architecture (default 'x86_64'). */
  arch?: GenArch;
  /**
   * Files the harness has open at fds 3, 4, ... (default none). With files, sequences also map
   * them: private and shared, read-only and read-write descriptors, offsets inside and past the
   * end of the file, lengths past the end, 2 MiB multiples, touches past the end (SIGBUS).
   */
  files?: readonly GenFile[];
  /**
   * Shapes the classic sequences lack (default off): anonymous mappings with a nonzero offset,
   * lengths that are multiples of 2 MiB (THP alignment), large unpopulated lengths, and mremap
   * moves to a 2 MiB multiple.
   */
  wide?: boolean;
}

/** One file the harness has open, as the generator needs to know it. */
export interface GenFile {
  fd: number;
  /** Size in bytes (a device: 0). */
  size: number;
  /** Opened O_RDWR (else O_RDONLY). */
  writable: boolean;
  /** A character device such as /dev/zero (no size, no end of file). */
  device?: boolean;
}

export type GenArch = 'x86_64' | 'aarch64';

/** Addresses at or beyond TASK_SIZE (or ranges ending past it) per architecture. Each list has the
 * same length for both, so the PRNG is consumed identically. */
interface ArchConsts {
  /** MAP_FIXED at these with length 2 pages ends past TASK_SIZE: ENOMEM. */
  fixedBeyond: readonly (number | bigint)[];
  /** munmap at these: EINVAL (start beyond TASK_SIZE), or nothing mapped. */
  munmapBeyond: readonly (number | bigint)[];
  /** munmap lengths that are huge. */
  munmapHugeLen: readonly bigint[];
  brkBeyond: readonly bigint[];
  /** mremap MREMAP_FIXED targets beyond TASK_SIZE. */
  mremapBeyond: readonly number[];
  /** MAP_32BIT restricts placement (x86_64) or is an ignored bit (aarch64). */
  map32bitMeaningful: boolean;
}
const ARCH: Record<GenArch, ArchConsts> = {
  x86_64: {
    fixedBeyond: [0x800000000000, 0x7ffffffff000, 0x7fffffffe000, 0xfffffffffffff000n],
    munmapBeyond: [0x800000000000, 0x7ffffffff000, 0xffffffffff600000n],
    munmapHugeLen: [(1n << 64n) - 1n, (1n << 64n) - 1n - 0xfffn, 1n << 47n],
    brkBeyond: [(1n << 64n) - 1n, 0x800000000000n, 0x7ffffffff000n],
    mremapBeyond: [0x7ffffffff000, 0x800000000000],
    map32bitMeaningful: true,
  },
  // TASK_SIZE is 0x1000000000000 and its last page is usable (the [stack] ends there), so the
  // x86 values (0x7ffffffff000, 0x800000000000) are ordinary free addresses on arm64.
  aarch64: {
    fixedBeyond: [0x1000000000000, 0xfffffffff000, 0x1000000001000, 0xfffffffffffff000n],
    munmapBeyond: [0x1000000000000, 0x1000000001000, 0xffffffffff600000n],
    munmapHugeLen: [(1n << 64n) - 1n, (1n << 64n) - 1n - 0xfffn, 1n << 48n],
    brkBeyond: [(1n << 64n) - 1n, 0x1000000000000n, 0x1000000001000n],
    mremapBeyond: [0x1000000000000, 0x1000000001000],
    map32bitMeaningful: false,
  },
};

export const GENERATOR_VERSION = 2;
/** The version of the `files`/`wide` extensions; sequences without them are GENERATOR_VERSION's. */
export const WIDE_GENERATOR_VERSION = 1;

export const ARG_COUNT: Record<OpName, number> = {
  mmap: 6,
  munmap: 2,
  mprotect: 3,
  brk: 1,
  mremap: 5,
  madvise: 3,
  touch: 2,
  peek: 1,
  fork: 0,
  exit: 0,
};

// ---- Linux constants (the mman ABI from src/abi/mman.ts) -------------------------------------
const P = 0x1000;
const MiB = 0x100000;
const MADV = {
  NORMAL: MADV_NORMAL,
  RANDOM: MADV_RANDOM,
  SEQUENTIAL: MADV_SEQUENTIAL,
  WILLNEED: MADV_WILLNEED,
  DONTNEED: MADV_DONTNEED,
  FREE: MADV_FREE,
  REMOVE: MADV_REMOVE,
  DONTFORK: MADV_DONTFORK,
  DOFORK: MADV_DOFORK,
  HUGEPAGE: MADV_HUGEPAGE,
  NOHUGEPAGE: MADV_NOHUGEPAGE,
  DONTDUMP: MADV_DONTDUMP,
  DODUMP: MADV_DODUMP,
  WIPEONFORK: MADV_WIPEONFORK,
  KEEPONFORK: MADV_KEEPONFORK,
  POPULATE_READ: MADV_POPULATE_READ,
  POPULATE_WRITE: MADV_POPULATE_WRITE,
  DONTNEED_LOCKED: MADV_DONTNEED_LOCKED,
} as const;
const ANON_PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS;

/** Size of the PROT_NONE reservation made by op 0 (see README: it keeps overflowing ranges away
 * from [vvar]/[vdso], which sit directly above the first top-down mapping). */
export const SENTINEL_LEN = 64 * MiB + P; // not a 2 MiB multiple: no THP alignment gap above it
/** Fixed-address arena for MAP_FIXED / MREMAP_FIXED targets, far from everything else. */
const ARENA = 0x300000000;
/** Free hint addresses (nothing is mapped there unless an earlier op put it there). */
export const FREE_HINTS = [
  0x10000000, 0x20000000, 0x100000000, 0x200000000000, 0x600000000000, 0x7e0000000000,
];
/** Far from every mapping the harness or the generator makes. */
const FAR = 0x500000000000;

// ---- PRNG ----------------------------------------------------------------------------------
/** mulberry32: tiny, fast, good enough, and fully deterministic. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed ^ 0x9e3779b9);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  weighted<T>(xs: ReadonlyArray<readonly [number, T]>): T {
    const total = xs.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, x] of xs) {
      r -= w;
      if (r < 0) return x;
    }
    return xs[xs.length - 1][1];
  }
}

// ---- expression helpers --------------------------------------------------------------------
/** A literal of the harness's input: `hex`, refusing what a number cannot say exactly. */
export function literal(v: number | bigint): string {
  if (typeof v === 'number' && (!Number.isSafeInteger(v) || v < 0)) throw new Error(`bad literal ${v}`);
  return hex(v);
}
function plus(base: string, off: number): string {
  if (off === 0) return base;
  return off > 0 ? `${base}+${literal(off)}` : `${base}-${literal(-off)}`;
}
export const ref = (idx: number, off = 0): string => plus(`$${idx}`, off);
const U64_MAX = (1n << 64n) - 1n;

// ---- generator state -----------------------------------------------------------------------
export interface Region {
  /** Index of the op whose result is the region's start. */
  idx: number;
  len: number;
  prot: number;
  flags: number;
  alive: boolean;
  /** Placed by the kernel's top-down search (no hint, no MAP_32BIT, no fixed address). */
  topdown: boolean;
  /** Created with a hint below mmap_min_addr: it sits just above 64 KiB, below the harness image,
   * so nothing may extend far past its end. */
  low?: boolean;
  /** Larger than RAM could back (wide sequences): never populated. */
  huge?: boolean;
}

const HUGE_REGION = 64 * MiB;

export class Gen {
  readonly ops: Op[] = [];
  readonly regions: Region[] = [];
  /** Offset of the generator's idea of the current break from $brk (never negative). */
  brkOff = 0;
  /** Offset from $brkpage of a MAP_FIXED blocker above the heap, if any. */
  blockerOff = -1;
  arenaUsed: number[] = [];
  /** Addresses written so far (wide sequences go back to them). */
  readonly touched: string[] = [];

  readonly arch: ArchConsts;
  constructor(
    readonly rng: Rng,
    arch: GenArch = 'x86_64',
    readonly files: readonly GenFile[] = [],
    readonly wide = false,
  ) {
    this.arch = ARCH[arch];
  }

  emit(op: OpName, args: (string | number)[], kind: string): number {
    const a = args.map((x) => (typeof x === 'number' ? (x < 0 ? `-${literal(-x)}` : literal(x)) : x));
    if (a.length !== ARG_COUNT[op]) throw new Error(`internal: ${op} needs ${ARG_COUNT[op]} args`);
    this.ops.push({ op, args: a, kind });
    return this.ops.length - 1;
  }

  addRegion(idx: number, len: number, prot: number, flags: number, topdown = false): Region {
    const r: Region = { idx, len, prot, flags, alive: true, topdown };
    if (len > HUGE_REGION) r.huge = true;
    this.regions.push(r);
    return r;
  }

  region(aliveBias = 0.9): Region | undefined {
    const alive = this.regions.filter((r) => r.alive);
    if (alive.length > 0 && (this.rng.chance(aliveBias) || alive.length === this.regions.length)) {
      // Prefer recent regions: they are more likely to still be intact.
      const k = Math.min(alive.length, 6);
      return alive[alive.length - 1 - this.rng.int(0, k - 1)];
    }
    return this.regions.length ? this.rng.pick(this.regions) : undefined;
  }

  /** A page-aligned sub-range of r, described as [offset, length] in bytes. */
  subRange(r: Region): { off: number; len: number; shape: string } {
    const pages = Math.max(1, Math.floor(r.len / P));
    const shape = this.rng.weighted([
      [3, 'whole'],
      [3, 'head'],
      [3, 'tail'],
      [4, 'middle'],
      [3, 'beyond'],
    ] as const);
    if (pages === 1 && shape !== 'beyond') return { off: 0, len: P, shape: 'whole' };
    switch (shape) {
      case 'whole':
        return { off: 0, len: pages * P, shape };
      case 'head':
        return { off: 0, len: this.rng.int(1, pages - 1) * P, shape };
      case 'tail': {
        const n = this.rng.int(1, pages - 1);
        return { off: (pages - n) * P, len: n * P, shape };
      }
      case 'middle': {
        if (pages < 3) return { off: P, len: (pages - 1) * P, shape: 'tail' };
        const s = this.rng.int(1, pages - 2);
        const n = this.rng.int(1, pages - 1 - s);
        return { off: s * P, len: n * P, shape };
      }
      default: {
        // Runs past the end by a few pages: into the neighbour above or into a hole.
        const s = this.rng.int(0, pages - 1);
        return { off: s * P, len: (pages - s + this.rng.int(1, 8)) * P, shape };
      }
    }
  }

  randomLen(): number {
    return this.rng.weighted<number>([
      [10, this.rng.int(1, 4) * P],
      [6, this.rng.int(5, 16) * P],
      [2, this.rng.int(17, 64) * P],
      [2, 2 * MiB],
      [1, 4 * MiB],
      [1, 2 * MiB + P],
      [0.5, 3 * MiB],
    ]);
  }

  randomProt(): number {
    return this.rng.weighted<number>([
      [10, PROT_READ | PROT_WRITE],
      [3, PROT_READ],
      [2, 0],
      [1, PROT_READ | PROT_EXEC],
      [1, PROT_WRITE],
      [0.5, PROT_EXEC],
      [0.5, PROT_READ | PROT_WRITE | PROT_EXEC],
    ]);
  }

  arenaAddr(): number {
    if (this.arenaUsed.length > 0 && this.rng.chance(0.4)) return this.rng.pick(this.arenaUsed);
    const a = ARENA + this.rng.int(0, 15) * MiB + this.rng.int(0, 3) * 0x40000;
    this.arenaUsed.push(a);
    return a;
  }

  // ---- good ops ----------------------------------------------------------------------------
  mmapNew(): void {
    const rng = this.rng;
    let len = this.randomLen();
    let prot = this.randomProt();
    let flags = ANON_PRIVATE;
    let kind = 'mmap:new';
    const variant = rng.weighted([
      [14, 'plain'],
      [2, 'noreserve'],
      [2, 'populate'],
      [2, 'stack'],
      [2, 'growsdown'],
      [2, 'shared'],
      [1, '32bit'],
      [1.5, 'droppable'],
      [1, 'unknown-flag'],
      [1, 'unknown-prot'],
    ] as const);
    switch (variant) {
      case 'noreserve':
        flags |= MAP_NORESERVE;
        break;
      case 'populate':
        flags |= MAP_POPULATE;
        if (len > 4 * MiB) len = 4 * MiB;
        break;
      case 'stack':
        flags |= MAP_STACK;
        prot = PROT_READ | PROT_WRITE;
        break;
      case 'growsdown':
        flags |= MAP_GROWSDOWN;
        prot = PROT_READ | PROT_WRITE;
        len = rng.int(1, 8) * P;
        break;
      case 'shared':
        flags = MAP_SHARED | MAP_ANONYMOUS;
        break;
      case '32bit':
        flags |= MAP_32BIT;
        break;
      case 'droppable':
        flags = MAP_DROPPABLE | MAP_ANONYMOUS;
        break;
      case 'unknown-flag':
        flags |= rng.pick([0x200000, 0x400]);
        break;
      case 'unknown-prot':
        prot = rng.pick([0x10 | PROT_READ | PROT_WRITE, PROT_SEM | PROT_READ, 0xffffffff]);
        break;
    }
    if (variant !== 'plain') kind += `-${variant}`;
    if (variant !== 'plain' && variant !== 'noreserve' && rng.chance(0.25)) {
      flags |= MAP_NORESERVE;
      kind += '-noreserve';
    }
    let hint = '0';
    const h = rng.float();
    if (h < 0.1) {
      hint = literal(rng.pick(FREE_HINTS) + rng.int(0, 7) * P);
      kind = `${kind}:hint-free`;
    } else if (h < 0.2 && this.regions.length > 0) {
      const r = this.region()!;
      hint = ref(r.idx, rng.int(0, Math.floor(r.len / P) - 1) * P);
      kind = `${kind}:hint-occupied`;
    } else if (h < 0.24) {
      // Below mmap_min_addr: rounded down, then raised to the effective minimum.
      hint = rng.pick(['0x1000', '0x800', '0x3000', '0xfff']);
      len = Math.min(len, 16 * P);
      kind = `${kind}:hint-low`;
    }
    const idx = this.emit('mmap', [hint, len, prot, flags, -1, 0], kind);
    const r = this.addRegion(
      idx,
      len,
      prot,
      flags,
      hint === '0' && (variant !== '32bit' || !this.arch.map32bitMeaningful),
    );
    if (kind.endsWith(':hint-low')) r.low = true;
  }

  mmapFixedOver(): void {
    const r = this.region();
    if (!r) {
      this.mmapNew();
      return;
    }
    const s = this.subRange(r);
    const prot = this.rng.chance(0.5) ? r.prot : this.randomProt();
    let extra = this.rng.chance(0.2) ? MAP_NORESERVE : this.rng.chance(0.1) ? MAP_POPULATE : 0;
    if (extra === MAP_POPULATE && s.len > HUGE_REGION) extra = MAP_NORESERVE;
    const idx = this.emit(
      'mmap',
      [ref(r.idx, s.off), s.len, prot, ANON_PRIVATE | MAP_FIXED | extra, -1, 0],
      `mmap:fixed-over-${s.shape}`,
    );
    this.addRegion(idx, s.len, prot, ANON_PRIVATE);
  }

  mmapFixedArena(): void {
    const rng = this.rng;
    const noreplace = rng.chance(0.45);
    const len = rng.int(1, 16) * P;
    const prot = this.randomProt();
    let addr: string;
    let kind: string;
    const r = this.region();
    const where = rng.float();
    if (noreplace && r && where < 0.25) {
      addr = ref(r.idx, rng.int(0, Math.floor(r.len / P) - 1) * P); // occupied: EEXIST
      kind = 'mmap:noreplace-occupied';
    } else if (noreplace && r?.topdown && where < 0.5) {
      addr = ref(r.idx, -len); // just below a region: usually free, then adjacent
      kind = 'mmap:noreplace-below';
    } else {
      addr = literal(this.arenaAddr());
      kind = noreplace ? 'mmap:noreplace-arena' : 'mmap:fixed-arena';
    }
    const flags = ANON_PRIVATE | (noreplace ? MAP_FIXED_NOREPLACE : MAP_FIXED);
    const idx = this.emit('mmap', [addr, len, prot, flags, -1, 0], kind);
    this.addRegion(idx, len, prot, ANON_PRIVATE);
  }

  munmap(): void {
    const r = this.region(0.85);
    if (!r) {
      this.mmapNew();
      return;
    }
    const s = this.subRange(r);
    this.emit('munmap', [ref(r.idx, s.off), s.len], `munmap:${r.alive ? s.shape : 'hole'}`);
    if (s.shape === 'whole' || (s.off === 0 && s.len >= r.len)) r.alive = false;
    else if (s.off === 0) {
      // head removed: keep the region but it now starts later; simplest is to retire it.
      r.alive = false;
    } else if (s.off + s.len >= r.len) r.len = s.off;
  }

  mprotect(): void {
    const r = this.region();
    if (!r) {
      this.mmapNew();
      return;
    }
    const s = this.subRange(r);
    const rng = this.rng;
    let prot: number;
    let kind = `mprotect:${s.shape}`;
    if (rng.chance(0.3)) {
      prot = r.prot & 7; // back to the original: re-merge
      kind += '-restore';
    } else {
      prot = this.randomProt() & 7;
    }
    if ((r.flags & MAP_GROWSDOWN) !== 0 && rng.chance(0.3)) {
      prot |= PROT_GROWSDOWN;
      kind += '-growsdown';
    }
    this.emit('mprotect', [ref(r.idx, s.off), s.len, prot], kind);
  }

  brk(): void {
    const rng = this.rng;
    const what = rng.weighted([
      [5, 'grow'],
      [3, 'shrink'],
      [1, 'unaligned'],
      [1, 'same'],
      [1, 'below-start'],
      [1, 'query'],
      [1.5, 'blocker'],
      [1, 'initial'],
    ] as const);
    switch (what) {
      case 'grow':
        this.brkOff += rng.int(1, 24) * P;
        this.emit('brk', [plus('$brk', this.brkOff)], 'brk:grow');
        break;
      case 'shrink':
        this.brkOff = Math.max(0, this.brkOff - rng.int(1, 12) * P);
        this.emit('brk', [plus('$brk', this.brkOff)], 'brk:shrink');
        break;
      case 'unaligned':
        this.brkOff += rng.int(1, 0xfff);
        this.emit('brk', [plus('$brk', this.brkOff)], 'brk:unaligned');
        break;
      case 'same':
        this.emit('brk', [plus('$brk', this.brkOff)], 'brk:same');
        break;
      case 'below-start':
        this.emit(
          'brk',
          [rng.pick(['$startbrk-0x1000', '$startbrk-0x123', '0x1000', '1'])],
          'brk:below-start',
        );
        break;
      case 'query':
        this.emit('brk', ['0'], 'brk:query');
        break;
      case 'initial':
        this.brkOff = 0;
        this.emit('brk', ['$brk'], 'brk:initial');
        break;
      default: {
        // Map something just above the heap, then try to grow the break into / next to it.
        if (this.blockerOff < 0) {
          this.blockerOff = (Math.ceil(this.brkOff / P) + rng.int(2, 20)) * P;
          const len = rng.int(1, 4) * P;
          const idx = this.emit(
            'mmap',
            [plus('$brkpage', this.blockerOff), len, PROT_READ | PROT_WRITE, ANON_PRIVATE | MAP_FIXED, -1, 0],
            'mmap:fixed-above-heap',
          );
          this.addRegion(idx, len, PROT_READ | PROT_WRITE, ANON_PRIVATE);
        } else {
          // One page short of the blocker is the limit; try the limit, the blocker, or past it.
          const target = this.blockerOff + rng.pick([-P, -P + 1, -P - 1, 0, P, 3 * P]);
          this.emit('brk', [plus('$brkpage', target)], 'brk:into-mapping');
          this.brkOff = Math.max(this.brkOff, 0);
        }
      }
    }
  }

  mremap(): void {
    const r = this.region();
    if (!r) {
      this.mmapNew();
      return;
    }
    const rng = this.rng;
    const pages = Math.max(1, Math.floor(r.len / P));
    const what = rng.weighted([
      [3, 'shrink'],
      [3, 'grow-inplace'],
      [3, 'grow-maymove'],
      [2, 'fixed-arena'],
      [1.5, 'fixed-over'],
      [2, 'dontunmap'],
      [1, 'same-size'],
      [1, 'partial-move'],
      [(r.flags & MAP_SHARED) !== 0 ? 2 : 0.3, 'dup'],
      [this.wide ? 2.5 : 0, 'move-thp'],
    ] as const);
    const base = ref(r.idx);
    switch (what) {
      case 'shrink': {
        if (pages < 2) {
          this.mremapSame(r);
          return;
        }
        const nl = rng.chance(0.8)
          ? rng.int(1, pages - 1) * P
          : rng.int(1, pages - 1) * P - rng.int(1, 0xfff);
        this.emit('mremap', [base, r.len, nl, 0, 0], 'mremap:shrink');
        r.len = Math.ceil(nl / P) * P;
        return;
      }
      case 'grow-inplace': {
        const nl = r.len + rng.int(1, 8) * P;
        this.emit('mremap', [base, r.len, nl, 0, 0], 'mremap:grow-inplace');
        return;
      }
      case 'grow-maymove': {
        const nl = r.len + rng.int(1, 16) * P;
        const idx = this.emit('mremap', [base, r.len, nl, MREMAP_MAYMOVE, 0], 'mremap:grow-maymove');
        r.alive = false;
        this.addRegion(idx, nl, r.prot, r.flags);
        return;
      }
      case 'fixed-arena':
      case 'fixed-over': {
        let target: string;
        const nl = rng.chance(0.7) ? r.len : rng.int(1, pages + 4) * P;
        if (what === 'fixed-over') {
          const o = this.region();
          // A huge range moved onto another region would reach the harness's own mappings.
          if (!o || o === r || o.low || nl > HUGE_REGION) {
            this.mremapSame(r);
            return;
          }
          target = ref(o.idx, rng.int(0, Math.max(0, Math.floor(o.len / P) - 1)) * P);
        } else {
          target = literal(this.arenaAddr());
        }
        const idx = this.emit(
          'mremap',
          [base, r.len, nl, MREMAP_MAYMOVE | MREMAP_FIXED, target],
          `mremap:${what}`,
        );
        r.alive = false;
        this.addRegion(idx, nl, r.prot, r.flags);
        return;
      }
      case 'dontunmap': {
        const fixed = rng.chance(0.3);
        const flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP | (fixed ? MREMAP_FIXED : 0);
        const idx = this.emit(
          'mremap',
          [base, r.len, r.len, flags, fixed ? literal(this.arenaAddr()) : '0'],
          `mremap:dontunmap${fixed ? '-fixed' : ''}`,
        );
        this.addRegion(idx, r.len, r.prot, r.flags);
        return;
      }
      case 'partial-move': {
        if (pages < 3) {
          this.mremapSame(r);
          return;
        }
        const s = rng.int(1, pages - 2);
        const n = rng.int(1, pages - 1 - s);
        const idx = this.emit(
          'mremap',
          [ref(r.idx, s * P), n * P, (n + rng.int(0, 4)) * P, MREMAP_MAYMOVE, 0],
          'mremap:partial-move',
        );
        this.addRegion(idx, n * P, r.prot, r.flags);
        return;
      }
      case 'dup': {
        const idx = this.emit('mremap', [base, 0, r.len, MREMAP_MAYMOVE, 0], 'mremap:dup-oldlen0');
        this.addRegion(idx, r.len, r.prot, r.flags);
        return;
      }
      case 'move-thp': {
        // A new length that is a multiple of 2 MiB: a move is placed THP-aligned.
        const nl = rng.int(1, 3) * 2 * MiB;
        const idx = this.emit('mremap', [base, r.len, nl, MREMAP_MAYMOVE, 0], 'mremap:move-thp');
        r.alive = false;
        this.addRegion(idx, nl, r.prot, r.flags);
        return;
      }
      default: {
        this.mremapSame(r);
        return;
      }
    }
  }

  mremapSame(r: Region): void {
    // Same size, no flags: returns addr at once, even across VMA ends.
    this.emit(
      'mremap',
      [ref(r.idx), r.len, r.len, 0, this.rng.pick(['0', '0x123456789'])],
      'mremap:same-size',
    );
  }

  madvise(): void {
    const r = this.region(0.85);
    if (!r) {
      this.mmapNew();
      return;
    }
    const rng = this.rng;
    const advice = rng.weighted<number>([
      [5, MADV.DONTNEED],
      [3, MADV.FREE],
      [3, MADV.DONTFORK],
      [2, MADV.DOFORK],
      [2, MADV.HUGEPAGE],
      [2, MADV.NOHUGEPAGE],
      [2, MADV.DONTDUMP],
      [1, MADV.DODUMP],
      [1, MADV.NORMAL],
      [1.5, MADV.RANDOM],
      [1.5, MADV.SEQUENTIAL],
      [1.5, MADV.WILLNEED],
      [1, MADV.WIPEONFORK],
      [0.5, MADV.KEEPONFORK],
      [0.7, MADV.REMOVE],
      [0.7, MADV.POPULATE_READ],
      [0.7, MADV.POPULATE_WRITE],
      [0.4, MADV.DONTNEED_LOCKED],
    ]);
    const s = this.subRange(r);
    if (
      r.huge &&
      (advice === MADV.POPULATE_READ || advice === MADV.POPULATE_WRITE || advice === MADV.WILLNEED)
    ) {
      this.emit('madvise', [ref(r.idx, s.off), s.len, MADV.DONTNEED], `madvise:DONTNEED-huge-${s.shape}`);
      return;
    }
    const name = Object.entries(MADV).find(([, v]) => v === advice)![0];
    this.emit('madvise', [ref(r.idx, s.off), s.len, advice], `madvise:${name}-${r.alive ? s.shape : 'hole'}`);
  }

  touchOrPeek(touch: boolean): void {
    const rng = this.rng;
    if (this.wide && this.touched.length > 0 && rng.chance(0.4)) {
      // Back to a byte written before: whatever happened since (a move, a free, a shared write
      // seen through another mapping) decides what it holds now.
      const addr = rng.pick(this.touched);
      if (touch) this.emit('touch', [addr, rng.int(1, 255)], 'touch:again');
      else this.emit('peek', [addr], 'peek:again');
      return;
    }
    const heap = this.brkOff > 0 && rng.chance(0.08);
    let addr: string;
    let kind: string;
    if (heap) {
      // Only pages at or above $brkpage: below it is the harness's own heap (its TLS lives there).
      addr = plus(
        '$brkpage',
        rng.int(0, Math.max(0, Math.ceil(this.brkOff / P) - 1)) * P + rng.int(0, 0xfff),
      );
      kind = 'heap';
    } else {
      const r = this.region(0.9);
      if (!r) {
        this.mmapNew();
        return;
      }
      const pages = Math.max(1, Math.floor(r.len / P));
      const w = rng.float();
      // Keep offsets below 4 MiB - 1 page: if $N is an error code, $N+off stays below the image.
      const maxPage = Math.min(pages, 1023) - 1;
      if ((r.flags & MAP_GROWSDOWN) !== 0 && w < 0.35) {
        addr = ref(r.idx, -rng.int(1, 3) * P + rng.int(0, 0xfff));
        kind = 'below-growsdown';
      } else if (w < 0.08) {
        addr = ref(r.idx, Math.min(pages, 1022) * P + rng.int(0, 0xfff));
        kind = 'past-end';
      } else {
        addr = ref(r.idx, rng.int(0, maxPage) * P + (rng.chance(0.3) ? rng.int(0, 0xfff) : 0));
        kind = r.alive ? 'in' : 'hole';
      }
    }
    if (touch && this.wide) this.touched.push(addr);
    if (touch) this.emit('touch', [addr, rng.int(1, 255)], `touch:${kind}`);
    else this.emit('peek', [addr], `peek:${kind}`);
  }

  // ---- bad inputs ----------------------------------------------------------------------------
  bad(): void {
    const rng = this.rng;
    const r = this.region();
    const at = r ? ref(r.idx) : literal(FAR);
    const rl = r ? r.len : P;
    const cases: Array<[number, () => void]> = [
      [1, () => this.emit('mmap', ['0', 0, 3, ANON_PRIVATE, -1, 0], 'bad:mmap-len0')],
      [
        1,
        () =>
          this.emit(
            'mmap',
            ['0', P, 3, ANON_PRIVATE, -1, rng.pick([0x123, 0x800])],
            'bad:mmap-off-unaligned',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mmap',
            [
              '0',
              literal(rng.pick([U64_MAX, U64_MAX - 0x7ffn, U64_MAX - 0xfffn + 1n])),
              3,
              ANON_PRIVATE,
              -1,
              0,
            ],
            'bad:mmap-len-wrap',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mmap',
            ['0', literal(rng.pick([1n << 47n, 1n << 62n, 1n << 48n])), 3, ANON_PRIVATE, -1, 0],
            'bad:mmap-len-huge',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mmap',
            ['0', 2 ** 45, PROT_READ | PROT_WRITE, ANON_PRIVATE, -1, 0],
            'bad:mmap-overcommit', // 32 TiB accounted > RAM: ENOMEM under heuristic overcommit
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mmap',
            [
              '0',
              P,
              3,
              rng.pick([MAP_ANONYMOUS, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, 0x0f | MAP_ANONYMOUS]),
              -1,
              0,
            ],
            'bad:mmap-type',
          ),
      ],
      [1, () => this.emit('mmap', ['0', P, 3, MAP_PRIVATE, rng.pick([-1, 999]), 0], 'bad:mmap-badfd')],
      [
        1,
        () =>
          this.emit('mmap', ['0', 0, 3, MAP_PRIVATE, 999, rng.pick([0, 0x10])], 'bad:mmap-badfd-len0-or-off'),
      ],
      [
        1,
        () =>
          this.emit(
            'mmap',
            [plus(at, 0x123), P, 3, ANON_PRIVATE | MAP_FIXED, -1, 0],
            'bad:mmap-fixed-unaligned',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mmap',
            [literal(rng.pick(this.arch.fixedBeyond)), 2 * P, 3, ANON_PRIVATE | MAP_FIXED, -1, 0],
            'bad:mmap-fixed-beyond-task-size',
          ),
      ],
      [
        0.5,
        () =>
          this.emit(
            'mmap',
            ['0', P, 3, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0],
            'bad:mmap-shared-growsdown',
          ),
      ],
      [
        0.5,
        () =>
          this.emit(
            'mmap',
            ['0', P, 3, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0],
            'bad:mmap-droppable-growsdown',
          ),
      ],
      [
        0.5,
        () =>
          this.emit(
            'mmap',
            ['0', 2 * MiB, 3, ANON_PRIVATE | MAP_HUGETLB | (13 << 26), -1, 0],
            'bad:mmap-hugetlb-size',
          ),
      ],
      [
        0.7,
        () =>
          this.emit(
            'mmap',
            [
              '0',
              literal(rng.pick([2 ** 40, 2 ** 44])),
              rng.pick([0, PROT_READ]),
              ANON_PRIVATE | MAP_NORESERVE,
              -1,
              0,
            ],
            'edge:mmap-huge-unaccounted',
          ),
      ],
      [1, () => this.emit('munmap', [plus(at, rng.pick([1, 0x800, 0xfff])), P], 'bad:munmap-unaligned')],
      [1, () => this.emit('munmap', [at, 0], 'bad:munmap-len0')],
      [1, () => this.emit('munmap', [at, literal(rng.pick(this.arch.munmapHugeLen))], 'bad:munmap-len-huge')],
      [0.7, () => this.emit('munmap', [literal(rng.pick(this.arch.munmapBeyond)), P], 'bad:munmap-beyond')],
      [
        1,
        () =>
          this.emit(
            'munmap',
            [literal(FAR + rng.int(0, 255) * P), rng.int(1, 8) * P],
            'edge:munmap-unmapped',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mprotect',
            [at, rl, PROT_GROWSDOWN | PROT_GROWSUP | PROT_READ],
            'bad:mprotect-growsdown-and-up',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mprotect',
            [plus(at, rng.pick([1, 0x10, 0xfff])), rng.pick([0, P]), 1],
            'bad:mprotect-unaligned',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mprotect',
            [rng.chance(0.5) ? at : literal(FAR), 0, rng.pick([1, 0x10])],
            'edge:mprotect-len0',
          ),
      ],
      [1, () => this.emit('mprotect', [at, literal(U64_MAX - 0xfffn), 1], 'bad:mprotect-len-wrap')],
      [
        1,
        () =>
          this.emit(
            'mprotect',
            [at, rl, rng.pick([0x10, 0x20, 0x40 | 1, 0x80000000])],
            'bad:mprotect-prot-bits',
          ),
      ],
      [1, () => this.emit('mprotect', [literal(FAR + rng.int(0, 255) * P), P, 1], 'bad:mprotect-unmapped')],
      [0.7, () => this.emit('mprotect', [at, P, PROT_READ | PROT_GROWSDOWN], 'bad:mprotect-growsdown-flag')],
      [0.7, () => this.emit('mprotect', [at, P, PROT_READ | PROT_GROWSUP], 'bad:mprotect-growsup')],
      [1, () => this.emit('brk', [literal(rng.pick(this.arch.brkBeyond))], 'bad:brk-beyond')],
      [1, () => this.emit('mremap', [at, rl, rl, rng.pick([8, 0x10, 0x80000000]), 0], 'bad:mremap-flags')],
      [
        1,
        () => this.emit('mremap', [at, rl, rl, MREMAP_FIXED, literal(ARENA)], 'bad:mremap-fixed-no-maymove'),
      ],
      [
        1,
        () =>
          this.emit(
            'mremap',
            // DONTUNMAP without MAYMOVE, or with old_len != new_len: EINVAL.
            rng.chance(0.5)
              ? [at, rl, rl, MREMAP_DONTUNMAP, 0]
              : [at, rl, rl + P, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, 0],
            'bad:mremap-dontunmap',
          ),
      ],
      [1, () => this.emit('mremap', [plus(at, 0x10), P, 2 * P, MREMAP_MAYMOVE, 0], 'bad:mremap-unaligned')],
      [
        1,
        () =>
          this.emit(
            'mremap',
            [at, rl, rng.pick([0, literal(U64_MAX)]), MREMAP_MAYMOVE, 0],
            'bad:mremap-newlen0',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mremap',
            [literal(FAR + rng.int(0, 255) * P), P, 2 * P, MREMAP_MAYMOVE, 0],
            'bad:mremap-unmapped',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'mremap',
            [
              at,
              rl,
              rl,
              MREMAP_MAYMOVE | MREMAP_FIXED,
              rng.chance(0.5) && rl <= HUGE_REGION ? plus(at, Math.floor(rl / P / 2) * P) : plus(at, 0x123),
            ],
            'bad:mremap-fixed-overlap-or-unaligned',
          ),
      ],
      [
        0.7,
        () =>
          this.emit(
            'mremap',
            [at, rl, rl, MREMAP_MAYMOVE | MREMAP_FIXED, literal(rng.pick(this.arch.mremapBeyond))],
            'bad:mremap-fixed-beyond',
          ),
      ],
      [0.7, () => this.emit('mremap', [at, 0, rl, MREMAP_MAYMOVE, 0], 'edge:mremap-oldlen0')],
      [
        1,
        () =>
          this.emit('mremap', [at, rl + 16 * P, rl + 32 * P, MREMAP_MAYMOVE, 0], 'bad:mremap-grow-across'),
      ],
      [
        1,
        () => this.emit('madvise', [at, rl, rng.pick([5, 6, 7, 26, 1212, 0xffffffff])], 'bad:madvise-advice'),
      ],
      [1, () => this.emit('madvise', [plus(at, 0x200), P, MADV.DONTNEED], 'bad:madvise-unaligned')],
      [
        1,
        () =>
          this.emit(
            'madvise',
            [at, literal(rng.pick([U64_MAX, U64_MAX - 0xfffn])), MADV.DONTNEED],
            'bad:madvise-len-wrap',
          ),
      ],
      [
        1,
        () =>
          this.emit(
            'madvise',
            [literal(FAR + rng.int(0, 255) * P), P, MADV.DONTNEED],
            'bad:madvise-unmapped',
          ),
      ],
      [0.7, () => this.emit('madvise', [at, 0, rng.pick([MADV.DONTNEED, 1212])], 'edge:madvise-len0')],
      [0.7, () => this.emit('madvise', [at, rl, MADV.FREE], 'edge:madvise-free')],
      [0.7, () => this.emit('madvise', [at, rl, MADV.REMOVE], 'edge:madvise-remove')],
      [1, () => this.emit('touch', [literal(FAR + rng.int(0, 255) * P), 1], 'bad:touch-unmapped')],
      [0.7, () => this.emit('peek', [literal(rng.pick([FAR, 0x2000, FAR + 0x123]))], 'bad:peek-unmapped')],
    ];
    rng.weighted(cases)();
  }
}

const DEFAULTS: Required<GenerateOptions> = {
  minOps: 40,
  maxOps: 80,
  badFraction: 0.2,
  arch: 'x86_64',
  files: [],
  wide: false,
};

/** The deterministic op sequence for `seed`. Op 0 is always the sentinel reservation. */
export function generateSequence(seed: number, opts: GenerateOptions = {}): Op[] {
  const o = { ...DEFAULTS, ...opts };
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (o.minOps < 2 || o.maxOps < o.minOps) throw new Error('need 2 <= minOps <= maxOps');
  const rng = new Rng(seed);
  if (!(o.arch in ARCH)) throw new Error(`unknown arch ${String(o.arch)}`);
  for (const f of o.files) {
    if (!Number.isInteger(f.fd) || f.fd < 3) throw new Error(`file descriptors start at 3, got ${f.fd}`);
  }
  const g = new Gen(rng, o.arch, o.files, o.wide);
  const n = rng.int(o.minOps, o.maxOps);
  g.emit('mmap', ['0', SENTINEL_LEN, 0, ANON_PRIVATE | MAP_NORESERVE, -1, 0], 'sentinel');
  const warmup = rng.int(2, 4);
  for (let i = 0; i < warmup; i++) g.mmapNew();
  const good: Array<[number, () => void]> = [
    [15, () => g.mmapNew()],
    [6, () => g.mmapFixedOver()],
    [4, () => g.mmapFixedArena()],
    [9, () => g.munmap()],
    [10, () => g.mprotect()],
    [5, () => g.brk()],
    [8, () => g.mremap()],
    [10, () => g.madvise()],
    [14, () => g.touchOrPeek(true)],
    [8, () => g.touchOrPeek(false)],
  ];
  if (o.files.length > 0) good.push([12, () => mmapFile(g)]);
  if (o.wide) good.push([5, () => mmapWide(g)]);
  while (g.ops.length < n) {
    if (rng.chance(o.badFraction)) {
      if (o.files.length > 0 && rng.chance(0.25)) badFile(g);
      else g.bad();
    } else rng.weighted(good)();
  }
  return g.ops.slice(0, n);
}

/** The harness's input text: one op per line, `name arg arg ...` (`@N name ...` for process N > 0). */
export function serializeSequence(ops: readonly Op[]): string {
  return ops.map((o) => `${o.proc ? `@${o.proc} ` : ''}${o.op} ${o.args.join(' ')}\n`).join('');
}

function main(argv: string[]): void {
  let seed = 1;
  const opts: GenerateOptions = {};
  let json = false;
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--seed') seed = args.int();
    else if (a === '--min-ops') opts.minOps = args.int();
    else if (a === '--max-ops') opts.maxOps = args.int();
    else if (a === '--arch') opts.arch = args.oneOf(['x86_64', 'aarch64'] as const);
    else if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: generate.ts [--seed N] [--min-ops N] [--max-ops N] [--arch x86_64|aarch64] [--json]\n',
      );
      return;
    } else args.unknown();
  }
  const ops = generateSequence(seed, opts);
  process.stdout.write(json ? `${JSON.stringify(ops, null, 1)}\n` : serializeSequence(ops));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`generate: ${e.message}\n`);
    process.exit(2);
  }
}
