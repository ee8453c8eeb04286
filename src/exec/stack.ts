import { EFAULT, EINVAL, ENOMEM } from '../abi/errno.js';
import { KernelPanic } from '../hal/panic.js';
import { expandStack } from '../mm/fault.js';
import { VM_EXEC } from '../mm/vm-flags.js';
import {
  AT_BASE,
  AT_CLKTCK,
  AT_EGID,
  AT_ENTRY,
  AT_EUID,
  AT_EXECFN,
  AT_FLAGS,
  AT_GID,
  AT_HWCAP,
  AT_HWCAP2,
  AT_HWCAP3,
  AT_MINSIGSTKSZ,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_PLATFORM,
  AT_RANDOM,
  AT_RSEQ_ALIGN,
  AT_RSEQ_FEATURE_SIZE,
  AT_SECURE,
  AT_SYSINFO_EHDR,
  AT_UID,
} from './arch.js';
import { type Binprm, stackFlags } from './binprm.js';
import { PHDR_SIZE } from './elf.js';
import { copyFromUser, copyToUser } from './user-copy.js';

/** PT_GNU_STACK's verdict (`EXSTACK_*`): none, non-executable, executable. */
export const EXSTACK_DEFAULT = 0;
export const EXSTACK_DISABLE_X = 1;
export const EXSTACK_ENABLE_X = 2;

/** `stack_expand` of setup_arg_pages: 128 KiB more stack than the strings use, at once. */
const STACK_EXPAND = 131072;
/** `CLOCKS_PER_SEC` (USER_HZ). */
const CLOCKS_PER_SEC = 100;
/** `offsetof(struct rseq, end)` and its alignment, for AT_RSEQ_*. */
const RSEQ_FEATURE_SIZE = 28;
const RSEQ_ALIGN = 32;

/** Where the argument strings ended up: `mm->arg_start` … `mm->env_end`. */
export interface ArgBounds {
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
}

/**
 * `setup_arg_pages`: gives the stack its final flags (VM_EXEC as PT_GNU_STACK says), records
 * `arg_start` and grows the stack by 128 KiB below the strings, or to the rlimit if that is less.
 * `arch_align_stack` rounds STACK_TOP down to 16 bytes (no randomization), so on both modelled
 * architectures the stack already ends at its final top and `relocate_vma_down` never runs.
 * Returns `arg_start`, or -ENOMEM / -EFAULT.
 */
export function setupArgPages(bprm: Binprm, executableStack: number): number {
  const { space, stack } = bprm;
  const { pageSize, layout } = space;
  const stackTop = Math.ceil((bprm.arch.stackTop - (bprm.arch.stackTop % 16)) / pageSize) * pageSize;
  if (stackTop < layout.mmapMinAddr || stack.end - stack.start >= stackTop - layout.mmapMinAddr)
    return -ENOMEM;
  if (stack.end !== stackTop) throw new KernelPanic('setup_arg_pages: the stack would have to move');
  const argStart = bprm.p;

  let flags = stackFlags(layout);
  if (executableStack === EXSTACK_ENABLE_X) flags |= VM_EXEC;
  else if (executableStack === EXSTACK_DISABLE_X) flags &= ~VM_EXEC;
  if (flags !== stack.flags) {
    // mprotect_fixup: the strings' pages are the stack's own, so they take the VMA's rights.
    space.setFlags(stack, flags, null);
    const prot = stack.prot;
    space.pageTable.protectRange(stack.start, stack.end, () => prot);
  }

  const rlimit = Number.isFinite(layout.rlimitStack)
    ? layout.rlimitStack - (layout.rlimitStack % pageSize)
    : Number.POSITIVE_INFINITY;
  const expand = Math.min(rlimit, stack.end - stack.start + STACK_EXPAND);
  const base = stack.end - expand;
  space.startStack = bprm.p;
  // expand_stack_locked
  if (base < stack.start && expandStack(space, stack, base) === null) return -EFAULT;
  return argStart;
}

/** `strnlen_user` over the new stack: the length with the NUL, 0 when a page cannot be read. */
function strnlenUser(bprm: Binprm, at: number, max: number): number {
  let len = 0;
  while (len <= max) {
    const here = at + len;
    const chunk = Math.min(bprm.pageSize - (here % bprm.pageSize), max + 1 - len);
    const bytes = copyFromUser(bprm.space, here, chunk);
    if (bytes === null) return 0;
    const nul = bytes.indexOf(0);
    if (nul >= 0) return len + nul + 1;
    len += chunk;
  }
  return max + 1;
}

