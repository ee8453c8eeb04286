/**
 * The model's side of bench/replay.bench.ts, in a fresh plain-node process per round: one warm-up
 * pass, then one timed pass of each phase over the strace log:
 *
 * - drive: the log streamed through the parser and a `Replayer({ relocate: true })`, as
 *   `levitate-mm replay -q --relocate` does (src/replay/drive.ts);
 * - parse: every line through `parseLine`, nothing replayed or kept (the lines read into memory
 *   first);
 * - model: the parsed events stepped through a fresh Replayer (parsed beforehand, untimed).
 *
 *   node replay-worker.mjs <dist directory URL> <log file>
 *
 * Prints one JSON ReplayPhases line. Run by plain node after esbuild strips the types
 * (load-model.ts): it imports only types.
 */
import { createReadStream, readFileSync } from 'node:fs';
import type { ReplayPhases } from './replay-protocol.js';

type Engine = typeof import('../../src/replay/engine.js');
type Drive = typeof import('../../src/replay/drive.js');
type Parse = typeof import('../../src/trace/strace-parse.js');

const [distUrl, file] = process.argv.slice(2);
const { Replayer } = (await import(`${distUrl}/replay/engine.js`)) as Engine;
const { drive } = (await import(`${distUrl}/replay/drive.js`)) as Drive;
const { createParserState, parseLine } = (await import(`${distUrl}/trace/strace-parse.js`)) as Parse;

const lines = readFileSync(file, 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();

async function pass(): Promise<ReplayPhases> {
  let t = performance.now();
  const r = new Replayer({ arch: 'x86_64', relocate: true });
  await drive(
    r,
    [{ name: file, chunks: () => createReadStream(file, { highWaterMark: 1 << 20 }) }],
    {},
    { line() {} },
  );
  const driveMs = performance.now() - t;
  const s = r.finish();

  // Parsing alone keeps nothing (as the streaming replay keeps nothing); the model's pass gets
  // its events from a second, untimed parse.
  let st = createParserState({ file });
  let memory = 0;
  t = performance.now();
  for (const l of lines) if (parseLine(l, st).kind === 'memory') memory++;
  const parseMs = performance.now() - t;
  if (memory === 0) throw new Error('no memory calls in the log');
  st = createParserState({ file });
  const events = lines.map((l) => parseLine(l, st));

  const m = new Replayer({ arch: 'x86_64', relocate: true });
  t = performance.now();
  for (const ev of events) m.step(ev);
  const modelMs = performance.now() - t;
  return {
    driveMs,
    parseMs,
    modelMs,
    calls: s.replayed + s.notModelled,
    matched: s.matched,
    lines: lines.length,
  };
}

await pass();
process.stdout.write(`${JSON.stringify(await pass())}\n`);
