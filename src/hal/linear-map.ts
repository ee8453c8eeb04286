import { type Arch, hex, type KernelAddr, type PhysAddr } from './addr.js';

/**
 * The kernel linear map: all of RAM mapped once at a fixed offset in the kernel half, so the kernel
 * reaches any frame as `phys_to_virt(pa)`. AArch64 uses TTBR1 at 0xffff_8000_0000_0000 as the
 * LevitateOS HAL does; x86-64 uses Linux's direct map at 0xffff_8880_0000_0000 (no KASLR).
 *
 * Kernel-half addresses are canonical (bits 63..48 all ones), so their low 48 bits identify them
 * exactly; a `KernelAddr` holds those 48 bits as a plain number and `formatKernelAddr` sign-extends.
 */
const LINEAR_MAP_LOW48: Record<Arch, number> = {
  aarch64: 0x8000_0000_0000,
  x86_64: 0x8880_0000_0000,
};

export class LinearMap {
  private readonly offset: number;
  constructor(readonly arch: Arch) {
    this.offset = LINEAR_MAP_LOW48[arch];
  }

  physToVirt(pa: PhysAddr): KernelAddr {
    return (this.offset + pa) as KernelAddr;
  }

  virtToPhys(ka: KernelAddr): PhysAddr {
    return (ka - this.offset) as PhysAddr;
  }
}

/** The full 64-bit address, e.g. `0xffff800040001000`. */
export function formatKernelAddr(ka: KernelAddr): string {
  return hex(0xffff_0000_0000_0000n | BigInt(ka));
}
