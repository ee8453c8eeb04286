/**
 * Tasks and user memory through the MMU: isolation between address spaces, and randomized sequences
 * of mmap, munmap, read and write on two tasks, checked against a reference model of what each
 * page must hold and allow, with the invariant checker after every step.
 */
import fc from 'fast-check';
import {
  Kernel,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PageFaultError,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Task,
} from 'levitate-mm';
import { describe, expect, it } from 'vitest';
import { GEOMETRIES } from '../support/kernels.js';

const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('tasks', () => {
  it('each task has its own root table (ttbr0) and never sees another task’s memory', () => {
    const kernel = new Kernel({ arch: 'aarch64', ramBytes: 8 * 2 ** 20 });
    const a = kernel.spawn();
    const addrA = kernel.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, ANON, -1, 0);
    a.write(addrA, [1, 2, 3]);
    const b = kernel.spawn();
    expect(kernel.current).toBe(b);
    expect(b.ttbr0).not.toBe(a.ttbr0);
    expect(() => b.read(addrA, 1)).toThrow(PageFaultError);
    const addrB = kernel.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, ANON, -1, 0);
    expect(addrB).toBe(addrA);
    expect([...b.read(addrB, 3)]).toEqual([0, 0, 0]);
    b.write(addrB, [9, 9, 9]);
    expect([...a.read(addrA, 3)]).toEqual([1, 2, 3]);
    expect(kernel.check()).toEqual([]);
  });

  it('reports the faulting address and whether the page was missing or the access denied', () => {
    const kernel = new Kernel({ arch: 'x86_64' });
    const t = kernel.spawn();
    const ro = kernel.sys.mmap(0, 4096, PROT_READ, ANON, -1, 0);
    const none = kernel.sys.mmap(0, 4096, PROT_NONE, ANON, -1, 0);
    const fault = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return e as PageFaultError;
      }
      throw new Error('no fault');
    };
    const w = fault(() => t.write(ro + 5, [1]));
    expect([w.address, w.access, w.reason, w.siCode]).toEqual([ro + 5, 'write', 'denied', 'SEGV_ACCERR']);
    const r = fault(() => t.read(none, 1));
    expect([r.reason, r.siCode]).toEqual(['denied', 'SEGV_ACCERR']);
    const m = fault(() => t.read(0x1000, 1));
    expect([m.address, m.reason, m.siCode]).toEqual([0x1000, 'not-mapped', 'SEGV_MAPERR']);
  });

  it('maps exactly the rights prot asks for: PROT_NONE nothing, read-only stays read-only', () => {
    for (const arch of ['aarch64', 'x86_64'] as const) {
      const kernel = new Kernel({ arch });
      const t = kernel.spawn();
      const none = kernel.sys.mmap(0, 4096, PROT_NONE, ANON, -1, 0);
      const ro = kernel.sys.mmap(0, 4096, PROT_READ, ANON, -1, 0);
      const rx = kernel.sys.mmap(0, 4096, PROT_READ | PROT_EXEC, ANON, -1, 0);
      const rw = kernel.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, ANON, -1, 0);
      const pt = t.mm.pageTable;
      const rights = new Uint8Array(1);
      for (const [addr, want] of [
        [none, 0],
        [ro, PROT_READ],
        [rx, PROT_READ | PROT_EXEC],
        [rw, PROT_READ | PROT_WRITE],
      ] as const) {
        expect(pt.translate(addr as never, rights)).toBeGreaterThan(0);
        expect(rights[0]).toBe(want);
      }
      expect(() => t.read(none, 1)).toThrow(/SEGV_ACCERR/);
      expect(() => t.write(ro, [1])).toThrow(/SEGV_ACCERR/);
      expect(() => t.write(rx, [1])).toThrow(/SEGV_ACCERR/);
      t.write(rw, [1]);
    }
  });

  it('a write that faults on its second page changes nothing on the first', () => {
    const kernel = new Kernel({ arch: 'x86_64' });
    const t = kernel.spawn();
    const a = kernel.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, ANON, -1, 0);
    expect(() => t.write(a + 4090, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toThrow(PageFaultError);
    expect([...t.read(a + 4090, 6)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('exit returns every frame and table of the task', () => {
    const kernel = new Kernel({ arch: 'aarch64', paging: 'demand' });
    const free = kernel.frames.freePages;
    const t = kernel.spawn();
    const a = kernel.sys.mmap(0, 64 * 4096, PROT_READ | PROT_WRITE, ANON, -1, 0);
    t.write(a + 100 * 7, [1]);
    t.write(a + 63 * 4096, [1]);
    kernel.exit(t);
    expect(kernel.frames.freePages).toBe(free);
    expect(kernel.check()).toEqual([]);
    expect(() => t.read(a, 1)).toThrow(/exited/);
  });
});

/** Index of the first differing byte, or -1 (a deep equality of whole pages is far slower). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** What the reference model expects of one user page. */
interface PageModel {
  prot: number;
  data: Uint8Array;
}

type Op =
  | { kind: 'mmap'; task: number; pages: number; prot: number; fixedAt: number | null }
  | { kind: 'munmap'; task: number; at: number; pages: number }
  | { kind: 'write'; task: number; at: number; value: number }
  | { kind: 'read'; task: number; at: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('mmap' as const),
    task: fc.integer({ min: 0, max: 1 }),
    pages: fc.integer({ min: 1, max: 12 }),
    prot: fc.constantFrom(
      PROT_NONE,
      PROT_READ,
      PROT_READ | PROT_WRITE,
      PROT_WRITE,
      PROT_EXEC,
      PROT_READ | PROT_EXEC,
      7,
    ),
    fixedAt: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('munmap' as const),
    task: fc.integer({ min: 0, max: 1 }),
    at: fc.integer({ min: 0, max: 40 }),
    pages: fc.integer({ min: 1, max: 10 }),
  }),
  fc.record({
    kind: fc.constant('write' as const),
    task: fc.integer({ min: 0, max: 1 }),
    at: fc.integer({ min: 0, max: 40 * 4096 }),
    value: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('read' as const),
    task: fc.integer({ min: 0, max: 1 }),
    at: fc.integer({ min: 0, max: 40 * 4096 }),
  }),
);

describe.each(GEOMETRIES.flatMap((g) => (['eager', 'demand'] as const).map((paging) => ({ ...g, paging }))))(
  'random mmap/munmap/read/write on two tasks ($arch, $pageSize, $paging)',
  ({ arch, pageSize, paging }) => {
    it('matches the reference model and keeps every invariant after every step', () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
          const kernel = new Kernel({ arch, pageSize, paging, ramBytes: 1024 * pageSize });
          const tasks: Task[] = [kernel.spawn(), kernel.spawn()];
          const models = [new Map<number, PageModel>(), new Map<number, PageModel>()];
          const hw = (prot: number) => kernel.format.rightsFor(prot);
          // All activity stays in a window of 40 pages just below mmap_base, so ops collide.
          const base = kernel.layout.mmapBase - 40 * pageSize;
          for (const op of ops) {
            const task = tasks[op.task];
            const model = models[op.task];
            kernel.switchTo(task);
            if (op.kind === 'mmap') {
              const fixed = op.fixedAt !== null && op.fixedAt + op.pages <= 40;
              const addr = kernel.sys.mmap(
                fixed ? base + op.fixedAt! * pageSize : 0,
                op.pages * pageSize,
                op.prot,
                ANON | (fixed ? MAP_FIXED : 0),
                -1,
                0,
              );
              if (addr < 0) {
                expect(addr).toBe(-12);
                continue;
              }
              for (let p = 0; p < op.pages; p++) {
                model.set(addr + p * pageSize, { prot: op.prot, data: new Uint8Array(pageSize) });
              }
            } else if (op.kind === 'munmap') {
              const at = base + op.at * pageSize;
              expect(kernel.sys.munmap(at, op.pages * pageSize)).toBe(0);
              for (let p = 0; p < op.pages; p++) model.delete(at + p * pageSize);
            } else {
              const va = base + Math.min(op.at, 40 * pageSize - 1);
              const page = va - (va % pageSize);
              const m = model.get(page);
              const allowed = m !== undefined && (hw(m.prot) & (op.kind === 'write' ? 2 : 1)) !== 0;
              if (op.kind === 'write') {
                if (allowed) {
                  task.write(va, [op.value]);
                  m!.data[va - page] = op.value;
                } else {
                  expect(() => task.write(va, [op.value])).toThrow(m ? /SEGV_ACCERR/ : /SEGV_MAPERR/);
                }
              } else if (allowed) {
                expect(task.read(va, 1)[0]).toBe(m!.data[va - page]);
              } else {
                expect(() => task.read(va, 1)).toThrow(m ? /SEGV_ACCERR/ : /SEGV_MAPERR/);
              }
            }
            expect(kernel.check()).toEqual([]);
          }
          // Every page each task's model knows reads back exactly, wherever it is readable.
          for (const [i, model] of models.entries()) {
            for (const [page, m] of model) {
              if (hw(m.prot) & 1) expect(firstDifference(tasks[i].read(page, pageSize), m.data)).toBe(-1);
            }
          }
        }),
        { numRuns: pageSize === 4096 ? 60 : 25 },
      );
    });
  },
);

describe('stack growth', () => {
  it('grows a grows-down mapping down to the one below without merging them, as Linux does', () => {
    const kernel = new Kernel({ arch: 'aarch64', paging: 'demand' });
    const t = kernel.spawn();
    const P = 4096;
    const a = 0x7e00_0000_0000;
    expect(kernel.sys.mmap(a, P, PROT_READ, ANON | MAP_FIXED | 0x100, -1, 0)).toBe(a);
    expect(kernel.sys.mmap(a + 2 * P, 2 * P, PROT_READ, ANON | MAP_FIXED | 0x100, -1, 0)).toBe(a + 2 * P);
    // A write below the upper stack extends it (then is refused: the mapping is read-only).
    expect(() => t.write(a + P + 0x411, [1])).toThrow(/SEGV_ACCERR/);
    expect([...t.mm.vmas].map((v) => [v.start, v.end])).toEqual([
      [a, a + P],
      [a + P, a + 4 * P],
    ]);
    expect(kernel.check()).toEqual([]);
  });
});
