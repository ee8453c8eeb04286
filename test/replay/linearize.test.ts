/**
 * The search for the order of overlapping operations, on small synthetic histories: a model of a
 * top-down allocator of slots (what mmap without a hint does), and a counter.
 */
import { describe, expect, it } from 'vitest';
import { type LinearModel, linearize, type Operation } from '../../src/replay/linearize.js';

/**
 * alloc: takes the highest run of `arg` (default 1) free slots and returns its first; free: gives
 * slot `arg` back (returns 0).
 */
interface SlotOp extends Operation {
  name: string;
  kind: 'alloc' | 'free';
  arg?: number;
  /** The result the history shows (undefined while pending). */
  result?: number;
}

class Slots implements LinearModel<SlotOp> {
  used = new Set<number>();
  steps: string[] = [];
  constructor(
    private readonly size: number,
    private readonly initial: readonly number[] = [],
  ) {}
  reset(): void {
    this.used = new Set(this.initial);
  }
  step(op: SlotOp): boolean {
    this.steps.push(op.name);
    let got: number;
    if (op.kind === 'alloc') {
      const n = op.arg ?? 1;
      got = -1;
      for (let s = this.size - n; s >= 0; s--) {
        let free = true;
        for (let k = 0; k < n; k++) if (this.used.has(s + k)) free = false;
        if (free) {
          got = s;
          break;
        }
      }
      for (let k = 0; got >= 0 && k < n; k++) this.used.add(got + k);
    } else {
      got = this.used.delete(op.arg!) ? 0 : -1;
    }
    return op.returned === undefined || op.result === got;
  }
  key(): string {
    return [...this.used].sort().join(',');
  }
}

/** Slots that can save and load their state (what the replay's checkpoints give the search). */
class SavingSlots extends Slots {
  save(): unknown {
    return new Set(this.used);
  }
  load(state: unknown): void {
    this.used = new Set(state as Set<number>);
  }
}

const op = (
  name: string,
  kind: 'alloc' | 'free',
  invoked: number,
  returned: number | undefined,
  result?: number,
  arg?: number,
): SlotOp => ({ name, kind, invoked, returned, result, arg });
const names = (ops: readonly SlotOp[]) => ops.map((o) => o.name);

