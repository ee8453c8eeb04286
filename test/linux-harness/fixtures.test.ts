import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARG_COUNT, GENERATOR_VERSION, generateSequence } from '../../tools/linux-harness/generate.js';
import type { Fixture } from '../../tools/linux-harness/record.js';

const DIR = path.join(import.meta.dirname, '..', 'fixtures', 'linux-x86_64');
const files = fs
  .readdirSync(DIR)
  .filter((f) => /^seq-\d{3}\.json$/.test(f))
  .sort();
const U64 = 1n << 64n;
const dec = /^\d+$/;

/** Evaluates a symbolic literal (no $ references) the way the harness does, modulo 2^64. */
function literal(expr: string): bigint {
  let v = 0n;
  for (const m of expr.matchAll(/([+-]?)(0x[0-9a-f]+|\d+)/g))
    v += m[1] === '-' ? -BigInt(m[2]) : BigInt(m[2]);
  return BigInt.asUintN(64, v);
}

describe('linux-x86_64 fixtures', () => {
  it('has at least 160 sequences', () => {
    expect(files.length).toBeGreaterThanOrEqual(160);
  });

  it('every fixture parses, is small, and has the documented shape', () => {
    const befores = new Set<string>();
    for (const f of files) {
      const text = fs.readFileSync(path.join(DIR, f), 'utf8');
      expect(text.length, f).toBeLessThanOrEqual(20 * 1024);
      const fx = JSON.parse(text) as Fixture;
      expect(fx.arch).toBe('x86_64');
      expect(fx.kernel).toMatch(/^\d+\.\d+/);
      expect(fx.pageSize).toBe(4096);
      expect(Number.isInteger(fx.memTotalKiB) && fx.memTotalKiB > 0).toBe(true);
      for (const k of ['overcommit_memory', 'overcommit_ratio', 'max_map_count', 'mmap_min_addr'] as const) {
        expect(Number.isInteger(fx.settings[k]), k).toBe(true);
      }
      expect(['always', 'madvise', 'never']).toContain(fx.settings.thp_enabled);
      for (const r of [fx.rlimits.stack, fx.rlimits.as, fx.rlimits.data]) {
        expect(r.cur).toMatch(dec);
        expect(r.max).toMatch(dec);
      }
      for (const v of Object.values(fx.stat)) expect(v).toMatch(dec);
      expect(Object.keys(fx.stat).sort()).toEqual(
        ['end_code', 'end_data', 'start_brk', 'start_code', 'start_data', 'start_stack'].sort(),
      );
      expect(fx.initialBrk).toMatch(dec);
      expect(BigInt(fx.initialBrk)).toBeGreaterThanOrEqual(BigInt(fx.stat.start_brk));
      expect(fx.generatorVersion).toBe(GENERATOR_VERSION);
      expect(fx.mapsBefore.endsWith('\n')).toBe(true);
      expect(fx.mapsAfter.endsWith('\n')).toBe(true);
      befores.add(fx.mapsBefore);
      const afterLines = fx.mapsAfter.split('\n').length - 1;
      expect(fx.vmflagsAfter.length, f).toBe(afterLines);
      expect(fx.ops.length, f).toBeGreaterThanOrEqual(40);
      for (const op of fx.ops) {
        expect(op.args.length).toBe(ARG_COUNT[op.op as keyof typeof ARG_COUNT]);
        for (const a of op.args) {
          expect(a).toMatch(/^0x[0-9a-f]+$/);
          expect(BigInt(a) < U64).toBe(true);
        }
        if (op.result === 'fault') {
          expect(op.fault).toMatch(/^(SEGV|BUS)_/);
          expect(['touch', 'peek']).toContain(op.op);
        } else {
          expect(op.result).toMatch(/^-?\d+$/);
          expect(op.fault).toBeUndefined();
        }
        if (op.op === 'peek' && op.result !== 'fault') expect(Number(op.result)).toBeLessThan(256);
        if (op.op === 'touch' && op.result !== 'fault') expect(op.result).toBe('0');
      }
    }
    // All sequences start from the same process image.
    expect(befores.size).toBe(1);
  });

  it('each fixture is the recorded run of generateSequence(seed)', () => {
    for (const f of files) {
      const fx = JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as Fixture;
      const ops = generateSequence(fx.seed);
      expect(fx.ops.length, f).toBe(ops.length);
      fx.ops.forEach((op, i) => {
        expect(op.op).toBe(ops[i].op);
        expect(op.kind).toBe(ops[i].kind);
        const sym = op.symbolicArgs ?? ops[i].args;
        expect(sym, `${f} op ${i}`).toEqual(ops[i].args);
        sym.forEach((s, j) => {
          if (!s.includes('$')) expect(BigInt(op.args[j])).toBe(literal(s));
        });
      });
    }
  });
});
