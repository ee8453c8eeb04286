import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Fixture } from '../../tools/linux-harness/record.js';

export {
  bootFixture,
  compareWithModel,
  type Difference,
  type ReplayOutcome,
  recordedResult,
  replayFixture,
  replayOp,
} from '../../tools/linux-harness/model.js';
/** Renumbers shmem inodes (a system-wide counter), as the recorder does. */
export { type Fixture, normalizeShmemInodes } from '../../tools/linux-harness/record.js';

/** The fixtures (`*.json`) of test/fixtures/`dir`, sorted by name. */
export function loadFixtures(dir: string): { name: string; fixture: Fixture }[] {
  const path = fileURLToPath(new URL(`../fixtures/${dir}/`, import.meta.url));
  return readdirSync(path)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, fixture: JSON.parse(readFileSync(path + name, 'utf8')) as Fixture }));
}
