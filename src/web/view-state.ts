/**
 * What the page draws at one step, read from the live model: the address space of a task (its
 * VMAs as /proc/PID/maps and smaps show them, with resident pages), the physical frames, the TLB,
 * and the page-table walk of one address. Read-only: nothing here changes the model.
 */

import { formatMapsLine } from '../abi/proc-maps.js';
import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import type { Kernel } from '../kernel/kernel.js';
import { mapsEntry, vmaName } from '../kernel/procfs.js';
import type { Task } from '../kernel/task.js';
import type { AddressSpace } from '../mm/address-space.js';
import { FrameUse } from '../mm/frame-allocator.js';
import { smapsVmFlags, VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE } from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';
import {
  FrameCode,
  type FrameInfo,
  type FramesView,
  type RegionKind,
  type RegionView,
  type SpaceView,
  type StepView,
  type TlbView,
  type WalkLevel,
  type WalkView,
} from './protocol.js';

/** A VMA reduced to what tells whether a call changed it. */
export interface RegionKey {
  start: number;
  end: number;
  flags: number;
  pgoff: number;
  name: string;
}

const LIBRARY = /(^|\/)(ld-linux[^/]*|ld-[^/]*\.so[^/]*|[^/]+\.so(\.[0-9.]+)?)$/;

/**
 * The kind procmap colours a region by. The program is the file of the lowest file mapping, when
 * that is not a library (execve maps the executable first and lowest); a region without any access is
 * a guard (a PROT_NONE reservation or a guard gap), whatever backs it.
 */
