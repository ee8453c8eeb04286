import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORK_SCENARIOS, scenarioOps } from '../../tools/linux-harness/fork-scenarios.js';
import { ARG_COUNT, type Op, serializeSequence } from '../../tools/linux-harness/generate.js';
import { FORK_GENERATOR_VERSION, generateForkSequence } from '../../tools/linux-harness/generate-fork.js';
import type { ForkFixture } from '../../tools/linux-harness/record-fork.js';

const SEEDS = Array.from({ length: 48 }, (_, i) => i + 1);
const SYSCALLS = ['mmap', 'munmap', 'mprotect', 'brk', 'mremap', 'madvise'];
const DIR = path.join(import.meta.dirname, '..', 'fixtures', 'linux-x86_64-fork');

/** Which processes exist before each op, following fork and exit lines; throws on an op of no process. */
function processesOf(ops: readonly Op[]): { parents: number[]; live: Set<number>[] } {
  const parents = [-1];
  const alive = new Set([0]);
  const live: Set<number>[] = [];
  ops.forEach((o, i) => {
    const p = o.proc ?? 0;
    if (!alive.has(p)) throw new Error(`op ${i} runs in process ${p}, which does not exist`);
    live.push(new Set(alive));
    if (o.op === 'fork') {
      alive.add(parents.length);
      parents.push(p);
    }
    if (o.op === 'exit') alive.delete(p);
  });
  return { parents, live };
}

describe('fork sequence generator', () => {
  it('is deterministic per seed and differs between seeds', () => {
    for (const seed of [1, 2, 99, -7]) expect(generateForkSequence(seed)).toEqual(generateForkSequence(seed));
    const texts = new Set(SEEDS.map((s) => serializeSequence(generateForkSequence(s))));
    expect(texts.size).toBe(SEEDS.length);
  });

  it('forks in every sequence, gives ops only to live processes and never exits process 0', () => {
    for (const seed of SEEDS) {
      const ops = generateForkSequence(seed);
      expect(ops.length).toBeGreaterThanOrEqual(50);
      expect(ops[0].kind).toBe('sentinel');
      expect(ops.some((o) => o.op === 'fork')).toBe(true);
      expect(ops.some((o) => o.op === 'exit' && !o.proc)).toBe(false);
      const { parents } = processesOf(ops);
      expect(parents.length).toBeLessThanOrEqual(4);
      ops.forEach((op, i) => {
        expect(op.args.length).toBe(ARG_COUNT[op.op]);
        for (const m of op.args.join(' ').matchAll(/\$(\d+)/g)) expect(Number(m[1])).toBeLessThan(i);
      });
    }
  });

  it('over the recorded seeds, children run every syscall, write and read, fork and exit', () => {
    const inChild = new Set<string>();
    const kinds = new Set<string>();
    for (const seed of SEEDS) {
      for (const o of generateForkSequence(seed)) {
        if (o.proc) inChild.add(o.op);
        kinds.add(o.kind.split('-')[0]);
      }
    }
    for (const op of [...SYSCALLS, 'touch', 'peek', 'fork', 'exit']) expect(inChild, op).toContain(op);
    for (const k of ['fork:madvise', 'fork:mmap', 'fork:exit']) expect(kinds, k).toContain(k);
    const advice = SEEDS.flatMap((s) => generateForkSequence(s)).filter((o) =>
      o.kind.startsWith('fork:madvise'),
    );
    for (const name of ['DONTFORK', 'WIPEONFORK', 'DOFORK', 'KEEPONFORK'])
      expect(
        advice.some((o) => o.kind.includes(name)),
        name,
      ).toBe(true);
  });

  it('writes process tags in the harness input', () => {
    const text = serializeSequence([
      { op: 'fork', args: [], kind: 'k' },
      { op: 'peek', args: ['0x10'], kind: 'k', proc: 1 },
    ]);
    expect(text).toBe('fork \n@1 peek 0x10\n');
  });

  it('parses the scenarios with their kinds and processes', () => {
    for (const s of FORK_SCENARIOS) {
      const ops = scenarioOps(s.text);
      expect(ops[0].kind, s.name).toBe('sentinel');
      expect(
        ops.some((o) => o.op === 'fork'),
        s.name,
      ).toBe(true);
      processesOf(ops);
    }
  });
});

describe('linux-x86_64-fork fixtures', () => {
  const files = fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const load = (f: string) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as ForkFixture;

  it('holds every scenario and at least 40 generated sequences, which the generator reproduces', () => {
    const scenarios = files.filter((f) => f.startsWith('scenario-'));
    expect(scenarios.sort()).toEqual(FORK_SCENARIOS.map((s) => `scenario-${s.name}.json`).sort());
    const seqs = files.filter((f) => /^seq-\d{3}\.json$/.test(f));
    expect(seqs.length).toBeGreaterThanOrEqual(40);
    for (const f of [...scenarios, ...seqs]) {
      const fx = load(f);
      expect(fx.generatorVersion, f).toBe(FORK_GENERATOR_VERSION);
      const ops =
        fx.scenario !== ''
          ? scenarioOps(FORK_SCENARIOS.find((s) => s.name === fx.scenario)!.text)
          : generateForkSequence(fx.seed);
      expect(
        fx.ops.map((o) => [o.op, o.proc ?? 0, o.kind]),
        f,
      ).toEqual(ops.map((o) => [o.op, o.proc ?? 0, o.kind]));
      expect(typeof fx.settings.zero_page_reads).toBe('boolean');
    }
  });

  it('reports the final maps of exactly the processes alive at the end, with their parents', () => {
    for (const f of files) {
      const fx = load(f);
      const { parents } = processesOf(fx.ops as Op[]);
      const gone = new Set<number>();
      let forks = 0;
      for (const o of fx.ops) {
        if (o.op === 'fork' && ++forks && o.result.startsWith('-')) gone.add(forks);
        if (o.op === 'exit') gone.add(o.proc ?? 0);
      }
      const expected = parents.map((_, p) => p).filter((p) => p > 0 && !gone.has(p));
      expect(
        fx.processes.map((p) => p.proc),
        f,
      ).toEqual(expected);
      for (const p of fx.processes) {
        expect(p.parent, f).toBe(parents[p.proc]);
        expect(p.vmflagsAfter.length, f).toBe(p.mapsAfter.split('\n').filter((l) => l !== '').length);
      }
    }
  });
});
