import type { Arch } from '../hal/addr.js';
import type { Layout } from '../mm/layout.js';
import { EM_AARCH64, EM_X86_64 } from './elf.js';

/** auxv types (include/uapi/linux/auxvec.h and the arch's asm/auxvec.h). */
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_HWCAP2 = 26;
export const AT_RSEQ_FEATURE_SIZE = 27;
export const AT_RSEQ_ALIGN = 28;
export const AT_HWCAP3 = 29;
export const AT_EXECFN = 31;
export const AT_SYSINFO_EHDR = 33;
export const AT_MINSIGSTKSZ = 51;

/**
 * What execve does differently per architecture (asm/elf.h, asm/processor.h, the vdso code), for
 * 64-bit tasks with 4-level (x86-64) or 48-bit (arm64) user address spaces, where STACK_TOP equals
 * STACK_TOP_MAX so setup_arg_pages never moves the stack.
 */
export interface ExecArch {
  /** `elf_check_arch`: the one e_machine accepted. */
  readonly machine: number;
  /** `STACK_TOP` (= `STACK_TOP_MAX`): the end of the [stack] VMA. */
  readonly stackTop: number;
  /** `ELF_ET_DYN_BASE`: where a PIE with an interpreter is loaded (before p_align rounding). */
  readonly etDynBase: bigint;
  /** `ELF_PLATFORM`, copied to the stack for AT_PLATFORM. */
  readonly platform: string;
  /** `CONFIG_ARCH_USE_GNU_PROPERTY`: PT_GNU_PROPERTY notes are parsed (and may refuse the ELF). */
  readonly gnuProperty: boolean;
  /**
   * The CPU's words in auxv, as recorded on the reference machines: this machine's AMD EPYC
   * (AT_HWCAP 0x178bfbff, AT_HWCAP2 2, AT_MINSIGSTKSZ 0xd30) and qemu's Cortex-A57 (AT_HWCAP 0x8ff:
   * fp, asimd, evtstrm, aes, pmull, sha1, sha2, crc32, cpuid; AT_MINSIGSTKSZ 0x1270). They change
   * no address. `layout.cpuWords` gives another CPU's.
   */
  readonly hwcap: number;
  readonly hwcap2: number;
  /** arm64 has AT_HWCAP3 (ELF_HWCAP3) as well; x86-64 does not. */
  readonly hwcap3: number | null;
  readonly minSigStackSize: number;
  /** `[vvar]` pages, `[vvar_vclock]` pages (x86-64 only) and `[vdso]` text pages, as 6.18 maps them. */
  readonly vvarPages: number;
  readonly vclockPages: number;
  readonly vdsoTextPages: number;
  /** x86-64's `[vsyscall]` gate page. */
  readonly gateArea: boolean;
}

/** The 6.18 vDSO text is 8 KiB on both architectures; with larger pages it takes one page. */
const VDSO_TEXT_BYTES = 8192;

export function execArch(arch: Arch, layout: Layout, pageSize: number): ExecArch {
  const base = referenceArch(arch, layout, pageSize);
  const cpu = layout.cpuWords;
  return cpu === null
    ? base
    : { ...base, hwcap: cpu.hwcap, hwcap2: cpu.hwcap2, minSigStackSize: cpu.minSigStackSize };
}

/** The reference machines' arch (see `ExecArch.hwcap`). */
function referenceArch(arch: Arch, layout: Layout, pageSize: number): ExecArch {
  const vdsoTextPages = Math.ceil(VDSO_TEXT_BYTES / pageSize);
  if (arch === 'x86_64') {
    // ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW / 3 * 2 (integer division first).
    const window = BigInt(layout.taskSize);
    return {
      machine: EM_X86_64,
      stackTop: layout.taskSize,
      etDynBase: (window / 3n) * 2n,
      platform: 'x86_64',
      gnuProperty: false,
      hwcap: 0x178bfbff,
      hwcap2: 2,
      hwcap3: null,
      minSigStackSize: 0xd30,
      vvarPages: 4,
      vclockPages: 2,
      vdsoTextPages,
      gateArea: true,
    };
  }
  // ELF_ET_DYN_BASE = 2 * DEFAULT_MAP_WINDOW_64 / 3.
  return {
    machine: EM_AARCH64,
    stackTop: layout.taskSize,
    etDynBase: (2n * BigInt(layout.taskSize)) / 3n,
    platform: 'aarch64',
    gnuProperty: true,
    hwcap: 0x8ff,
    hwcap2: 0,
    hwcap3: 0,
    minSigStackSize: 0x1270,
    vvarPages: 4,
    vclockPages: 0,
    vdsoTextPages,
    gateArea: false,
  };
}
