/**
 * Syscall arguments as the registers hold them: 64-bit unsigned words. Callers may pass a number or a
 * bigint, negative or not; the boundary reduces each to its 64-bit value. Values up to 2^53 stay
 * plain numbers (every user address and sane length), larger ones stay bigint, so no check below
 * ever loses a bit. Below the syscall layer only numbers exist.
 */
export type Word = number | bigint;
export type SyscallArg = number | bigint;

const TWO64 = 1n << 64n;
/** -1 as a register holds it (the usual `fd` of an anonymous mapping), computed once. */
const MINUS_ONE = TWO64 - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The 64-bit register value of `x`, or null when `x` is not an integer (a NaN or a fraction cannot
 * be in a register; the syscall answers -EINVAL).
 */
export function toWord(x: SyscallArg): Word | null {
  if (typeof x === 'number') {
    if (x >= 0 && x <= Number.MAX_SAFE_INTEGER && Number.isInteger(x)) return x;
    if (x === -1) return MINUS_ONE;
    if (!Number.isInteger(x)) return null;
    return canonical(BigInt(x));
  }
  if (typeof x !== 'bigint') return null;
  return canonical(x);
}

function canonical(b: bigint): Word {
  // The common case, a bigint that is already a small register value, costs one comparison pair.
  if (b >= 0n && b <= MAX_SAFE) return Number(b);
  const v = b >= 0n && b < TWO64 ? b : BigInt.asUintN(64, b);
  return v <= MAX_SAFE ? Number(v) : v;
}

/** The register values of several arguments, or null when one of them is not an integer. */
export function toWords(...args: SyscallArg[]): Word[] | null {
  for (let i = 0; i < args.length; i++) {
    const w = toWord(args[i]);
    if (w === null) return null;
    args[i] = w;
  }
  return args;
}

/** The low 32 bits, unsigned (flags, prot, advice). */
export function low32(w: Word): number {
  return typeof w === 'number' ? w >>> 0 : Number(w & 0xffffffffn);
}

/** Whether any of bits 63..32 is set. */
export function hasHighBits(w: Word): boolean {
  return typeof w === 'number' ? w > 0xffffffff : w > 0xffffffffn;
}

/** The low 32 bits as a signed int (an `int fd`). */
export function asInt(w: Word): number {
  if (w === MINUS_ONE) return -1;
  return low32(w) | 0;
}

/** `w % m` for a power of two `m` (alignment checks). */
export function modPow2(w: Word, m: number): number {
  return typeof w === 'number' ? w % m : Number(w % BigInt(m));
}

/** `PAGE_ALIGN(w)` in 64-bit arithmetic: 0 when it wraps. */
export function pageAlign(w: Word, pageSize: number): Word {
  if (typeof w === 'number') {
    const r = Math.ceil(w / pageSize) * pageSize;
    return r <= Number.MAX_SAFE_INTEGER ? r : canonical(BigInt(r));
  }
  return canonical(((w + BigInt(pageSize) - 1n) / BigInt(pageSize)) * BigInt(pageSize));
}

/** `a > b` across the two representations. */
export function gt(a: Word, b: Word): boolean {
  return typeof a === typeof b ? a > b : BigInt(a) > BigInt(b);
}

/** `a - b` for a >= b, as a Word. */
export function sub(a: Word, b: Word): Word {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return canonical(BigInt(a) - BigInt(b));
}

/** `a + b` modulo 2^64, as a Word. */
export function add(a: Word, b: Word): Word {
  if (typeof a === 'number' && typeof b === 'number' && a + b <= Number.MAX_SAFE_INTEGER) return a + b;
  return canonical(BigInt(a) + BigInt(b));
}

/** Whether `a + b` overflows 64 bits. */
export function addOverflows(a: Word, b: Word): boolean {
  if (typeof a === 'number' && typeof b === 'number') return false;
  return BigInt(a) + BigInt(b) >= TWO64;
}

/** The value as a number when it is below 2^53 (true for anything that passed a TASK_SIZE check). */
export function num(w: Word): number {
  return typeof w === 'number' ? w : Number(w);
}
