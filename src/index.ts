/**
 * levitate-mm: an executable model of a kernel memory-management subsystem.
 *
 * ```ts
 * import { Kernel, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } from 'levitate-mm';
 * const kernel = new Kernel({ arch: 'aarch64', ramBytes: 8 * 2 ** 20 });
 * const task = kernel.spawn();
 * const addr = kernel.sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * task.write(addr, [1, 2, 3]);
 * kernel.check(); // []
 * ```
 */
export * from './abi/errno.js';
export * from './abi/mman.js';
export { formatMaps, formatMapsLine, type MapsEntry, parseMaps, parseMapsLine } from './abi/proc-maps.js';
export * from './abi/sched.js';
export type { ExecString } from './exec/binprm.js';
export type { ExecFailure, ExecOptions } from './exec/execve.js';
export { type ExecFile, type ExecFiles, MemoryExecFiles, type MemoryFileInit } from './exec/files.js';
export type { Arch, KernelAddr, PhysAddr, VirtAddr } from './hal/addr.js';
export type { DescriptorFormat } from './hal/descriptor.js';
export { PAGE_SIZES, type PageGeometry } from './hal/geometry.js';
export { formatKernelAddr } from './hal/linear-map.js';
export { type FaultReason, PageFaultError } from './hal/page-fault.js';
export { KernelPanic } from './hal/panic.js';
export { type Access, formatRights, type Rights } from './hal/rights.js';
export type { SpaceCheckpoint } from './kernel/checkpoint.js';
export { Kernel, type KernelOptions } from './kernel/kernel.js';
export { procMaps, smapsFlags } from './kernel/procfs.js';
export { type Snapshot, SnapshotError } from './kernel/snapshot.js';
export { Task } from './kernel/task.js';
export { AddressSpace } from './mm/address-space.js';
export { AnonVma } from './mm/anon-vma.js';
export type { ExecImage } from './mm/exec-image.js';
export { FrameAllocator, FrameUse } from './mm/frame-allocator.js';
export type { Layout, LayoutOptions } from './mm/layout.js';
export {
  type FileFacts,
  type FilePlacement,
  fileSystemRules,
  MemoryObject,
} from './mm/memory-object.js';
export { MmapGuard } from './mm/mmap-guard.js';
export { PageTable } from './mm/page-table.js';
export { UndoLog } from './mm/undo-log.js';
export * from './mm/vm-flags.js';
export { type MappedFile, Vma } from './mm/vma.js';
export type { SyscallArg } from './syscall/args.js';
export type { OpenFile, PagingMode } from './syscall/context.js';
export { Syscalls } from './syscall/syscalls.js';
export * as trace from './trace/index.js';
