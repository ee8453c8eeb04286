/**
 * The fuzzer itself (tools/fuzz): a fixed-seed campaign over every configuration finds nothing in
 * the kernel; bugs planted in a wrapped kernel are found by the check meant for them, and a case is
 * shrunk to the few operations that matter and replays from its JSON.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Kernel,
  KernelPanic,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import {
  caseConfig,
  configurations,
  generateCase,
  replayCase,
  runCampaign,
  shrinkCase,
} from '../../tools/fuzz/campaign.js';
import { type FuzzCase, type FuzzConfig, type FuzzOp, formatCase, parseCase } from '../../tools/fuzz/case.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ALL = configurations(['x86_64', 'aarch64'], ['eager', 'demand'], null);

/** A bug in page moving: every mremap that moves a mapping flips a bit of its first page. */
function corruptingMremap(kernel: Kernel): void {
  const sys = kernel.sys;
  const mremap = sys.mremap.bind(sys);
  sys.mremap = (...a: Parameters<typeof sys.mremap>) => {
    const r = mremap(...a);
    if (r >= 0 && BigInt(r) !== BigInt.asUintN(64, BigInt(a[0]))) {
      const frame = kernel.current!.mm.pageTable.translate(r as never);
      if (frame >= 0 && frame !== kernel.zeroFrame) {
        const b = new Uint8Array(1);
        kernel.ram.read((frame + 7) as never, b, 0, 1);
        b[0] ^= 0x40;
        kernel.ram.write((frame + 7) as never, b, 0, 1);
      }
    }
    return r;
  };
}

const x86: FuzzConfig = {
  arch: 'x86_64',
  pageSize: 4096,
  paging: 'eager',
  ramBytes: 4 * 2 ** 20,
  tasks: 1,
  checkEvery: 1,
};
const FIXED = `0x${(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED).toString(16)}`;
/** Four pages at 0x300000000. */
const mmap4: FuzzOp = {
  task: 0,
  call: 'mmap',
  args: ['0x300000000', '0x4000', '0x3', FIXED, '0xffffffffffffffff', '0x0'],
};

