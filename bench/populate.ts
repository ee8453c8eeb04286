/**
 * The model's eager mmap+munmap against the real Linux kernel's mmap(MAP_POPULATE)+munmap, in ns
 * per page, interleaved in one run; and the host memory one mapped simulated page costs. Part of
 * `npm run bench` (bench/run.ts). See bench/README.md for what is measured and how to read the output.
 *
 *   npm run build && npx tsx bench/populate.ts [--rounds N] [--batch-ms MS] [--quick] [--no-kernel]
 *                                              [--no-memory] [--model-dir DIR]
 *
 * The model is the tsc build in dist/ (or --model-dir), run by plain node workers: see
 * bench/lib/load-model.ts for why not through tsx.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { benchOptions } from './lib/cli.js';
import {
  calibrateKernel,
  prepareKernelSide,
  runKernelBatches,
  SLOW_SYSCALL_NS,
  startKernelSide,
} from './lib/kernel-side.js';
import { PAGE } from './lib/load-model.js';
import { ModelWorker, measureMemory } from './lib/model-side.js';
import type { BatchPlan, BatchResult, MemoryReport, ModelArch } from './lib/protocol.js';
import { fmtBytes, fmtNs, fmtRatio, markdownTable, median, noisy, quantile, textTable } from './lib/stats.js';

// ---- options ------------------------------------------------------------------------------------

const {
  argv,
  quick: QUICK,
  rounds: ROUNDS,
  batchMs: BATCH_MS,
  model: MODEL,
} = benchOptions({
  rounds: 25,
  batchMs: 40,
  quickRounds: 5,
  quickBatchMs: 15,
});
const SIZES = [1, 16, 256, 65536];
const ARCHS: ModelArch[] = ['x86_64', 'aarch64'];
/** The targets: model/kernel ns per page at or below this, by mapping size. */
function target(pages: number): number | null {
  if (pages >= 256) return 1;
  if (pages === 1) return 3;
  return null;
}
/** Host memory per resident simulated page: the page itself and 32 bytes. */
const MEM_LIMIT = PAGE + 32;
const MEM_PAGES = 65536;

const log = (s = '') => process.stdout.write(`${s}\n`);

// ---- setup --------------------------------------------------------------------------------------

const started = performance.now();
log('# levitate-mm bench: eager mmap+munmap, model vs Linux mmap(MAP_POPULATE)+munmap');
log(`node ${process.version}, ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Linux ${os.release()}`);
const hostKernelArch = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim() || os.arch();

const slowSyscallWarning = (ns: number) =>
  `WARNING: a null syscall costs ${fmtNs(ns)} ns here (bare metal: ~0.1–0.3 µs), so this host traps ` +
  'syscalls and page-table updates to a hypervisor; the Linux figures are inflated by it and the ' +
  'model/Linux ratios flatter the model. Compare on bare metal or a hardware-virtualized VM.';
const { runner: kernelSide, syscallNs } = startKernelSide(
  prepareKernelSide,
  argv.includes('--no-kernel'),
  log,
  slowSyscallWarning,
);

// ---- host memory --------------------------------------------------------------------------------

const memory: MemoryReport[] = [];
if (!argv.includes('--no-memory')) {
  for (const arch of ARCHS) memory.push(await measureMemory(arch, MEM_PAGES, MODEL.url));
}

// ---- warm-up and calibration --------------------------------------------------------------------

const workers = await Promise.all(ARCHS.map((a) => ModelWorker.start(a, MODEL.url)));
log(
  `model: levitate-mm from ${MODEL.label}/ (plain node ${process.version}), 512 MiB simulated RAM, ` +
    "4 KiB pages, paging 'eager', one worker process per arch",
);
for (const w of workers) {
  const wu = await w.request({ cmd: 'warmup', sizes: SIZES, msPerSize: QUICK ? 150 : 400 }, 'warmup');
  log(`  ${w.arch} warm-up: ${wu.pagesDone.toLocaleString('en-US')} pages mapped in ${Math.round(wu.ms)} ms`);
}
const plans = new Map<string, BatchPlan[]>();
for (const w of workers) {
  const c = await w.request({ cmd: 'calibrate', sizes: SIZES, batchMs: BATCH_MS, minIters: 2 }, 'calibrate');
  plans.set(w.arch, c.plan);
}
if (kernelSide !== null) plans.set('kernel', calibrateKernel(kernelSide, SIZES, BATCH_MS, 2));
for (const [side, plan] of plans) {
  log(`  batch sizes (${side}): ${plan.map((p) => `${p.pages} pages × ${p.iters}`).join(', ')}`);
}

