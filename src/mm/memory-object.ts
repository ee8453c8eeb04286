import type { PhysAddr } from '../hal/addr.js';
import type { AddressSpace } from './address-space.js';
import type { Vma } from './vma.js';

/**
 * How a file's file system places a new mapping of it (its `f_op->get_unmapped_area`):
 * - `none`: no method of its own (`mm_get_unmapped_area`), as for tmpfs without huge pages
 *   (whose `shmem_get_unmapped_area` then changes nothing), procfs, devices;
 * - `thp`: `thp_get_unmapped_area`, which aligns a mapping of 2 MiB or more so that file offset
 *   and address agree modulo 2 MiB (ext4, xfs, btrfs, fuse);
 * - `shmem-huge`: `shmem_get_unmapped_area` on a tmpfs mounted with huge pages (`huge=always`,
 *   `within_size`, `advise`), which aligns the same way by a different route.
 * (`/dev/zero` has a rule of its own, `get_unmapped_area_zero`: see MemoryObject.kind.)
 */
export type FilePlacement = 'none' | 'thp' | 'shmem-huge';

/**
 * File systems whose files use `thp_get_unmapped_area` (Linux 6.18's `.get_unmapped_area`; ext2
 * and ext3 are ext4 to statfs).
 */
const THP_FILE_SYSTEMS = new Set(['ext4', 'xfs', 'btrfs', 'fuse', 'erofs', 'bcachefs']);
/** File systems that take MAP_SYNC (`FOP_MMAP_SYNC`) and decide in their mmap method. */
const MAP_SYNC_FILE_SYSTEMS = new Set(['ext4', 'xfs']);

/**
 * The rules of a file on file system `fs` (a name as statfs reports it: `ext4`, `tmpfs`, ...):
 * how new mappings are placed and whether MAP_SYNC reaches the file system. For tmpfs, `huge` is
 * its `huge=` mount option (absent or `never`: no huge pages).
 */
export function fileSystemRules(fs: string, huge?: string): { placement: FilePlacement; mapSync: boolean } {
  let placement: FilePlacement = 'none';
  if (THP_FILE_SYSTEMS.has(fs)) placement = 'thp';
  else if (fs === 'tmpfs' && huge !== undefined && huge !== 'never' && huge !== 'deny')
    placement = 'shmem-huge';
  return { placement, mapSync: MAP_SYNC_FILE_SYSTEMS.has(fs) };
}

/** What a file mapping needs to know of its file beyond its name. */
export interface FileFacts {
  /** Size in bytes; null when the file has no end (a device) or it is unknown. */
  size?: number | null;
  /** How its file system places new mappings (default `none`). */
  placement?: FilePlacement;
  /** A character device: no end, and offsets up to 2^64 (`file_mmap_size_max`). */
  device?: boolean;
  /**
   * The file system takes MAP_SYNC (`FOP_MMAP_SYNC`: ext4, xfs) and its mmap method refuses it
   * for a file not on DAX, after the range was prepared; elsewhere MAP_SHARED_VALIDATE refuses it
   * at once.
   */
  mapSync?: boolean;
}

/**
 * Memory that exists independently of any one mapping: the pages of a shared anonymous mapping (a
 * shmem object, what Linux shows as `/dev/zero (deleted)`) or the page cache of a file. Pages are
 * indexed by page offset in the object and hold one frame reference each; VMAs that map the object
 * are counted so the pages go when the last mapping does.
 */
export class MemoryObject {
  /** Frames by page offset. */
  readonly pages = new Map<number, PhysAddr>();
  /**
   * The VMAs mapping the object, each with its address space (Linux's `i_mmap`): what punches a
   * hole in the object (MADV_REMOVE) unmaps its pages from every one of them.
   */
  readonly mappedBy = new Map<Vma, AddressSpace>();
  /** A file's size in bytes (an access to a page wholly past it is a SIGBUS), or null for no end. */
  readonly size: number | null;
  readonly placement: FilePlacement;
  readonly device: boolean;
  readonly mapSync: boolean;

  constructor(
    readonly path: string,
    readonly major: number,
    readonly minor: number,
    readonly inode: number,
    /**
     * `shmem`: the object of shared anonymous memory; `file`: a file's page cache; `dev-zero`:
     * /dev/zero, whose private mappings are anonymous memory that still names the file
     * (`vma_set_anonymous`), whose shared ones are a new shmem object each (`mmap_zero`), and
     * whose private mappings are placed as `thp_get_unmapped_area` places them.
     */
    readonly kind: 'shmem' | 'file' | 'dev-zero',
    facts: FileFacts = {},
  ) {
    this.device = facts.device ?? kind === 'dev-zero';
    this.size = this.device ? null : (facts.size ?? null);
    this.placement = facts.placement ?? 'none';
    this.mapSync = facts.mapSync ?? false;
  }

  /** VMAs currently mapping the object. */
  get mappers(): number {
    return this.mappedBy.size;
  }

  /** Whether page `index` of the object lies wholly past the end of the file. */
  beyondEnd(index: number, pageSize: number): boolean {
    return this.size !== null && index * pageSize >= this.size;
  }
}

/**
 * An open file as mmap sees it (Linux's `struct file`: one per open(), shared by dup()): what it
 * maps and how it was opened. Mappings merge only when they came through the same one.
 */
export interface OpenFile {
  readonly file: MemoryObject;
  readonly readable: boolean;
  readonly writable: boolean;
}

/**
 * One kernel's shmem mount: the objects behind shared anonymous mappings and their inode numbers,
 * handed out in order as `get_next_ino` does (from 1 here), so that /proc/PID/maps depends only on
 * what ran in this kernel.
 */
export class Shmem {
  private nextInode = 1;

  /**
   * A new shmem object for a MAP_SHARED|MAP_ANONYMOUS mapping (`shmem_zero_setup`): a file of the
   * mapping's size, so pages an mremap adds past it are a SIGBUS. Without a size (a snapshot's
   * object, whose size /proc does not show) it has no end.
   */
  zeroSetup(size: number | null = null): MemoryObject {
    return new MemoryObject('/dev/zero (deleted)', 0, 1, this.nextInode++, 'shmem', { size });
  }
}
