/** What bench/lib/replay-worker.ts reports for one round (milliseconds per phase). */
export interface ReplayPhases {
  /** Streaming the log through the parser and the Replayer, as `levitate-mm replay` does. */
  driveMs: number;
  /** Parsing every line only. */
  parseMs: number;
  /** Stepping pre-parsed events through a Replayer only. */
  modelMs: number;
  /** Memory calls in the log, and how many the model answered as Linux did. */
  calls: number;
  matched: number;
  lines: number;
}
