import type { AddressSpace } from '../mm/address-space.js';
import { getUnmappedArea } from '../mm/unmapped-area.js';
import {
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_IO,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SOFTDIRTY,
} from '../mm/vm-flags.js';
import { Vma } from '../mm/vma.js';
import type { Binprm } from './binprm.js';

/**
 * The vm_flags of the vDSO's data pages (`vdso_install_vvar_mapping`: read-only PFN-mapped I/O,
 * not dumped) and of its text (readable, executable, may become writable for a debugger's
 * breakpoints). `_install_special_mapping` adds VM_DONTEXPAND (and soft-dirty where configured).
 */
export const VVAR_FLAGS = VM_READ | VM_MAYREAD | VM_IO | VM_DONTDUMP | VM_PFNMAP | VM_DONTEXPAND;
export const VDSO_FLAGS = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_DONTEXPAND;

/** `_install_special_mapping`: a named VMA that never merges. */
function installSpecialMapping(
  space: AddressSpace,
  start: number,
  pages: number,
  name: string,
  flags: number,
): void {
  const end = start + pages * space.pageSize;
  space.insertVma(
    new Vma({ start, end, flags: flags | (space.softDirty ? VM_SOFTDIRTY : 0), pgoff: 0, name }),
    null,
  );
}

/**
 * `arch_setup_additional_pages`, after the program and its interpreter are mapped: one gap for the
 * whole vDSO from the top-down allocator (`get_unmapped_area(NULL, 0, len, 0, 0)`, which lands
 * below the interpreter), then `[vvar]`, on x86-64 `[vvar_vclock]`, and `[vdso]` in it, in that
 * order upwards (x86-64 `map_vdso`, arm64 `__setup_additional_pages`). x86-64 also has the
 * `[vsyscall]` gate page, which is not a VMA. Returns the vDSO text address (AT_SYSINFO_EHDR) or
 * -ENOMEM.
 */
export function archSetupAdditionalPages(bprm: Binprm): number {
  const { space, arch } = bprm;
  const { pageSize } = space;
  const dataPages = arch.vvarPages + arch.vclockPages;
  const len = (dataPages + arch.vdsoTextPages) * pageSize;
  const addr = getUnmappedArea(space, bprm.env.arch, {
    addr: 0,
    len,
    pgoff: 0,
    flags: 0,
    vmFlags: 0,
    file: null,
  });
  if (addr < 0) return addr;
  installSpecialMapping(space, addr, arch.vvarPages, '[vvar]', VVAR_FLAGS);
  if (arch.vclockPages > 0)
    installSpecialMapping(
      space,
      addr + arch.vvarPages * pageSize,
      arch.vclockPages,
      '[vvar_vclock]',
      VVAR_FLAGS,
    );
  const text = addr + dataPages * pageSize;
  installSpecialMapping(space, text, arch.vdsoTextPages, '[vdso]', VDSO_FLAGS);
  space.gateArea = arch.gateArea;
  return text;
}
