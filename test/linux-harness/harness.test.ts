import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSystemName } from '../../src/cli/host-files.js';
import { fixtureOps, parseOpsText, REGRESSIONS, stableFiles } from '../../tools/fuzz-linux/regressions.js';
import { generateSequence, serializeSequence } from '../../tools/linux-harness/generate.js';
import { compareWithModel } from '../../tools/linux-harness/model.js';
import {
  buildHarness,
  type Fixture,
  formatDev,
  makeFixture,
  normalizeShmemInodes,
  parseHarnessOutput,
  recordOps,
  runHarness,
} from '../../tools/linux-harness/record.js';
import { harnessTools } from '../support/harness-tools.js';

const { tools, skipReason } = harnessTools();

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'linux-x86_64');

describe.skipIf(!tools)(`linux-harness (real kernel)${skipReason ? `: ${skipReason}` : ''}`, () => {
  let dir = '';
  let harness = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmm-harness-test-'));
    harness = buildHarness(dir, tools);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('does not change its own mappings: an empty sequence has identical before/after maps', () => {
    const raw = parseHarnessOutput(runHarness(harness, '', { tools }));
    expect(raw.ops.length).toBe(0);
    expect(raw.blocks.get('maps_after')).toBe(raw.blocks.get('maps_before'));
    expect(raw.blocks.get('maps_before')).toMatch(/\[stack\]\n/);
  });

  it('gives identical results when a small sequence is run twice', () => {
    const seq = [
      'mmap 0 0x3000 3 0x22 -1 0',
      'touch $0+0x1000 42',
      'peek $0+0x1000',
      'mprotect $0+0x1000 0x1000 1',
      'touch $0+0x1000 1',
      'mprotect $0+0x1000 0x1000 3',
      'munmap $0+0x2000 0x1000',
      'peek $0+0x2000',
      'brk $brk+0x2001',
      'mremap $0 0x2000 0x4000 1 0',
      'madvise $9 0x4000 4',
      'peek $9+0x1000',
      'mmap 0 0 3 0x22 -1 0',
    ].join('\n');
    const a = runHarness(harness, seq, { tools });
    const b = runHarness(harness, seq, { tools });
    const pa = parseHarnessOutput(a);
    const pb = parseHarnessOutput(b);
    expect(pa.ops).toEqual(pb.ops);
    expect(pa.blocks.get('maps_before')).toBe(pb.blocks.get('maps_before'));
    expect(pa.blocks.get('maps_after')).toBe(pb.blocks.get('maps_after'));
    const r = pa.ops.map((o) => o.result);
    expect(r[1]).toBe('0');
    expect(r[2]).toBe('42');
    expect(r[4]).toBe('fault');
    expect(pa.ops[4].fault).toBe('SEGV_ACCERR');
    expect(r[7]).toBe('fault');
    expect(r[8]).toBe(String(BigInt(pa.fields.get('initial_brk')!) + 0x2001n));
    expect(r[11]).toBe('0'); // MADV_DONTNEED zeroed the moved page
    expect(r[12]).toBe('-22');
  });

  it('refuses ops that would touch its own mappings', () => {
    expect(() => runHarness(harness, 'madvise $brk-0x1000 0x1000 4\n', { tools })).toThrow(/unsafe op/);
    expect(() => runHarness(harness, 'munmap 0x400000 0x1000\n', { tools })).toThrow(/unsafe op/);
  });

  it('reports the kernel build and probes whether read faults map the zero page', () => {
    const raw = parseHarnessOutput(runHarness(harness, '', { tools }));
    expect(raw.blocks.get('uname_version')).toBe(fs.readFileSync('/proc/sys/kernel/version', 'utf8').trim());
    expect(['0', '1']).toContain(raw.fields.get('zero_page_reads'));
    // The probe's mapping is gone before the snapshot: the maps show nothing of it.
    expect(raw.blocks.get('maps_before')).toBe(raw.blocks.get('maps_after'));
  });

  it('passes files at fds 3, 4, ... and describes them', () => {
    const file = path.join(dir, 'five-thousand');
    const files = [
      { path: file, mode: 'rw', size: 5000 },
      { path: file, mode: 'r', size: 5000 },
    ] as const;
    const text =
      'mmap 0 0x3000 1 0x2 3 0\npeek $0+0x1387\npeek $0+0x1388\npeek $0+0x2000\nmmap 0 0x1000 3 0x1 4 0\n';
    const out = runHarness(harness, text, { tools, files });
    const raw = parseHarnessOutput(out);
    expect(raw.ops.map((o) => o.result).slice(1, 4)).toEqual(['0', '0', 'fault']);
    expect(raw.ops[3].fault).toBe('BUS_ADRERR'); // the third page is wholly past the end of the file
    expect(raw.ops[4].result).toBe('-13'); // MAP_SHARED + PROT_WRITE needs an O_RDWR descriptor
    const st = fs.statSync(file);
    // What this machine's statfs says of the file, named by the one table (any file system, exactly).
    const fsName = fileSystemName(fs.statfsSync(file).type);
    const described = { size: 5000, fs: fsName, dev: formatDev(st.dev), inode: st.ino };
    expect(makeFixture(out, parseOpsText(text), 0, { files }).files).toEqual([
      { fd: 3, path: file, mode: 'rw', ...described },
      { fd: 4, path: file, mode: 'r', ...described },
    ]);
    expect(raw.blocks.get('maps_after')).toContain(`${formatDev(st.dev)} ${st.ino}`);
  });

  /**
   * The reference kernel can change under the fixtures (a new build of the same version changed
   * the zero page once). A sample of sequences is recorded afresh on this kernel and must replay
   * identically in the model configured from what the recording reports; on the build the
   * fixtures came from, the fresh recordings must also equal the fixtures.
   */
  it('agrees with the model on this kernel, and with the fixtures on their own build', () => {
    const files = fs
      .readdirSync(FIXTURES)
      .filter((f) => /^seq-\d+\.json$/.test(f))
      .sort()
      .slice(0, 24);
    // Lines of the harness image name the binary (path and inode differ in this build).
    const strip = (maps: string): string =>
      normalizeShmemInodes(maps)
        .split('\n')
        .filter((l) => !/ \/\S*harness$/.test(l))
        .join('\n');
    const problems: string[] = [];
    for (const f of files) {
      const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as Fixture;
      const ops = generateSequence(fx.seed);
      const got = makeFixture(runHarness(harness, serializeSequence(ops), { tools }), ops, fx.seed);
      const here = `${got.kernel} (${got.kernelVersion})`;
      const difference = compareWithModel(got, { checkEachOp: false });
      if (difference !== null) {
        problems.push(
          `${f} recorded afresh on ${here} differs from the model (fixtures from ${fx.kernel}): ` +
            `${difference.kind}: ${difference.detail}`,
        );
      }
      if (got.kernel === fx.kernel && got.kernelVersion === fx.kernelVersion) {
        const same =
          JSON.stringify(got.ops) === JSON.stringify(fx.ops) &&
          strip(got.mapsAfter) === strip(fx.mapsAfter) &&
          JSON.stringify(got.vmflagsAfter) === JSON.stringify(fx.vmflagsAfter) &&
          JSON.stringify(got.settings) === JSON.stringify(fx.settings);
        if (!same) problems.push(`${f}: the same kernel ${here} now records it differently from the fixture`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('records the regression fixtures afresh and the model agrees (on their build: with the same results)', () => {
    // Where the fixtures' files were (/var/tmp and /dev/shm), in directories of this run's own.
    const under = (root: string) =>
      fs.mkdtempSync(path.join(fs.existsSync(root) ? root : dir, 'lmm-harness-test-'));
    const dirs = { disk: under('/var/tmp'), tmpfs: under('/dev/shm') };
    const problems: string[] = [];
    try {
      // In name order: the fixtures share the two directories, so the order must not be the file system's.
      const names = fs
        .readdirSync(REGRESSIONS)
        .filter((f) => f.startsWith('x86_64-'))
        .sort();
      for (const name of names) {
        const fx = JSON.parse(fs.readFileSync(path.join(REGRESSIONS, name), 'utf8')) as Fixture;
        const files = stableFiles(fx.files ?? [], dirs);
        const got = recordOps(fixtureOps(fx), fx.seed, { harness, tools, files, arch: 'x86_64' });
        const difference = compareWithModel(got, { checkEachOp: false });
        if (difference !== null) {
          problems.push(
            `${name} recorded afresh on ${got.kernel} (${got.kernelVersion}) differs from the model ` +
              `(fixture from ${fx.kernel}): ${difference.kind}: ${difference.detail}`,
          );
        }
        const results = (f: Fixture) => f.ops.map((o) => `${o.result}${o.fault ?? ''}`).join(' ');
        if (
          got.kernel === fx.kernel &&
          got.kernelVersion === fx.kernelVersion &&
          results(got) !== results(fx)
        ) {
          problems.push(`${name}: the same kernel ${got.kernel} now answers differently from the fixture`);
        }
      }
    } finally {
      for (const d of Object.values(dirs)) fs.rmSync(d, { recursive: true, force: true });
    }
    expect(problems).toEqual([]);
  });
});
