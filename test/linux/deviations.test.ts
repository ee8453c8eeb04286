/**
 * The differences the model keeps on purpose (README, "Where the model deliberately differs"),
 * each a sequence recorded on the real kernel with the difference it shows: the model must differ
 * exactly so, and nothing else, so that closing a deviation (or a new difference in it) is noticed.
 */
import { describe, expect, it } from 'vitest';
import { compareWithModel, loadFixtures } from '../support/linux-fixtures.js';

const fixtures = loadFixtures('linux-deviations');

describe('documented deviations from Linux', () => {
  it('each says why the model differs', () => {
    expect(fixtures.length).toBeGreaterThan(0);
    for (const { name, fixture } of fixtures)
      expect(fixture.found?.note, name).toMatch(/^Deliberate deviation: /);
  });

  it.each(fixtures)('$name differs exactly as recorded', ({ fixture }) => {
    const d = compareWithModel(fixture);
    expect(d === null ? null : `${d.kind}: ${d.detail}`).toBe(fixture.found?.difference);
  });
});
