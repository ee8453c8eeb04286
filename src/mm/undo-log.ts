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
  // Created on first use: most syscalls that fail do so before recording anything.
  private undo: (() => void)[] | null = null;
  private deferred: (() => void)[] | null = null;
  private done = false;

  /** Registers the inverse of a step just made. */
  record(inverse: () => void): void {
    if (this.undo === null) this.undo = [inverse];
    else this.undo.push(inverse);
  }

  /** Queues an irreversible effect for after the commit. */
  onCommit(effect: () => void): void {
    if (this.deferred === null) this.deferred = [effect];
    else this.deferred.push(effect);
  }

  get committed(): boolean {
    return this.done;
  }

  /** Keeps every step and runs the queued effects, in the order they were queued. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    this.undo = null;
    const effects = this.deferred;
    this.deferred = null;
    if (effects !== null) for (const effect of effects) effect();
  }

  /** Rolls back everything not committed. */
  [Symbol.dispose](): void {
    if (this.done) return;
    this.done = true;
    const steps = this.undo;
    this.undo = null;
    this.deferred = null;
    if (steps !== null) for (let i = steps.length - 1; i >= 0; i--) steps[i]();
  }
}
