import { describe, expect, it } from 'vitest';
import { aarch64Descriptors } from '../../src/hal/aarch64-descriptor.js';
import type { PhysAddr } from '../../src/hal/addr.js';
import { bitsOf } from '../../src/hal/descriptor.js';
import { pageGeometry } from '../../src/hal/geometry.js';
import { R_EXEC, R_READ, R_WRITE } from '../../src/hal/rights.js';
import { x86_64Descriptors } from '../../src/hal/x86-64-descriptor.js';

const bit = (lo: number, hi: number, n: number) => (n < 32 ? (lo >>> n) & 1 : (hi >>> (n - 32)) & 1);

describe('AArch64 stage-1 descriptors', () => {
  const d = aarch64Descriptors(pageGeometry('aarch64', 4096));
  const frame = 0x1_2345_6000 as PhysAddr;

  it('encodes a table descriptor as valid|table with the next table address', () => {
    const lo = d.tableLo(frame);
    const hi = d.tableHi(frame);
    expect(lo & 3).toBe(3);
    expect(d.isTable(lo)).toBe(true);
    expect(d.address(lo, hi)).toBe(frame);
  });

  it('sets AF, nG, inner-shareable, AttrIndx 0 and PXN on every user page', () => {
    for (let prot = 0; prot < 8; prot++) {
      const lo = d.leafLo(frame, prot);
      const hi = d.leafHi(frame, prot);
      expect(bit(lo, hi, 0)).toBe(1);
      expect(bit(lo, hi, 1)).toBe(1);
      expect(bit(lo, hi, 10)).toBe(1); // AF
      expect(bit(lo, hi, 11)).toBe(1); // nG
      expect((lo >>> 8) & 3).toBe(3); // SH inner
      expect((lo >>> 2) & 7).toBe(0); // AttrIndx
      expect(bit(lo, hi, 53)).toBe(1); // PXN
      expect(d.address(lo, hi)).toBe(frame);
    }
  });

  it('uses AP[2:1] and UXN exactly as arm64 Linux does', () => {
    const ap = (prot: number) => (d.leafLo(frame, prot) >>> 6) & 3;
    const uxn = (prot: number) => bit(d.leafLo(frame, prot), d.leafHi(frame, prot), 54);
    expect([ap(0), uxn(0)]).toEqual([0b10, 1]); // PROT_NONE: no EL0 access
    expect([ap(1), uxn(1)]).toEqual([0b11, 1]); // R: read-only
    expect([ap(3), uxn(3)]).toEqual([0b01, 1]); // RW
    expect([ap(2), uxn(2)]).toEqual([0b01, 1]); // W alone is RW
    expect([ap(4), uxn(4)]).toEqual([0b11, 0]); // X alone without FEAT_EPAN: readable too
    expect([ap(5), uxn(5)]).toEqual([0b11, 0]); // RX
    expect([ap(7), uxn(7)]).toEqual([0b01, 0]); // RWX
  });

  it('decodes the rights it encodes', () => {
    for (let prot = 0; prot < 8; prot++) {
      expect(d.userRights(d.leafLo(frame, prot), d.leafHi(frame, prot))).toBe(d.rightsFor(prot));
    }
    expect(d.rightsFor(0)).toBe(0);
    expect(d.rightsFor(4)).toBe(R_READ | R_EXEC);
    expect(d.rightsFor(2)).toBe(R_READ | R_WRITE);
  });

  it('maps PROT_EXEC alone execute-only (AP=10, UXN=0) on a CPU with FEAT_EPAN', () => {
    const epan = aarch64Descriptors(pageGeometry('aarch64', 4096), { epan: true });
    expect((epan.leafLo(frame, 4) >>> 6) & 3).toBe(0b10);
    expect(bit(epan.leafLo(frame, 4), epan.leafHi(frame, 4), 54)).toBe(0);
    expect(epan.rightsFor(4)).toBe(R_EXEC);
    expect(epan.userRights(epan.leafLo(frame, 4), epan.leafHi(frame, 4))).toBe(R_EXEC);
  });

  it('places the output address at the granule for 64 KiB pages', () => {
    const d64 = aarch64Descriptors(pageGeometry('aarch64', 65536));
    const f = 0x4_0001_0000 as PhysAddr;
    expect(d64.address(d64.leafLo(f, 3), d64.leafHi(f, 3))).toBe(f);
  });
});

