import type { PhysAddr } from './addr.js';
import { bitsOf, type DescriptorField, type DescriptorFormat } from './descriptor.js';
import type { PageGeometry } from './geometry.js';
import { R_EXEC, R_READ, R_WRITE, type Rights } from './rights.js';

/*
 * x86-64 4-level paging entries (Intel SDM vol. 3 §4.5): P bit 0, RW bit 1, US bit 2, PWT 3, PCD 4,
 * A bit 5, D bit 6, PS bit 7 (never set: no huge pages), G bit 8, address bits 51..12, NX bit 63
 * (bit 31 of the high half). Intermediate entries grant everything (P|RW|US) and leave the decision
 * to the leaf, as Linux's _PAGE_TABLE does.
 */
const P = 1 << 0;
const RW = 1 << 1;
const US = 1 << 2;
const A = 1 << 5;
const D = 1 << 6;
const PS = 1 << 7;
const HI_NX = 1 << 31;
/** The protection key, bits 62..59 (30..27 of the high half). */
const HI_PKEY_SHIFT = 27;
const HI_PKEY_MASK = 0xf << HI_PKEY_SHIFT;
/**
 * The key Linux gives PROT_EXEC-only memory when the CPU has protection keys
 * (`execute_only_pkey`: the lowest free key, 0 being the default), and whose PKRU bits deny
 * every data access.
 */
const EXECUTE_ONLY_PKEY = 1;
const HI_ADDR_MASK = 0xfffff; // address bits 51..32

/**
 * Without protection keys an x86-64 user page is readable whenever it is present and user-accessible:
 * PROT_WRITE alone and PROT_EXEC alone can both be read. PROT_NONE becomes a supervisor-only entry.
 * With them (CR4.PKE, `X86_FEATURE_OSPKE`), Linux maps PROT_EXEC alone with the execute-only key,
 * whose PKRU bits deny reads and writes: such a page can only be executed.
 */
function rightsOf(prot: number, protectionKeys: boolean): Rights {
  const r = prot & 7;
  if (r === 0) return 0;
  if (protectionKeys && r === R_EXEC) return R_EXEC;
  let out = R_READ;
  if (r & R_WRITE) out |= R_WRITE;
  if (r & R_EXEC) out |= R_EXEC;
  return out;
}

export interface X86_64Options {
  /** The CPU has protection keys and Linux uses them (`ospke` in /proc/cpuinfo): see `rightsOf`. */
  protectionKeys?: boolean;
}

