import type { SyscallArg } from './args.js';
import type { SyscallContext } from './context.js';
import { sysMmap } from './mmap.js';
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
}
