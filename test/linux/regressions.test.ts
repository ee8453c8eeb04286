/**
 * The regression fixtures: small sequences recorded on the real kernels, each showing one
 * difference the differential fuzzer found (tools/fuzz-linux) or the conformance issue named,
 * with what it shows in `found.note`. The model must replay every one identically, with the
 * invariant checker after every call.
 */
import { describe, expect, it } from 'vitest';
import { compareWithModel, loadFixtures } from '../support/linux-fixtures.js';

const fixtures = loadFixtures('linux-regressions');

describe('regression fixtures from the differential fuzzer', () => {
  it('has the named classes, each small and explained', () => {
    const names = fixtures.map((f) => f.name);
    for (const name of [
      'x86_64-thp-anon-offset',
      'x86_64-thp-mremap-move',
      'x86_64-thp-file-placement',
      'x86_64-zero-page-read',
      'aarch64-fixed-enomem-keeps-split',
      'aarch64-heap-mte-allowed',
      'aarch64-shmem-huge-placement',
    ]) {
      expect(names).toContain(`${name}.json`);
    }
    for (const { name, fixture } of fixtures) {
      expect(fixture.found?.note?.length ?? 0, name).toBeGreaterThan(40);
      expect(fixture.ops.length, name).toBeLessThanOrEqual(20);
    }
  });

  it.each(fixtures)('$name replays identically', ({ fixture }) => {
    expect(compareWithModel(fixture)).toBeNull();
  });
});
