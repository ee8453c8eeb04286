import type { Arch } from '../hal/addr.js';

/**
 * The parameters of a user address space that decide where mappings go and what limits apply,
 * with defaults computed as Linux 6.18 computes them without address randomization.
 */
export interface Layout {
  /** First address above user space (x86-64: 2^47 - one page; arm64: 2^48). */
  readonly taskSize: number;
  /** Top of the top-down mmap area (`mm->mmap_base`). */
  readonly mmapBase: number;
  /** Bottom of the bottom-up fallback search (`TASK_UNMAPPED_BASE`). */
  readonly unmappedBase: number;
  /** Effective `mmap_min_addr` (max of the sysctl and CONFIG_LSM_MMAP_MIN_ADDR): raises hints, bounds searches. */
  readonly mmapMinAddr: number;
  /** The sysctl `vm.mmap_min_addr` alone: MAP_FIXED below it needs CAP_SYS_RAWIO. */
  readonly dacMmapMinAddr: number;
  /** Whether the task holds CAP_SYS_RAWIO (root does). */
  readonly capSysRawio: boolean;
  /** Gap kept below a grows-down mapping (`stack_guard_gap`, 256 pages). */
  readonly stackGuardGap: number;
  /** `vm.max_map_count`. */
  readonly maxMapCount: number;
  /** The MAP_32BIT window on x86-64 ([1 GiB, 2 GiB)), null where the flag does not exist. */
  readonly map32bit: { readonly start: number; readonly end: number } | null;
  /** Resource limits in bytes (Infinity = RLIM_INFINITY). */
  readonly rlimitAs: number;
  readonly rlimitData: number;
  readonly rlimitStack: number;
  /** Overcommit policy (`vm.overcommit_memory`) and the RAM and swap, in pages, the heuristic compares against. */
  readonly overcommitMemory: 0 | 1 | 2;
  readonly overcommitRatio: number;
  readonly totalRamPages: number;
  readonly totalSwapPages: number;
  /**
   * `vm.user_reserve_kbytes` in pages: under strict overcommit a task may not commit the last
   * min(total_vm / 32, this) pages. Linux sets it at boot to min(free memory / 32, 128 MiB).
   */
  readonly userReservePages: number;
  /**
   * Whether an mremap that shrinks and moves an accounted mapping charges the shrunk pages again:
   * 6.16 to 6.18 `move_vma` charges `vrm->delta` after `shrink_vma` has already cut the source to
   * the new length, and that charge is never returned (measured on the reference kernel: 8 pages
   * shrunk and moved to 1, then unmapped, leave 7 pages in Committed_AS). 6.12 charged nothing there.
   */
  readonly mremapRechargesShrink: boolean;
  /** PMD size: THP alignment of anonymous mappings whose length is a multiple of it. */
  readonly pmdSize: number;
  /** CONFIG_MEM_SOFT_DIRTY: new VMAs carry VM_SOFTDIRTY (off on the reference kernel, whose smaps shows no `sd`). */
  readonly softDirty: boolean;
  /** arm64 CPU features that make PROT_BTI / PROT_MTE valid (none on a Cortex-A57). */
  readonly armBti: boolean;
  /** arm64 FEAT_EPAN, which makes PROT_EXEC alone execute-only (none on a Cortex-A57). */
  readonly armEpan: boolean;
  readonly armMte: boolean;
  /**
   * An arm64 kernel built with CONFIG_ARM64_MTE (Debian's is), on any CPU: the heap, a program's
   * bss and the stack carry VM_MTE_ALLOWED (`VM_DATA_DEFAULT_FLAGS`), which smaps does not show;
   * anonymous mmap memory carries it only when the CPU has MTE (`armMte`), so without MTE the heap
   * never merges with an anonymous mapping next to it.
   */
  readonly armMteKernel: boolean;
  /** CONFIG_COMPAT_BRK: brk may go down to end_data instead of start_brk. */
  readonly compatBrk: boolean;
  /** Personality READ_IMPLIES_EXEC. */
  readonly readImpliesExec: boolean;
  /**
   * Whether a read fault on private anonymous memory maps the shared zero page (Linux's
   * `do_anonymous_page`) or allocates a page of its own, giving the VMA its anonymous identity (so
   * a VMA only read no longer merges as an untouched one, and keeps VM_ACCOUNT when mprotect()ed
   * read-only). Linux maps the zero page, and so do both reference kernels (6.18.44-fc-v857 on
   * x86-64, Debian's 6.18.15 on arm64); an earlier build of the x86-64 one (6.18.44-fc-v782)
   * allocated. The recorders probe it (`zero_page_reads` in a fixture's settings).
   */
  readonly zeroPageReads: boolean;
  /**
   * /sys/kernel/mm/transparent_hugepage/enabled: which private anonymous memory may get a PMD-sized
   * page on a fault (`always`; `madvise`: only MADV_HUGEPAGE ranges; `never`). Such a fault gives
   * the VMA its anonymous identity even when it only reads (it maps the huge zero page), which
   * changes how the VMA merges. Both reference kernels run `madvise`.
   */
  readonly thpEnabled: 'always' | 'madvise' | 'never';
  /**
   * x86-64 only: the CPU has protection keys and Linux enabled them (`ospke` in /proc/cpuinfo).
   * PROT_EXEC alone then gets the execute-only key (`execute_only_pkey`, key 1: smaps shows
   * `ProtectionKey: 1`), so a read or write there faults with SEGV_PKUERR instead of reading (or
   * SEGV_ACCERR for a write), and MAP_POPULATE faults in nothing there (`check_vma_flags` refuses
   * the data access). The recorders probe it (`protection_keys` in a fixture's settings).
   */
  readonly protectionKeys: boolean;
  /**
   * The CPU's words execve puts in auxv (AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ), or null for those
   * of the reference machines (`execArch`). They change no address; a layout recorded on another
   * CPU gives its own.
   */
  readonly cpuWords: CpuWords | null;
}

