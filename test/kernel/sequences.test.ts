/**
 * Generated sequences of all six memory syscalls plus user reads and writes: the seeded generator
 * that produced the recorded Linux fixtures, with the fuzz campaign's additions (several tasks and
 * context switches, task exits, accesses across pages, arbitrary register values, injected
 * allocation failures, small RAM), on both architectures, both paging modes and every page size.
 * After every operation the invariant checker runs and every byte read must be what the shadow
 * memory says; after every failed call the state must be exactly as before, or hold exactly what
 * Linux itself leaves behind (tools/fuzz/rollback.ts). A KernelPanic, or any exception but a page
 * fault from a user access, fails the case. These are the cases `npm run fuzz` runs by the million;
 * here a fixed few, the same on every run.
 */
import { describe, expect, it } from 'vitest';
import { caseConfig, configurations, generateCase } from '../../tools/fuzz/campaign.js';
import { describeOp } from '../../tools/fuzz/session.js';

const SEEDS = [1, 2, 3];
const LENGTH = 200;

describe.each(
  configurations(['x86_64', 'aarch64'], ['demand', 'eager'], null).map(
    (c) => [c.arch, c.paging, c.pageSize, c] as const,
  ),
)('generated sequences on %s, %s paging, %i-byte pages', (_arch, _paging, _pageSize, base) => {
  it.each(SEEDS)('seed %i keeps every invariant, every byte, and every rollback', (s) => {
    const seed = s * 7919 + base.pageSize + (base.paging === 'eager' ? 1 : 0);
    const { config } = caseConfig(seed, base, 1);
    const run = generateCase(seed, config, LENGTH);
    const failure = run.failure;
    const context =
      failure && `${run.ops.slice(-5).map(describeOp).join('\n')}\n${failure.kind}: ${failure.message}`;
    expect(failure, context ?? '').toBeNull();
    expect(run.ops).toHaveLength(LENGTH);
  });
});
