import { E2BIG, EFAULT, ENOMEM } from '../abi/errno.js';
import type { Arch } from '../hal/addr.js';
import type { AddressSpace } from '../mm/address-space.js';
import type { Layout } from '../mm/layout.js';
import type { MemoryObject, Shmem } from '../mm/memory-object.js';
import type { CommitAccounting } from '../mm/overcommit.js';
import type { PageCache } from '../mm/page-cache.js';
import {
  VM_ACCOUNT,
  VM_GROWSDOWN,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_MTE_ALLOWED,
  VM_READ,
  VM_SOFTDIRTY,
  VM_WRITE,
} from '../mm/vm-flags.js';
import { Vma } from '../mm/vma.js';
import type { OpenFile, PagingMode, SyscallContext } from '../syscall/context.js';
import type { ExecArch } from './arch.js';
import type { ExecFile, ExecFiles } from './files.js';
import { copyFromUser, copyToUser } from './user-copy.js';

/** What execve needs from the kernel it runs in. */
export interface ExecEnvironment {
  readonly arch: Arch;
  readonly pageSize: number;
  readonly paging: PagingMode;
  readonly accounting: CommitAccounting;
  readonly files: ExecFiles;
  readonly pageCache: PageCache;
  /** The kernel's shmem mount (shared anonymous memory). */
  readonly shmem: Shmem;
  /** A new address space with `layout` and one empty root table, or null when no frame is left (`mm_alloc`). */
  newAddressSpace(layout: Layout): AddressSpace | null;
  /** Frees every page, table and charge of an address space that never ran (`mmput(bprm->mm)`). */
  dropAddressSpace(space: AddressSpace): void;
}

/** What a binary format hands back besides the address space: the registers and mm fields it set. */
export interface LoadedImage {
  readonly entry: number;
  readonly startCode: number;
  readonly endCode: number;
  readonly interpreter: string | null;
  readonly bounds: { argStart: number; argEnd: number; envStart: number; envEnd: number };
  readonly auxv: readonly (readonly [number, number])[];
}

/** `BINPRM_BUF_SIZE`: the bytes of the file every binary format looks at first. */
export const BINPRM_BUF_SIZE = 256;
/** `_STK_LIM` (8 MiB) and `ARG_MAX` (32 pages of 4 KiB, whatever the page size). */
const STK_LIM = 8 * 2 ** 20;
const ARG_MAX = 131072;
/** `MAX_ARG_STRINGS`. */
export const MAX_ARG_STRINGS = 0x7fffffff;

/** An argument or environment string: text (sent as UTF-8) or bytes; it ends at its first NUL. */
export type ExecString = string | Uint8Array;

/** The bytes of one string as the kernel copies it, its NUL included (`strnlen_user` + 1). */
function stringBytes(s: ExecString): Uint8Array {
  const raw = typeof s === 'string' ? new TextEncoder().encode(s) : s;
  const nul = raw.indexOf(0);
  const out = new Uint8Array((nul < 0 ? raw.length : nul) + 1);
  out.set(nul < 0 ? raw : raw.subarray(0, nul));
  return out;
}

/**
 * `struct linux_binprm`: one execve in progress. It owns the new address space (`bprm->mm`) until
 * the exec is installed; the argument strings are already in that space's stack, exactly where
 * Linux puts them, and every later step reads and writes them there.
 */
export class Binprm {
  /** `bprm->vma`: the stack, first one page at STACK_TOP_MAX. */
  stack!: Vma;
  /** `bprm->p`: the lowest byte of the strings copied so far (the stack grows down from here). */
  p = 0;
  /** `bprm->argmin`: `p` may not go below it (the strings' share of the stack rlimit). */
  argmin = 0;
  argc = 0;
  envc = 0;
  /** `bprm->exec`: where the file name string lies (AT_EXECFN). */
  exec = 0;
  /** `bprm->interp`: the name the next interpreter is opened by (a script's interpreter). */
  interp: string;
  /** `bprm->file` and `bprm->interpreter` (set by binfmt_script for the next round). */
  file: ExecFile;
  interpreter: ExecFile | null = null;
  /** `bprm->buf`: the first BINPRM_BUF_SIZE bytes of `file`, zero-padded. */
  readonly buf = new Uint8Array(BINPRM_BUF_SIZE);
  /** Set by `begin_new_exec`: a failure after it kills the task in Linux. */
  pointOfNoReturn = false;
  /** What the binary format loaded, once it succeeded. */
  result: LoadedImage | null = null;
  /** The syscall-layer context of the new address space, for the loader's own mappings. */
  readonly ctx: SyscallContext;
  /**
   * The page-cache objects this exec used, with the pages each held before, so that a failed exec
   * takes back what it added.
   */
  readonly objects = new Map<MemoryObject, { created: boolean; pages: Set<number> }>();

  constructor(
    readonly env: ExecEnvironment,
    readonly arch: ExecArch,
    readonly space: AddressSpace,
    /** `bprm->filename`: the path as execve was given it. */
    readonly filename: string,
    file: ExecFile,
  ) {
    this.interp = filename;
    this.file = file;
    this.ctx = {
      arch: env.arch,
      paging: env.paging,
      space,
      accounting: env.accounting,
      files: new Map(),
      shmem: env.shmem,
    };
  }

