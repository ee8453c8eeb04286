/**
 * Linux's `vm_flags` bits (include/linux/mm.h), kept on every VMA because they decide merging even
 * where /proc/PID/maps does not show them. Only bits below 2^31 are used, so plain bitwise
 * operators work (MAP_DROPPABLE's VM_DROPPABLE is a high bit in Linux; the model keeps it as a
 * separate field of the VMA).
 */
export const VM_NONE = 0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_PFNMAP = 0x400;
export const VM_LOCKED = 0x2000;
export const VM_IO = 0x4000;
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_LOCKONFAULT = 0x80000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_SYNC = 0x800000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_SOFTDIRTY = 0x8000000;
export const VM_MIXEDMAP = 0x10000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
/**
 * arm64's VM_MTE_ALLOWED (a high bit in Linux, kept here in bit 12, Linux's VM_UFFD_WP, which the
 * model never sets): memory that may carry MTE tags. smaps shows no name for it, yet it decides
 * merging: see `Layout.armMteKernel`.
 */
export const VM_MTE_ALLOWED = 0x1000;
/** KSM may merge this VMA's pages (bit 31: negative as a 32-bit int, which every flag operation here is). */
export const VM_MERGEABLE = 1 << 31;

/** Flags that make a VMA special: never merged (`VM_SPECIAL`). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;
/** Flags whose presence moves the start of a VMA's guard gap (`VM_STARTGAP_FLAGS`). */
export const VM_STARTGAP_FLAGS = VM_GROWSDOWN;
export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** `calc_vm_prot_bits`: PROT_READ/WRITE/EXEC map one to one onto VM_READ/WRITE/EXEC. */
export function vmFlagsFromProt(prot: number): number {
  return prot & (VM_READ | VM_WRITE | VM_EXEC);
}

/** The `VmFlags:` line of /proc/PID/smaps, in the kernel's order (fs/proc/task_mmu.c show_smap_vma_flags). */
const SMAPS_NAMES: [number, string][] = [
  [VM_READ, 'rd'],
  [VM_WRITE, 'wr'],
  [VM_EXEC, 'ex'],
  [VM_SHARED, 'sh'],
  [VM_MAYREAD, 'mr'],
  [VM_MAYWRITE, 'mw'],
  [VM_MAYEXEC, 'me'],
  [VM_MAYSHARE, 'ms'],
  [VM_GROWSDOWN, 'gd'],
  [VM_PFNMAP, 'pf'],
  [VM_LOCKED, 'lo'],
  [VM_IO, 'io'],
  [VM_SEQ_READ, 'sr'],
  [VM_RAND_READ, 'rr'],
  [VM_DONTCOPY, 'dc'],
  [VM_DONTEXPAND, 'de'],
  [VM_LOCKONFAULT, 'lf'],
  [VM_ACCOUNT, 'ac'],
  [VM_NORESERVE, 'nr'],
  [VM_HUGETLB, 'ht'],
  [VM_SYNC, 'sf'],
  [VM_WIPEONFORK, 'wf'],
  [VM_DONTDUMP, 'dd'],
  [VM_SOFTDIRTY, 'sd'],
  [VM_MIXEDMAP, 'mm'],
  [VM_HUGEPAGE, 'hg'],
  [VM_NOHUGEPAGE, 'nh'],
  [VM_MERGEABLE, 'mg'],
];

/** Parses a `VmFlags:` line (names separated by spaces) back into vm_flags; unknown names are ignored. */
export function parseSmapsVmFlags(line: string): number {
  let flags = 0;
  for (const name of line.trim().split(/\s+/)) {
    const hit = SMAPS_NAMES.find(([, n]) => n === name);
    if (hit) flags |= hit[0];
  }
  return flags;
}

/** `show_smap_vma_flags`: the names of a VMA's flags, as its smaps `VmFlags:` line lists them. */
export function smapsVmFlags(flags: number): string {
  const names: string[] = [];
  for (const [bit, name] of SMAPS_NAMES) if (flags & bit) names.push(name);
  return names.join(' ');
}
