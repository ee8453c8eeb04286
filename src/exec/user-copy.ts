import type { PhysAddr, VirtAddr } from '../hal/addr.js';
import { R_READ, R_WRITE } from '../hal/rights.js';
import type { AddressSpace } from '../mm/address-space.js';
import { handlePageFault } from '../mm/fault.js';

/**
 * The kernel writing into and reading from an address space that is not running yet (execve's new
 * mm, reached with `get_user_pages_remote`, `copy_to_user`, `clear_user`): every page goes through
 * the fault handler the way a user access would, so a write below the stack grows it, a write to a
 * private file page copies it, and a page that cannot be had (no VMA, no right, no frame) fails the
 * copy. Bytes already copied stay; the callers give up the whole address space then.
 */

/** The frame behind `va` for `access`, faulted in when needed, or null. */
function frameFor(space: AddressSpace, va: number, write: boolean): PhysAddr | null {
  const rights = new Uint8Array(1);
  const need = write ? R_WRITE : R_READ;
  for (let attempt = 0; attempt < 2; attempt++) {
    const frame = space.pageTable.translate(va as VirtAddr, rights);
    if (frame >= 0 && rights[0] & need) {
      space.pageTable.touch(va as VirtAddr, write);
      return frame as PhysAddr;
    }
    if (handlePageFault(space, va as VirtAddr, write ? 'write' : 'read') !== 'resolved') return null;
  }
  return null;
}

/** Runs `piece(frame + offset, done, len)` over the pages of [va, va + n); false at the first page missing. */
function eachPage(
  space: AddressSpace,
  va: number,
  n: number,
  write: boolean,
  piece: (pa: PhysAddr, done: number, len: number) => void,
): boolean {
  const { pageSize } = space;
  for (let done = 0; done < n; ) {
    const at = va + done;
    const inPage = at % pageSize;
    const len = Math.min(pageSize - inPage, n - done);
    const frame = frameFor(space, at - inPage, write);
    if (frame === null) return false;
    piece((frame + inPage) as PhysAddr, done, len);
    done += len;
  }
  return true;
}

/** `copy_to_user`: false (EFAULT) when a page cannot be written. */
export function copyToUser(space: AddressSpace, va: number, bytes: Uint8Array): boolean {
  return eachPage(space, va, bytes.length, true, (pa, done, len) =>
    space.ctx.ram.write(pa, bytes, done, len),
  );
}

/** `clear_user`: zeroes [va, va + n); false (EFAULT) when a page cannot be written. */
export function clearUser(space: AddressSpace, va: number, n: number): boolean {
  return eachPage(space, va, n, true, (pa, _done, len) => space.ctx.ram.zero(pa, len));
}

/** `copy_from_user`: the bytes, or null when a page cannot be read. */
export function copyFromUser(space: AddressSpace, va: number, n: number): Uint8Array | null {
  const out = new Uint8Array(n);
  const ok = eachPage(space, va, n, false, (pa, done, len) => space.ctx.ram.read(pa, out, done, len));
  return ok ? out : null;
}
