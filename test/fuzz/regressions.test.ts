/**
 * Every case `npm run fuzz` ever failed on, shrunk and kept in test/fixtures/fuzz/: each replays
 * with every check of the campaign and must now find nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replayCase } from '../../tools/fuzz/campaign.js';
import { parseCase } from '../../tools/fuzz/case.js';

const dir = fileURLToPath(new URL('../fixtures/fuzz/', import.meta.url));
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((name) => ({ name, fuzzCase: parseCase(readFileSync(dir + name, 'utf8'), name) }));

describe('cases the fuzz campaign found', () => {
  it('are kept, each with the failure it was found by', () => {
    expect(cases.length).toBeGreaterThanOrEqual(2);
    const kinds = ['panic', 'exception', 'result', 'checker', 'rollback', 'shadow'];
    for (const { name, fuzzCase } of cases) {
      const { failure, ops } = fuzzCase;
      expect(kinds, name).toContain(failure?.kind);
      expect(failure!.message, name).not.toBe('');
      // Seen after operation `op` (ops.length: at the final checks), so within the case.
      expect(Number.isInteger(failure!.op) && failure!.op >= 0 && failure!.op <= ops.length, name).toBe(true);
    }
  });

  it.each(cases)('$name replays without a failure', ({ fuzzCase }) => {
    expect(replayCase(fuzzCase).failure).toBeNull();
  });
});
