import { hex } from '../hal/addr.js';
import type { DescriptorFormat } from '../hal/descriptor.js';
import { formatRights, R_WRITE } from '../hal/rights.js';
import type { Tlb } from '../hal/tlb.js';
import type { AddressSpace } from '../mm/address-space.js';
import { anonNeighboursMergeable } from '../mm/anon-vma.js';
import { type FrameAllocator, FrameUse } from '../mm/frame-allocator.js';
import type { MemoryObject } from '../mm/memory-object.js';
import { VM_SHARED, VM_SOFTDIRTY, VM_SPECIAL } from '../mm/vm-flags.js';
import type { Vma } from '../mm/vma.js';

/**
 * The invariant checker: recomputes from scratch what the kernel caches and compares.
 * - every frame is free or owned, never both; a table frame belongs to exactly one table; a user
 *   frame's reference count equals the number of leaves that map it;
 * - every present leaf lies inside a VMA and grants no more than that VMA's hardware rights; a
 *   private page mapped writable has no other user (copy-on-write shares pages only read-only);
 * - every table's cached entry count is right and no intermediate table is empty;
 * - the VMAs are aligned, ordered, non-overlapping, counted right, and no two neighbours are ones
 *   Linux would have merged;
 * - the TLB holds nothing the tables do not say.
 * Returns the violations in words; [] when consistent.
 */
export function checkInvariants(
  frames: FrameAllocator,
  format: DescriptorFormat,
  tlb: Tlb,
  spaces: readonly AddressSpace[],
): string[] {
  const out: string[] = [];
  const n = frames.totalPages;
  const owners = new Int32Array(n); // 0 none, >0 table owner count, <0 user references
  const isFree = new Uint8Array(n);

  let freeCount = 0;
  for (const f of frames.freeFrameIndexes()) {
    if (isFree[f]) out.push(`frame ${hex(frames.frameAddress(f))} is on the free lists twice`);
    isFree[f] = 1;
    freeCount++;
  }
  if (freeCount !== frames.freePages)
    out.push(`free counter says ${frames.freePages}, free lists hold ${freeCount}`);

  const userRefs = new Uint32Array(n);
  const objects = new Set<MemoryObject>();
  for (const space of spaces) {
    const tableOwner = (f: number) => {
      if (owners[f] !== 0) out.push(`table frame ${hex(frames.frameAddress(f))} is owned twice`);
      owners[f] = 1;
    };
    for (const t of space.pageTable.tables()) {
      const f = frames.frameIndex(t.table);
      tableOwner(f);
      if (frames.use[f] !== FrameUse.PageTable)
        out.push(`table ${hex(t.table)} is not marked as a page-table frame`);
      if (frames.count[f] !== t.valid) {
        out.push(`table ${hex(t.table)} caches ${frames.count[f]} valid entries but holds ${t.valid}`);
      }
      if (t.valid === 0 && t.table !== space.pageTable.root)
        out.push(`empty table ${hex(t.table)} at level ${t.level} was not freed`);
    }
    checkLeaves(space, format, frames, userRefs, out);
    checkVmas(space, out);
    for (const v of space.vmas) if (v.file !== null) objects.add(v.file);
  }
  for (const object of objects) {
    for (const frame of object.pages.values()) userRefs[frames.frameIndex(frame)]++;
  }

  for (let f = 0; f < n; f++) {
    const addr = hex(frames.frameAddress(f));
    if (userRefs[f] > 0 && frames.use[f] !== FrameUse.Kernel) {
      if (owners[f] !== 0) out.push(`frame ${addr} is both a table and user memory`);
      if (frames.use[f] !== FrameUse.UserData) out.push(`user frame ${addr} is not marked as user memory`);
      if (frames.count[f] !== userRefs[f])
        out.push(`user frame ${addr} counts ${frames.count[f]} mappings, has ${userRefs[f]}`);
    }
    const owned = owners[f] !== 0 || userRefs[f] > 0;
    if (owned && isFree[f]) out.push(`frame ${addr} is free and owned at once`);
    if (!owned && !isFree[f] && frames.use[f] !== FrameUse.Kernel)
      out.push(`frame ${addr} is allocated but owned by nothing (leak)`);
  }

  const live = new Map(spaces.map((s) => [s.pageTable.root as number, s]));
  const rights = new Uint8Array(1);
  for (const e of tlb.entriesInUse()) {
    const space = live.get(e.root);
    if (space === undefined) {
      out.push(`TLB holds ${hex(e.page)} of a dead address space ${hex(e.root)}`);
      continue;
    }
    const frame = space.pageTable.translate(e.page, rights);
    if (frame !== e.frame || rights[0] !== e.rights) {
      out.push(
        `TLB says ${hex(e.page)} -> ${hex(e.frame)} ${formatRights(e.rights)}, tables say ${frame < 0 ? 'unmapped' : `${hex(frame)} ${formatRights(rights[0])}`}`,
      );
    }
  }
  return out;
}

