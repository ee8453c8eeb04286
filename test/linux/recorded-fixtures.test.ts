/**
 * The differential suite: sequences of raw memory syscalls recorded on real kernels (x86_64 on this
 * machine with tools/linux-harness, arm64 under qemu with tools/linux-harness-arm64), replayed in
 * the model from the recorded starting state with that architecture's layout. Every return value,
 * every touch and peek, the final /proc/self/maps and every VmFlags line must be identical; the
 * invariant checker runs after every call.
 */
import { describe, expect, it } from 'vitest';
import { loadFixtures, normalizeShmemInodes, replayFixture } from '../support/linux-fixtures.js';

describe.each([
  { dir: 'linux-x86_64', arch: 'x86_64', minimum: 150 },
  { dir: 'linux-aarch64', arch: 'aarch64', minimum: 100 },
])('recorded Linux $arch sequences', ({ dir, arch, minimum }) => {
  const fixtures = loadFixtures(dir);

  it(`has at least ${minimum} sequences of 40 or more calls from one kernel version`, () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(minimum);
    for (const { fixture } of fixtures) {
      expect(fixture.arch).toBe(arch);
      expect(fixture.ops.length).toBeGreaterThanOrEqual(40);
    }
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
