/// <reference lib="esnext.disposable" preserve="true" />
/**
 * An undo log for a multi-step change: each step registers its inverse as it is made; disposing the
 * log without `commit()` runs the inverses newest first, so the change leaves no trace. Effects that
 * cannot be undone (freeing a frame that was replaced) are queued with `onCommit` and run only when
 * the change commits.
 *
 * One log per syscall, used with `using`; never one per page (each `using` scope costs ~50 ns).
 * The syscalls every replayed log is full of (mmap, munmap, mprotect) dispose theirs in a
 * try/finally instead: tsc's downlevelled `using` allocates an environment, a stack, a record and
 * two closures per scope, which cost those paths about a tenth of what they allocate.
 */
import { KernelPanic } from '../hal/panic.js';

/** Slots per recorded step: the inverse and its five arguments. */
const STEP = 6;

export class UndoLog implements Disposable {
  /**
   * The inverses, STEP slots each: a function and the arguments it is called with (unused ones
   * undefined). Created on first use: most syscalls that fail do so before recording anything.
   */
  private steps: unknown[] | null = null;
  private deferred: (() => void)[] | null = null;
  private done = false;

  /** Registers the inverse of a step just made. */
  record(inverse: () => void): void {
    this.recordCall(inverse, undefined, undefined, undefined, undefined, undefined);
  }

  /**
   * Registers `inverse(a, b, c, d, e)` as the inverse of a step just made, without a closure: the
   * VMA changes every syscall makes (split, merge, insert, remove) record theirs this way, which
   * allocates nothing but the log's own array.
   */
  recordCall<A, B, C, D, E>(
    inverse: (a: A, b: B, c: C, d: D, e: E) => void,
    a: A,
    b: B,
    c: C,
    d: D,
    e: E,
  ): void {
    if (this.done) throw new KernelPanic('a step recorded in an undo log already committed or rolled back');
    if (this.steps === null) this.steps = [inverse, a, b, c, d, e];
    else this.steps.push(inverse, a, b, c, d, e);
  }

  /** Queues an irreversible effect for after the commit. */
  onCommit(effect: () => void): void {
    if (this.done) throw new KernelPanic('an effect queued in an undo log already committed or rolled back');
    if (this.deferred === null) this.deferred = [effect];
    else this.deferred.push(effect);
  }

  /** Whether the log is closed: committed, or rolled back. Nothing may be recorded in it then. */
  get closed(): boolean {
    return this.done;
  }

  /** Keeps every step and runs the queued effects, in the order they were queued. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    this.steps = null;
    const effects = this.deferred;
    this.deferred = null;
    if (effects !== null) for (const effect of effects) effect();
  }

  /** Rolls back everything not committed. */
  [Symbol.dispose](): void {
    if (this.done) return;
    this.done = true;
    const steps = this.steps;
    this.steps = null;
    this.deferred = null;
    if (steps === null) return;
    for (let i = steps.length - STEP; i >= 0; i -= STEP) {
      const inverse = steps[i] as (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => void;
      inverse(steps[i + 1], steps[i + 2], steps[i + 3], steps[i + 4], steps[i + 5]);
    }
  }
}
