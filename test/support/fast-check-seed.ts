/**
 * Every property test draws the same values on every run: one fixed seed for fast-check (and so
 * for @fast-check/vitest's `test.prop`, which reads it too), set in each worker before its test
 * files load. Random exploration with fresh seeds belongs to `npm run fuzz`.
 */
import fc from 'fast-check';

/** The seed of every property test. */
export const PROPERTY_SEED = 0x6c65766d;

fc.configureGlobal({ seed: PROPERTY_SEED });
