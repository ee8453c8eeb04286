import { EINVAL, ENOMEM } from '../abi/errno.js';
import { CLONE_FILES, CLONE_SIGHAND, CLONE_THREAD, CLONE_VFORK, CLONE_VM } from '../abi/sched.js';
import type { ExecEnvironment, ExecString } from '../exec/binprm.js';
import { type ExecFailure, type ExecOptions, execve } from '../exec/execve.js';
import { type ExecFiles, MemoryExecFiles } from '../exec/files.js';
import { aarch64Descriptors } from '../hal/aarch64-descriptor.js';
import type { Arch, PhysAddr } from '../hal/addr.js';
import type { DescriptorFormat } from '../hal/descriptor.js';
import { type PageGeometry, pageGeometry } from '../hal/geometry.js';
import { LinearMap } from '../hal/linear-map.js';
import { KernelPanic } from '../hal/panic.js';
import { PhysicalMemory, RAM_CHUNK_BYTES } from '../hal/ram.js';
import { Tlb } from '../hal/tlb.js';
import { x86_64Descriptors } from '../hal/x86-64-descriptor.js';
import { AddressSpace } from '../mm/address-space.js';
import { AnonVma, AnonVmaIds } from '../mm/anon-vma.js';
import { FrameAllocator, FrameUse } from '../mm/frame-allocator.js';
import { defaultLayout, type Layout, type LayoutOptions } from '../mm/layout.js';
import { Shmem } from '../mm/memory-object.js';
import { CommitAccounting } from '../mm/overcommit.js';
import { PageCache } from '../mm/page-cache.js';
import { type MmuContext, PageTable } from '../mm/page-table.js';
import { VM_MTE_ALLOWED } from '../mm/vm-flags.js';
import { keepApart } from '../mm/vma-merge.js';
import type { OpenFile, PagingMode, SyscallContext } from '../syscall/context.js';
import { unmapRange } from '../syscall/munmap.js';
import { Syscalls } from '../syscall/syscalls.js';
import { InvariantChecker } from './check.js';
import { restoreCheckpoint, type SpaceCheckpoint, takeCheckpoint } from './checkpoint.js';
import { dupMmap } from './fork.js';
import { Mmu } from './mmu.js';
import { type Snapshot, vmasFromSnapshot } from './snapshot.js';
import { Task } from './task.js';

/** Boot parameters; every one has a default. */
export interface KernelOptions {
  /** `aarch64` (the seed's first architecture, the default) or `x86_64`. */
  arch?: Arch;
  /** Simulated RAM in bytes (default 64 MiB); committed on the host only as it is touched. */
  ramBytes?: number;
  /** Page size: 4096 (default); 16384 or 65536 on aarch64. */
  pageSize?: number;
  /** `eager` (default, the seed's: every page allocated at mmap) or `demand` (Linux's: on first touch). */
  paging?: PagingMode;
  /** Layout and limits, defaulting to Linux's values for the arch without randomization. */
  layout?: LayoutOptions;
  /** Entries of the software TLB (a power of two, default 1024). */
  tlbEntries?: number;
  /** Where execve finds programs (default: an empty file system, where every path is ENOENT). */
  execFiles?: ExecFiles;
}

/** Simulated RAM when the options say nothing: 64 MiB. */
const DEFAULT_RAM = 64 * 2 ** 20;

/** Physical address where RAM starts: 1 GiB on the AArch64 `virt` board, 1 MiB on x86-64 (below it is legacy). */
const RAM_BASE: Record<Arch, number> = { aarch64: 0x4000_0000, x86_64: 0x10_0000 };

/**
 * The kernel: simulated RAM, the frame allocator, the TLB and the tasks. `spawn()` creates a task
 * with an address space of its own and makes it current; `fork`, `vfork` and `clone` make tasks
 * that copy or share their parent's; `exit` ends one; `sys` runs memory syscalls as the current
 * task; `check()` runs the invariant checker over everything.
 */
