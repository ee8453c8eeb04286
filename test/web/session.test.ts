/**
 * The view's time travel: going to any call of a log (backwards, forwards, far, near) gives the
 * same model state as replaying the log from its start to that call in a fresh model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { procMaps } from '../../src/kernel/procfs.js';
import { Replayer } from '../../src/replay/engine.js';
import { syntheticLog } from '../../src/replay/synthetic.js';
import { parseStraceText } from '../../src/trace/strace-parse.js';
import { CheckpointStore } from '../../src/web/checkpoint.js';
import type { ViewReplayOptions } from '../../src/web/protocol.js';
import { DemoSession, ReplaySession, replayOptions } from '../../src/web/session.js';
import { frameCodes } from '../../src/web/view-state.js';

const fixtures = fileURLToPath(new URL('../fixtures/strace/', import.meta.url));

/** A fresh replay of `text` up to and including memory call `p`. */
function freshAt(text: string, options: ViewReplayOptions, p: number): Replayer {
  const r = new Replayer(replayOptions(options));
  let calls = -1;
  for (const ev of parseStraceText(text, { arch: r.arch }).events) {
    if (r.step(ev) !== undefined && ++calls === p) break;
  }
  return r;
}

async function open(text: string, options: ViewReplayOptions): Promise<ReplaySession> {
  // A checkpoint every 100 events: every step goes through a restore and a replay forward.
  return ReplaySession.open('t', [{ name: 'log', chunks: [text] }], options, () => {}, 100);
}

/** A fixed order of positions that goes back and forth over the whole log. */
function positions(n: number): number[] {
  const out = [n - 1, 0, Math.floor(n / 2), Math.floor(n / 2) - 1, Math.floor(n / 2) + 1, 1, n - 2];
  let x = 12345;
  for (let i = 0; i < 8; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(x % n);
  }
  return out.filter((p) => p >= 0 && p < n);
}

describe('ReplaySession', () => {
  const cases: Array<{ name: string; text: () => string; options: ViewReplayOptions }> = [
    {
      name: 'a synthetic log of 2500 calls',
      text: () => `${[...syntheticLog({ calls: 2500, seed: 11 })].join('\n')}\n`,
      options: { arch: 'x86_64', ramBytes: 2 ** 26 },
    },
    {
      name: 'mm-exercise (shared, fixed, mremap, madvise; eager paging)',
      text: () => readFileSync(join(fixtures, 'mm-exercise.strace'), 'utf8'),
      options: { arch: 'x86_64', relocate: true, paging: 'eager', ramBytes: 2 ** 26 },
    },
    {
      name: 'sh-all-f (several processes)',
      text: () => readFileSync(join(fixtures, 'sh-all-f.strace'), 'utf8'),
      options: { arch: 'x86_64', relocate: true, ramBytes: 2 ** 26 },
    },
  ];
  for (const c of cases) {
    it(`puts the model at any call exactly as a fresh replay: ${c.name}`, async () => {
      const text = c.text();
      const s = await open(text, c.options);
      const n = s.timeline.count;
      expect(n).toBeGreaterThan(10);
      expect(s.timeline.checkpoints).toBeGreaterThanOrEqual(Math.floor(n / 100));
      for (const p of positions(n)) {
        const view = s.step(p);
        const fresh = freshAt(text, c.options, p);
        const k = fresh.kernel;
        expect(view.position).toBe(p);
        const task = k.current!;
        if (view.space !== null) {
          expect(view.space.pid).toBe(task.pid);
          expect(view.space.regions.map((r) => `${r.maps}\n`).join('')).toBe(
            procMaps(task.mm).replace(/^ffffffffff600000-.*\n/m, ''),
          );
        }
        const codes = frameCodes(k);
        expect(view.frames.codes.length).toBe(codes.length);
        expect(view.frames.codes.findIndex((c, i) => c !== codes[i])).toBe(-1);
        expect(view.frames.free).toBe(k.frames.freePages);
        // The live model of the session passes the invariant checker at every step.
        expect((s as unknown as { replayer: Replayer }).replayer.kernel.check()).toEqual([]);
      }
    });
  }

  // Stepping on reuses the last step's frame codes; arriving from elsewhere keeps each frame's use
  // and count before the call instead: both must mark the same frames (with fork's shared pages too).
  it.each([
    ['mm-exercise.strace', { arch: 'x86_64', relocate: true, paging: 'eager', ramBytes: 2 ** 26 }],
    ['sh-all-f.strace', { arch: 'x86_64', relocate: true, paging: 'eager', ramBytes: 2 ** 26 }],
  ] as const)(
    'marks the same changed frames stepping on from the last call as arriving from elsewhere: %s',
    async (log, options) => {
      const text = readFileSync(join(fixtures, log), 'utf8');
      const s = await open(text, options);
      let marked = 0;
      for (let p = 0; p + 1 < s.timeline.count; p++) {
        s.step(p);
        const next = s.step(p + 1).frames.changed;
        s.step(s.timeline.count - 1 - p);
        expect(s.step(p + 1).frames.changed).toEqual(next);
        marked += next.length;
      }
      expect(marked).toBeGreaterThan(0);
    },
  );

  it('marks what the current call changed', async () => {
    const text =
      'mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000001000\n' +
      'mprotect(0x7f0000002000, 4096, PROT_READ) = 0\n' +
      'munmap(0x7f0000001000, 4096) = 0\n';
    const s = await open(text, { arch: 'x86_64', ramBytes: 2 ** 24, relocate: true });
    const first = s.step(0).space!.regions;
    expect(first.map((r) => r.changed)).toEqual([true]);
    const a = first[0].start;
    const second = s.step(1).space!.regions;
    expect(second.map((r) => [r.start, r.end, r.changed])).toEqual([
      [a, a + 4096, true],
      [a + 4096, a + 8192, true],
    ]);
    const v = s.step(2);
    expect(v.space!.regions.map((r) => [r.start, r.changed])).toEqual([[a + 4096, false]]);
    expect(v.space!.removed).toEqual([[a, a + 4096]]);
  });
});

