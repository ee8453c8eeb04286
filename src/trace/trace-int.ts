/**
 * Integers as strace prints them: a number when the value is a safe integer (below 2^53 in
 * magnitude: every address, length and flag word of a real log), a bigint beyond, so that a full
 * 64-bit value such as 18446744073709547520 is kept exactly and a log's millions of small values
 * cost no BigInt allocation. The parser gives every value in this canonical form, so `===` compares
 * two parsed values; the helpers below also take a value someone built in the other form.
 */
export type TraceInt = number | bigint;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** The canonical form of `b`: a number when it is a safe integer. */
export function traceInt(b: bigint): TraceInt {
  return b <= MAX_SAFE && b >= MIN_SAFE ? Number(b) : b;
}

/** The value as a bigint (for arithmetic that must not lose bits). */
export function bigOf(v: TraceInt): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

/** The value as a number when it is a safe integer, else NaN (which every comparison rejects). */
export function safeOf(v: TraceInt): number {
  if (typeof v === 'number') return v;
  return v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : Number.NaN;
}

/** Whether two values are the same integer, in whichever forms. */
export function sameInt(a: TraceInt, b: TraceInt): boolean {
  if (typeof a === typeof b) return a === b;
  return bigOf(a) === bigOf(b);
}

/** The low 32 bits, unsigned (flag words, prot, advice, an `int fd` before its sign). */
export function low32(v: TraceInt): number {
  return typeof v === 'number' ? v >>> 0 : Number(BigInt.asUintN(32, v));
}

/** Whether the value is zero, in whichever form. */
export function isZero(v: TraceInt): boolean {
  return v === 0 || v === 0n;
}

/** `v + d`, exactly, in canonical form. */
export function addInt(v: TraceInt, d: number): TraceInt {
  if (typeof v === 'number') {
    const r = v + d;
    if (Number.isSafeInteger(r)) return r;
  }
  return traceInt(bigOf(v) + BigInt(d));
}