export class Kernel {
  readonly arch: Arch;
  readonly pageSize: number;
  readonly paging: PagingMode;
  readonly geometry: PageGeometry;
  readonly format: DescriptorFormat;
  readonly ram: PhysicalMemory;
  readonly frames: FrameAllocator;
  readonly tlb: Tlb;
  readonly linearMap: LinearMap;
  readonly layout: Layout;
  readonly accounting: CommitAccounting;
  /** Shared anonymous memory, with inode numbers of this kernel's own. */
  readonly shmem = new Shmem();
  /** The memory syscalls, executed by the current task. */
  readonly sys: Syscalls;
  /** The shared zero page (`ZERO_PAGE`) mapped by read faults on anonymous memory. */
  readonly zeroFrame: PhysAddr;
  /** The frames the kernel holds for itself (the zero page): the checker knows every other frame has a task. */
  readonly kernelFrames: readonly PhysAddr[];
  private readonly checker: InvariantChecker;
  /** The pages of the files execve maps, shared by every task that runs them. */
  readonly pageCache = new PageCache();
  /** Where execve finds programs. */
  readonly execFiles: ExecFiles;
  /** Why the last execve that failed failed (its errno, and whether Linux would have killed the task). */
  lastExecFailure: ExecFailure | null = null;
  private readonly mmu = new Mmu();
  private readonly mmuContext: MmuContext;
  private readonly taskList = new Map<number, Task>();
  private nextPid = 1;
  private currentTask: Task | null = null;
  /** The context of the last syscall, reused while its address space and fd table are the same. */
  private lastContext: SyscallContext | null = null;

  constructor(options: KernelOptions = {}) {
    this.arch = options.arch ?? 'aarch64';
    this.pageSize = options.pageSize ?? 4096;
    this.paging = options.paging ?? 'eager';
    if (this.paging !== 'eager' && this.paging !== 'demand')
      throw new RangeError(`unknown paging mode ${this.paging}`);
    this.geometry = pageGeometry(this.arch, this.pageSize);
    this.layout = defaultLayout(this.arch, this.pageSize, options.ramBytes ?? DEFAULT_RAM, options.layout);
    this.format =
      this.arch === 'aarch64'
        ? aarch64Descriptors(this.geometry, { epan: this.layout.armEpan })
        : x86_64Descriptors(this.geometry, { protectionKeys: this.layout.protectionKeys });
    const ramBytes = options.ramBytes ?? DEFAULT_RAM;
    const granule = Math.max(RAM_CHUNK_BYTES, this.pageSize);
    if (!Number.isSafeInteger(ramBytes) || ramBytes < granule || ramBytes % granule !== 0) {
      throw new RangeError(`ramBytes must be a positive multiple of ${granule}`);
    }
    this.ram = new PhysicalMemory(RAM_BASE[this.arch], ramBytes);
    this.frames = new FrameAllocator(this.ram, this.pageSize);
    this.tlb = new Tlb(this.pageSize, options.tlbEntries ?? 1024);
    this.linearMap = new LinearMap(this.arch);
    this.accounting = new CommitAccounting(this.layout);
    this.mmuContext = {
      ram: this.ram,
      frames: this.frames,
      format: this.format,
      geometry: this.geometry,
      tlb: this.tlb,
      linearMap: this.linearMap,
      anonVmaIds: new AnonVmaIds(),
    };
    this.sys = new Syscalls(() => this.syscallContext());
    this.execFiles = options.execFiles ?? new MemoryExecFiles();
    this.frames.reclaim = () => {
      let freed = 0;
      for (const space of this.spaces()) freed += space.reclaimLazyFree();
      return freed;
    };
    const zero = this.frames.allocPage(FrameUse.Kernel);
    if (zero === null) throw new RangeError('ramBytes leaves no frame for the zero page');
    this.ram.zero(zero, this.pageSize);
    this.zeroFrame = zero;
    this.kernelFrames = [zero];
    this.checker = new InvariantChecker(this);
  }

  /** The running task, or null before the first spawn. */
  get current(): Task | null {
    return this.currentTask;
  }

  /** Live tasks by pid. */
  get tasks(): ReadonlyMap<number, Task> {
    return this.taskList;
  }

  /**
   * Creates a task with a new, empty address space (one root table) and makes it current.
   * Throws if not even the root table can be allocated.
   */
  spawn(): Task {
    const space = this.newSpace();
    if (space === null) throw new Error('spawn: out of memory for the root page table');
    const task = new Task(this.nextPid++, space, this.mmu);
    this.taskList.set(task.pid, task);
    this.currentTask = task;
    return task;
  }

  /**
   * fork(2): a new process whose address space is a copy-on-write copy of `parent`'s (see
   * `dupMmap`), with a copy of its file table. Returns the child, or -ENOMEM (the parent unchanged)
   * when memory runs out. The current task stays the current task, as the parent runs on.
   */
  fork(parent: Task): Task | number {
    return this.clone(parent, 0);
  }

