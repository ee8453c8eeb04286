/** The fork fixtures' replay lives with the fixtures' recorder (tools/linux-harness/model-fork.ts). */
export {
  FORK_FIXTURE_RAM,
  type ForkReplayOutcome,
  replayForkFixture,
} from '../../tools/linux-harness/model-fork.js';
export type { ForkFixture } from '../../tools/linux-harness/record-fork.js';
