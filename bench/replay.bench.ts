/**
 * Replay benchmark: a real strace log of ≥100,000 memory calls replayed through the model, in calls
 * per second, side by side in the same run with the Linux kernel executing the same calls.
 *
 *   npm run build && npx tsx bench/replay.bench.ts [--rounds N] [--iterations R]
 *
 * 1. bench/replay-loop.c (built with cc -O2) makes R rounds of munmap+mmap+mprotect+madvise+brk
 *    (5 calls a round, R = 25,000 by default: 125,000 calls) and times its own loop with
 *    CLOCK_MONOTONIC: the kernel's figure (run without strace, median over the rounds).
 * 2. `strace -f -e trace=%memory -o LOG` records that program once: the log replayed.
 * 3. The model, from the tsc build in dist/ under plain node (see bench/lib/load-model.ts for why
 *    not tsx), replays LOG with --relocate (the log has ASLR): "parse + model" streams the file
 *    through the parser and the Replayer as `levitate-mm replay -q` does; "model alone" steps
 *    pre-parsed events; "parse alone" only parses. Median over the rounds.
 * Prints a markdown table; ratio = model time per call / kernel time per call.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name: string, d: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const ROUNDS = opt('--rounds', 5);
const ITER = opt('--iterations', 25000);
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const work = path.join(os.tmpdir(), 'levitate-mm-replay-bench');
mkdirSync(work, { recursive: true });
const log = (s = '') => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!existsSync(path.join(dist, 'replay/engine.js'))) {
  process.stderr.write('bench: run `npm run build` first (the model is measured from dist/)\n');
  process.exit(2);
}
const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
const strace = spawnSync('sh', ['-c', 'command -v strace']).status === 0;
if (cc === undefined || !strace || process.platform !== 'linux') {
  process.stderr.write('bench: needs Linux, a C compiler and strace\n');
  process.exit(2);
}
const binary = path.join(work, 'replay-loop');
const build = spawnSync(cc, ['-O2', '-Wall', '-o', binary, path.join(root, 'bench/replay-loop.c')], {
  encoding: 'utf8',
});
if (build.status !== 0) throw new Error(build.stderr);
const traceFile = path.join(work, 'replay-loop.strace');
const rec = spawnSync('strace', ['-f', '-e', 'trace=%memory', '-o', traceFile, binary, String(ITER)], {
  encoding: 'utf8',
});
if (rec.status !== 0) throw new Error(`strace failed: ${rec.stderr}`);

// The model side, in a plain node process importing dist/.
const script = path.join(work, 'model-side.mjs');
const url = (p: string) => pathToFileURL(path.join(dist, p)).href;
writeFileSync(
  script,
  `
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Replayer } from '${url('replay/engine.js')}';
import { drive } from '${url('replay/drive.js')}';
import { createParserState, parseLine } from '${url('trace/strace-parse.js')}';
const file = process.argv[2];
const rounds = Number(process.argv[3]);
const mk = () => new Replayer({ arch: 'x86_64', relocate: true });
const lines = [];
for await (const l of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) lines.push(l);
const res = { full: [], model: [], parse: [], calls: 0, matched: 0 };
for (let r = 0; r < rounds + 1; r++) {
  let t = performance.now();
  const a = mk();
  const input = { name: file, lines: () => createInterface({ input: createReadStream(file), crlfDelay: Infinity }) };
  await drive(a, [input], {}, { line() {} });
  const full = performance.now() - t;
  const s = a.finish();
  res.calls = s.replayed + s.notModelled; res.matched = s.matched;
  const st = createParserState({ file });
  t = performance.now();
  const events = lines.map((l) => parseLine(l, st));
  const parse = performance.now() - t;
  const b = mk();
  t = performance.now();
  for (const ev of events) b.step(ev);
  const model = performance.now() - t;
  if (r > 0) { res.full.push(full); res.model.push(model); res.parse.push(parse); }
}
console.log(JSON.stringify(res));
`,
);

const kernelNs: number[] = [];
let kernelCalls = 0;
const modelRuns: Array<{ full: number[]; model: number[]; parse: number[]; calls: number; matched: number }> =
  [];
for (let r = 0; r < ROUNDS; r++) {
  const k = spawnSync(binary, [String(ITER)], { encoding: 'utf8' });
  const m = /calls=(\d+) ns=(\d+)/.exec(k.stdout);
  if (!m) throw new Error(`replay-loop: ${k.stdout}${k.stderr}`);
  kernelCalls = Number(m[1]);
  kernelNs.push(Number(m[2]) / kernelCalls);
  const s = spawnSync(process.execPath, [script, traceFile, '1'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (s.status !== 0) throw new Error(s.stderr);
  modelRuns.push(JSON.parse(s.stdout));
}
const calls = modelRuns[0].calls;
const perCall = (k: 'full' | 'model' | 'parse') => median(modelRuns.map((m) => (m[k][0] * 1e6) / calls));
const kns = median(kernelNs);
const row = (what: string, ns: number, ratio: boolean) =>
  `| ${what} | ${(1e9 / ns).toFixed(0)} | ${(ns / 1000).toFixed(2)} | ${ratio ? `${(ns / kns).toFixed(2)}×` : ''} |`;
log(`# levitate-mm replay benchmark`);
log(`node ${process.version}, ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Linux ${os.release()}`);
log(
  `log: ${calls} memory calls recorded by \`strace -f -e trace=%memory\` from bench/replay-loop.c (${ITER} rounds); ` +
    `replayed with --relocate: ${modelRuns[0].matched} same result; medians of ${ROUNDS} rounds`,
);
log('');
log('| side | calls/s | µs/call | model/kernel |');
log('|---|---:|---:|---:|');
log(row('Linux kernel (the program without strace)', kns, false));
log(row('model: parse + replay (as `levitate-mm replay -q`)', perCall('full'), true));
log(row('model alone (pre-parsed events)', perCall('model'), true));
log(row('parse alone', perCall('parse'), false));
const ratio = perCall('model') / kns;
log('');
log(
  `target: model within 3× of the kernel: ${ratio <= 3 ? 'PASS' : 'MISS'} (model alone ${ratio.toFixed(2)}×)`,
);