  /** vfork(2): a new process sharing `parent`'s address space (`CLONE_VM | CLONE_VFORK`). */
  vfork(parent: Task): Task | number {
    return this.clone(parent, CLONE_VM | CLONE_VFORK);
  }

  /**
   * clone(2), the memory side of `copy_process`: CLONE_VM shares the address space (`mm_users`
   * grows), otherwise it is copied as fork does; CLONE_FILES shares the file table, otherwise it is
   * copied; CLONE_THREAD puts the task in `parent`'s thread group. Flag combinations Linux refuses
   * (CLONE_THREAD without CLONE_SIGHAND, CLONE_SIGHAND without CLONE_VM) are -EINVAL. Other flags
   * are accepted and have no effect on memory.
   */
  clone(parent: Task, flags: number): Task | number {
    if (this.taskList.get(parent.pid) !== parent) throw new Error(`clone: task ${parent.pid} is not alive`);
    if (flags & CLONE_THREAD && !(flags & CLONE_SIGHAND)) return -EINVAL;
    if (flags & CLONE_SIGHAND && !(flags & CLONE_VM)) return -EINVAL;
    let space = parent.mm;
    if (flags & CLONE_VM) {
      space.users++;
    } else {
      const copy = this.newSpace();
      if (copy === null) return -ENOMEM;
      const all = this.spaces();
      const err = dupMmap({
        parent: space,
        child: copy,
        all,
        accounting: this.accounting,
        paging: this.paging,
      });
      if (err < 0) {
        this.destroySpace(copy, { uncharge: false });
        return err;
      }
      space = copy;
    }
    const pid = this.nextPid++;
    const task = new Task(pid, space, this.mmu, {
      tgid: flags & CLONE_THREAD ? parent.tgid : pid,
      files: flags & CLONE_FILES ? parent.files : new Map(parent.files),
    });
    this.taskList.set(pid, task);
    return task;
  }

  /**
   * Creates a task whose address space is rebuilt from a /proc snapshot (see `Snapshot`) and makes
   * it current. Throws a `SnapshotError` for a snapshot no address space could have.
   */
  spawnFromSnapshot(snapshot: Snapshot): Task {
    const ids = this.mmuContext.anonVmaIds;
    const newAnon = () => new AnonVma(ids.next(), null);
    const built = vmasFromSnapshot(
      snapshot,
      this.pageSize,
      this.layout.taskSize,
      newAnon,
      this.shmem,
      this.layout.armMteKernel ? VM_MTE_ALLOWED : 0,
    );
    const task = this.spawn();
    const space = task.mm;
    const accounted = space.accountedVm;
    for (const vma of built.vmas) {
      space.insertVma(vma, null);
      // Whatever neighbours Linux had left apart stay apart.
      keepApart(space, vma, null, 'below');
    }
    // The VM_ACCOUNT pages of the snapshot's mappings are charged, as the calls that made them were.
    this.accounting.committed += space.accountedVm - accounted;
    space.gateArea = built.gateArea;
    space.startBrk = snapshot.startBrk ?? built.brk?.start ?? 0;
    space.brk = snapshot.brk ?? built.brk?.end ?? space.startBrk;
    space.startStack = snapshot.startStack ?? (built.stack ? built.stack.end - 2 * this.pageSize : 0);
    space.startData = snapshot.startData ?? 0;
    space.endData = snapshot.endData ?? 0;
    return task;
  }

  /** Makes `task` the current task (a context switch: the next syscalls run in its address space). */
  switchTo(task: Task): void {
    if (this.taskList.get(task.pid) !== task) throw new Error(`switchTo: task ${task.pid} is not alive`);
    this.currentTask = task;
  }

  /**
   * execve(2): replaces `task`'s address space with one built from the program at `path` (an ELF
   * binary or a `#!` script, read through `execFiles`), with `argv` and `envp` on its stack, as
   * Linux 6.18 builds it without address randomization. Returns 0, or -errno with the task exactly
   * as it was (see `lastExecFailure` for failures Linux meets past its point of no return).
   */
  execve(
    task: Task,
    path: string,
    argv: readonly ExecString[],
    envp: readonly ExecString[],
    options: ExecOptions = {},
  ): number {
    if (this.taskList.get(task.pid) !== task) throw new Error(`execve: task ${task.pid} is not alive`);
    const outcome = execve(this.execEnvironment(), this.layout, path, argv, envp, options);
    if (!outcome.ok) {
      this.lastExecFailure = { errno: outcome.errno, fatal: outcome.fatal };
      return -outcome.errno;
    }
    // exec_mmap: the point of no return; then mmput of the old address space, which goes with its
    // last user (a vfork parent or the other threads keep it).
    const old = task.mm;
    task.replaceMm(outcome.space);
    if (--old.users === 0) this.destroySpace(old, { uncharge: true });
    return 0;
  }

