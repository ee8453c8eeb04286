import type { PhysAddr } from './addr.js';
import { bitsOf, type DescriptorField, type DescriptorFormat } from './descriptor.js';
import type { PageGeometry } from './geometry.js';
import { R_EXEC, R_READ, R_WRITE, type Rights } from './rights.js';

/*
 * AArch64 VMSAv8-64 stage-1 descriptors (ARM ARM D8.3), as Linux's arm64 pgtable-hwdef.h names them.
 * Low half: bit 0 valid, bit 1 table (levels 0-2) / page (level 3), AttrIndx[4:2], AP[7:6], SH[9:8],
 * AF bit 10, nG bit 11, OA from bit `pageShift` up to bit 47 (bits 47..32 in the high half).
 * High half: PXN is bit 53 (21 of hi), UXN bit 54 (22 of hi).
 */
const VALID = 1 << 0;
const TABLE_OR_PAGE = 1 << 1;
const ATTR_NORMAL = 0 << 2; // MAIR index 0: normal write-back memory, as Linux's MT_NORMAL
const AP_EL0 = 1 << 6; // AP[1]: EL0 may access
const AP_RDONLY = 1 << 7; // AP[2]: read-only at every EL
const SH_INNER = 3 << 8;
const AF = 1 << 10;
const NG = 1 << 11;
const HI_PXN = 1 << 21;
const HI_UXN = 1 << 22;
const HI_OA_MASK = 0xffff; // OA bits 47..32

/**
 * The rights arm64 Linux gives each prot (arch/arm64/include/asm/pgtable-prot.h, protection_map):
 * write implies read (there is no write-only encoding), PROT_NONE grants user mode nothing, and exec
 * alone is execute-only (AP=10, UXN=0) only on CPUs with FEAT_EPAN; elsewhere (a Cortex-A57, say)
 * Linux maps it readable as well.
 */
function rightsFor(prot: number, execOnly: boolean): Rights {
  const r = prot & 7;
  if (r === 0) return 0;
  let out = 0;
  if (r & (R_READ | R_WRITE) || !execOnly) out |= R_READ;
  if (r & R_WRITE) out |= R_WRITE;
  if (r & R_EXEC) out |= R_EXEC;
  return out;
}

/** Options of the AArch64 format. */
export interface Aarch64Features {
  /** FEAT_EPAN: PROT_EXEC alone maps execute-only. */
  readonly epan: boolean;
}

export function aarch64Descriptors(
  geometry: PageGeometry,
  features: Aarch64Features = { epan: false },
): DescriptorFormat {
  const pageMask = ~(geometry.pageSize - 1);
  const loBits: number[] = [];
  const hiBits: number[] = [];
  for (let prot = 0; prot < 8; prot++) {
    const r = rightsFor(prot, features.epan);
    let lo = VALID | TABLE_OR_PAGE | ATTR_NORMAL | SH_INNER | AF | NG;
    if (r & R_READ) lo |= AP_EL0;
    if (!(r & R_WRITE)) lo |= AP_RDONLY;
    let hi = HI_PXN; // user pages are never executable by the kernel
    if (!(r & R_EXEC)) hi |= HI_UXN;
    loBits.push(lo >>> 0);
    hiBits.push(hi >>> 0);
  }
  return {
    arch: 'aarch64',
    tableLo: (table) => (((table >>> 0) & pageMask) | VALID | TABLE_OR_PAGE) >>> 0,
    tableHi: (table) => Math.floor(table / 2 ** 32) & HI_OA_MASK,
    leafLo: (frame, prot) => (((frame >>> 0) & pageMask) | loBits[prot & 7]) >>> 0,
    leafHi: (frame, prot) => (Math.floor(frame / 2 ** 32) & HI_OA_MASK) | hiBits[prot & 7],
    isValid: (lo) => (lo & VALID) !== 0,
    isTable: (lo) => (lo & (VALID | TABLE_OR_PAGE)) === (VALID | TABLE_OR_PAGE),
    address: (lo, hi) => ((hi & HI_OA_MASK) * 2 ** 32 + ((lo & pageMask) >>> 0)) as PhysAddr,
    userRights(lo, hi) {
      let r = 0;
      if (lo & AP_EL0) r |= R_READ;
      if (lo & AP_EL0 && !(lo & AP_RDONLY)) r |= R_WRITE;
      if (!(hi & HI_UXN)) r |= R_EXEC;
      return r;
    },
    rightsFor: (prot) => rightsFor(prot, features.epan),
    keyDenies: () => false,
    // Entries are created young (AF set), as Linux does on fault; without FEAT_HAFDBS nothing changes.
    touchedLo: (lo) => lo,
    describe(lo, hi, level, last) {
      if (!(lo & VALID)) return `L${level} invalid`;
      const oa = ((hi & HI_OA_MASK) * 2 ** 32 + ((lo & pageMask) >>> 0)).toString(16);
      if (!last) return `L${level} table -> 0x${oa}`;
      const ap = (lo >>> 6) & 3;
      const bits = [
        `AP=${ap.toString(2).padStart(2, '0')}`,
        `SH=${(lo >>> 8) & 3}`,
        `AttrIndx=${(lo >>> 2) & 7}`,
      ];
      if (lo & AF) bits.push('AF');
      if (lo & NG) bits.push('nG');
      if (hi & HI_PXN) bits.push('PXN');
      if (hi & HI_UXN) bits.push('UXN');
      return `L${level} page -> 0x${oa} ${bits.join(' ')}`;
    },
    fields: (lo, hi, level, last) => aarch64Fields(lo, hi, level, last, geometry.pageShift),
  };
}

