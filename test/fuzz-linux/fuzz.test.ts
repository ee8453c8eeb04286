/**
 * The differential fuzzer against this machine's kernel, with a bug planted in the model: the
 * fuzzer must find it in a few fresh sequences and shrink one to a handful of calls that still
 * show it, while the true model agrees with Linux on that shrunk sequence.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Kernel } from 'levitate-mm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzFiles } from '../../tools/fuzz-linux/files.js';
import { type FuzzReport, fuzz, hostOracle, type Oracle } from '../../tools/fuzz-linux/fuzz.js';
import { compareWithModel } from '../../tools/linux-harness/model.js';
import { buildHarness, type Fixture } from '../../tools/linux-harness/record.js';
import { harnessTools } from '../support/harness-tools.js';

const { tools, skipReason } = harnessTools();

/**
 * The planted bug: a brk that shrinks the heap answers the new break but unmaps nothing, so the
 * final maps show the heap as large as it ever was.
 */
function plantBrkBug(kernel: Kernel): void {
  const real = kernel.sys.brk.bind(kernel.sys);
  kernel.sys.brk = (addr) => {
    const current = real(0);
    const want = BigInt(addr);
    return want !== 0n && want < BigInt(current) && want >= BigInt(kernel.current!.mm.startBrk)
      ? Number(want)
      : real(addr);
  };
}
const buggy = (f: Fixture) => compareWithModel(f, { checkEachOp: false, patch: plantBrkBug });

describe.skipIf(!tools)(`differential fuzzer (real kernel)${skipReason ? `: ${skipReason}` : ''}`, () => {
  let dir = '';
  let oracle: Oracle;
  let report: FuzzReport;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmm-fuzz-test-'));
    const files = fuzzFiles({ disk: path.join(dir, 'disk') });
    oracle = hostOracle(buildHarness(path.join(dir, 'build'), tools), tools!, files);
    report = fuzz({ count: 12, seed: 1, oracle, compare: buggy, maxShrinks: 1 });
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the planted bug in fresh sequences', () => {
    expect(report.kernel).toBe(fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    expect(report.sequences).toBe(12);
    const differing = [...report.differences.values()].reduce((a, b) => a + b, 0);
    expect(differing).toBeGreaterThan(0);
    expect(report.found).toHaveLength(1);
  });

  it('shrinks it to a handful of calls that still show it, and only it', () => {
    const { fixture, originalOps, difference } = report.found[0];
    expect(originalOps).toBeGreaterThanOrEqual(40);
    expect(fixture.ops.length).toBeLessThanOrEqual(6);
    expect(fixture.ops.filter((o) => o.op === 'brk').length).toBeGreaterThanOrEqual(2);
    expect(fixture.found?.seed).toBe(report.found[0].seed);
    expect(buggy(fixture)).toEqual(difference);
    // The real model has no such bug: the shrunk sequence replays identically.
    expect(compareWithModel(fixture)).toBeNull();
  });
});
