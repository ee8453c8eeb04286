import type { Arch, PhysAddr } from './addr.js';
import type { Access, Rights } from './rights.js';

/**
 * One architecture's stage-1 descriptor format, behind one interface. A descriptor is a 64-bit word
 * handled as two 32-bit halves (`lo` = bits 31..0, `hi` = bits 63..32).
 *
 * `leaf*` builds a last-level entry that grants user mode exactly the hardware rights `rightsFor(prot)`
 * says; `userRights` decodes what an entry grants. The two are inverse on every prot.
 */
export interface DescriptorFormat {
  readonly arch: Arch;
  /** Halves of a table descriptor pointing at the next-level table at `table`. */
  tableLo(table: PhysAddr): number;
  tableHi(table: PhysAddr): number;
  /** Halves of a last-level descriptor mapping `frame` with the rights of `prot`. */
  leafLo(frame: PhysAddr, prot: number): number;
  leafHi(frame: PhysAddr, prot: number): number;
  /** A descriptor is valid (present) when bit 0 is set, on both architectures. */
  isValid(lo: number): boolean;
  /** At a non-last level, whether a valid entry points at a table (the model never uses blocks). */
  isTable(lo: number): boolean;
  /** The output address (frame or next table) of a valid entry. */
  address(lo: number, hi: number): PhysAddr;
  /** The user-mode rights a valid leaf grants. */
  userRights(lo: number, hi: number): Rights;
  /** The rights the hardware grants for `prot` (x86-64 cannot deny reads of a user page, AArch64 has exec-only). */
  rightsFor(prot: number): Rights;
  /**
   * Whether an `access` that `rightsFor(prot)` does not grant is refused by a protection key
   * (SEGV_PKUERR) rather than by the entry (SEGV_ACCERR): x86-64's execute-only key.
   */
  keyDenies(prot: number, access: Access): boolean;
  /** Sets the accessed (and, for a write, dirty) bits of a leaf the way the MMU would. */
  touchedLo(lo: number, write: boolean): number;
  /** Human-readable decoding of a descriptor. */
  describe(lo: number, hi: number, level: number, last: boolean): string;
  /** Every field of an entry at `level` (a leaf when `last`), named as the architecture manual names it. */
  fields(lo: number, hi: number, level: number, last: boolean): DescriptorField[];
}

/** One field of a descriptor: its bits (`[high, low]`, inclusive) and its value in them. */
export interface DescriptorField {
  readonly name: string;
  readonly bits: readonly [number, number];
  /** The field's value: a number, or for an address field the address (bits in place). */
  readonly value: number;
  /** What the value means here, when it means more than its number. */
  readonly meaning?: string;
}

/** The bits [high, low] of the 64-bit word `hi:lo`, as a number (at most 32 bits wide). */
export function bitsOf(lo: number, hi: number, high: number, low: number): number {
  const width = high - low + 1;
  const mask = width >= 32 ? 0xffffffff : 2 ** width - 1;
  if (low >= 32) return ((hi >>> (low - 32)) & mask) >>> 0;
  if (high < 32) return ((lo >>> low) & mask) >>> 0;
  const loPart = lo >>> low;
  const hiPart = hi & (2 ** (high - 31) - 1);
  return (loPart + hiPart * 2 ** (32 - low)) % 2 ** width;
}
