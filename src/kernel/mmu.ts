import { hex, type PhysAddr, type VirtAddr } from '../hal/addr.js';
import { PageFaultError } from '../hal/page-fault.js';
import { KernelPanic } from '../hal/panic.js';
import { ACCESS_RIGHT, type Access } from '../hal/rights.js';
import type { AddressSpace } from '../mm/address-space.js';
import { handlePageFault } from '../mm/fault.js';

/**
 * User-mode memory access as the hardware does it: TLB first, then a table walk that checks the
 * leaf's permission bits, then the fault handler; a fault it cannot resolve is a PageFaultError.
 * Each access touches the leaf's accessed/dirty bits like the MMU would.
 */
export class Mmu {
  private readonly rights = new Uint8Array(1);

  /**
   * The frame backing the page that holds `va`, for an `access`, faulting it in if the handler can.
   * A fault reports `va` itself, as the hardware's FAR/CR2 would.
   */
  frameFor(space: AddressSpace, va: VirtAddr, access: Access): PhysAddr {
    const { tlb } = space.ctx;
    const root = space.pageTable.root;
    const need = ACCESS_RIGHT[access];
    const cached = tlb.lookup(root, va, this.rights);
    if (cached >= 0 && this.rights[0] & need) return cached as PhysAddr;
    for (let attempt = 0; attempt < 2; attempt++) {
      const frame = space.pageTable.translate(va, this.rights);
      if (frame >= 0 && this.rights[0] & need) {
        tlb.insert(root, va, frame as PhysAddr, this.rights[0]);
        space.pageTable.touch(va, access === 'write');
        return frame as PhysAddr;
      }
      const outcome = handlePageFault(space, va, access);
      if (outcome !== 'resolved') throw new PageFaultError(va, access, outcome);
    }
    throw new KernelPanic(`fault at ${hex(va)} resolved but still not accessible`);
  }

  /** Reads `n` bytes at `va`. Every page is translated before any byte is copied. */
  read(space: AddressSpace, va: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.forEachPiece(space, va, n, 'read', (pa, off, len) => space.ctx.ram.read(pa, out, off, len));
    return out;
  }

  /** Writes `bytes` at `va`; a fault on any page leaves memory unchanged. */
  write(space: AddressSpace, va: number, bytes: Uint8Array): void {
    this.forEachPiece(space, va, bytes.length, 'write', (pa, off, len) =>
      space.ctx.ram.write(pa, bytes, off, len),
    );
  }

  private forEachPiece(
    space: AddressSpace,
    va: number,
    n: number,
    access: Access,
    copy: (pa: PhysAddr, offset: number, len: number) => void,
  ): void {
    const pageSize = space.pageSize;
    const inFirst = va % pageSize;
    if (inFirst + n <= pageSize) {
      // The common case: the access stays inside one page.
      if (n > 0) copy((this.frameFor(space, va as VirtAddr, access) + inFirst) as PhysAddr, 0, n);
      return;
    }
    const pieces: number[] = [];
    for (let done = 0; done < n; ) {
      const at = va + done;
      const inPage = at % pageSize;
      const len = Math.min(pageSize - inPage, n - done);
      const frame = this.frameFor(space, at as VirtAddr, access);
      pieces.push(frame + inPage, done, len);
      done += len;
    }
    for (let i = 0; i < pieces.length; i += 3) copy(pieces[i] as PhysAddr, pieces[i + 1], pieces[i + 2]);
  }
}