describe('x86-64 paging entries', () => {
  const d = x86_64Descriptors(pageGeometry('x86_64', 4096));
  const frame = 0x7_89ab_c000 as PhysAddr;

  it('grants everything in intermediate entries', () => {
    const lo = d.tableLo(frame);
    expect(lo & 0x7).toBe(0x7); // P RW US
    expect(d.isTable(lo)).toBe(true);
    expect(d.address(lo, d.tableHi(frame))).toBe(frame);
  });

  it('sets P, US, RW and NX from prot', () => {
    const e = (prot: number) => ({ lo: d.leafLo(frame, prot), hi: d.leafHi(frame, prot) });
    expect(bit(e(0).lo, e(0).hi, 2)).toBe(0); // PROT_NONE: supervisor only
    expect(bit(e(1).lo, e(1).hi, 1)).toBe(0);
    expect(bit(e(1).lo, e(1).hi, 63)).toBe(1);
    expect(bit(e(3).lo, e(3).hi, 1)).toBe(1);
    expect(bit(e(5).lo, e(5).hi, 63)).toBe(0);
    for (let prot = 0; prot < 8; prot++) expect(d.address(e(prot).lo, e(prot).hi)).toBe(frame);
  });

  it('cannot deny reads of a present user page', () => {
    expect(d.rightsFor(2)).toBe(R_READ | R_WRITE);
    expect(d.rightsFor(4)).toBe(R_READ | R_EXEC);
    for (let prot = 0; prot < 8; prot++) {
      expect(d.userRights(d.leafLo(frame, prot), d.leafHi(frame, prot))).toBe(d.rightsFor(prot));
    }
  });

  it('with protection keys, maps PROT_EXEC alone with the execute-only key: executable only', () => {
    const k = x86_64Descriptors(pageGeometry('x86_64', 4096), { protectionKeys: true });
    const lo = k.leafLo(frame, 4);
    const hi = k.leafHi(frame, 4);
    expect(k.rightsFor(4)).toBe(R_EXEC);
    expect(k.userRights(lo, hi)).toBe(R_EXEC);
    expect(bitsOf(lo, hi, 62, 59)).toBe(1);
    expect(bit(lo, hi, 63)).toBe(0);
    expect(k.fields(lo, hi, 3, true).find((f) => f.name === 'PK')?.meaning).toMatch(/execute-only/);
    expect(k.describe(lo, hi, 3, true)).toMatch(/ PK1$/);
    // A data access there is the key's refusal (SEGV_PKUERR); without keys, or elsewhere, the entry's.
    expect([k.keyDenies(4, 'read'), k.keyDenies(4, 'write'), k.keyDenies(4, 'exec')]).toEqual([
      true,
      true,
      false,
    ]);
    expect([d.keyDenies(4, 'write'), k.keyDenies(5, 'write'), k.keyDenies(0, 'read')]).toEqual([
      false,
      false,
      false,
    ]);
    // Every other prot keeps key 0 and the rights it has without keys.
    for (const prot of [0, 1, 2, 3, 5, 6, 7]) {
      expect(bitsOf(k.leafLo(frame, prot), k.leafHi(frame, prot), 62, 59)).toBe(0);
      expect(k.rightsFor(prot)).toBe(d.rightsFor(prot));
      expect(k.userRights(k.leafLo(frame, prot), k.leafHi(frame, prot))).toBe(d.rightsFor(prot));
    }
  });

  it('sets accessed and dirty on a write', () => {
    const lo = d.leafLo(frame, 3);
    expect(d.touchedLo(lo, true) & 0x60).toBe(0x60);
    expect(d.touchedLo(lo & ~0x60, false) & 0x60).toBe(0x20);
  });
});

describe('descriptor fields, by the manuals names', () => {
  const frame = 0x1_2345_6000 as PhysAddr;
  const field = (fields: { name: string; value: number }[], name: string) =>
    fields.find((f) => f.name === name)?.value;

  it('decodes an AArch64 page descriptor: AP, SH, AF, nG, OA, PXN, UXN', () => {
    const d = aarch64Descriptors(pageGeometry('aarch64', 4096));
    const lo = d.leafLo(frame, R_READ);
    const hi = d.leafHi(frame, R_READ);
    const f = d.fields(lo, hi, 3, true);
    expect(f.map((x) => x.name)).toEqual([
      'Valid',
      'Page',
      'AttrIndx',
      'NS',
      'AP',
      'SH',
      'AF',
      'nG',
      'OA',
      'DBM',
      'Contiguous',
      'PXN',
      'UXN',
      'Software',
    ]);
    expect(field(f, 'AP')).toBe(0b11); // read-only at EL1 and EL0
    expect(field(f, 'SH')).toBe(3);
    expect(field(f, 'AF')).toBe(1);
    expect(field(f, 'nG')).toBe(1);
    expect(field(f, 'OA')).toBe(frame);
    expect(field(f, 'PXN')).toBe(1);
    expect(field(f, 'UXN')).toBe(1);
    expect(
      field(d.fields(d.leafLo(frame, R_READ | R_EXEC), d.leafHi(frame, R_READ | R_EXEC), 3, true), 'UXN'),
    ).toBe(0);
    const t = d.fields(d.tableLo(frame), d.tableHi(frame), 0, false);
    expect(field(t, 'Table')).toBe(1);
    expect(field(t, 'Next-level table address')).toBe(frame);
    expect(d.fields(0, 0, 1, false)).toHaveLength(1);
  });

  it('decodes x86-64 entries: P, R/W, U/S, A, D, PS, the address and XD', () => {
    const d = x86_64Descriptors(pageGeometry('x86_64', 4096));
    const lo = d.touchedLo(d.leafLo(frame, R_READ | R_WRITE), true);
    const hi = d.leafHi(frame, R_READ | R_WRITE);
    const f = d.fields(lo, hi, 3, true);
    expect([
      field(f, 'P'),
      field(f, 'R/W'),
      field(f, 'U/S'),
      field(f, 'A'),
      field(f, 'D'),
      field(f, 'XD'),
    ]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(field(f, 'Address of the page frame')).toBe(frame);
    const t = d.fields(d.tableLo(frame), d.tableHi(frame), 0, false);
    expect(field(t, 'PS')).toBe(0);
    expect(field(t, 'Address of the next table')).toBe(frame);
    expect(t.some((x) => x.name === 'D')).toBe(false);
    expect(d.fields(0, 0, 2, false)).toHaveLength(1);
  });
});