  get pageSize(): number {
    return this.space.pageSize;
  }

  /** `bprm->file` as the loader maps it: read-only (`open_exec` opens O_RDONLY), from the page cache. */
  openForMapping(file: ExecFile): OpenFile {
    const { object, created } = this.env.pageCache.lookup(file);
    if (!this.objects.has(object)) this.objects.set(object, { created, pages: new Set(object.pages.keys()) });
    return { file: object, readable: true, writable: false };
  }
}

/** `VM_STACK_FLAGS`: grows down, read-write (`VM_DATA_DEFAULT_FLAGS`), charged. */
export function stackFlags(layout: Layout): number {
  return (
    VM_GROWSDOWN |
    VM_READ |
    VM_WRITE |
    VM_MAYREAD |
    VM_MAYWRITE |
    VM_MAYEXEC |
    VM_ACCOUNT |
    (layout.armMteKernel ? VM_MTE_ALLOWED : 0) |
    (layout.softDirty ? VM_SOFTDIRTY : 0)
  );
}

/**
 * `__bprm_mm_init`: the temporary stack VMA, one page ending at STACK_TOP_MAX, charged like any
 * VM_ACCOUNT mapping (`insert_vm_struct`), and `p` just below its top. Returns 0 or -ENOMEM.
 */
export function bprmMmInit(bprm: Binprm): number {
  const { space } = bprm;
  const end = bprm.arch.stackTop;
  const start = end - bprm.pageSize;
  if (!bprm.env.accounting.charge(1, space.totalVm)) return -ENOMEM;
  const vma = new Vma({ start, end, flags: stackFlags(space.layout), pgoff: start / bprm.pageSize });
  space.insertVma(vma, null);
  bprm.stack = vma;
  bprm.p = end - 8;
  return 0;
}

/**
 * `bprm_stack_limits`: the strings and their pointers may use a quarter of the stack rlimit (at
 * most 6 MiB, at least ARG_MAX); sets `argmin`, or -E2BIG when even the pointers do not fit.
 */
export function bprmStackLimits(bprm: Binprm): number {
  const rlimit = bprm.space.layout.rlimitStack;
  let limit = Math.min((STK_LIM / 4) * 3, Number.isFinite(rlimit) ? Math.floor(rlimit / 4) : Infinity);
  limit = Math.max(limit, ARG_MAX);
  const ptrSize = (Math.max(bprm.argc, 1) + bprm.envc) * 8;
  if (limit <= ptrSize) return -E2BIG;
  limit -= ptrSize;
  // bprm_set_stack_limit
  if (bprm.p < limit) return -E2BIG;
  bprm.argmin = bprm.p - limit;
  return 0;
}

/** `MAX_ARG_STRLEN`: one string may take 32 pages. */
function maxArgStrlen(bprm: Binprm): number {
  return 32 * bprm.pageSize;
}

/**
 * `copy_string_kernel`: puts one string (NUL included) just below `p` in the new stack, growing the
 * stack as needed. -E2BIG when it is too long, the strings' share is used up, or a page of the
 * stack cannot be had (`get_arg_page` failing).
 */
export function copyStringKernel(bprm: Binprm, s: ExecString): number {
  const bytes = stringBytes(s);
  if (bytes.length > maxArgStrlen(bprm)) return -E2BIG;
  bprm.p -= bytes.length;
  if (bprm.p < bprm.argmin) return -E2BIG;
  return copyToUser(bprm.space, bprm.p, bytes) ? 0 : -E2BIG;
}

/** `copy_strings`: the strings from the last to the first, each as `copy_string_kernel`. */
export function copyStrings(bprm: Binprm, strings: readonly ExecString[]): number {
  for (let i = strings.length - 1; i >= 0; i--) {
    const r = copyStringKernel(bprm, strings[i]);
    if (r < 0) return r;
  }
  return 0;
}

/** `remove_arg_zero`: drops argv[0] (a script's interpreter replaces it). */
export function removeArgZero(bprm: Binprm): number {
  if (bprm.argc === 0) return 0;
  for (;;) {
    const page = bprm.p - (bprm.p % bprm.pageSize);
    const bytes = copyFromUser(bprm.space, bprm.p, page + bprm.pageSize - bprm.p);
    if (bytes === null) return -EFAULT;
    const nul = bytes.indexOf(0);
    if (nul >= 0) {
      bprm.p += nul + 1;
      break;
    }
    bprm.p += bytes.length;
  }
  bprm.argc--;
  return 0;
}

/** `prepare_binprm`: reads the first BINPRM_BUF_SIZE bytes of `bprm.file`, zero-padded. */
export function prepareBinprm(bprm: Binprm): void {
  bprm.buf.fill(0);
  bprm.buf.set(bprm.file.read(0, BINPRM_BUF_SIZE));
}

/** The strings in [start, end) of the new stack, as text (the program's argv or envp). */
export function stringsAt(space: AddressSpace, start: number, end: number): string[] {
  const bytes = copyFromUser(space, start, end - start);
  if (bytes === null || bytes.length === 0) return [];
  const text = new TextDecoder().decode(bytes.subarray(0, bytes.length - 1));
  return text.split('\0');
}