// ---- interleaved rounds -------------------------------------------------------------------------

type Side = 'kernel' | ModelArch;
const sides: Side[] = [...(kernelSide !== null ? (['kernel'] as const) : []), ...ARCHS];
/** ns per page of every round, by side and size. */
const samples = new Map<string, number[]>();
const key = (side: Side, pages: number) => `${side}/${pages}`;
for (const s of sides) for (const n of SIZES) samples.set(key(s, n), []);

async function runSide(side: Side): Promise<BatchResult[]> {
  const plan = plans.get(side)!;
  if (side === 'kernel') return runKernelBatches(kernelSide!, plan);
  const w = workers.find((x) => x.arch === side)!;
  return (await w.request({ cmd: 'round', plan }, 'round')).results;
}

log(`\n${ROUNDS} rounds, each side once per round, the order rotating (ns/page for 1/16/256/65536 pages):`);
for (let r = 0; r < ROUNDS; r++) {
  const order = sides.map((_, i) => sides[(i + r) % sides.length]);
  const parts: string[] = [];
  for (const side of order) {
    for (const res of await runSide(side))
      samples.get(key(side, res.pages))!.push(res.ns / res.iters / res.pages);
  }
  for (const side of sides) {
    parts.push(`${side} ${SIZES.map((n) => fmtNs(samples.get(key(side, n))!.at(-1)!)).join('/')}`);
  }
  log(`  round ${String(r + 1).padStart(2)}: ${parts.join('   ')}`);
}

for (const w of workers) {
  const c = await w.request({ cmd: 'check' }, 'check');
  if (c.violations.length > 0) throw new Error(`${w.arch} kernel.check(): ${c.violations.join('; ')}`);
  log(`  ${w.arch}: kernel.check() clean after the run, ${c.framesInUse} frames in use (page-table root)`);
  w.stop();
}

// ---- results ------------------------------------------------------------------------------------

const med = (side: Side, n: number) => median(samples.get(key(side, n))!);
const spread = (side: Side, n: number) => {
  const xs = samples.get(key(side, n))!;
  return `${fmtNs(quantile(xs, 0.25))}–${fmtNs(quantile(xs, 0.75))}`;
};
/** Median over rounds of model/kernel within the same round. */
const pairedRatio = (arch: ModelArch, n: number) => {
  const m = samples.get(key(arch, n))!;
  const k = samples.get(key('kernel', n))!;
  return median(m.map((x, i) => x / k[i]));
};

interface Row {
  pages: number;
  kernel: number;
  model: Record<ModelArch, number>;
  ratio: Record<ModelArch, number>;
  target: number | null;
  status: string;
}
const rows: Row[] = SIZES.map((pages) => {
  const kernel = kernelSide !== null ? med('kernel', pages) : Number.NaN;
  const model = { x86_64: med('x86_64', pages), aarch64: med('aarch64', pages) };
  const ratio = { x86_64: model.x86_64 / kernel, aarch64: model.aarch64 / kernel };
  const t = target(pages);
  const status =
    t === null ? '(no target)' : kernelSide === null ? 'n/a' : ratio.x86_64 <= t ? 'PASS' : 'MISS';
  return { pages, kernel, model, ratio, target: t, status };
});

