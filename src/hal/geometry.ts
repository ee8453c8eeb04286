import type { Arch } from './addr.js';

/**
 * The shape of a translation regime: page size, number of levels, and where each level's index
 * sits in a virtual address. Derived once per kernel; every walk reads it.
 *
 * AArch64 stage 1 with 48-bit VA (ARM ARM D8.2): 4 KiB granule walks L0..L3 with 9 bits each;
 * 16 KiB walks L0 (1 bit) and L1..L3 with 11 bits; 64 KiB walks L1 (6 bits), L2 and L3 with 13 bits.
 * x86-64 4-level paging: PML4, PDPT, PD, PT with 9 bits each and 4 KiB pages only.
 */
export interface PageGeometry {
  readonly arch: Arch;
  readonly pageSize: number;
  readonly pageShift: number;
  /** Number of table levels walked, root first. */
  readonly levels: number;
  /** For each level (0 = root), 2^shift: dividing a VA by it and masking gives the index. */
  readonly levelDiv: readonly number[];
  /** For each level, the index mask (entries in a table minus one; the root may use fewer bits). */
  readonly levelMask: readonly number[];
  /** Bytes of VA covered by one entry at each level. */
  readonly levelSpan: readonly number[];
  /** Entries in one table page (pageSize / 8). */
  readonly entriesPerTable: number;
  /** Size of the VA space the tables can translate (2^48 on both). */
  readonly vaSpan: number;
}

export const PAGE_SIZES: Record<Arch, readonly number[]> = {
  x86_64: [4096],
  aarch64: [4096, 16384, 65536],
};

export function pageGeometry(arch: Arch, pageSize: number): PageGeometry {
  if (!PAGE_SIZES[arch].includes(pageSize)) {
    throw new RangeError(
      `page size ${pageSize} is not supported on ${arch} (use ${PAGE_SIZES[arch].join(', ')})`,
    );
  }
  const pageShift = Math.log2(pageSize);
  const bitsPerLevel = pageShift - 3;
  const vaBits = 48;
  const levels = Math.ceil((vaBits - pageShift) / bitsPerLevel);
  const levelDiv: number[] = [];
  const levelMask: number[] = [];
  const levelSpan: number[] = [];
  for (let l = 0; l < levels; l++) {
    const shift = pageShift + bitsPerLevel * (levels - 1 - l);
    const bits = Math.min(bitsPerLevel, vaBits - shift);
    levelDiv.push(2 ** shift);
    levelMask.push(2 ** bits - 1);
    levelSpan.push(2 ** shift);
  }
  return {
    arch,
    pageSize,
    pageShift,
    levels,
    levelDiv,
    levelMask,
    levelSpan,
    entriesPerTable: pageSize / 8,
    vaSpan: 2 ** vaBits,
  };
}
