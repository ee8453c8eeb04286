import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import type { AddressSpace } from './address-space.js';
import { copyOnWriteProt } from './fault.js';
import { FrameUse } from './frame-allocator.js';
import type { MmapGuard } from './mmap-guard.js';
import { VM_SHARED } from './vm-flags.js';
import type { Vma } from './vma.js';

/**
 * The seed's loop, for eager paging: every page of [start, end) of `vma` gets a frame, zeroed and
 * mapped with exactly the VMA's rights (read-only for a page-cache page of a private file
 * mapping), and is tracked by the guard; a page that was mapped
 * (MAP_FIXED) is replaced and remembered. Shared memory maps its object's page where the object
 * already has one (its data survives) and adds new pages to the object. Returns false at the first
 * allocation failure; the guard then undoes everything.
 */
export function populateEager(
  space: AddressSpace,
  guard: MmapGuard,
  vma: Vma,
  start: number,
  end: number,
): boolean {
  const { frames, ram } = space.ctx;
  const { pageTable, pageSize } = space;
  // A private /dev/zero mapping is anonymous memory: no object keeps its pages.
  const object = vma.anonymous ? null : vma.file;
  // A private mapping of a file maps its page-cache pages read-only, so a write copies them.
  const prot = object !== null && !(vma.flags & VM_SHARED) ? copyOnWriteProt(vma.prot) : vma.prot;
  const old = new Uint32Array(2);
  for (let va = start; va < end; va += pageSize) {
    const index = object !== null ? vma.pgoff + (va - vma.start) / pageSize : -1;
    const existing = object !== null ? object.pages.get(index) : undefined;
    let frame: PhysAddr | null = existing ?? null;
    if (frame === null) {
      frame = frames.allocPage(FrameUse.UserData);
      if (frame === null) return false;
      ram.zero(frame, pageSize);
    }
    if (pageTable.isMapped(va as VirtAddr)) {
      pageTable.replace(va as VirtAddr, frame, prot, old);
      guard.trackReplaced(va as VirtAddr, frame, old[0], old[1]);
    } else if (pageTable.map(va as VirtAddr, frame, prot)) {
      guard.track(va as VirtAddr, frame);
    } else {
      if (existing === undefined) frames.freePage(frame);
      return false;
    }
    if (object !== null && existing === undefined) {
      const page = frame;
      object.pages.set(index, page);
      frames.count[frames.frameIndex(page)]++;
      guard.undo.record(() => {
        object.pages.delete(index);
        frames.count[frames.frameIndex(page)]--;
        space.releaseFrame(page);
      });
    }
  }
  return true;
}
