import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { PROPERTY_SEED } from './fast-check-seed.js';

describe('property tests are deterministic', () => {
  it('run with the fixed seed in every worker', () => {
    expect(fc.readConfigureGlobal().seed).toBe(PROPERTY_SEED);
    // fc.assert and fc.sample read the global seed: the same values each time.
    expect(fc.sample(fc.nat(), 5)).toEqual(fc.sample(fc.nat(), { seed: PROPERTY_SEED, numRuns: 5 }));
  });

  test.prop([fc.nat()], { numRuns: 1 })('and so do the @fast-check/vitest properties', () => {
    expect(expect.getState().currentTestName).toContain(`(with seed=${PROPERTY_SEED})`);
  });
});
