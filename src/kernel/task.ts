import type { PhysAddr } from '../hal/addr.js';
import { PageFaultError } from '../hal/page-fault.js';
import type { AddressSpace } from '../mm/address-space.js';
import type { OpenFile } from '../syscall/context.js';
import type { Mmu } from './mmu.js';

/**
 * A task (a process, or a thread of one): a pid, its address space, whose page-table root is its
 * `ttbr0`, and its open files. User-mode reads and writes go through the MMU against this task's
 * tables, so two tasks see each other's memory only when they share the address space (threads,
 * vfork) or a shared mapping.
 */
export class Task {
  /** The task's file descriptors, as mmap sees them (one table shared by CLONE_FILES tasks). */
  readonly files: Map<number, OpenFile>;
  /** The thread group (the pid of its first thread); the task's own pid for a process. */
  readonly tgid: number;
  private alive = true;
  private space: AddressSpace;

  constructor(
    readonly pid: number,
    mm: AddressSpace,
    private readonly mmu: Mmu,
    init: { tgid?: number; files?: Map<number, OpenFile> } = {},
  ) {
    this.tgid = init.tgid ?? pid;
    this.files = init.files ?? new Map();
    this.space = mm;
  }

  /** The task's address space (`task->mm`); execve replaces it. */
  get mm(): AddressSpace {
    return this.space;
  }

  /** @internal `exec_mmap`: the kernel installs the address space an execve built. */
  replaceMm(mm: AddressSpace): void {
    this.space = mm;
  }

  /** Physical address of the root translation table (TTBR0_EL1 on AArch64, CR3 on x86-64). */
  get ttbr0(): PhysAddr {
    return this.mm.pageTable.root;
  }

  get exited(): boolean {
    return !this.alive;
  }

  /**
   * Reads `n` bytes at user address `addr`; throws a PageFaultError if any page is unmapped or not
   * readable. An address is a 64-bit value (number or bigint): beyond user space it faults.
   */
  read(addr: number | bigint, n: number): Uint8Array {
    this.assertAlive();
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError('read: length must be a non-negative integer');
    return this.mmu.read(this.mm, this.userAddress(addr, n, 'read'), n);
  }

  /** Writes `bytes` at user address `addr`; throws a PageFaultError (and writes nothing) if any page is unmapped or read-only. */
  write(addr: number | bigint, bytes: Uint8Array | readonly number[] | string): void {
    this.assertAlive();
    const data =
      typeof bytes === 'string'
        ? new TextEncoder().encode(bytes)
        : bytes instanceof Uint8Array
          ? bytes
          : Uint8Array.from(bytes);
    this.mmu.write(this.mm, this.userAddress(addr, data.length, 'write'), data);
  }

  /** `addr` as a user address, or the SEGV_MAPERR fault an address beyond user space gives. */
  private userAddress(addr: number | bigint, n: number, access: 'read' | 'write'): number {
    if (
      typeof addr === 'number' &&
      addr >= 0 &&
      addr + n <= this.mm.layout.taskSize &&
      Number.isInteger(addr)
    )
      return addr;
    if (typeof addr === 'number' && !Number.isInteger(addr))
      throw new RangeError(`${access}: address must be an integer`);
    const a = BigInt.asUintN(64, BigInt(addr));
    const top = BigInt(this.mm.layout.taskSize);
    if (n > 0 && a + BigInt(n) > top)
      throw new PageFaultError(Number(a >= top ? a : top), access, 'not-mapped');
    return Number(a);
  }

  /** @internal Marks the task dead; the kernel frees its address space. */
  markExited(): void {
    this.alive = false;
  }

  private assertAlive(): void {
    if (!this.alive) throw new Error(`task ${this.pid} has exited`);
  }
}