function checkLeaves(
  space: AddressSpace,
  format: DescriptorFormat,
  frames: FrameAllocator,
  userRefs: Uint32Array,
  out: string[],
): void {
  for (const leaf of space.pageTable.leaves()) {
    const vma = space.vmas.find(leaf.va);
    if (vma === undefined) {
      out.push(`page ${hex(leaf.va)} is mapped outside any VMA`);
    } else {
      const allowed = format.rightsFor(vma.prot);
      if (leaf.rights & ~allowed) {
        out.push(
          `page ${hex(leaf.va)} grants ${formatRights(leaf.rights)} but its VMA allows ${formatRights(allowed)}`,
        );
      }
      if (
        leaf.rights & R_WRITE &&
        !(vma.flags & VM_SHARED) &&
        frames.count[frames.frameIndex(leaf.frame)] !== 1
      )
        out.push(`private page ${hex(leaf.va)} is writable but its frame ${hex(leaf.frame)} is shared`);
    }
    if (!frames.isAllocated(leaf.frame))
      out.push(`page ${hex(leaf.va)} maps frame ${hex(leaf.frame)}, which is free`);
    userRefs[frames.frameIndex(leaf.frame)]++;
  }
}

/** Whether Linux would have merged the adjacent VMAs `a` and `b` had an operation met them. */
export function mergeableNeighbours(a: Vma, b: Vma, pageSize: number): boolean {
  return (
    a.end === b.start &&
    !(a.flags & VM_SPECIAL) &&
    ((a.flags ^ b.flags) & ~VM_SOFTDIRTY) === 0 &&
    a.file === b.file &&
    a.file === null &&
    a.name === b.name &&
    a.droppable === b.droppable &&
    b.pgoff === a.pgoff + (a.end - a.start) / pageSize &&
    anonNeighboursMergeable(a, b) &&
    !(a.flags & 0x8) // shared anonymous memory is a separate shmem object per mapping
  );
}

function checkVmas(space: AddressSpace, out: string[]): void {
  for (const v of space.vmas.check()) out.push(`VMA tree: ${v}`);
  let prev: Vma | undefined;
  let pages = 0;
  for (const v of space.vmas) {
    if (v.start % space.pageSize || v.end % space.pageSize || v.start >= v.end) {
      out.push(`VMA ${hex(v.start)}-${hex(v.end)} is empty or not page-aligned`);
    }
    if (v.end > space.layout.taskSize) out.push(`VMA ${hex(v.start)}-${hex(v.end)} runs past TASK_SIZE`);
    if (
      prev !== undefined &&
      mergeableNeighbours(prev, v, space.pageSize) &&
      !space.unmergedBoundaries.has(v.start)
    ) {
      out.push(
        `VMAs ${hex(prev.start)}-${hex(prev.end)} and ${hex(v.start)}-${hex(v.end)} should have been merged`,
      );
    }
    pages += (v.end - v.start) / space.pageSize;
    prev = v;
  }
  if (pages !== space.totalVm) out.push(`total_vm is ${space.totalVm} pages, VMAs cover ${pages}`);
}
