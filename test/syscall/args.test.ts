/**
 * The syscall boundary's view of an argument: the 64-bit register value, a number below 2^53 and a
 * bigint above, whichever representation the caller used.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { toWord, toWords } from '../../src/syscall/args.js';

const TWO64 = 1n << 64n;
/** The register value of an integer, by definition: its residue modulo 2^64. */
const register = (b: bigint) => ((b % TWO64) + TWO64) % TWO64;
const expected = (b: bigint) => {
  const v = register(b);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
};

describe('toWord', () => {
  it('keeps safe non-negative integers as they are, in either representation', () => {
    expect(toWord(0)).toBe(0);
    expect(toWord(0n)).toBe(0);
    expect(toWord(4096n)).toBe(4096);
    expect(toWord(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(toWord(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('gives a bigint from 2^53 on, and reduces modulo 2^64', () => {
    expect(toWord(2n ** 53n)).toBe(2n ** 53n);
    expect(toWord(2 ** 53)).toBe(2n ** 53n);
    expect(toWord(TWO64 - 1n)).toBe(TWO64 - 1n);
    expect(toWord(TWO64)).toBe(0);
    expect(toWord(TWO64 + 4096n)).toBe(4096);
    expect(toWord(-1)).toBe(TWO64 - 1n);
    expect(toWord(-1n)).toBe(TWO64 - 1n);
    expect(toWord(-4096)).toBe(TWO64 - 4096n);
    expect(toWord(-TWO64 + 5n)).toBe(5);
  });

  it('answers null for what no register can hold', () => {
    expect(toWord(0.5)).toBeNull();
    expect(toWord(Number.NaN)).toBeNull();
    expect(toWord(Number.POSITIVE_INFINITY)).toBeNull();
    expect(toWord('1' as unknown as number)).toBeNull();
  });

  test.prop([fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })], { seed: 11 })(
    'is the residue modulo 2^64 of any bigint',
    (b) => {
      expect(toWord(b)).toBe(expected(b));
    },
  );

  test.prop([fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })], { seed: 11 })(
    'is the residue modulo 2^64 of any safe integer number',
    (n) => {
      expect(toWord(n)).toBe(expected(BigInt(n)));
    },
  );
});

describe('toWords', () => {
  it('converts every argument, or gives null when one is not an integer', () => {
    expect(toWords(1n, -1, 2 ** 60)).toEqual([1, TWO64 - 1n, 2n ** 60n]);
    expect(toWords(1, 0.25, 3)).toBeNull();
  });
});