const AP_MEANING = [
  'EL1 read/write, EL0 none',
  'read/write at EL1 and EL0',
  'EL1 read-only, EL0 none',
  'read-only at EL1 and EL0',
];
const SH_MEANING = ['non-shareable', 'reserved', 'outer shareable', 'inner shareable'];

/**
 * The fields of a VMSAv8-64 stage-1 descriptor (ARM ARM D8.3: table descriptor, page descriptor),
 * by the manual's names. An invalid entry has only its Valid bit (the rest is ignored by the MMU).
 */
function aarch64Fields(
  lo: number,
  hi: number,
  level: number,
  last: boolean,
  pageShift: number,
): DescriptorField[] {
  const f = (name: string, high: number, low: number, meaning?: string): DescriptorField => {
    const value = bitsOf(lo, hi, high, low);
    return meaning === undefined
      ? { name, bits: [high, low], value }
      : { name, bits: [high, low], value, meaning };
  };
  const valid = f('Valid', 0, 0);
  if (valid.value === 0) return [{ ...valid, meaning: 'invalid: the walk stops with a translation fault' }];
  const oa = (hi & HI_OA_MASK) * 2 ** 32 + ((lo >>> 0) - ((lo >>> 0) % 2 ** pageShift));
  const address = (name: string): DescriptorField => ({
    name,
    bits: [47, pageShift],
    value: oa,
    meaning: `0x${oa.toString(16)}`,
  });
  if (!last) {
    const type = f('Table', 1, 1);
    if (type.value === 0) return [valid, { ...type, meaning: `block at level ${level}` }, address('OA')];
    return [
      valid,
      { ...type, meaning: 'table: points at the next level' },
      address('Next-level table address'),
      f('PXNTable', 59, 59),
      f('UXNTable', 60, 60),
      f('APTable', 62, 61),
      f('NSTable', 63, 63),
    ];
  }
  const ap = bitsOf(lo, hi, 7, 6);
  const sh = bitsOf(lo, hi, 9, 8);
  return [
    valid,
    f('Page', 1, 1, bitsOf(lo, hi, 1, 1) ? 'page descriptor' : 'reserved at level 3'),
    f('AttrIndx', 4, 2, `MAIR_EL1 attribute ${bitsOf(lo, hi, 4, 2)}`),
    f('NS', 5, 5),
    f('AP', 7, 6, AP_MEANING[ap]),
    f('SH', 9, 8, SH_MEANING[sh]),
    f('AF', 10, 10, bitsOf(lo, hi, 10, 10) ? 'accessed' : 'not accessed: first access faults'),
    f('nG', 11, 11, bitsOf(lo, hi, 11, 11) ? 'not global: tagged with the ASID' : 'global'),
    address('OA'),
    f('DBM', 51, 51),
    f('Contiguous', 52, 52),
    f('PXN', 53, 53, bitsOf(lo, hi, 53, 53) ? 'never executable at EL1' : 'executable at EL1'),
    f('UXN', 54, 54, bitsOf(lo, hi, 54, 54) ? 'never executable at EL0' : 'executable at EL0'),
    f('Software', 58, 55),
  ];
}
