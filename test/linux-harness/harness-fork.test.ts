/**
 * The fork build of the x86-64 harness on the real kernel: processes that fork and run their
 * own ops in sequence order, each reporting its final maps; the plain build stays without it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORK_SCENARIOS, scenarioOps } from '../../tools/linux-harness/fork-scenarios.js';
import {
  buildHarness,
  normalizeShmemInodes,
  parseHarnessOutput,
  runHarness,
} from '../../tools/linux-harness/record.js';
import { type ForkFixture, probeZeroPageReads, recordFork } from '../../tools/linux-harness/record-fork.js';
import { harnessTools } from '../support/harness-tools.js';

const { tools, skipReason } = harnessTools();

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'linux-x86_64-fork');

describe.skipIf(!tools)(
  `linux-harness fork build (real kernel)${skipReason ? `: ${skipReason}` : ''}`,
  () => {
    let dir = '';
    let harness = '';
    let plain = '';
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmm-harness-fork-test-'));
      harness = buildHarness(dir, tools, 'fork');
      plain = buildHarness(dir, tools);
    });
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('runs the ops of each process in sequence order, passing results across', () => {
      const seq = [
        'mmap 0x300000000 0x2000 3 0x100022 -1 0',
        'touch $0 5',
        'fork',
        '@1 peek $0',
        '@1 touch $0 9',
        'peek $0',
        '@1 fork',
        '@2 peek $0',
        '@2 mmap $0+0x2000 0x1000 3 0x100022 -1 0',
        '@1 exit',
        'mmap $8 0x1000 3 0x100022 -1 0',
      ].join('\n');
      const out = runHarness(harness, seq, { tools, timeoutMs: 30_000 });
      const raw = parseHarnessOutput(out);
      expect(raw.ops.map((o) => [o.proc ?? 0, o.name, o.result])).toEqual([
        [0, 'mmap', raw.ops[0].result],
        [0, 'touch', '0'],
        [0, 'fork', '1'],
        [1, 'peek', '5'],
        [1, 'touch', '0'],
        [0, 'peek', '5'],
        [1, 'fork', '2'],
        [2, 'peek', '9'],
        [2, 'mmap', String(BigInt(raw.ops[0].result) + 0x2000n)],
        [1, 'exit', '0'],
        [0, 'mmap', String(BigInt(raw.ops[0].result) + 0x2000n)],
      ]);
      expect(raw.blocks.has('maps_after')).toBe(true);
      expect(raw.blocks.has('maps_after@2')).toBe(true);
      expect(raw.blocks.has('maps_after@1')).toBe(false);
      expect(parseHarnessOutput(runHarness(harness, seq, { tools })).ops).toEqual(raw.ops);
    });

    it('the plain build knows no fork, and the fork build runs a plain sequence as the plain one does', () => {
      expect(() => runHarness(plain, 'fork\n', { tools })).toThrow(/unknown op/);
      const seq = 'mmap 0 0x3000 3 0x22 -1 0\ntouch $0 1\nmprotect $0+0x1000 0x1000 1\n';
      const a = parseHarnessOutput(runHarness(plain, seq, { tools }));
      const b = parseHarnessOutput(runHarness(harness, seq, { tools }));
      expect(b.ops).toEqual(a.ops);
    });

    it('an unsafe op in a child ends every process, saying why', () => {
      expect(() =>
        runHarness(harness, 'fork\n@1 munmap 0x400000 0x1000\n', { tools, timeoutMs: 30_000 }),
      ).toThrow(/unsafe op/);
    });

    it('reproduces the checked-in scenarios on the same kernel', () => {
      const zeroPageReads = probeZeroPageReads(harness, { tools });
      // Lines of the harness image name the binary (path and inode differ in this build).
      const strip = (maps: string): string =>
        normalizeShmemInodes(maps)
          .split('\n')
          .filter((l) => !/ \/\S*harness-fork$/.test(l))
          .join('\n');
      for (const s of FORK_SCENARIOS) {
        const fx = JSON.parse(
          fs.readFileSync(path.join(FIXTURES, `scenario-${s.name}.json`), 'utf8'),
        ) as ForkFixture;
        const { fixture } = recordFork(scenarioOps(s.text), 0, s.name, { harness, tools, zeroPageReads });
        if (fixture.kernel !== fx.kernel) continue; // recorded on another kernel: nothing to compare
        expect(fixture.settings.zero_page_reads, s.name).toBe(fx.settings.zero_page_reads);
        expect(fixture.ops, s.name).toEqual(fx.ops);
        expect(strip(fixture.mapsAfter), s.name).toBe(strip(fx.mapsAfter));
        expect(
          fixture.processes.map((p) => [p.proc, strip(p.mapsAfter), p.vmflagsAfter]),
          s.name,
        ).toEqual(fx.processes.map((p) => [p.proc, strip(p.mapsAfter), p.vmflagsAfter]));
      }
    });
  },
);
