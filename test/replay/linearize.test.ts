/**
 * The search for the order of overlapping operations, on small synthetic histories: a model of a
 * top-down allocator of slots (what mmap without a hint does), and a counter.
 */
import { describe, expect, it } from 'vitest';
import { type LinearModel, linearize, type Operation } from '../../src/replay/linearize.js';

/** alloc: takes the highest free slot and returns it; free: gives slot `arg` back (returns 0). */
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
      got = -1;
      for (let s = this.size - 1; s >= 0; s--) {
        if (!this.used.has(s)) {
          got = s;
          break;
        }
      }
      if (got >= 0) this.used.add(got);
    } else {
      got = this.used.delete(op.arg!) ? 0 : -1;
    }
    return op.returned === undefined || op.result === got;
  }
  key(): string {
    return [...this.used].sort().join(',');
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
    const r = linearize(ops, model, 100);
    expect(r.ok && names(r.order)).toEqual(['a', 'b', 'c']);
    expect(r.steps).toBe(3);
  });

  it('reorders two overlapping allocations whose results say the later return went first', () => {
    // b returned first (line 3) but got the lower slot: a took effect before it.
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 4, 7), op('b', 'alloc', 2, 3, 6)];
    const r = linearize(ops, model, 100);
    expect(r.ok && names(r.order)).toEqual(['a', 'b']);
    expect(model.steps.slice(0, 1)).toEqual(['b']);
  });

  it('places a pending free before the allocation that reused its slot', () => {
    // Slot 7 is in use; a free of it is pending when an allocation returns slot 7.
    const model = new Slots(8, [7]);
    const ops = [op('free7', 'free', 1, undefined, undefined, 7), op('alloc', 'alloc', 2, 3, 7)];
    const r = linearize(ops, model, 100);
    expect(r.ok && names(r.order)).toEqual(['free7', 'alloc']);
  });

  it('leaves a pending operation out when nothing needs it', () => {
    const model = new Slots(8);
    const ops = [op('later', 'alloc', 1, undefined), op('x', 'alloc', 2, 3, 7)];
    const r = linearize(ops, model, 100);
    expect(r.ok && names(r.order)).toEqual(['x']);
  });

  it('respects real-time order: an operation that returned before another was invoked stays first', () => {
    // a returned (line 2) before b was invoked (line 3): b cannot have taken slot 7 first.
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 2, 6), op('b', 'alloc', 3, 4, 7)];
    const r = linearize(ops, model, 100);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.exhausted).toBe(true);
    expect(!r.ok && names(r.longest)).toEqual([]);
  });

  it('says when no order exists, with the longest consistent prefix', () => {
    const model = new Slots(8);
    const ops = [op('a', 'alloc', 1, 5, 7), op('b', 'alloc', 2, 6, 6), op('c', 'alloc', 3, 7, 1)];
    const r = linearize(ops, model, 1000);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.exhausted).toBe(true);
    expect(!r.ok && names(r.longest)).toEqual(['a', 'b']);
  });

  it('stops at the step bound and says so', () => {
    // Overlapping frees that commute, then an allocation no order explains: many orders to try.
    const ops = [...Array.from({ length: 6 }, (_, i) => op(`f${i}`, 'free', i, 10 + i, 0, i)), op('x', 'alloc', 0, 30, 9)];
    const slots = new Slots(8, [0, 1, 2, 3, 4, 5]);
    const r = linearize(ops, { reset: () => slots.reset(), step: (o) => slots.step(o) }, 50);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.exhausted).toBe(false);
    expect(r.steps).toBeLessThanOrEqual(50 + 8);
  });

  it('explores a state reached by two orders once', () => {
    // Six overlapping frees of distinct slots commute; the last allocation's result is impossible.
    const frees = Array.from({ length: 6 }, (_, i) => op(`f${i}`, 'free', i, 10 + i, 0, i));
    const impossible = op('x', 'alloc', 0, 30, 9);
    const withKey = new Slots(8, [0, 1, 2, 3, 4, 5]);
    const a = linearize([...frees, impossible], withKey, 1e6);
    const plain = new Slots(8, [0, 1, 2, 3, 4, 5]);
    const b = linearize([...frees, impossible], { reset: () => plain.reset(), step: (o) => plain.step(o) }, 1e6);
    expect(a.ok || b.ok).toBe(false);
    expect(!a.ok && a.exhausted && !b.ok && b.exhausted).toBe(true);
    expect(a.steps * 10).toBeLessThan(b.steps);
  });
});
