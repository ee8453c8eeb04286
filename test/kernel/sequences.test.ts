/**
 * Randomized sequences of all six memory syscalls plus user reads and writes, drawn by the same
 * seeded generator that produced the recorded Linux fixtures, run on both architectures and in
 * both paging modes, with the invariant checker after every step. Along the way allocations are
 * made to fail at random; whenever a call reports the failure, the state must be exactly as before.
 */
import fc from 'fast-check';
import { ENOMEM, Kernel, type PagingMode, type Task } from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { generateSequence } from '../../tools/linux-harness/generate.js';
import { type Fixture, loadFixtures } from '../support/linux-fixtures.js';
import { captureState } from '../support/state.js';

const base: Fixture = loadFixtures('linux-x86_64')[0].fixture;

/** Evaluates the generator's symbolic argument (`$3+0x2000`, `$brkpage`, `-0x1`, `0x22`). */
function resolve(expr: string, results: bigint[], brk: bigint, startBrk: bigint): bigint {
  let total = 0n;
  const terms = expr.match(/[+-]?[^+-]+/g) ?? [];
  for (const t of terms) {
    const neg = t.startsWith('-');
    const body = t.replace(/^[+-]/, '');
    let v: bigint;
    if (body === '$brkpage') v = ((brk + 4095n) / 4096n) * 4096n;
    else if (body === '$brk') v = brk;
    else if (body === '$startbrk') v = startBrk;
    else if (body.startsWith('$')) v = results[Number(body.slice(1))];
    else v = BigInt(body);
    total += neg ? -v : v;
  }
  return BigInt.asUintN(64, total);
}

function boot(arch: 'x86_64' | 'aarch64', paging: PagingMode): { kernel: Kernel; task: Task } {
  const kernel = new Kernel({ arch, paging, ramBytes: 64 * 2 ** 20, layout: { totalRamPages: 2 ** 22 } });
  const task = kernel.spawnFromSnapshot({
    maps: base.mapsBefore,
    startBrk: Number(base.stat.start_brk),
    brk: Number(base.initialBrk),
    startStack: Number(base.stat.start_stack),
  });
  return { kernel, task };
}

/** Runs one op; returns its result as the harness records it, and whether it reported a failure. */
function run(kernel: Kernel, task: Task, op: string, a: bigint[]): { result: bigint; failed: boolean } {
  const n = (v: number) => ({ result: BigInt(v), failed: v === -ENOMEM });
  switch (op) {
    case 'mmap':
      return n(kernel.sys.mmap(a[0], a[1], a[2], a[3], a[4], a[5]));
    case 'munmap':
      return n(kernel.sys.munmap(a[0], a[1]));
    case 'mprotect':
      return n(kernel.sys.mprotect(a[0], a[1], a[2]));
    case 'mremap':
      return n(kernel.sys.mremap(a[0], a[1], a[2], a[3], a[4]));
    case 'madvise':
      return n(kernel.sys.madvise(a[0], a[1], a[2]));
    case 'brk': {
      const before = task.mm.brk;
      const r = kernel.sys.brk(a[0]);
      return { result: BigInt(r), failed: r === before && BigInt(r) !== a[0] };
    }
    default:
      try {
        if (op === 'touch') task.write(a[0], [Number(a[1] & 0xffn)]);
        else task.read(a[0], 1);
      } catch {
        // a fault, as on Linux
      }
      return { result: 0n, failed: false };
  }
}

describe.each([
  ['x86_64', 'demand'],
  ['x86_64', 'eager'],
  ['aarch64', 'demand'],
  ['aarch64', 'eager'],
] as const)('generated sequences on %s, %s paging', (arch, paging) => {
  it('keep every invariant, and every reported failure leaves no trace', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.nat(40), { maxLength: 12 }),
        (seed, inject) => {
          const { kernel, task } = boot(arch, paging);
          const ops = generateSequence(seed, { minOps: 30, maxOps: 50 });
          const results: bigint[] = [];
          const brk0 = BigInt(base.initialBrk);
          const startBrk = BigInt(base.stat.start_brk);
          ops.forEach((op, i) => {
            const args = op.args.map((x) => resolve(x, results, brk0, startBrk));
            const injected = inject.includes(i);
            const before = injected ? captureState(kernel, task) : '';
            if (injected) kernel.frames.failAfter(inject.indexOf(i) % 4);
            const refusals = kernel.frames.failures;
            const { result, failed } = run(kernel, task, op.op, args);
            // Only a failure the injected allocation caused must leave no trace: mprotect or madvise
            // over a hole also answer ENOMEM, after changing what they could, as Linux does.
            const allocationFailed = kernel.frames.failures > refusals;
            kernel.frames.failAfter(-1);
            results.push(result);
            const problems = kernel.check();
            expect(problems, `after op ${i} ${op.kind}`).toEqual([]);
            if (injected && failed && allocationFailed && op.op !== 'madvise') {
              expect(captureState(kernel, task), `after op ${i} ${op.kind}`).toBe(before);
            }
          });
        },
      ),
      { numRuns: 25 },
    );
  });
});