describe('CheckpointStore', () => {
  it('puts back properties, arrays, maps, sets and buffers, keeping identity', () => {
    const shared = { n: 1 };
    const root = {
      a: [1, 2, shared],
      m: new Map([['k', shared]]),
      s: new Set([1]),
      t: new Int32Array(40000),
      o: shared,
    };
    const store = new CheckpointStore();
    const cp = store.take(root);
    root.a.push(4);
    root.m.set('j', { n: 9 });
    root.s.add(2);
    root.t[39999] = 7;
    shared.n = 5;
    (root as Record<string, unknown>).extra = true;
    root.o = { n: 8 };
    store.restore(cp);
    expect(root.a).toEqual([1, 2, shared]);
    expect([...root.m.keys()]).toEqual(['k']);
    expect([...root.s]).toEqual([1]);
    expect(root.t[39999]).toBe(0);
    expect(shared.n).toBe(1);
    expect(root.o).toBe(shared);
    expect('extra' in root).toBe(false);
  });

  it('refuses a built-in whose state it cannot see', () => {
    expect(() => new CheckpointStore().take({ w: new WeakMap() })).toThrow(/cannot checkpoint a WeakMap/);
  });
});

describe('DemoSession', () => {
  it("steps through the seed's scenario, every step behaving", () => {
    const d = new DemoSession({ arch: 'aarch64' });
    // Nine steps, three of them with a position at their refused allocation too.
    expect(d.timeline.count).toBe(12);
    expect(Array.from(d.timeline.line)).toEqual([1, 2, 3, 4, 4, 5, 5, 6, 7, 8, 8, 9]);
    expect(d.timeline.summary).toBe('9 steps, 9 behaved as the seed expects');
    // Half way through the 600-page mmap: 300 frames taken, a region partly populated.
    const half = d.step(3);
    expect(half.call.model).toBe('allocation 301 refused');
    expect(half.frames.changed.length).toBe(300);
    const grown = half.space!.regions.find((r) => r.changed && r.resident > 0)!;
    // The walk at that moment sees the pages mapped so far, not those the mmap had still to map.
    expect(d.walk(grown.start).frame).toBeGreaterThan(0);
    expect(d.walk(grown.start + 500 * 4096).frame).toBe(-1);
    // After it: nothing changed at all.
    const after = d.step(4);
    expect(after.call.model).toBe('-ENOMEM');
    expect(after.frames.changed).toEqual([]);
    expect(after.space!.regions.every((r) => !r.changed)).toBe(true);
  });
});