log('\n## Time per page: medians of the rounds (IQR in the detail table)\n');
log(
  textTable(
    [
      ['pages', 'Linux ns/page', 'model x86_64', 'ratio', 'target', 'result', 'model aarch64', 'ratio'],
      ...rows.map((r) => [
        String(r.pages),
        fmtNs(r.kernel),
        fmtNs(r.model.x86_64),
        fmtRatio(r.ratio.x86_64),
        r.target === null ? '–' : `≤ ${r.target}×`,
        r.status,
        fmtNs(r.model.aarch64),
        fmtRatio(r.ratio.aarch64),
      ]),
    ],
    [true, true, true, true, true, false, true, true],
  ),
);
log('\nDetail (ns/page, interquartile range over rounds; paired = median of per-round model/kernel):\n');
log(
  textTable(
    [
      ['pages', 'Linux IQR', 'x86_64 IQR', 'x86_64 paired', 'aarch64 IQR', 'aarch64 paired', 'Linux ns/op'],
      ...rows.map((r) => [
        String(r.pages),
        kernelSide !== null ? spread('kernel', r.pages) : '–',
        spread('x86_64', r.pages),
        kernelSide !== null ? fmtRatio(pairedRatio('x86_64', r.pages)) : '–',
        spread('aarch64', r.pages),
        kernelSide !== null ? fmtRatio(pairedRatio('aarch64', r.pages)) : '–',
        fmtNs(r.kernel * r.pages),
      ]),
    ],
    [true, true, true, true, true, true, true],
  ),
);
if (syscallNs > SLOW_SYSCALL_NS) log(`\n${slowSyscallWarning(syscallNs).trim()}`);
if (kernelSide !== null && hostKernelArch !== 'x86_64') {
  log(`\n(note: this host runs ${hostKernelArch}; the x86_64 ratio compares different architectures)`);
}

// ---- memory report ------------------------------------------------------------------------------

interface MemRow {
  arch: ModelArch;
  /** Per page of the first mapping, from boot (one-time costs included): RSS and JS heap growth. */
  rss: number;
  js: number;
  /** Per page of the second mapping (the marginal cost). */
  marginalRss: number;
  marginalJs: number;
  /** Per page of the first mapping before any byte is written. */
  mappedRss: number;
  mappedJs: number;
  fixedPerFrame: number;
  fixedTotal: number;
  retained: number;
  status: string;
  marginalStatus: string;
}
/**
 * The JS heap. Simulated RAM is not in it: it lives in 2 MiB ArrayBuffers the host commits a page
 * at a time as they are written, so `arrayBuffers` counts a whole slab from its first write, and
 * only RSS says what a page costs.
 */
const jsBytes = (s: MemoryReport['booted']) => s.heapUsed;
const memRows: MemRow[] = memory.map((m) => {
  const per = (a: number, b: number) => (a - b) / m.pages;
  const rss = per(m.written.rss, m.booted.rss);
  const js = per(jsBytes(m.written), jsBytes(m.booted));
  const marginalRss = per(m.secondWritten.rss, m.written.rss);
  const marginalJs = per(jsBytes(m.secondWritten), jsBytes(m.written));
  return {
    arch: m.arch,
    rss,
    js,
    marginalRss,
    marginalJs,
    mappedRss: per(m.mapped.rss, m.booted.rss),
    mappedJs: per(jsBytes(m.mapped), jsBytes(m.booted)),
    fixedPerFrame: (m.booted.rss - m.beforeBoot.rss) / m.totalFrames,
    fixedTotal: m.booted.rss - m.beforeBoot.rss,
    retained: m.unmapped.rss - m.booted.rss,
    status: rss <= MEM_LIMIT ? 'PASS' : 'MISS',
    marginalStatus: marginalRss <= MEM_LIMIT ? 'PASS' : 'MISS',
  };
});
const B = (x: number) => `${Math.round(x)} B`;
if (memRows.length > 0) {
  log(
    `\n## Host memory per mapped 4 KiB page (${MEM_PAGES.toLocaleString('en-US')} pages, eager, ` +
      `one byte written per page, after full GC; limit ${MEM_LIMIT} B)\n`,
  );
  log(
    textTable(
      [
        [
          'arch',
          'from boot: RSS',
          'heap',
          'result',
          'marginal: RSS',
          'heap',
          'result',
          'unwritten: RSS',
          'heap',
        ],
        ...memRows.map((r) => [
          r.arch,
          B(r.rss),
          B(r.js),
          r.status,
          B(r.marginalRss),
          B(r.marginalJs),
          r.marginalStatus,
          B(r.mappedRss),
          B(r.mappedJs),
        ]),
      ],
      [false, true, true, false, true, true, false, true, true],
    ),
  );
  log('\n"from boot": growth from just after boot to the first mapping written, over its pages (one-time');
  log('costs included); "marginal": a second mapping of as many pages, written the same way;');
  log('"unwritten": the first mapping right after mmap. RSS = resident set; heap = the JS heap (heapUsed),');
  log('which simulated RAM is not part of. The result is PASS when RSS is within the limit.');
  for (const r of memRows) {
    const m = memory.find((x) => x.arch === r.arch)!;
    log(
      `${r.arch}: boot ${fmtBytes(r.fixedTotal)} of RSS for ${m.totalFrames.toLocaleString('en-US')} simulated frames ` +
        `(${r.fixedPerFrame.toFixed(1)} B per frame of RAM, mapped or not); committed simulated RAM ` +
        `${fmtBytes(m.committed.mapped)} after mmap, ${fmtBytes(m.committed.written)} written, ` +
        `${fmtBytes(m.committed.secondWritten)} with the second mapping; ${fmtBytes(r.retained)} of RSS still held ` +
        'after munmap (host pages once written are never given back)',
    );
  }
}

