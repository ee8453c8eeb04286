/// <reference lib="esnext.disposable" preserve="true" />
/**
 * An undo log for a multi-step change: each step registers its inverse as it is made; disposing the
 * log without `commit()` runs the inverses newest first, so the change leaves no trace. Effects that
 * cannot be undone (freeing a frame that was replaced) are queued with `onCommit` and run only when
 * the change commits.
 *
 * One log per syscall, used with `using`; never one per page (each `using` scope costs ~50 ns).
 */
export class UndoLog implements Disposable {
  private undo: (() => void)[] = [];
  private deferred: (() => void)[] = [];
  private done = false;

  /** Registers the inverse of a step just made. */
  record(inverse: () => void): void {
    this.undo.push(inverse);
  }

  /** Queues an irreversible effect for after the commit. */
  onCommit(effect: () => void): void {
    this.deferred.push(effect);
  }

  get committed(): boolean {
    return this.done;
  }

  /** Keeps every step and runs the queued effects, in the order they were queued. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    this.undo = [];
    const effects = this.deferred;
    this.deferred = [];
    for (const effect of effects) effect();
  }

  /** Rolls back everything not committed. */
  [Symbol.dispose](): void {
    if (this.done) return;
    this.done = true;
    const steps = this.undo;
    this.undo = [];
    this.deferred = [];
    for (let i = steps.length - 1; i >= 0; i--) steps[i]();
  }
}