describe('linearize', () => {
  it('keeps the order of returns when it is consistent, with one step per operation', () => {
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 3, 7), op('b', 'alloc', 2, 4, 6), op('c', 'alloc', 5, 5, 5)];
    const r = linearize(ops, model, { maxSteps: 100 });
    expect(r.ok && names(r.order)).toEqual(['a', 'b', 'c']);
    expect(r.steps).toBe(3);
  });

  it('reorders two overlapping allocations whose results say the later return went first', () => {
    // b returned first (line 3) but got the lower slot: a took effect before it.
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 4, 7), op('b', 'alloc', 2, 3, 6)];
    const r = linearize(ops, model, { maxSteps: 100 });
    expect(r.ok && names(r.order)).toEqual(['a', 'b']);
    expect(model.steps.slice(0, 1)).toEqual(['b']);
  });

  it('places a pending free before the allocation that reused its slot', () => {
    // Slot 7 is in use; a free of it is pending when an allocation returns slot 7.
    const model = new Slots(8, [7]);
    const ops = [op('free7', 'free', 1, undefined, undefined, 7), op('alloc', 'alloc', 2, 3, 7)];
    const r = linearize(ops, model, { maxSteps: 100 });
    expect(r.ok && names(r.order)).toEqual(['free7', 'alloc']);
  });

  it('leaves a pending operation out when nothing needs it', () => {
    const model = new Slots(8);
    const ops = [op('later', 'alloc', 1, undefined), op('x', 'alloc', 2, 3, 7)];
    const r = linearize(ops, model, { maxSteps: 100 });
    expect(r.ok && names(r.order)).toEqual(['x']);
  });

  it('respects real-time order: an operation that returned before another was invoked stays first', () => {
    // a returned (line 2) before b was invoked (line 3): b cannot have taken slot 7 first.
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 2, 6), op('b', 'alloc', 3, 4, 7)];
    const r = linearize(ops, model, { maxSteps: 100 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.exhausted).toBe(true);
    expect(!r.ok && names(r.longest)).toEqual([]);
  });

  it('says when no order exists, with the longest consistent prefix', () => {
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 5, 7), op('b', 'alloc', 2, 6, 6), op('c', 'alloc', 3, 7, 1)];
    const r = linearize(ops, model, { maxSteps: 1000 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.exhausted).toBe(true);
    expect(!r.ok && names(r.longest)).toEqual(['a', 'b']);
  });

  it('stops at the step bound and says so', () => {
    // Overlapping frees that commute, then an allocation no order explains: many orders to try.
    const ops = [
      ...Array.from({ length: 6 }, (_, i) => op(`f${i}`, 'free', i, 10 + i, 0, i)),
      op('x', 'alloc', 0, 30, 9),
    ];
    const slots = new Slots(8, [0, 1, 2, 3, 4, 5]);
    const r = linearize(ops, { reset: () => slots.reset(), step: (o) => slots.step(o) }, { maxSteps: 50 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.exhausted).toBe(false);
    expect(r.steps).toBeLessThanOrEqual(50 + 8);
  });

  it('explores a state reached by two orders once', () => {
    // Six overlapping frees of distinct slots commute; the last allocation's result is impossible.
    const frees = Array.from({ length: 6 }, (_, i) => op(`f${i}`, 'free', i, 10 + i, 0, i));
    const impossible = op('x', 'alloc', 0, 30, 9);
    const withKey = new Slots(8, [0, 1, 2, 3, 4, 5]);
    const a = linearize([...frees, impossible], withKey, { maxSteps: 1e6 });
    const plain = new Slots(8, [0, 1, 2, 3, 4, 5]);
    const b = linearize(
      [...frees, impossible],
      { reset: () => plain.reset(), step: (o) => plain.step(o) },
      { maxSteps: 1e6 },
    );
    expect(a.ok || b.ok).toBe(false);
    expect(!a.ok && a.exhausted && !b.ok && b.exhausted).toBe(true);
    expect(a.steps * 10).toBeLessThan(b.steps);
  });

  it('with saved states, goes back by loading them instead of applying the prefix again', () => {
    const history = () => [
      op('a', 'alloc', 1, 10, 7),
      op('b', 'alloc', 2, 11, 6),
      op('c', 'alloc', 3, 12, 5),
      op('d', 'alloc', 4, 13, 3),
      op('e', 'alloc', 5, 14, 4),
    ];
    const plain = new Slots(8);
    const saving = new SavingSlots(8);
    const r1 = linearize(history(), plain, { maxSteps: 1000 });
    const r2 = linearize(history(), saving, { maxSteps: 1000 });
    expect(r1.ok && names(r1.order)).toEqual(['a', 'b', 'c', 'e', 'd']);
    expect(r2.ok && names(r2.order)).toEqual(['a', 'b', 'c', 'e', 'd']);
    expect(saving.steps.length).toBeLessThan(plain.steps.length);
  });

  it('starts from an order already applied, stepping none of it again', () => {
    const saving = new SavingSlots(8);
    const ops = [
      op('a', 'alloc', 1, 10, 7),
      op('b', 'alloc', 2, 11, 6),
      op('c', 'alloc', 3, 12, 4),
      op('d', 'alloc', 4, 13, 5),
    ];
    const states = [new Set([7]), new Set([7, 6])];
    saving.used = new Set([7, 6]);
    const r = linearize(
      ops,
      saving,
      { maxSteps: 100 },
      { prefix: [ops[0], ops[1]], state: (d) => states[d - 1] },
    );
    expect(r.ok && names(r.order)).toEqual(['a', 'b', 'd', 'c']);
    expect(saving.steps).not.toContain('a');
    expect(saving.steps).not.toContain('b');
  });

  it('runs at most maxPending pending operations before their return', () => {
    // Two frees are pending; only both before the allocation of two slots explain its result.
    const ops = () => [
      op('f6', 'free', 1, undefined, undefined, 6),
      op('f7', 'free', 2, undefined, undefined, 7),
      op('x', 'alloc', 3, 4, 6, 2),
    ];
    expect(linearize(ops(), new Slots(8, [6, 7]), { maxSteps: 100, maxPending: 1 }).ok).toBe(false);
    const r = linearize(ops(), new Slots(8, [6, 7]), { maxSteps: 100, maxPending: 2 });
    expect(r.ok && names(r.order).sort()).toEqual(['f6', 'f7', 'x']);
  });
});