  /**
   * Ends a task (`do_exit` → `exit_mm` → `mmput`): a thread, or a vfork child, leaves the address
   * space it shares; the last user's exit sends every frame and table of it back to the allocator.
   */
  exit(task: Task): void {
    if (this.taskList.get(task.pid) !== task) throw new Error(`exit: task ${task.pid} is not alive`);
    task.markExited();
    this.taskList.delete(task.pid);
    if (this.currentTask === task) this.currentTask = null;
    if (--task.mm.users === 0) this.destroySpace(task.mm, { uncharge: true });
  }

  /**
   * A checkpoint of an address space (see kernel/checkpoint.ts): every VMA, bound and mark, and the
   * contents of its own pages, so that `restore` can put it back after calls were tried on it.
   */
  checkpoint(space: AddressSpace): SpaceCheckpoint {
    return takeCheckpoint(space);
  }

  /**
   * Puts the address space of `cp` back in the state `cp` has, in place (its tasks keep it). False
   * when RAM ran out for its pages or tables: it is then left empty.
   */
  restore(cp: SpaceCheckpoint): boolean {
    return restoreCheckpoint(this.contextFor(cp.space), cp);
  }

  /** The invariant checker over every task: [] when consistent, otherwise the violations in words. */
  check(): string[] {
    return this.checker.check(this.spaces());
  }

  /** Every live address space once, however many tasks share it. */
  private spaces(): AddressSpace[] {
    return [...new Set([...this.taskList.values()].map((t) => t.mm))];
  }

  /** A new, empty address space (one root table), or null when no frame is left for the root. */
  private newSpace(layout = this.layout): AddressSpace | null {
    const pageTable = PageTable.create(this.mmuContext);
    if (pageTable === null) return null;
    return new AddressSpace(this.mmuContext, pageTable, layout, this.accounting, this.zeroFrame);
  }

  /**
   * `exit_mmap`: every VMA goes through munmap's own path (frames, tables and objects released),
   * then the root table. `uncharge: false` when the VMAs' commit charge was already returned (a
   * fork that failed).
   */
  private destroySpace(space: AddressSpace, opts: { uncharge: boolean }): void {
    if (unmapRange(this.contextFor(space), 0, this.layout.taskSize, { uncharge: opts.uncharge }) !== 0)
      throw new KernelPanic('exit_mmap: unmapping all of user space failed');
    space.pageTable.destroy(() => {
      throw new KernelPanic('exit_mmap: a page survived unmapping all of user space');
    });
  }

  private execEnvironment(): ExecEnvironment {
    return {
      arch: this.arch,
      pageSize: this.pageSize,
      paging: this.paging,
      accounting: this.accounting,
      files: this.execFiles,
      pageCache: this.pageCache,
      shmem: this.shmem,
      newAddressSpace: (layout) => this.newSpace(layout),
      dropAddressSpace: (space) => this.destroySpace(space, { uncharge: true }),
    };
  }

  private syscallContext(): SyscallContext {
    const task = this.currentTask;
    if (task === null) throw new Error('no current task: call kernel.spawn() first');
    // The same task makes call after call: its context is made once, and again only when execve
    // gave it another address space or fd table.
    const c = this.lastContext;
    if (c !== null && c.space === task.mm && c.files === task.files) return c;
    this.lastContext = this.contextFor(task.mm, task.files);
    return this.lastContext;
  }

  /**
   * The context of memory calls on `space`: a task's with its fd table; the kernel's own work on an
   * address space (teardown, restoring a checkpoint) opens no file and passes none.
   */
  private contextFor(space: AddressSpace, files: ReadonlyMap<number, OpenFile> = new Map()): SyscallContext {
    return {
      arch: this.arch,
      paging: this.paging,
      space,
      accounting: this.accounting,
      shmem: this.shmem,
      files,
    };
  }
}
