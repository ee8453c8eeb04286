/**
 * Bad input from a user is answered with a negative errno or a valid address, never an exception,
 * and never leaves the kernel inconsistent.
 */
import fc from 'fast-check';
import { EBADF, EEXIST, EINVAL, ENOMEM, EPERM, Kernel } from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { registerFlags as flags, registerWord as word } from '../../tools/fuzz/arbitraries.js';

const ERRNOS = new Set([EINVAL, ENOMEM, EBADF, EEXIST, EPERM]);

describe.each(['aarch64', 'x86_64'] as const)('fuzzed mmap and munmap on %s', (arch) => {
  it.each(['eager', 'demand'] as const)(
    'never throw, always answer -errno or a valid address (%s paging)',
    (paging) => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.tuple(fc.constant('mmap' as const), word, word, word, flags, word, word),
              fc.tuple(fc.constant('munmap' as const), word, word),
            ),
            { minLength: 1, maxLength: 12 },
          ),
          (calls) => {
            const kernel = new Kernel({ arch, paging, ramBytes: 4 * 2 ** 20 });
            kernel.spawn();
            const taskSize = kernel.layout.taskSize;
            for (const call of calls) {
              let r: number;
              if (call[0] === 'mmap') {
                const [, a, l, p, f, fd, off] = call;
                r = kernel.sys.mmap(a, l, p, f, fd, off);
                if (r >= 0) {
                  expect(r % kernel.pageSize).toBe(0);
                  expect(r).toBeLessThan(taskSize);
                } else {
                  // Besides the usual errnos, a MAP_FIXED address in the last 4095 bytes of the
                  // 64-bit space is an "error value" that Linux hands back as it is.
                  const fixedAt = BigInt.asUintN(64, BigInt(a));
                  const fixed = (BigInt.asUintN(64, BigInt(f)) & 0x100010n) !== 0n;
                  const echoed = fixed && fixedAt >= 2n ** 64n - 4095n && BigInt(r) === fixedAt - 2n ** 64n;
                  expect(ERRNOS.has(-r) || echoed).toBe(true);
                }
              } else {
                r = kernel.sys.munmap(call[1], call[2]);
                expect(r === 0 || r === -EINVAL || r === -ENOMEM).toBe(true);
              }
              expect(typeof r).toBe('number');
              expect(kernel.check()).toEqual([]);
            }
          },
        ),
        { numRuns: 150 },
      );
    },
  );

  it('answers -EINVAL for values no register can hold (fractions, NaN)', () => {
    const kernel = new Kernel({ arch });
    kernel.spawn();
    expect(kernel.sys.mmap(0, 4096.5, 3, 0x22, -1, 0)).toBe(-EINVAL);
    expect(kernel.sys.mmap(Number.NaN, 4096, 3, 0x22, -1, 0)).toBe(-EINVAL);
    expect(kernel.sys.munmap(0x10000, Number.POSITIVE_INFINITY)).toBe(-EINVAL);
  });
});