/** What create_elf_tables puts in auxv about the image. */
export interface ImageInfo {
  phdrAddr: number;
  phnum: number;
  interpLoadAddr: number;
  entry: number;
  vdsoBase: number;
}

/**
 * `create_elf_tables`: below the strings, the platform string and 16 random bytes (zeros here: the
 * model is deterministic), then from the 16-byte-aligned new stack pointer upwards argc, the argv
 * and envp pointers and the auxiliary vector. Sets `bprm.p` to that stack pointer and returns the
 * string bounds and auxv, or -EFAULT / -EINVAL.
 */
export function createElfTables(
  bprm: Binprm,
  argStart: number,
  info: ImageInfo,
): { bounds: ArgBounds; auxv: [number, number][] } | number {
  const { space, arch } = bprm;
  let p = bprm.p - (bprm.p % 16);
  const platform = new TextEncoder().encode(`${arch.platform}\0`);
  p -= platform.length;
  const uPlatform = p;
  if (!copyToUser(space, uPlatform, platform)) return -EFAULT;
  p -= 16;
  const uRandom = p;
  if (!copyToUser(space, uRandom, new Uint8Array(16))) return -EFAULT;

  const auxv: [number, number][] = [
    [AT_SYSINFO_EHDR, info.vdsoBase],
    [AT_MINSIGSTKSZ, arch.minSigStackSize],
    [AT_HWCAP, arch.hwcap],
    [AT_PAGESZ, space.pageSize],
    [AT_CLKTCK, CLOCKS_PER_SEC],
    [AT_PHDR, info.phdrAddr],
    [AT_PHENT, PHDR_SIZE],
    [AT_PHNUM, info.phnum],
    [AT_BASE, info.interpLoadAddr],
    [AT_FLAGS, 0],
    [AT_ENTRY, info.entry],
    [AT_UID, 0],
    [AT_EUID, 0],
    [AT_GID, 0],
    [AT_EGID, 0],
    [AT_SECURE, 0],
    [AT_RANDOM, uRandom],
    [AT_HWCAP2, arch.hwcap2],
    ...(arch.hwcap3 !== null ? ([[AT_HWCAP3, arch.hwcap3]] as [number, number][]) : []),
    [AT_EXECFN, bprm.exec],
    [AT_PLATFORM, uPlatform],
    [AT_RSEQ_FEATURE_SIZE, RSEQ_FEATURE_SIZE],
    [AT_RSEQ_ALIGN, RSEQ_ALIGN],
  ];
  const eiWords = (auxv.length + 1) * 2;
  const items = bprm.argc + 1 + (bprm.envc + 1) + 1;
  const sp = p - eiWords * 8;
  bprm.p = Math.floor((sp - items * 8) / 16) * 16;

  // find_extend_vma_locked: the table may reach below the stack as it is.
  const vma = space.vmas.lowerBound(bprm.p);
  if (
    vma === undefined ||
    (vma.start > bprm.p && expandStack(space, vma, bprm.p - (bprm.p % space.pageSize)) === null)
  )
    return -EFAULT;

  const words: number[] = [bprm.argc];
  const maxLen = 32 * space.pageSize;
  let at = argStart;
  const bounds: ArgBounds = { argStart, argEnd: 0, envStart: 0, envEnd: 0 };
  for (const [count, which] of [
    [bprm.argc, 'arg'],
    [bprm.envc, 'env'],
  ] as const) {
    if (which === 'env') bounds.envStart = at;
    for (let i = 0; i < count; i++) {
      words.push(at);
      const len = strnlenUser(bprm, at, maxLen);
      if (len === 0 || len > maxLen) return -EINVAL;
      at += len;
    }
    words.push(0);
    if (which === 'arg') bounds.argEnd = at;
    else bounds.envEnd = at;
  }
  for (const [type, value] of auxv) words.push(type, value);
  words.push(0, 0);
  const table = new Uint8Array(words.length * 8);
  const view = new DataView(table.buffer);
  for (let i = 0; i < words.length; i++) view.setBigUint64(i * 8, BigInt(words[i]), true);
  if (!copyToUser(space, bprm.p, table)) return -EFAULT;
  return { bounds, auxv };
}