describe('npm run fuzz', () => {
  it('finds nothing in a fixed-seed campaign over every configuration', () => {
    const report = runCampaign({
      seed: 1,
      opsPerArch: 1000,
      maxCaseLength: 150,
      configs: ALL,
      timeLimitMs: Number.POSITIVE_INFINITY,
      checkEvery: 1,
      job: 0,
      jobs: 1,
    });
    expect(report.failures.map((f) => `${f.signature}\n${formatCase(f.case)}`)).toEqual([]);
    expect(report.ops.x86_64).toBeGreaterThanOrEqual(1000);
    expect(report.ops.aarch64).toBeGreaterThanOrEqual(1000);
    expect(Object.keys(report.byConfig)).toHaveLength(ALL.length);
  });

  it('finds a planted data corruption late in a case and shrinks it to a handful of operations', () => {
    const seed = 9;
    const { config } = caseConfig(seed, { arch: 'x86_64', paging: 'eager', pageSize: 4096 }, 1);
    const hooks = { kernel: corruptingMremap };
    expect(generateCase(seed, config, 300).failure).toBeNull();
    const run = generateCase(seed, config, 300, hooks);
    expect(run.failure?.kind).toBe('shadow');
    expect(run.failure!.op).toBeGreaterThan(50);
    const found: FuzzCase = {
      format: 'levitate-mm fuzz case',
      version: 1,
      seed,
      config,
      ops: run.ops,
      failure: run.failure!,
    };
    // Bounded by replays, not by time, so that the result is the same on any machine.
    const shrunk = shrinkCase(found, hooks, 2000, Number.POSITIVE_INFINITY);
    expect(shrunk.ops.length).toBeLessThanOrEqual(6);
    expect(shrunk.ops.some((o) => o.call === 'mremap')).toBe(true);
    expect(shrunk.failure?.kind).toBe('shadow');
    // The saved case replays to the same failure, and only with the bug planted.
    const saved = parseCase(formatCase(shrunk), 'case');
    expect(saved).toEqual(shrunk);
    expect(replayCase(saved, hooks).failure).toEqual(shrunk.failure);
    expect(replayCase(saved).failure).toBeNull();
  });

  it('reports each kind of bug by the check meant for it', () => {
    const kindOf = (ops: FuzzOp[], plant: (k: Kernel) => void) =>
      replayCase({ config: x86, ops }, { kernel: plant }).failure?.kind;
    const munmap: FuzzOp = { task: 0, call: 'munmap', args: ['0x300000000', '0x4000'] };
    // A KernelPanic, or any other exception out of a syscall.
    expect(
      kindOf([mmap4, munmap], (k) => {
        k.sys.munmap = () => {
          throw new KernelPanic('planted');
        };
      }),
    ).toBe('panic');
    expect(
      kindOf([mmap4], (k) => {
        k.sys.mmap = () => {
          throw new TypeError('planted');
        };
      }),
    ).toBe('exception');
    // A result no syscall may give.
    expect(
      kindOf([mmap4, munmap], (k) => {
        k.sys.munmap = () => 1;
      }),
    ).toBe('result');
    // A failed call that leaves a change behind.
    const mprotect: FuzzOp = { task: 0, call: 'mprotect', args: ['0x300000000', '0x4000', '0x10'] };
    expect(
      kindOf([mmap4, mprotect], (k) => {
        const real = k.sys.mprotect.bind(k.sys);
        k.sys.mprotect = (a, l, p) => {
          const r = real(a, l, p);
          k.sys.madvise(a, l, MADV_DONTDUMP);
          return r;
        };
      }),
    ).toBe('rollback');
    // State the invariant checker sees as broken: a frame's mapping count off by one.
    expect(
      kindOf([mmap4], (k) => {
        const real = k.sys.mmap.bind(k.sys);
        k.sys.mmap = (...a) => {
          const r = real(...a);
          const frame = k.current!.mm.pageTable.translate(r as never);
          k.frames.count[k.frames.frameIndex(frame as never)]++;
          return r;
        };
      }),
    ).toBe('checker');
  });

  it('accepts what Linux keeps when a special mapping refuses to be split', () => {
    // [vvar] of the x86-64 snapshot, two pages of our own below it; every call below splits the
    // pages below [vvar] and then answers EINVAL at it, as on Linux (tools/fuzz/linux/special-mappings.c):
    // munmap and an MREMAP_FIXED target keep the split at the start of their range, a move of two
    // VMAs keeps the first one moved, mprotect and madvise keep the first piece changed.
    const vvar = 0x7ffff7ff7000;
    const hex = (n: number) => `0x${n.toString(16)}`;
    const op = (call: 'mmap' | 'munmap' | 'mremap' | 'mprotect' | 'madvise', ...args: number[]): FuzzOp => ({
      task: 0,
      call,
      args: args.map((a) => (a === -1 ? '0xffffffffffffffff' : hex(a))),
    });
    const fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    const below = op('mmap', vvar - 0x2000, 0x2000, 3, fixed, -1, 0);
    const ops: FuzzOp[] = [
      below,
      op('munmap', vvar - 0x1000, 0x2000),
      op('mremap', vvar - 0x1000, 0x2000, 0x2000, 3, 0x300000000),
      below,
      op('mmap', 0x300100000, 0x2000, 3, fixed, -1, 0),
      op('mremap', 0x300100000, 0x2000, 0x2000, 3, vvar - 0x1000),
      op('mprotect', vvar - 0x1000, 0x2000, 0),
      op('madvise', vvar - 0x1000, 0x2000, MADV_DONTFORK),
    ];
    const results: string[] = [];
    const run = replayCase({ config: x86, ops }, { trace: (line) => results.push(line.split(' = ')[1]) });
    expect(run.failure).toBeNull();
    expect(results.slice(0, ops.length)).toEqual([
      String(vvar - 0x2000),
      '-22',
      '-22',
      String(vvar - 0x2000),
      String(0x300100000),
      '-22',
      '-22',
      '-22',
    ]);
  });

  it('replays a saved case from the command line, and answers bad usage with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'levitate-fuzz-'));
    const file = join(dir, 'case.json');
    const c: FuzzCase = { format: 'levitate-mm fuzz case', version: 1, config: x86, ops: [mmap4] };
    writeFileSync(file, formatCase(c));
    const fuzz = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'tools/fuzz/main.ts', ...args], {
        cwd: root,
        encoding: 'utf8',
      });
    const ok = fuzz('--replay', file);
    expect(ok.stdout).toBe(`${file}: x86_64 eager 4K, 1 task(s), 1 operations: no failure\n`);
    expect(ok.status).toBe(0);
    for (const args of [
      ['--arch', 'sparc'],
      ['--ops', 'many'],
      ['--replay', join(dir, 'none.json')],
      ['--frobnicate'],
    ]) {
      const bad = fuzz(...args);
      expect(bad.status, args.join(' ')).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
