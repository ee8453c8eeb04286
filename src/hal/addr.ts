/**
 * Address and frame units. Physical and virtual addresses are plain numbers at run time (exact below
 * 2^53) but distinct types at compile time, so a physical address can never be passed where a user
 * virtual address is expected, nor the reverse.
 */
declare const physBrand: unique symbol;
declare const virtBrand: unique symbol;
declare const kvirtBrand: unique symbol;

/** A physical address in simulated RAM. */
export type PhysAddr = number & { readonly [physBrand]: true };
/** A user virtual address (below TASK_SIZE). */
export type VirtAddr = number & { readonly [virtBrand]: true };
/** A kernel virtual address in the linear map (`phys_to_virt`). */
export type KernelAddr = number & { readonly [kvirtBrand]: true };

export const phys = (n: number): PhysAddr => n as PhysAddr;
export const virt = (n: number): VirtAddr => n as VirtAddr;

/** Architectures the model implements, named as `uname -m` prints them. */
export type Arch = 'aarch64' | 'x86_64';

const U64 = (1n << 64n) - 1n;

/** A value as `0x…` in lowercase hex, for messages; a negative bigint as its 64-bit two's complement. */
export function hex(v: number | bigint): string {
  return `0x${(typeof v === 'bigint' && v < 0n ? v & U64 : v).toString(16)}`;
}
