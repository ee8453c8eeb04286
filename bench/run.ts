/**
 * `npm run bench`: every speed and memory target of the model, side by side with the real kernel,
 * in one run. Three parts, one after the other, each interleaving the model and the kernel itself:
 *
 *   bench/populate.ts      eager mmap+munmap per page against mmap(MAP_POPULATE)+munmap (C loop),
 *                          and host memory per resident simulated page
 *   bench/linux-exact.ts   mmap+munmap, mprotect split+merge, brk, first touch (C loops), and the
 *                          same pairs at 65,528 VMAs against 16
 *   bench/replay.bench.ts  a real program's strace log replayed, against the program run natively
 *
 * then one table of every target with its result, and a NOISY flag on figures whose rounds spread
 * by more than 10% (the machine is shared: medians absorb most of it, not all).
 *
 *   npm run build && npx tsx bench/run.ts [--quick] [--no-kernel] [--model-dir DIR]
 *
 * See bench/README.md for each part.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmtNs, fmtRatio, markdownTable, textTable } from './lib/stats.js';

const argv = process.argv.slice(2);
const pass = argv.filter(
  (a, i) => ['--quick', '--no-kernel'].includes(a) || a === '--model-dir' || argv[i - 1] === '--model-dir',
);
const log = (s = '') => process.stdout.write(`${s}\n`);
const started = performance.now();
const load0 = os.loadavg()[0];

/** Runs bench/<script> with the same runtime (tsx), echoing its output; returns the output. */
function part(script: string, extra: string[] = []): Promise<string> {
  const file = fileURLToPath(new URL(`./${script}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, file, ...pass, ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}`))));
  });
}

/** The key=value fields of the machine-readable lines starting with `tag`. */
function records(out: string, tag: string): Record<string, string>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) =>
      Object.fromEntries(
        l
          .slice(tag.length + 1)
          .split(' ')
          .map((kv) => kv.split('=') as [string, string]),
      ),
    );
}

/** The "## Markdown for README.md" part of an output. */
function markdown(out: string): string {
  const at = out.indexOf('## Markdown for README.md');
  if (at < 0) return '';
  return out
    .slice(at)
    .split('\n')
    .slice(1)
    .filter((l) => !l.startsWith('(total'))
    .join('\n')
    .trim();
}

log('# levitate-mm: npm run bench');
log(`node ${process.version}, ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Linux ${os.release()}`);
log(`load average at the start: ${load0.toFixed(2)}\n`);
const populate = await part('populate.ts');
log('');
const exact = await part('linux-exact.ts');
log('');
const replay = await part('replay.bench.ts');
const load1 = os.loadavg()[0];

// ---- every target in one table ------------------------------------------------------------------

interface Target {
  what: string;
  model: string;
  linux: string;
  ratio: string;
  target: string;
  status: string;
  noisy: boolean;
}
const targets: Target[] = [];
const num = (s: string | undefined) => (s === undefined ? Number.NaN : Number(s));
const yes = (s: string | undefined) => s === 'true';

