import { type Arch, Kernel, type KernelOptions, PAGE_SIZES, PageFaultError } from 'levitate-mm';

/** Every (arch, page size) pair the model supports. */
export const GEOMETRIES: { arch: Arch; pageSize: number }[] = (['aarch64', 'x86_64'] as const).flatMap(
  (arch) => PAGE_SIZES[arch].map((pageSize) => ({ arch, pageSize })),
);

/** A booted kernel with one task; RAM defaults to 8 MiB of 4 KiB pages (or 64 frames of larger ones). */
export function boot(options: KernelOptions = {}): Kernel {
  const pageSize = options.pageSize ?? 4096;
  const kernel = new Kernel({ ramBytes: Math.max(8 * 2 ** 20, pageSize * 512), ...options });
  kernel.spawn();
  return kernel;
}

/** The pages of [addr, addr+len) the current task can read (callers expect none: each should fault). */
export function faultingPages(kernel: Kernel, addr: number, len: number): number[] {
  const task = kernel.current!;
  const readable: number[] = [];
  for (let va = addr; va < addr + len; va += kernel.pageSize) {
    try {
      task.read(va, 1);
      readable.push(va);
    } catch (e) {
      // A fault is what the caller looks for; anything else is a bug the test must see.
      if (!(e instanceof PageFaultError)) throw e;
    }
  }
  return readable;
}
