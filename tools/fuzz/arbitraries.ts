/**
 * fast-check arbitraries for raw syscall arguments: what a fuzzer would put in registers (small,
 * huge, negative, unaligned, 64-bit extremes). Shared by the property tests and `npm run fuzz`.
 */
import fc from 'fast-check';
import type { SyscallArg } from 'levitate-mm';

/** A register value for an address or a length. */
export const registerWord: fc.Arbitrary<SyscallArg> = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.integer({ min: 0, max: 64 }).map((p) => p * 4096),
  fc.integer({ min: 0, max: 2 ** 20 }),
  fc.constantFrom(4095, 4097, 2 ** 21, 2 ** 47 - 4096, 2 ** 47, 2 ** 48, -4096, Number.MAX_SAFE_INTEGER),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: -(2n ** 63n), max: -1n }),
);

/** A register value for a flags or prot argument: any bits, and the combinations that matter. */
export const registerFlags: fc.Arbitrary<SyscallArg> = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0x22, 0x21, 0x23, 0x32, 0x122, 0x100022, 0x8022, 0x4022, 0x40022, 0x02, 0x01, 0x0f, 0x08),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);

/** A madvise advice: every valid value, and others. */
export const registerAdvice: fc.Arbitrary<SyscallArg> = fc.oneof(
  fc.integer({ min: 0, max: 26 }),
  fc.constantFrom(100, 101, 102, 103, 104, -1),
  registerFlags,
);

export type WildCall =
  | ['mmap', SyscallArg, SyscallArg, SyscallArg, SyscallArg, SyscallArg, SyscallArg]
  | ['munmap', SyscallArg, SyscallArg]
  | ['mprotect', SyscallArg, SyscallArg, SyscallArg]
  | ['brk', SyscallArg]
  | ['mremap', SyscallArg, SyscallArg, SyscallArg, SyscallArg, SyscallArg]
  | ['madvise', SyscallArg, SyscallArg, SyscallArg];

/** Any of the six memory syscalls with arbitrary register values. */
export const wildCall: fc.Arbitrary<WildCall> = fc.oneof(
  fc.tuple(
    fc.constant('mmap' as const),
    registerWord,
    registerWord,
    registerFlags,
    registerFlags,
    registerWord,
    registerWord,
  ),
  fc.tuple(fc.constant('munmap' as const), registerWord, registerWord),
  fc.tuple(fc.constant('mprotect' as const), registerWord, registerWord, registerFlags),
  fc.tuple(fc.constant('brk' as const), registerWord),
  fc.tuple(
    fc.constant('mremap' as const),
    registerWord,
    registerWord,
    registerWord,
    registerFlags,
    registerWord,
  ),
  fc.tuple(fc.constant('madvise' as const), registerWord, registerWord, registerAdvice),
);
