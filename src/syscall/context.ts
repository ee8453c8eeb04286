import type { Arch } from '../hal/addr.js';
import type { AddressSpace } from '../mm/address-space.js';
import type { OpenFile, Shmem } from '../mm/memory-object.js';
import type { CommitAccounting } from '../mm/overcommit.js';

/** When frames are allocated: all at mmap time (the seed's LevitateOS), or on first touch (Linux). */
export type PagingMode = 'eager' | 'demand';

export type { OpenFile };

/** What a memory syscall works on: the calling task's address space and the kernel-wide state. */
export interface SyscallContext {
  readonly arch: Arch;
  readonly paging: PagingMode;
  readonly space: AddressSpace;
  readonly accounting: CommitAccounting;
  /** The kernel's shmem mount (shared anonymous memory). */
  readonly shmem: Shmem;
  /** The calling task's file descriptors. */
  readonly files: ReadonlyMap<number, OpenFile>;
}
