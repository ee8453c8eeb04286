import { describe, expect, it } from 'vitest';
import { pageGeometry } from '../../src/hal/geometry.js';

describe('pageGeometry', () => {
  it('walks four 9-bit levels with 4 KiB pages on both arches', () => {
    for (const arch of ['aarch64', 'x86_64'] as const) {
      const g = pageGeometry(arch, 4096);
      expect(g.levels).toBe(4);
      expect(g.levelDiv).toEqual([2 ** 39, 2 ** 30, 2 ** 21, 2 ** 12]);
      expect(g.levelMask).toEqual([511, 511, 511, 511]);
      expect(g.entriesPerTable).toBe(512);
    }
  });

  it('uses a 2-entry L0 and 11-bit levels with the 16 KiB granule', () => {
    const g = pageGeometry('aarch64', 16384);
    expect(g.levels).toBe(4);
    expect(g.levelDiv).toEqual([2 ** 47, 2 ** 36, 2 ** 25, 2 ** 14]);
    expect(g.levelMask).toEqual([1, 2047, 2047, 2047]);
  });

  it('walks three levels starting with a 64-entry L1 with the 64 KiB granule', () => {
    const g = pageGeometry('aarch64', 65536);
    expect(g.levels).toBe(3);
    expect(g.levelDiv).toEqual([2 ** 42, 2 ** 29, 2 ** 16]);
    expect(g.levelMask).toEqual([63, 8191, 8191]);
  });

  it('refuses page sizes the architecture does not have', () => {
    expect(() => pageGeometry('x86_64', 16384)).toThrow(/not supported/);
    expect(() => pageGeometry('aarch64', 8192)).toThrow(/not supported/);
  });

  it('indexes a VA the same way as shifting and masking', () => {
    const g = pageGeometry('aarch64', 4096);
    const va = 0xfedc_ba98_7000;
    for (let l = 0; l < g.levels; l++) {
      const shift = Math.log2(g.levelDiv[l]);
      expect((va / g.levelDiv[l]) & g.levelMask[l]).toBe(
        Number((BigInt(va) >> BigInt(shift)) & BigInt(g.levelMask[l])),
      );
    }
  });
});
