import { formatMapsLine, type MapsEntry } from '../abi/proc-maps.js';
import type { AddressSpace } from '../mm/address-space.js';
import { smapsVmFlags, VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE } from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';

/** The name /proc/PID/maps prints for a VMA (`show_map_vma`): file, special name, [heap], [stack] or none. */
export function vmaName(space: AddressSpace, vma: Vma): string {
  if (vma.file !== null) return vma.file.path;
  if (vma.name !== '') return vma.name;
  if (space.brk > space.startBrk && vma.start < space.brk && vma.end > space.startBrk) return '[heap]';
  if (space.startStack !== 0 && vma.start <= space.startStack && space.startStack < vma.end) return '[stack]';
  return '';
}

/** One VMA as a maps entry (the fields `show_map_vma` prints). */
export function mapsEntry(space: AddressSpace, vma: Vma): MapsEntry {
  return {
    start: BigInt(vma.start),
    end: BigInt(vma.end),
    perms: {
      read: (vma.flags & VM_READ) !== 0,
      write: (vma.flags & VM_WRITE) !== 0,
      exec: (vma.flags & VM_EXEC) !== 0,
      shared: (vma.flags & VM_MAYSHARE) !== 0,
    },
    offset: vma.file !== null ? BigInt(vma.pgoff) * BigInt(space.pageSize) : 0n,
    major: vma.file?.major ?? 0,
    minor: vma.file?.minor ?? 0,
    inode: BigInt(vma.file?.inode ?? 0),
    name: vmaName(space, vma),
  };
}

/** /proc/PID/maps of an address space (`show_map` for each VMA, then the gate area), byte for byte. */
export function procMaps(space: AddressSpace): string {
  let out = '';
  for (const vma of space.vmas) out += `${formatMapsLine(mapsEntry(space, vma))}\n`;
  if (space.gateArea) out += `${VSYSCALL_LINE}\n`;
  return out;
}

/** x86-64's vsyscall page: printed last, but a gate area, not a VMA (so not counted in map_count). */
const VSYSCALL_LINE = 'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]';

/** The `VmFlags:` line of each VMA, as /proc/PID/smaps shows it, in address order. */
export function smapsFlags(space: AddressSpace): string[] {
  const out = [...space.vmas].map((v) => smapsVmFlags(v.flags) + (v.droppable ? ' dp' : ''));
  if (space.gateArea) out.push('ex');
  return out;
}