function regionKind(vma: Vma, name: string, program: string | undefined): RegionKind {
  if (/^\[(vdso|vvar|vvar_vclock|vsyscall|vectors|sigpage)\]$/.test(name)) return 'vdso';
  if (name === '[heap]') return 'heap';
  if (name === '[stack]') return 'stack';
  if ((vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) return 'guard';
  if (vma.flags & VM_MAYSHARE) return 'shared';
  if (vma.file !== null) {
    if (LIBRARY.test(vma.file.path)) return 'library';
    if (vma.file.path === program) return 'program';
    return 'file';
  }
  return 'anonymous';
}

/** The executable: the lowest file mapping, when it is a path (not `fd 3`) and not a library. */
function programOf(space: AddressSpace): string | undefined {
  for (const vma of space.vmas) {
    if (vma.file === null || vma.file.kind !== 'file') continue;
    const path = vma.file.path;
    return path.startsWith('/') && !LIBRARY.test(path) && !path.startsWith('/dev/') ? path : undefined;
  }
  return undefined;
}

/** The keys of a space's VMAs, to compare before and after a call. */
export function regionKeys(space: AddressSpace | undefined): RegionKey[] {
  if (space === undefined) return [];
  const out: RegionKey[] = [];
  for (const v of space.vmas) {
    out.push({ start: v.start, end: v.end, flags: v.flags, pgoff: v.pgoff, name: vmaName(space, v) });
  }
  return out;
}

function residentPages(space: AddressSpace, start: number, end: number): number {
  let n = 0;
  space.pageTable.visitLeaves(start, end, () => {
    n++;
  });
  return n;
}

/** Parts of the `before` ranges that no VMA covers any more. */
function removedRanges(before: readonly RegionKey[], after: readonly RegionView[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let j = 0;
  for (const b of before) {
    let at = b.start;
    while (j < after.length && after[j].end <= at) j++;
    for (let k = j; k < after.length && at < b.end; k++) {
      const a = after[k];
      if (a.start >= b.end) break;
      if (a.start > at) out.push([at, a.start]);
      at = Math.max(at, a.end);
    }
    if (at < b.end) out.push([at, b.end]);
  }
  const merged: Array<[number, number]> = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last[1] === r[0]) last[1] = r[1];
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/** The address space of `task`, each region marked changed unless `before` had it identical. */
export function spaceView(task: Task, before: readonly RegionKey[]): SpaceView {
  const space = task.mm;
  const program = programOf(space);
  const had = new Set(before.map((k) => `${k.start}:${k.end}:${k.flags}:${k.pgoff}:${k.name}`));
  const regions: RegionView[] = [];
  let resident = 0;
  for (const vma of space.vmas) {
    const name = vmaName(space, vma);
    const pages = residentPages(space, vma.start, vma.end);
    resident += pages;
    regions.push({
      start: vma.start,
      end: vma.end,
      kind: regionKind(vma, name, program),
      maps: formatMapsLine(mapsEntry(space, vma)),
      vmFlags: smapsVmFlags(vma.flags) + (vma.droppable ? ' dp' : ''),
      resident: pages,
      changed: !had.has(`${vma.start}:${vma.end}:${vma.flags}:${vma.pgoff}:${name}`),
    });
  }
  return {
    pid: task.pid,
    regions,
    removed: removedRanges(before, regions),
    taskSize: space.layout.taskSize,
    root: space.pageTable.root,
    mapCount: space.mapCount,
    residentPages: resident,
    tablePages: space.pageTable.tablePages,
  };
}

/** The FrameCode of an allocated frame by its FrameUse (a user page with more than one mapping is Shared). */
const USE_CODE = Uint8Array.from([0, FrameCode.Table, FrameCode.User, FrameCode.Kernel]);

/** Every frame's FrameCode, as the grid draws it. */
export function frameCodes(kernel: Kernel): Uint8Array {
  return codesAndCounts(kernel).codes;
}

/** The frame codes, and how many frames have each code (one pass over RAM for both). */
function codesAndCounts(kernel: Kernel): { codes: Uint8Array; byCode: Uint32Array } {
  const frames = kernel.frames;
  const codes = new Uint8Array(frames.totalPages);
  const byCode = new Uint32Array(256);
  const { use, count } = frames;
  const user = FrameUse.UserData;
  for (let f = 0; f < codes.length; f++) {
    const u = use[f];
    if (u === 0) continue;
    const c = u === user && count[f] > 1 ? FrameCode.Shared : USE_CODE[u];
    codes[f] = c;
    byCode[c]++;
  }
  const zero = frames.frameIndex(kernel.zeroFrame);
  byCode[codes[zero]]--;
  codes[zero] = FrameCode.Zero;
  byCode[FrameCode.Zero]++;
  // Free frames are not counted (the view counts only frames in use).
  frames.forEachFreeBlock((head, order) => codes.fill(FrameCode.FreeBase + order, head, head + 2 ** order));
  return { codes, byCode };
}

/**
 * What the frame codes of the frames in use depend on, kept before a call: each frame's use and
 * reference count. Copying them costs far less than computing the codes.
 */
export interface FrameState {
  use: Uint8Array;
  count: Uint32Array;
}

export function frameState(kernel: Kernel): FrameState {
  return { use: kernel.frames.use.slice(), count: kernel.frames.count.slice() };
}

/**
 * Frames whose code now differs from what `before` implies (free at any order counting as one, as
 * in changedFrames): the use changed, or a user page's count went over one or back (shared or not).
 * The zero page keeps its code for good.
 */
function changedSince(kernel: Kernel, before: FrameState, max: number): number[] {
  const { use, count } = kernel.frames;
  const user = FrameUse.UserData;
  const zero = kernel.frames.frameIndex(kernel.zeroFrame);
  const changed: number[] = [];
  const n = use.length;
  for (let f = 0; f < n; f++) {
    const u = use[f];
    const was = before.use[f];
    if (u !== was) {
      if (f !== zero) changed.push(f);
    } else if (u === user && count[f] !== before.count[f] && count[f] > 1 !== before.count[f] > 1) {
      if (f !== zero) changed.push(f);
    } else continue;
    if (changed.length >= max) break;
  }
  return changed;
}

/** Frames whose code differs between `before` and `after` (free at any order counting as one), at most `max`. */
function changedFrames(before: Uint8Array, after: Uint8Array, max: number): number[] {
  const changed: number[] = [];
  const n = after.length;
  // Whole words first: nearly every word is equal.
  const words = n % 4 === 0 ? n / 4 : 0;
  const a = new Int32Array(before.buffer, before.byteOffset, words);
  const b = new Int32Array(after.buffer, after.byteOffset, words);
  for (let w = 0; w < words; w++) {
    if (a[w] === b[w]) continue;
    for (let f = 4 * w; f < 4 * w + 4; f++) {
      const was = before[f] >= FrameCode.FreeBase;
      const is = after[f] >= FrameCode.FreeBase;
      if (was !== is || (!is && before[f] !== after[f])) {
        changed.push(f);
        if (changed.length >= max) return changed;
      }
    }
  }
  for (let f = 4 * words; f < n && changed.length < max; f++) {
    const was = before[f] >= FrameCode.FreeBase;
    const is = after[f] >= FrameCode.FreeBase;
    if (was !== is || (!is && before[f] !== after[f])) changed.push(f);
  }
  return changed;
}

/**
 * The frame grid, with the frames whose code differs from `before` marked: the frame codes before
 * the call (a previous frameCodes), or the frame state kept before it.
 */
export function framesView(kernel: Kernel, before: Uint8Array | FrameState | undefined): FramesView {
  const { codes, byCode } = codesAndCounts(kernel);
  const counts = { table: 0, user: 0, shared: 0, kernel: 0 };
  counts.table = byCode[FrameCode.Table];
  counts.user = byCode[FrameCode.User];
  counts.shared = byCode[FrameCode.Shared];
  counts.kernel = byCode[FrameCode.Kernel] + byCode[FrameCode.Zero];
  return {
    total: codes.length,
    base: kernel.ram.base,
    codes,
    free: kernel.frames.freePages,
    buddy: kernel.frames.buddyInfo(),
    counts,
    changed:
      before === undefined
        ? []
        : before instanceof Uint8Array
          ? changedFrames(before, codes, 65536)
          : changedSince(kernel, before, 65536),
  };
}

function rightsText(r: number): string {
  return `${r & 1 ? 'r' : '-'}${r & 2 ? 'w' : '-'}${r & 4 ? 'x' : '-'}`;
}

export function tlbView(kernel: Kernel): TlbView {
  const entries: TlbView['entries'] = [];
  for (const e of kernel.tlb.entriesInUse()) {
    entries.push({ root: e.root, page: e.page, frame: e.frame, rights: rightsText(e.rights) });
  }
  entries.sort((a, b) => a.root - b.root || a.page - b.page);
  return { entries, hits: kernel.tlb.hits, misses: kernel.tlb.misses };
}

/** The address to walk when none was chosen: the start of what the call changed, else of the first region. */
export function defaultAddress(v: StepView): number | null {
  const regions = v.space?.regions ?? [];
  const changed = regions.find((r) => r.changed && r.resident > 0) ?? regions.find((r) => r.changed);
  return (changed ?? regions.find((r) => r.resident > 0) ?? regions[0])?.start ?? null;
}

/** The level names of the architecture's manual, root first. */
function levelNames(kernel: Kernel): string[] {
  const n = kernel.geometry.levels;
  if (kernel.arch === 'x86_64') return ['PML4', 'PDPT', 'PD', 'PT'];
  return Array.from({ length: n }, (_, i) => `L${4 - n + i}`);
}

/**
 * The walk the MMU makes for `address` in `task`'s tables: each level's table, the index the
 * address selects, the entry there and its fields, down to the frame (or the level where it stops).
 * A software walk: the TLB is neither read nor filled.
 */
export function walkView(kernel: Kernel, task: Task, address: number): WalkView {
  const { geometry: g, format, ram } = kernel;
  const names = levelNames(kernel);
  const space = task.mm;
  const levels: WalkLevel[] = [];
  const va = Math.max(0, Math.min(address, g.vaSpan - 1));
  let table = space.pageTable.root as number;
  let frame = -1;
  let outcome = '';
  for (let level = 0; level < g.levels; level++) {
    const index = (va / g.levelDiv[level]) & g.levelMask[level];
    const entry = (table + index * 8) as PhysAddr;
    const lo = ram.readLo(entry);
    const hi = ram.readHi(entry);
    const last = level === g.levels - 1;
    levels.push({
      level,
      name: names[level],
      table,
      index,
      entryAddress: entry,
      lo,
      hi,
      last,
      summary: format.describe(lo, hi, level, last),
      fields: format.fields(lo, hi, level, last),
    });
    if (!format.isValid(lo)) {
      outcome = `${names[level]} entry ${index} is not valid: a fault (${
        space.vmas.find(va) ? 'inside a VMA: demand paging would allocate here' : 'no VMA: SIGSEGV'
      })`;
      break;
    }
    if (last) frame = format.address(lo, hi);
    else table = format.address(lo, hi);
  }
  const rights = frame >= 0 ? new Uint8Array(1) : undefined;
  if (rights) space.pageTable.translate(va as VirtAddr, rights);
  const vma = space.vmas.find(va);
  if (frame >= 0) outcome = `translates to physical 0x${(frame + (va % g.pageSize)).toString(16)}`;
  return {
    address: va,
    pid: task.pid,
    levels,
    frame,
    physical: frame >= 0 ? frame + (va % g.pageSize) : -1,
    rights: rights ? rightsText(rights[0]) : '---',
    vma: vma ? formatMapsLine(mapsEntry(space, vma)) : '',
    outcome,
  };
}

const USE_NAMES = ['free', 'page table', 'user page', 'kernel'];

/** Who holds frame number `f`: the tasks mapping it (user pages) or owning it (tables). */
export function frameInfo(kernel: Kernel, f: number): FrameInfo {
  const frames = kernel.frames;
  const address = frames.frameAddress(f);
  const owners: string[] = [];
  const names = levelNames(kernel);
  const use = frames.use[f];
  if (address === kernel.zeroFrame) owners.push('the shared zero page (ZERO_PAGE)');
  for (const task of kernel.tasks.values()) {
    if (use === FrameUse.PageTable) {
      for (const t of task.mm.pageTable.tables()) {
        if (t.table === address)
          owners.push(`pid ${task.pid}: ${names[t.level]} table, ${t.valid} valid entries`);
      }
    } else if (use === FrameUse.UserData) {
      for (const l of task.mm.pageTable.leaves()) {
        if (l.frame === address)
          owners.push(`pid ${task.pid}: 0x${l.va.toString(16)} ${rightsText(l.rights)}`);
      }
    }
  }
  let freeOrder: number | undefined;
  if (use === FrameUse.Free) {
    frames.forEachFreeBlock((head, order) => {
      if (f >= head && f < head + 2 ** order) freeOrder = order;
    });
  }
  const info: FrameInfo = {
    frame: f,
    address,
    use: USE_NAMES[use] ?? String(use),
    count: frames.count[f],
    owners,
  };
  if (freeOrder !== undefined) info.freeOrder = freeOrder;
  return info;
}
