/**
 * The differential suite: sequences of raw memory syscalls recorded on the real kernel
 * (tools/linux-harness), replayed in the model from the recorded starting state. Every return
 * value, every touch and peek, the final /proc/self/maps and every VmFlags line must be identical;
 * the invariant checker runs after every call.
 */
import { describe, expect, it } from 'vitest';
import { loadFixtures, normalizeShmemInodes, replayFixture } from '../support/linux-fixtures.js';

const fixtures = loadFixtures('linux-x86_64');

describe('recorded Linux x86_64 sequences', () => {
  it('has at least 150 sequences of 40 or more calls from one kernel version', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(150);
    for (const { fixture } of fixtures) expect(fixture.ops.length).toBeGreaterThanOrEqual(40);
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
