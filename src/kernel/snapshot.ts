import { type MapsEntry, parseMaps } from '../abi/proc-maps.js';
import { VDSO_FLAGS, VVAR_FLAGS } from '../exec/special-mappings.js';
import { hex } from '../hal/addr.js';
import type { AnonVma } from '../mm/anon-vma.js';
import { MemoryObject, type OpenFile, type Shmem } from '../mm/memory-object.js';
import {
  parseSmapsVmFlags,
  VM_ACCOUNT,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from '../mm/vm-flags.js';
import { Vma } from '../mm/vma.js';

/** A process's memory as /proc shows it, to start a task from. */
export interface Snapshot {
  /** `/proc/PID/maps` text, or its parsed lines. */
  maps: string | readonly MapsEntry[];
  /** The `VmFlags:` line of /proc/PID/smaps for each maps line, when known; otherwise flags are inferred. */
  vmFlags?: readonly string[];
  /** `start_brk` and the current break (from /proc/PID/stat); default: the [heap] line's bounds. */
  startBrk?: number;
  brk?: number;
  /** `start_stack` (names the [stack] line); default: just below the [stack] line's end. */
  startStack?: number;
  /** `start_data`/`end_data` (count towards RLIMIT_DATA for brk). */
  startData?: number;
  endData?: number;
}

/** A snapshot that cannot describe a real address space. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

const SPECIAL_FLAGS: Record<string, number> = {
  '[vvar]': VVAR_FLAGS,
  '[vvar_vclock]': VVAR_FLAGS,
  '[vdso]': VDSO_FLAGS,
  '[sigpage]': VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC | VM_DONTEXPAND,
};

/**
 * The vm_flags Linux gives a mapping like this line, when smaps is not at hand: the access bits,
 * VM_MAY* (a private or a writable shared mapping may gain any right), VM_ACCOUNT for private
 * writable memory, VM_GROWSDOWN for the stack, and the special mappings' own flags.
 */
function inferFlags(e: MapsEntry): number {
  const special = SPECIAL_FLAGS[e.name];
  if (special !== undefined) return special;
  let flags = (e.perms.read ? VM_READ : 0) | (e.perms.write ? VM_WRITE : 0) | (e.perms.exec ? VM_EXEC : 0);
  if (e.perms.shared) {
    // A shared mapping that is not writable is taken to come from a read-only descriptor, which
    // Linux maps without VM_SHARED and VM_MAYWRITE (`rd mr me ms`).
    flags |= VM_MAYSHARE | VM_MAYREAD | VM_MAYEXEC | (e.perms.write ? VM_SHARED | VM_MAYWRITE : 0);
  } else {
    flags |= VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    if (e.perms.write) flags |= VM_ACCOUNT;
  }
  if (e.name === '[stack]') flags |= VM_GROWSDOWN | VM_ACCOUNT;
  return flags;
}

const isAnonymous = (e: MapsEntry) =>
  e.inode === 0n &&
  (e.name === '' || e.name === '[heap]' || e.name === '[stack]' || e.name.startsWith('[anon:'));

/**
 * Builds the VMAs of a snapshot: file lines become file mappings (lines of the same file share one
 * page cache), `/dev/zero (deleted)` lines shmem objects, `[heap]`, `[stack]` and unnamed lines
 * anonymous memory, `[vvar]`, `[vdso]` and friends special mappings, and `[vsyscall]` the gate area
 * (not a VMA). No frames are allocated: pages appear as the task touches them. Private writable
 * memory is taken to have been written already (it has an anonymous identity).
 */
export function vmasFromSnapshot(
  snapshot: Snapshot,
  pageSize: number,
  taskSize: number,
  newAnonVma: () => AnonVma,
  shmem: Shmem,
  /**
   * Flags the kernel gives the memory it makes with `VM_DATA_DEFAULT_FLAGS` and that /proc does
   * not show (arm64's VM_MTE_ALLOWED): added to `[heap]`, `[stack]` and the program's bss (an
   * unnamed line right after a line of the lowest-mapped file, the program).
   */
  dataFlags = 0,
): { vmas: Vma[]; gateArea: boolean; brk?: { start: number; end: number }; stack?: Vma } {
  const entries = typeof snapshot.maps === 'string' ? parseMaps(snapshot.maps) : snapshot.maps;
  if (snapshot.vmFlags !== undefined && snapshot.vmFlags.length !== entries.length) {
    throw new SnapshotError(
      `smaps has ${snapshot.vmFlags.length} VmFlags lines for ${entries.length} maps lines`,
    );
  }
  const files = new Map<string, OpenFile>();
  const shmems = new Map<bigint, MemoryObject>();
  const vmas: Vma[] = [];
  let gateArea = false;
  let heap: { start: number; end: number } | undefined;
  let stack: Vma | undefined;
  let lastEnd = 0;
  const program = entries.find(
    (e) => !isAnonymous(e) && SPECIAL_FLAGS[e.name] === undefined && e.name !== '[vsyscall]',
  );
  entries.forEach((e, i) => {
    // RELRO: a read-only private file piece directly below the writable piece of the same file was
    // mapped writable (and charged) by the loader, then mprotect()ed read-only; it keeps VM_ACCOUNT.
    const next = entries[i + 1];
    const relro =
      next !== undefined &&
      !e.perms.shared &&
      !e.perms.write &&
      !isAnonymous(e) &&
      next.name === e.name &&
      next.inode === e.inode &&
      next.start === e.end &&
      next.perms.write &&
      !next.perms.shared &&
      next.offset === e.offset + (e.end - e.start);
    const where = `maps line ${i + 1} (${e.start.toString(16)}-${e.end.toString(16)} ${e.name})`;
    if (e.name === '[vsyscall]') {
      gateArea = true;
      return;
    }
    const start = Number(e.start);
    const end = Number(e.end);
    if (e.end > BigInt(taskSize))
      throw new SnapshotError(`${where}: beyond this layout's TASK_SIZE ${hex(taskSize)}`);
    if (start % pageSize || end % pageSize || start >= end)
      throw new SnapshotError(`${where}: not page-aligned or empty`);
    if (start < lastEnd) throw new SnapshotError(`${where}: overlaps or is out of order`);
    lastEnd = end;
    let flags = snapshot.vmFlags
      ? parseSmapsVmFlags(snapshot.vmFlags[i])
      : inferFlags(e) | (relro ? VM_ACCOUNT : 0);
    const droppable = snapshot.vmFlags ? /\bdp\b/.test(snapshot.vmFlags[i]) : false;
    const prevEntry = entries[i - 1];
    const bss =
      e.name === '' &&
      e.inode === 0n &&
      prevEntry !== undefined &&
      prevEntry.end === e.start &&
      program !== undefined &&
      prevEntry.name === program.name &&
      prevEntry.inode === program.inode;
    if (e.name === '[heap]' || e.name === '[stack]' || bss) flags |= dataFlags;
    let file: MemoryObject | null = null;
    let description: OpenFile | null = null;
    let pgoff = start / pageSize;
    let name = '';
    if (
      e.name === '/dev/zero (deleted)' ||
      (e.perms.shared && e.inode !== 0n && e.major === 0 && e.minor === 1)
    ) {
      file = shmems.get(e.inode) ?? shmem.zeroSetup();
      shmems.set(e.inode, file);
      pgoff = Number(e.offset) / pageSize;
      flags |= VM_SHARED | VM_MAYSHARE;
    } else if (!isAnonymous(e) && SPECIAL_FLAGS[e.name] === undefined) {
      // One open file per file: a loader maps its pieces through one descriptor.
      const key = `${e.major}:${e.minor}:${e.inode}:${e.name}`;
      const open = files.get(key) ?? {
        file: new MemoryObject(e.name, e.major, e.minor, Number(e.inode), 'file'),
        readable: true,
        writable: e.perms.shared && e.perms.write,
      };
      files.set(key, open);
      file = open.file;
      description = open;
      pgoff = Number(e.offset) / pageSize;
    } else if (SPECIAL_FLAGS[e.name] !== undefined || e.name.startsWith('[anon:')) {
      name = e.name;
    }
    const vma = new Vma({ start, end, flags, pgoff, file, description, name, droppable });
    if (file === null && name === '' && flags & VM_WRITE && !(flags & VM_SHARED)) vma.anon = newAnonVma();
    if (file !== null && file.kind === 'file' && flags & VM_WRITE && !(flags & VM_SHARED))
      vma.anon = newAnonVma();
    if (vma.anon !== null) vma.chain = [vma.anon];
    if (e.name === '[heap]') heap = heap ? { start: heap.start, end } : { start, end };
    if (e.name === '[stack]') stack = vma;
    vmas.push(vma);
  });
  return { vmas, gateArea, brk: heap, stack };
}