/** What the CPU puts in auxv: AT_HWCAP, AT_HWCAP2 and AT_MINSIGSTKSZ. */
export interface CpuWords {
  readonly hwcap: number;
  readonly hwcap2: number;
  readonly minSigStackSize: number;
}

export type LayoutOptions = Partial<Layout>;

const MiB = 2 ** 20;

function pageAlign(n: number, pageSize: number): number {
  return Math.ceil(n / pageSize) * pageSize;
}

/**
 * `mmap_base` (arch/x86/mm/mmap.c, mm/util.c) without randomization: the stack rlimit plus the guard
 * gap, clamped to [128 MiB, 5/6 of the top], below the top of user space. arch_pick_mmap_layout
 * computes it at every execve from the RLIMIT_STACK of that moment.
 */
export function topDownMmapBase(
  taskSize: number,
  rlimitStack: number,
  stackGuardGap: number,
  pageSize: number,
): number {
  let gap = Number.isFinite(rlimitStack) ? rlimitStack + stackGuardGap : Number.POSITIVE_INFINITY;
  const gapMax = Math.floor(taskSize / 6) * 5;
  gap = Math.min(Math.max(gap, 128 * MiB), gapMax);
  return pageAlign(taskSize - gap, pageSize);
}

/**
 * Linux's defaults for `arch` and `pageSize`, with an 8 MiB stack rlimit and no randomization:
 * x86-64 mmap_base 0x7ffff7fff000 (arch/x86/mm/mmap.c), arm64 0xfffff8000000 (mm/util.c).
 */
export function defaultLayout(
  arch: Arch,
  pageSize: number,
  ramBytes: number,
  opts: LayoutOptions = {},
): Layout {
  const taskSize = opts.taskSize ?? (arch === 'x86_64' ? 2 ** 47 - pageSize : 2 ** 48);
  const rlimitStack = opts.rlimitStack ?? 8 * MiB;
  const stackGuardGap = opts.stackGuardGap ?? 256 * pageSize;
  const mmapBase = opts.mmapBase ?? topDownMmapBase(taskSize, rlimitStack, stackGuardGap, pageSize);
  const pmdSize = opts.pmdSize ?? (pageSize * pageSize) / 8;
  const totalRamPages = opts.totalRamPages ?? Math.floor(ramBytes / pageSize);
  return {
    taskSize,
    mmapBase,
    unmappedBase: opts.unmappedBase ?? pageAlign(arch === 'x86_64' ? taskSize / 3 : taskSize / 4, pageSize),
    // CONFIG_LSM_MMAP_MIN_ADDR of the reference kernels: 65536 on x86-64, 32768 on arm64 (Debian).
    mmapMinAddr: opts.mmapMinAddr ?? Math.max(arch === 'x86_64' ? 65536 : 32768, pageSize),
    dacMmapMinAddr: opts.dacMmapMinAddr ?? 4096,
    capSysRawio: opts.capSysRawio ?? true,
    stackGuardGap,
    maxMapCount: opts.maxMapCount ?? 65530,
    map32bit:
      opts.map32bit !== undefined
        ? opts.map32bit
        : arch === 'x86_64'
          ? { start: 0x40000000, end: 0x80000000 }
          : null,
    rlimitAs: opts.rlimitAs ?? Number.POSITIVE_INFINITY,
    rlimitData: opts.rlimitData ?? Number.POSITIVE_INFINITY,
    rlimitStack,
    overcommitMemory: opts.overcommitMemory ?? 0,
    overcommitRatio: opts.overcommitRatio ?? 50,
    totalRamPages,
    totalSwapPages: opts.totalSwapPages ?? 0,
    mremapRechargesShrink: opts.mremapRechargesShrink ?? true,
    userReservePages:
      opts.userReservePages ?? Math.min(Math.floor(totalRamPages / 32), (128 * MiB) / pageSize),
    pmdSize,
    softDirty: opts.softDirty ?? false,
    armBti: opts.armBti ?? false,
    armEpan: opts.armEpan ?? false,
    armMte: opts.armMte ?? false,
    armMteKernel: opts.armMteKernel ?? arch === 'aarch64',
    compatBrk: opts.compatBrk ?? false,
    readImpliesExec: opts.readImpliesExec ?? false,
    zeroPageReads: opts.zeroPageReads ?? true,
    thpEnabled: opts.thpEnabled ?? 'madvise',
    protectionKeys: arch === 'x86_64' && (opts.protectionKeys ?? false),
    cpuWords: opts.cpuWords ?? null,
  };
}