export function x86_64Descriptors(_geometry: PageGeometry, options: X86_64Options = {}): DescriptorFormat {
  const keys = options.protectionKeys ?? false;
  const rights: Rights[] = [];
  const loBits: number[] = [];
  const hiBits: number[] = [];
  for (let prot = 0; prot < 8; prot++) {
    const r = rightsOf(prot, keys);
    rights.push(r);
    let lo = P | A;
    if (r !== 0) lo |= US;
    if (r & R_WRITE) lo |= RW;
    loBits.push(lo);
    const key = keys && r === R_EXEC ? EXECUTE_ONLY_PKEY << HI_PKEY_SHIFT : 0;
    hiBits.push((r & R_EXEC ? key : HI_NX) >>> 0);
  }
  return {
    arch: 'x86_64',
    tableLo: (table) => (((table >>> 0) & 0xfffff000) | P | RW | US | A) >>> 0,
    tableHi: (table) => Math.floor(table / 2 ** 32) & HI_ADDR_MASK,
    leafLo: (frame, prot) => (((frame >>> 0) & 0xfffff000) | loBits[prot & 7]) >>> 0,
    leafHi: (frame, prot) => ((Math.floor(frame / 2 ** 32) & HI_ADDR_MASK) | hiBits[prot & 7]) >>> 0,
    isValid: (lo) => (lo & P) !== 0,
    isTable: (lo) => (lo & (P | PS)) === P,
    address: (lo, hi) => ((hi & HI_ADDR_MASK) * 2 ** 32 + ((lo & 0xfffff000) >>> 0)) as PhysAddr,
    userRights(lo, hi) {
      if (!(lo & P) || !(lo & US)) return 0;
      if (keys && (hi & HI_PKEY_MASK) >>> HI_PKEY_SHIFT === EXECUTE_ONLY_PKEY) return hi & HI_NX ? 0 : R_EXEC;
      let r = R_READ;
      if (lo & RW) r |= R_WRITE;
      if (!(hi & HI_NX)) r |= R_EXEC;
      return r;
    },
    rightsFor: (prot) => rights[prot & 7],
    // `access_error` asks `arch_vma_access_permitted` first: the execute-only key refuses every
    // data access (`bad_area_access_from_pkeys`), a write included.
    keyDenies: (prot, access) => keys && (prot & 7) === R_EXEC && access !== 'exec',
    touchedLo: (lo, write) => (write ? lo | A | D : lo | A) >>> 0,
    describe(lo, hi, level, last) {
      if (!(lo & P)) return `L${4 - level} not present`;
      const addr = ((hi & HI_ADDR_MASK) * 2 ** 32 + ((lo & 0xfffff000) >>> 0)).toString(16);
      const names = ['PML4E', 'PDPTE', 'PDE', 'PTE'];
      const bits = ['P'];
      if (lo & RW) bits.push('RW');
      if (lo & US) bits.push('US');
      if (lo & A) bits.push('A');
      if (lo & D) bits.push('D');
      if (hi & HI_NX) bits.push('NX');
      if (hi & HI_PKEY_MASK) bits.push(`PK${(hi & HI_PKEY_MASK) >>> HI_PKEY_SHIFT}`);
      return `${names[level]} ${last ? 'page' : 'table'} -> 0x${addr} ${bits.join(' ')}`;
    },
    fields: (lo, hi, level, last) => x86_64Fields(lo, hi, level, last, keys),
  };
}

/**
 * The fields of a 4-level paging entry (Intel SDM vol. 3, tables 4-15 to 4-20: PML4E, PDPTE, PDE
 * and PTE), by the manual's names. A not-present entry has only P (the rest is ignored).
 */
function x86_64Fields(
  lo: number,
  hi: number,
  _level: number,
  last: boolean,
  keys: boolean,
): DescriptorField[] {
  const f = (name: string, high: number, low: number, meaning?: string): DescriptorField => {
    const value = bitsOf(lo, hi, high, low);
    return meaning === undefined
      ? { name, bits: [high, low], value }
      : { name, bits: [high, low], value, meaning };
  };
  const bit = (n: number) => bitsOf(lo, hi, n, n);
  const p = f('P', 0, 0);
  if (p.value === 0) return [{ ...p, meaning: 'not present: the walk stops with a page fault' }];
  const addr = (hi & HI_ADDR_MASK) * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
  const out: DescriptorField[] = [
    { ...p, meaning: 'present' },
    f('R/W', 1, 1, bit(1) ? 'writes allowed' : 'read-only'),
    f('U/S', 2, 2, bit(2) ? 'user-mode accesses allowed' : 'supervisor only'),
    f('PWT', 3, 3),
    f('PCD', 4, 4),
    f('A', 5, 5, bit(5) ? 'accessed' : 'not accessed'),
  ];
  if (last) {
    out.push(
      f('D', 6, 6, bit(6) ? 'dirty' : 'clean'),
      f('PAT', 7, 7),
      f('G', 8, 8, bit(8) ? 'global' : 'not global'),
    );
  } else {
    out.push(f('PS', 7, 7, bit(7) ? 'maps a large page' : 'references a table'));
  }
  out.push(
    {
      name: last ? 'Address of the page frame' : 'Address of the next table',
      bits: [51, 12],
      value: addr,
      meaning: `0x${addr.toString(16)}`,
    },
    f('XD', 63, 63, bit(63) ? 'instruction fetches not allowed' : 'executable'),
  );
  if (last) {
    const key = bitsOf(lo, hi, 62, 59);
    const meaning = !keys
      ? 'protection key (CR4.PKE off: ignored)'
      : key === EXECUTE_ONLY_PKEY
        ? `protection key ${key}: execute-only (PKRU denies reads and writes)`
        : `protection key ${key}`;
    out.splice(out.length - 1, 0, f('PK', 62, 59, meaning));
  }
  return out;
}
