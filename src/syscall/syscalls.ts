import type { SyscallArg } from './args.js';
import { sysBrk } from './brk.js';
import type { SyscallContext } from './context.js';
import { sysMadvise } from './madvise.js';
import { sysMmap } from './mmap.js';
import { sysMprotect } from './mprotect.js';
import { sysMremap } from './mremap.js';
import { sysMunmap } from './munmap.js';

/**
 * The memory syscalls as the current task makes them. Arguments are register values (number or
 * bigint, negative numbers taken as their 64-bit two's complement); each call returns a number: the
 * result, or a negative errno. Bad arguments never throw.
 */
export class Syscalls {
  constructor(private readonly context: () => SyscallContext) {}

  mmap(
    addr: SyscallArg,
    len: SyscallArg,
    prot: SyscallArg,
    flags: SyscallArg,
    fd: SyscallArg,
    offset: SyscallArg,
  ): number {
    return sysMmap(this.context(), addr, len, prot, flags, fd, offset);
  }

  munmap(addr: SyscallArg, len: SyscallArg): number {
    return sysMunmap(this.context(), addr, len);
  }

  mprotect(addr: SyscallArg, len: SyscallArg, prot: SyscallArg): number {
    return sysMprotect(this.context(), addr, len, prot);
  }

  /** The new break, or the old one when the request is refused (brk never returns an errno). */
  brk(addr: SyscallArg): number {
    return sysBrk(this.context(), addr);
  }

  mremap(
    oldAddr: SyscallArg,
    oldLen: SyscallArg,
    newLen: SyscallArg,
    flags: SyscallArg,
    newAddr: SyscallArg = 0,
  ): number {
    return sysMremap(this.context(), oldAddr, oldLen, newLen, flags, newAddr);
  }

  madvise(addr: SyscallArg, len: SyscallArg, advice: SyscallArg): number {
    return sysMadvise(this.context(), addr, len, advice);
  }
}
