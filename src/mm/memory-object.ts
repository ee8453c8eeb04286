import type { PhysAddr } from '../hal/addr.js';

/**
 * Memory that exists independently of any one mapping: the pages of a shared anonymous mapping (a
 * shmem object, what Linux shows as `/dev/zero (deleted)`) or the page cache of a file. Pages are
 * indexed by page offset in the object and hold one frame reference each; VMAs that map the object
 * are counted so the pages go when the last mapping does.
 */
export class MemoryObject {
  /** Frames by page offset. */
  readonly pages = new Map<number, PhysAddr>();
  /** VMAs currently mapping the object. */
  mappers = 0;

  constructor(
    readonly path: string,
    readonly major: number,
    readonly minor: number,
    readonly inode: number,
    /** Whether writes through a shared mapping land in the object (shmem) rather than being private copies. */
    readonly kind: 'shmem' | 'file',
  ) {}
}

/**
 * The kernel's internal shmem mount, which numbers the inodes of shared anonymous memory. One per
 * kernel, so that two kernels (or one replayed twice) number them alike.
 */
export class ShmemMount {
  private nextInode = 1;

  /** A new shmem object for a MAP_SHARED|MAP_ANONYMOUS mapping (`shmem_zero_setup`). */
  newObject(): MemoryObject {
    return new MemoryObject('/dev/zero (deleted)', 0, 1, this.nextInode++, 'shmem');
  }
}
