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
    /** Whether the file system places mappings with `thp_get_unmapped_area` (see `AreaRequest.fileThp`). */
    readonly thpUnmappedArea = false,
  ) {}
}

/**
 * One kernel's shmem mount: the objects behind shared anonymous mappings and their inode numbers,
 * handed out in order as `get_next_ino` does (from 1 here), so that /proc/PID/maps depends only on
 * what ran in this kernel.
 */
export class Shmem {
  private nextInode = 1;

  /** A new shmem object for a MAP_SHARED|MAP_ANONYMOUS mapping (`shmem_zero_setup`). */
  zeroSetup(): MemoryObject {
    return new MemoryObject('/dev/zero (deleted)', 0, 1, this.nextInode++, 'shmem');
  }
}
