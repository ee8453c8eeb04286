/**
 * The replay benchmark: a real program's strace log replayed through the model, side by side in the
 * same run with the program itself running natively. See bench/README.md ("bench/replay.bench.ts").
 *
 *   npm run build && npx tsx bench/replay.bench.ts [--rounds N] [--iterations R] [--quick]
 *                                                  [--model-dir DIR]
 *
 * 1. bench/kernel/alloc-loop.c (cc -O2) loops mmap, mprotect, munmap and malloc/free: R rounds
 *    (46,600 by default: 233,346 memory calls).
 * 2. `strace -f -e trace=%memory -o LOG alloc-loop R` records it once: the log replayed.
 * 3. Rounds, the order alternating: the program alone (wall time from spawn to exit, process start
 *    included, and its own loop time); `node dist/cli/main.js replay -q --relocate LOG` (the same:
 *    process start included); and a fresh worker (bench/lib/replay-worker.ts) that times, after a
 *    warm-up pass, parse + replay streamed as the command does, parsing alone, and the model alone
 *    on pre-parsed events.
 * Ratios are model time / the program's own time, medians over the rounds (and paired: the median
 * of the per-round ratios). The targets: parse + replay (the command) ≤ 0.5×, the model
 * alone ≤ 0.25×.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildCProgram, hasCommand } from './lib/c-program.js';
import { benchOptions } from './lib/cli.js';
import { compileWorker } from './lib/load-model.js';
import type { ReplayPhases } from './lib/replay-protocol.js';
import {
  fmtNs,
  fmtRatio,
  markdownTable,
  median,
  noisy,
  quantile,
  relativeIqr,
  textTable,
} from './lib/stats.js';

const {
  option,
  quick: QUICK,
  rounds: ROUNDS,
  model: MODEL,
} = benchOptions({ rounds: 7, batchMs: 1, quickRounds: 3, quickBatchMs: 1 });
const ITER = Math.round(option('--iterations', 46600));
const TARGET_CLI = 0.5;
const TARGET_MODEL = 0.25;
const log = (s = '') => process.stdout.write(`${s}\n`);
const started = performance.now();

log('# levitate-mm bench: replay of a real strace log, model vs the program run natively');
log(`node ${process.version}, ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Linux ${os.release()}`);
const program = buildCProgram('alloc-loop');
if ('skipped' in program || !hasCommand('strace')) {
  const why = 'skipped' in program ? program.skipped : 'strace is not installed';
  log(`replay bench SKIPPED: ${why}`);
  log('replay status=SKIPPED');
  process.exit(0);
}
log(`program: bench/kernel/alloc-loop.c, ${program.compiler}, ${ITER} rounds, unpinned (as the model)`);

const dist = path.dirname(fileURLToPath(MODEL.url));
const cli = path.join(dist, 'cli/main.js');
const work = path.join(os.tmpdir(), 'levitate-mm-bench');
mkdirSync(work, { recursive: true });
const traceFile = path.join(work, `alloc-loop-${process.pid}.strace`);
const rec = spawnSync(
  'strace',
  ['-f', '-e', 'trace=%memory', '-o', traceFile, program.binary, String(ITER)],
  {
    encoding: 'utf8',
  },
);
if (rec.status !== 0) throw new Error(`strace failed (${rec.status}): ${rec.stderr}`);
const logLines = readFileSync(traceFile, 'utf8').split('\n').length - 1;
log(`log: ${traceFile}, ${logLines.toLocaleString('en-US')} lines, recorded by strace -f -e trace=%memory`);
log(
  `model: levitate-mm from ${MODEL.label}/ (plain node): \`node ${path.relative(process.cwd(), cli)} replay -q --relocate LOG\``,
);
const worker = compileWorker('replay-worker');

/** Runs a command; its wall time in ms (spawn to exit) and its output. Throws if it fails. */
function timed(cmd: string, args: string[]): { ms: number; stdout: string; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

const native: number[] = [];
const loop: number[] = [];
const command: number[] = [];
const phases: ReplayPhases[] = [];
let summary = '';
log(
  `\n${ROUNDS} rounds, the order alternating (ms): program / its loop / replay command / worker drive, parse, model`,
);
for (let r = 0; r < ROUNDS; r++) {
  const runs = [
    () => {
      const n = timed(program.binary, [String(ITER)]);
      native.push(n.ms);
      const m = /ns=(\d+)/.exec(n.stdout);
      if (m === null) throw new Error(`alloc-loop printed ${n.stdout}`);
      loop.push(Number(m[1]) / 1e6);
    },
    () => {
      const c = timed(process.execPath, [cli, 'replay', '-q', '--relocate', traceFile]);
      command.push(c.ms);
      summary = c.stderr.split('\n')[0].replace(/^levitate-mm replay: /, '');
    },
    () => {
      const w = timed(process.execPath, [worker, pathToFileURL(dist).href, traceFile]);
      phases.push(JSON.parse(w.stdout) as ReplayPhases);
    },
  ];
  for (const run of r % 2 === 0 ? runs : runs.reverse()) run();
  const p = phases.at(-1)!;
  log(
    `  round ${String(r + 1).padStart(2)}: ${native.at(-1)!.toFixed(0)} / ${loop.at(-1)!.toFixed(0)} / ` +
      `${command.at(-1)!.toFixed(0)} / ${p.driveMs.toFixed(0)}, ${p.parseMs.toFixed(0)}, ${p.modelMs.toFixed(0)}`,
  );
}
const calls = phases[0].calls;
log(`  replay: ${summary}`);

// ---- results ------------------------------------------------------------------------------------

interface Row {
  key: string;
  label: string;
  ms: number[];
  target: number | null;
}
const rows: Row[] = [
  { key: 'native', label: 'the program, natively (process start to exit)', ms: native, target: null },
  { key: 'loop', label: 'the program: its loop alone', ms: loop, target: null },
  {
    key: 'command',
    label: 'model: parse + replay, `levitate-mm replay -q` (process start to exit)',
    ms: command,
    target: TARGET_CLI,
  },
  {
    key: 'drive',
    label: 'model: parse + replay in a warm process',
    ms: phases.map((p) => p.driveMs),
    target: null,
  },
  {
    key: 'model',
    label: 'model alone (pre-parsed events)',
    ms: phases.map((p) => p.modelMs),
    target: TARGET_MODEL,
  },
  { key: 'parse', label: 'parse alone', ms: phases.map((p) => p.parseMs), target: null },
];
const nat = median(native);
const ratio = (r: Row) => median(r.ms) / nat;
const paired = (r: Row) => median(r.ms.map((x, i) => x / native[i]));
const status = (r: Row) => (r.target === null ? '–' : ratio(r) <= r.target ? 'PASS' : 'MISS');
const perCall = (ms: number) => (ms * 1e6) / calls;
log(`\n## ${calls.toLocaleString('en-US')} memory calls: medians of ${ROUNDS} rounds\n`);
log(
  textTable(
    [
      ['side', 'ms', 'IQR', 'calls/s', 'ns/call', '× program', 'paired', 'target', 'result'],
      ...rows.map((r) => [
        r.label,
        median(r.ms).toFixed(0),
        `${quantile(r.ms, 0.25).toFixed(0)}–${quantile(r.ms, 0.75).toFixed(0)}`,
        Math.round((calls * 1000) / median(r.ms)).toLocaleString('en-US'),
        fmtNs(perCall(median(r.ms))),
        r.key === 'native' ? '1' : fmtRatio(ratio(r)),
        r.key === 'native' ? '' : fmtRatio(paired(r)),
        r.target === null ? '–' : `≤ ${r.target}×`,
        status(r),
      ]),
    ],
    [false, true, true, true, true, true, true, true, false],
  ),
);
const shaky = rows.filter((r) => noisy(r.ms));
if (shaky.length > 0) {
  log(
    `\nNOISY: the interquartile range is above 10% of the median for ${shaky.map((r) => r.key).join(', ')} ` +
      `(load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs): other processes shared the machine.`,
  );
}

log('\n## Machine-readable\n');
for (const r of rows) {
  log(
    `replay side=${r.key} ms=${median(r.ms).toFixed(1)} iqr_rel=${relativeIqr(r.ms).toFixed(3)} ` +
      `calls=${calls} ratio=${r.key === 'native' ? 1 : ratio(r).toFixed(3)} paired=${r.key === 'native' ? 1 : paired(r).toFixed(3)} ` +
      `target=${r.target ?? '-'} status=${status(r) === '–' ? '-' : status(r)} noisy=${noisy(r.ms)}`,
  );
}

log('\n## Markdown for README.md\n');
log(
  markdownTable(
    [
      ['replay of the log', 'time', 'calls/s', '× the program', 'target', ''],
      ...rows
        .filter((r) => r.key !== 'drive' && r.key !== 'loop')
        .map((r) => [
          r.label,
          `${median(r.ms).toFixed(0)} ms`,
          Math.round((calls * 1000) / median(r.ms)).toLocaleString('en-US'),
          r.key === 'native' ? '1' : fmtRatio(ratio(r)),
          r.target === null ? '–' : `≤ ${r.target}×`,
          status(r) === 'PASS' ? '✅' : status(r) === 'MISS' ? '❌' : '',
        ]),
    ],
    [false, true, true, true, true, false],
  ),
);
log('');
log(
  `Medians of ${ROUNDS} rounds, \`npx tsx bench/replay.bench.ts\`${QUICK ? ' --quick' : ''}: ` +
    `${calls.toLocaleString('en-US')} memory calls of bench/kernel/alloc-loop.c recorded by strace, replayed with --relocate ` +
    `(${summary.replace(/^\d+ memory calls replayed: /, '')}).`,
);
log(`\n(total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
