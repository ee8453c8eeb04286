import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARG_COUNT, GENERATOR_VERSION, generateSequence } from '../../tools/linux-harness/generate.js';
import { type Arm64Fixture, formatArm64Fixture, KERNEL } from '../../tools/linux-harness-arm64/record.js';

const DIR = path.join(import.meta.dirname, '..', 'fixtures', 'linux-aarch64');
const files = fs
  .readdirSync(DIR)
  .filter((f) => /^seq-\d{3}\.json$/.test(f))
  .sort();
const load = (f: string): Arm64Fixture =>
  JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as Arm64Fixture;
const dec = /^-?\d+$/;
const hex64 = /^0x[0-9a-f]{1,16}$/;

/** Evaluates a symbolic literal (no $ references) the way the harness does, modulo 2^64. */
function literal(expr: string): bigint {
  let v = 0n;
  for (const m of expr.matchAll(/([+-]?)(0x[0-9a-f]+|\d+)/g))
    v += m[1] === '-' ? -BigInt(m[2]) : BigInt(m[2]);
  return BigInt.asUintN(64, v);
}

describe('linux-aarch64 fixtures', () => {
  it('has at least 100 sequences, seeds 1..N in order', () => {
    expect(files.length).toBeGreaterThanOrEqual(100);
    files.forEach((f, i) => {
      expect(f).toBe(`seq-${String(i + 1).padStart(3, '0')}.json`);
      expect(load(f).seed).toBe(i + 1);
    });
  });

  it('every fixture parses, has 40+ ops and the documented shape', () => {
    for (const f of files) {
      const text = fs.readFileSync(path.join(DIR, f), 'utf8');
      expect(text.length, f).toBeLessThanOrEqual(20 * 1024);
      const fx = JSON.parse(text) as Arm64Fixture;
      expect(formatArm64Fixture(fx), f).toBe(text); // canonical formatting, same key order as x86_64
      expect(fx.arch).toBe('aarch64');
      expect(fx.kernel).toBe(KERNEL.release);
      expect(fx.pageSize).toBe(4096);
      expect(fx.memTotalKiB).toBeGreaterThan(900 * 1024); // qemu -m 1024
      expect(fx.memTotalKiB).toBeLessThan(1024 * 1024);
      expect(fx.settings).toEqual({
        overcommit_memory: 0,
        overcommit_ratio: 50,
        max_map_count: 65530,
        mmap_min_addr: 4096,
        thp_enabled: 'madvise',
        thp_shmem_enabled: 'never',
        zero_page_reads: true, // the harness's probe: Debian's kernel maps the zero page
      });
      expect(fx.kernelVersion).toMatch(/Debian 6\.18\.15/);
      expect(fx.rlimits.stack).toEqual({ cur: '8388608', max: '18446744073709551615' });
      expect(fx.personality).toBe('0x40000');
      expect(fx.euid).toBe(0);
      expect(fx.generatorVersion).toBe(GENERATOR_VERSION);
      expect(fx.initialBrk).toMatch(dec);
      for (const v of Object.values(fx.stat)) expect(v).toMatch(dec);
      expect(fx.ops.length, f).toBeGreaterThanOrEqual(40);
      for (const o of fx.ops) {
        expect(o.args.length).toBe(o.op === 'touch' ? 2 : ARG_COUNT[o.op as keyof typeof ARG_COUNT]);
        for (const a of o.args) expect(a).toMatch(hex64);
        if (o.result === 'fault') expect(o.fault).toMatch(/^(SEGV|BUS)_/);
        else expect(o.result).toMatch(dec);
      }
      const lines = fx.mapsAfter.split('\n').filter((l) => l !== '');
      expect(fx.vmflagsAfter.length, f).toBe(lines.length);
    }
  });

  it('matches generateSequence(seed, { arch: "aarch64" })', () => {
    for (const f of files) {
      const fx = load(f);
      const ops = generateSequence(fx.seed, { arch: 'aarch64' });
      expect(fx.ops.length, f).toBe(ops.length);
      fx.ops.forEach((o, i) => {
        expect(o.op).toBe(ops[i].op);
        expect(o.kind).toBe(ops[i].kind);
        if (o.symbolicArgs) expect(o.symbolicArgs).toEqual(ops[i].args);
        else expect(o.args.map(BigInt)).toEqual(ops[i].args.map(literal));
      });
    }
  });

  it('shows the arm64 layout: mmap_base 0xfffff8000000, TASK_SIZE 2^48, no [vsyscall] or [vvar_vclock]', () => {
    for (const f of files) {
      const fx = load(f);
      const before = fx.mapsBefore.split('\n').filter((l) => l !== '');
      expect(
        before.map((l) => l.slice(73) || '(anon)'),
        f,
      ).toEqual(['/harness', '/harness', '/harness', '(anon)', '[heap]', '[vvar]', '[vdso]', '[stack]']);
      expect(before[5].startsWith('fffff7ffa000-fffff7ffe000 r--p ')).toBe(true);
      expect(before[6].startsWith('fffff7ffe000-fffff8000000 r-xp ')).toBe(true);
      expect(before[7].startsWith('fffffffdf000-1000000000000 rw-p ')).toBe(true);
      expect(fx.mapsAfter).not.toMatch(/vsyscall|vvar_vclock/);
      // The sentinel (op 0) sits directly below [vvar].
      expect(BigInt(fx.ops[0].result) + BigInt(fx.ops[0].args[1])).toBe(0xfffff7ffan << 12n);
    }
  });

  it('leaves the x86_64 generator output unchanged by the arch option', () => {
    for (let seed = 1; seed <= 50; seed++) {
      expect(generateSequence(seed, { arch: 'x86_64' })).toEqual(generateSequence(seed));
    }
  });
});
