import { describe, expect, it } from 'vitest';
import { loadFixtures, normalizeShmemInodes, replayFixture } from '../support/linux-fixtures.js';

/**
 * The differential suite over one directory of recorded sequences, replayed in the model from the
 * recorded starting state with that architecture's layout. Every return value, every touch and
 * peek, the final /proc/self/maps and every VmFlags line must be identical; the invariant checker
 * runs after every call. One test file per architecture, so that the two run side by side.
 */
export function describeRecordedSequences(dir: string, arch: 'x86_64' | 'aarch64', minimum: number): void {
  describe(`recorded Linux ${arch} sequences`, () => {
    const fixtures = loadFixtures(dir);

    it(`has at least ${minimum} sequences of 40 or more calls from one kernel version`, () => {
      expect(fixtures.length).toBeGreaterThanOrEqual(minimum);
      for (const { fixture } of fixtures) {
        expect(fixture.arch).toBe(arch);
        expect(fixture.ops.length).toBeGreaterThanOrEqual(40);
      }
      expect(new Set(fixtures.map((f) => f.fixture.kernel)).size).toBe(1);
    });

    it.each(fixtures)('$name replays identically', ({ fixture }) => {
      const violations: string[] = [];
      const outcome = replayFixture(fixture, (kernel, i) => {
        if (violations.length === 0) for (const v of kernel.check()) violations.push(`after op ${i}: ${v}`);
      });
      expect(outcome.mismatch).toBeNull();
      expect(violations).toEqual([]);
      expect(normalizeShmemInodes(outcome.maps)).toBe(normalizeShmemInodes(fixture.mapsAfter));
      expect(outcome.vmflags).toEqual(fixture.vmflagsAfter);
    });
  });
}
