/**
 * Symbolic constants of the memory syscalls, for x86_64 and aarch64, in the order strace 6.1
 * prints them (its src/xlat/*.in files are not sorted, and printflags walks them in file order).
 *
 * The values are the same on both architectures except:
 * - MAP_32BIT (0x40) exists only on x86_64;
 * - PROT_BTI (0x10) and PROT_MTE (0x20) exist only on aarch64. strace 6.1 has no names for them and
 *   prints them as hex (`PROT_READ|PROT_EXEC|0x10`); the parser accepts the names anyway.
 */

import type { Arch } from '../hal/addr.js';

export type { Arch };

export const ARCHES: readonly Arch[] = ['x86_64', 'aarch64'];

export type XlatEntry = readonly [name: string, value: bigint];

/** PROT_* in strace's order (PROT_NONE = 0 is printed only when the whole value is 0). */
const PROT_COMMON: XlatEntry[] = [
  ['PROT_NONE', 0x0n],
  ['PROT_READ', 0x1n],
  ['PROT_WRITE', 0x2n],
  ['PROT_EXEC', 0x4n],
  ['PROT_SEM', 0x8n],
  ['PROT_GROWSDOWN', 0x01000000n],
  ['PROT_GROWSUP', 0x02000000n],
];

/** Names strace does not print but that the parser understands on aarch64. */
const PROT_AARCH64_EXTRA: XlatEntry[] = [
  ['PROT_BTI', 0x10n],
  ['PROT_MTE', 0x20n],
];

/** MAP_TYPE values (flags & 0xf), printed first. MAP_FILE (0) names a type of 0. */
export const MAP_TYPE_MASK = 0xfn;
const MAP_TYPES: XlatEntry[] = [
  ['MAP_SHARED', 0x1n],
  ['MAP_PRIVATE', 0x2n],
  ['MAP_SHARED_VALIDATE', 0x3n],
  ['MAP_FILE', 0x0n],
];

/** The other MAP_* bits in strace 6.1's order (src/xlat/mmap_flags.in, x86_64/generic values). */
function mapFlags(arch: Arch): XlatEntry[] {
  const list: XlatEntry[] = [
    ['MAP_FIXED', 0x10n],
    ['MAP_ANONYMOUS', 0x20n],
  ];
  if (arch === 'x86_64') list.push(['MAP_32BIT', 0x40n]);
  list.push(
    ['MAP_NORESERVE', 0x4000n],
    ['MAP_POPULATE', 0x8000n],
    ['MAP_NONBLOCK', 0x10000n],
    ['MAP_GROWSDOWN', 0x100n],
    ['MAP_DENYWRITE', 0x800n],
    ['MAP_EXECUTABLE', 0x1000n],
    ['MAP_LOCKED', 0x2000n],
    ['MAP_STACK', 0x20000n],
    ['MAP_HUGETLB', 0x40000n],
    ['MAP_SYNC', 0x80000n],
    ['MAP_UNINITIALIZED', 0x4000000n],
    ['MAP_FIXED_NOREPLACE', 0x100000n],
  );
  return list;
}

/** Names accepted on input only (strace never prints them; newer kernels define them). */
const MAP_EXTRA_INPUT: XlatEntry[] = [
  ['MAP_ANON', 0x20n],
  ['MAP_DROPPABLE', 0x8n],
];

export const MAP_HUGE_SHIFT = 26n;
export const MAP_HUGE_MASK = 0x3fn;

const MREMAP_FLAGS: XlatEntry[] = [
  ['MREMAP_MAYMOVE', 0x1n],
  ['MREMAP_FIXED', 0x2n],
  ['MREMAP_DONTUNMAP', 0x4n],
];

