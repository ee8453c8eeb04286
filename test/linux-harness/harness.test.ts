import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSequence, serializeSequence } from '../../tools/linux-harness/generate.js';
import {
  buildHarness,
  type Fixture,
  formatFixture,
  makeFixture,
  normalizeShmemInodes,
  parseHarnessOutput,
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

  it('reproduces checked-in fixtures on the same kernel', () => {
    const files = fs
      .readdirSync(FIXTURES)
      .filter((f) => /^seq-\d+\.json$/.test(f))
      .sort()
      .slice(0, 4);
    // Lines of the harness image name the binary (path and inode differ in this build).
    const strip = (maps: string): string =>
      normalizeShmemInodes(maps)
        .split('\n')
        .filter((l) => !/ \/\S*harness$/.test(l))
        .join('\n');
    for (const f of files) {
      const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as Fixture;
      const ops = generateSequence(fx.seed);
      const got = makeFixture(runHarness(harness, serializeSequence(ops), { tools }), ops, fx.seed);
      if (got.kernel !== fx.kernel) continue; // recorded on another kernel: nothing to compare
      expect(got.ops, f).toEqual(fx.ops);
      expect(strip(got.mapsAfter), f).toBe(strip(fx.mapsAfter));
      expect(got.vmflagsAfter, f).toEqual(fx.vmflagsAfter);
      expect(formatFixture(got)).toContain('"ops": [');
    }
  });
});