// ---- machine-readable lines and the README table ------------------------------------------------

log('\n## Machine-readable\n');
for (const r of rows) {
  for (const arch of ARCHS) {
    log(
      `result arch=${arch} pages=${r.pages} model_ns_per_page=${r.model[arch].toFixed(1)} ` +
        `kernel_ns_per_page=${r.kernel.toFixed(1)} ratio=${r.ratio[arch].toFixed(3)} ` +
        `target=${arch === 'x86_64' && r.target !== null ? r.target : '-'} ` +
        `status=${arch === 'x86_64' ? r.status.replace(/[() ]/g, '').replace('notarget', '-') : '-'} ` +
        `noisy=${noisy(samples.get(key(arch, r.pages))!) || (kernelSide !== null && noisy(samples.get(key('kernel', r.pages))!))}`,
    );
  }
}
for (const r of memRows) {
  log(
    `memory arch=${r.arch} pages=${MEM_PAGES} rss_per_page=${r.rss.toFixed(1)} heap_per_page=${r.js.toFixed(1)} ` +
      `marginal_rss_per_page=${r.marginalRss.toFixed(1)} marginal_heap_per_page=${r.marginalJs.toFixed(1)} ` +
      `limit=${MEM_LIMIT} status=${r.status} marginal_status=${r.marginalStatus}`,
  );
}

log('\n## Markdown for README.md\n');
const nsCell = (x: number) => (Number.isFinite(x) ? `${fmtNs(x)} ns/page` : '–');
const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
log(
  markdownTable(
    [
      [
        'pages',
        'Linux mmap(MAP_POPULATE)+munmap',
        'model x86_64',
        'model / Linux',
        'target',
        '',
        'model aarch64',
      ],
      ...rows.map((r) => [
        r.pages.toLocaleString('en-US'),
        nsCell(r.kernel),
        nsCell(r.model.x86_64),
        fmtRatio(r.ratio.x86_64),
        r.target === null ? '–' : `≤ ${r.target}×`,
        r.status === 'PASS' ? '✅' : r.status === 'MISS' ? '❌' : '',
        nsCell(r.model.aarch64),
      ]),
    ],
    [true, true, true, true, true, false, true],
  ),
);
if (memRows.length > 0) {
  log('');
  log(
    markdownTable(
      [
        ['host memory per mapped page', ...memRows.map((r) => `model ${r.arch}`), 'limit'],
        [
          'from boot (RSS / JS heap)',
          ...memRows.map((r) => `${B(r.rss)} / ${B(r.js)} ${r.status === 'PASS' ? '✅' : '❌'}`),
          `${MEM_LIMIT} B`,
        ],
        [
          'marginal (RSS / JS heap)',
          ...memRows.map(
            (r) => `${B(r.marginalRss)} / ${B(r.marginalJs)} ${r.marginalStatus === 'PASS' ? '✅' : '❌'}`,
          ),
          `${MEM_LIMIT} B`,
        ],
      ],
      [false, ...memRows.map(() => true), true],
    ),
  );
}
log('');
log(
  `Medians of ${ROUNDS} interleaved rounds, \`npx tsx bench/populate.ts\`, ${cpu} (${os.cpus().length} vCPU), ` +
    `Linux ${os.release()}, Node ${process.version}; ns per page of one mmap+munmap pair` +
    (Number.isFinite(syscallNs) ? `; a null syscall took ${fmtNs(syscallNs)} ns on this host.` : '.'),
);
if (syscallNs > SLOW_SYSCALL_NS) {
  log(
    '**Caveat:** this host traps syscalls to its hypervisor, which inflates the Linux column; ' +
      'the ratios are not representative of bare metal.',
  );
}
log(`\n(total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