/** MADV_* as strace 6.1 names them (src/xlat/madvise_cmds.in, generic values). */
const MADV_VALUES: XlatEntry[] = [
  ['MADV_NORMAL', 0n],
  ['MADV_RANDOM', 1n],
  ['MADV_SEQUENTIAL', 2n],
  ['MADV_WILLNEED', 3n],
  ['MADV_DONTNEED', 4n],
  ['MADV_FREE', 8n],
  ['MADV_REMOVE', 9n],
  ['MADV_DONTFORK', 10n],
  ['MADV_DOFORK', 11n],
  ['MADV_MERGEABLE', 12n],
  ['MADV_UNMERGEABLE', 13n],
  ['MADV_HUGEPAGE', 14n],
  ['MADV_NOHUGEPAGE', 15n],
  ['MADV_DONTDUMP', 16n],
  ['MADV_DODUMP', 17n],
  ['MADV_WIPEONFORK', 18n],
  ['MADV_KEEPONFORK', 19n],
  ['MADV_COLD', 20n],
  ['MADV_PAGEOUT', 21n],
  ['MADV_POPULATE_READ', 22n],
  ['MADV_POPULATE_WRITE', 23n],
  ['MADV_DONTNEED_LOCKED', 24n],
  ['MADV_COLLAPSE', 25n],
  ['MADV_HWPOISON', 100n],
  ['MADV_SOFT_OFFLINE', 101n],
];

/** Accepted on input (printed by strace releases after 6.1), printed as hex like strace 6.1 does. */
const MADV_EXTRA_INPUT: XlatEntry[] = [
  ['MADV_GUARD_INSTALL', 102n],
  ['MADV_GUARD_REMOVE', 103n],
];

export interface ArchXlat {
  arch: Arch;
  /** Printing order; the first entry with value 0 is the name of 0. */
  prot: XlatEntry[];
  mapTypes: XlatEntry[];
  mapFlags: XlatEntry[];
  mremapFlags: XlatEntry[];
  madvise: XlatEntry[];
  /** name → value for parsing (printing names plus input-only names). */
  protByName: Map<string, bigint>;
  mapByName: Map<string, bigint>;
  mremapByName: Map<string, bigint>;
  madviseByName: Map<string, bigint>;
}

function byName(...lists: XlatEntry[][]): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const list of lists) for (const [n, v] of list) if (!m.has(n)) m.set(n, v);
  return m;
}

function build(arch: Arch): ArchXlat {
  const flags = mapFlags(arch);
  return {
    arch,
    prot: PROT_COMMON,
    mapTypes: MAP_TYPES,
    mapFlags: flags,
    mremapFlags: MREMAP_FLAGS,
    madvise: MADV_VALUES,
    protByName: byName(PROT_COMMON, arch === 'aarch64' ? PROT_AARCH64_EXTRA : []),
    mapByName: byName(MAP_TYPES, flags, MAP_EXTRA_INPUT),
    mremapByName: byName(MREMAP_FLAGS),
    madviseByName: byName(MADV_VALUES, MADV_EXTRA_INPUT),
  };
}

const TABLES: Record<Arch, ArchXlat> = { x86_64: build('x86_64'), aarch64: build('aarch64') };

export function xlatFor(arch: Arch): ArchXlat {
  return TABLES[arch];
}

/** Named constants for use by the model and tests (x86_64 values; identical on aarch64 where defined). */
export const PROT = {
  NONE: 0x0,
  READ: 0x1,
  WRITE: 0x2,
  EXEC: 0x4,
  SEM: 0x8,
  BTI: 0x10,
  MTE: 0x20,
  GROWSDOWN: 0x01000000,
  GROWSUP: 0x02000000,
} as const;

export const MAP = {
  SHARED: 0x1,
  PRIVATE: 0x2,
  SHARED_VALIDATE: 0x3,
  TYPE: 0xf,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  /** x86_64 only. */
  '32BIT': 0x40,
  GROWSDOWN: 0x100,
  DENYWRITE: 0x800,
  EXECUTABLE: 0x1000,
  LOCKED: 0x2000,
  NORESERVE: 0x4000,
  POPULATE: 0x8000,
  NONBLOCK: 0x10000,
  STACK: 0x20000,
  HUGETLB: 0x40000,
  SYNC: 0x80000,
  FIXED_NOREPLACE: 0x100000,
  UNINITIALIZED: 0x4000000,
} as const;

export const MREMAP = { MAYMOVE: 0x1, FIXED: 0x2, DONTUNMAP: 0x4 } as const;

export const MADV: Readonly<Record<string, number>> = Object.fromEntries(
  [...MADV_VALUES, ...MADV_EXTRA_INPUT].map(([n, v]) => [n.slice(5), Number(v)]),
);

/**
 * Signal numbers (x86_64 and aarch64 share the generic numbering for these).
 */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};