for (const r of records(replay, 'replay').filter((x) => x.target !== '-')) {
  const native = records(replay, 'replay').find((x) => x.side === 'native');
  targets.push({
    what:
      r.side === 'command'
        ? 'replay: parse + replay (the command, process start included)'
        : 'replay: the model alone',
    model: `${num(r.ms).toFixed(0)} ms`,
    linux: native ? `${num(native.ms).toFixed(0)} ms (the program)` : '–',
    ratio: fmtRatio(num(r.ratio)),
    target: `≤ ${r.target}×`,
    status: r.status,
    noisy: yes(r.noisy) || yes(native?.noisy),
  });
}
if (records(replay, 'replay').length === 0) {
  targets.push({
    what: 'replay',
    model: '–',
    linux: '–',
    ratio: '–',
    target: '≤ 0.5×',
    status: 'SKIPPED',
    noisy: false,
  });
}
for (const r of records(exact, 'scale')) {
  targets.push({
    what: `${r.op === 'mmap' ? 'mmap+munmap 1 page' : 'mprotect split+merge'}: 65,528 VMAs against 16`,
    model: `${fmtRatio(num(r.model_growth))} (paired ${fmtRatio(num(r.model_paired_growth))})`,
    linux: fmtRatio(num(r.kernel_growth)),
    ratio: '',
    target: `≤ ${r.target}×`,
    status: r.status,
    noisy: yes(r.noisy),
  });
}
for (const r of records(populate, 'memory')) {
  targets.push({
    what: `host memory per resident 4 KiB page, ${r.arch} (marginal RSS)`,
    model: `${num(r.marginal_rss_per_page).toFixed(0)} B`,
    linux: '',
    ratio: '',
    target: `≤ ${r.limit} B`,
    status: r.marginal_status,
    noisy: false,
  });
}
for (const r of records(populate, 'result').filter((x) => x.arch === 'x86_64' && x.target !== '-')) {
  targets.push({
    what: `eager mmap+munmap per page, ${num(r.pages).toLocaleString('en-US')} pages (Linux: MAP_POPULATE)`,
    model: `${fmtNs(num(r.model_ns_per_page))} ns`,
    linux: `${fmtNs(num(r.kernel_ns_per_page))} ns`,
    ratio: fmtRatio(num(r.ratio)),
    target: `≤ ${r.target}×`,
    status: r.status,
    noisy: yes(r.noisy),
  });
}
const EXACT_LABEL: Record<string, string> = {
  mmap1: 'mmap+munmap 1 page, demand paging',
  'mprotect-pop': 'mprotect split+merge, 1024 written pages',
  'mprotect-unpop': 'mprotect split+merge, 1024 untouched pages',
  brk: 'brk +1 page, -1 page',
  touch: 'first touch of a page (a real page fault)',
};
for (const r of records(exact, 'exact')) {
  targets.push({
    what: EXACT_LABEL[r.op] ?? r.op,
    model: `${fmtNs(num(r.model_ns))} ns`,
    linux: `${fmtNs(num(r.kernel_ns))} ns`,
    ratio: fmtRatio(num(r.ratio)),
    target: `≤ ${r.target}×`,
    status: r.status,
    noisy: yes(r.noisy),
  });
}

log('\n# Every target (model / Linux, medians; the NOISY column flags figures whose rounds spread > 10%)\n');
log(
  textTable(
    [
      ['what', 'model', 'Linux', 'model/Linux', 'target', 'result', ''],
      ...targets.map((t) => [t.what, t.model, t.linux, t.ratio, t.target, t.status, t.noisy ? 'NOISY' : '']),
    ],
    [false, true, true, true, true, false, false],
  ),
);
const passed = targets.filter((t) => t.status === 'PASS').length;
const noisyRows = targets.filter((t) => t.noisy).length;
log(`\n${passed} of ${targets.length} targets met.`);
if (noisyRows > 0 || Math.max(load0, load1) > os.cpus().length / 2) {
  log(
    `NOISY RUN: ${noisyRows} figure(s) spread by more than 10% over their rounds; the load average was ` +
      `${load0.toFixed(1)} at the start and ${load1.toFixed(1)} at the end on ${os.cpus().length} CPUs. ` +
      'Other processes shared the machine: rerun on a quiet one before quoting these figures.',
  );
}

log('\n## Markdown for README.md\n');
log(
  markdownTable(
    [
      ['target', 'model', 'Linux', 'model / Linux', 'target', ''],
      ...targets.map((t) => [
        t.what,
        t.model,
        t.linux || '–',
        t.ratio || '–',
        t.target,
        t.status === 'PASS' ? '✅' : t.status === 'MISS' ? '❌' : t.status,
      ]),
    ],
    [false, true, true, true, true, false],
  ),
);
for (const out of [populate, exact, replay]) {
  const md = markdown(out);
  if (md !== '') log(`\n${md}`);
}
log(`\n(npm run bench: ${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
