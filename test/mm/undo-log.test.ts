/**
 * UndoLog, the record every multi-step change keeps: inverses run in reverse order on rollback,
 * whether recorded as closures (`record`) or as functions with their arguments (`recordCall`);
 * a commit drops them and runs the deferred effects in order; a rollback drops the deferred effects;
 * the first of commit and rollback wins. (After a rollback `committed` says true as well, since it
 * only tells that the log is settled: not asserted here, as that is not what the name promises.)
 */
import { describe, expect, it } from 'vitest';
import { KernelPanic } from '../../src/hal/panic.js';
import { UndoLog } from '../../src/mm/undo-log.js';

describe('UndoLog', () => {
  it('rolls back every step in reverse order, closures and recorded calls alike, with their arguments', () => {
    const done: string[] = [];
    const log = new UndoLog();
    const undoCall = (tag: string, a: number, b: string | undefined, c: boolean, e: object) =>
      done.push(`${tag} ${a} ${b} ${c} ${JSON.stringify(e)}`);
    log.record(() => done.push('first'));
    log.recordCall(undoCall, 'second', 2, undefined, true, { k: 1 });
    log.record(() => done.push('third'));
    log.recordCall(undoCall, 'fourth', 4, 'x', false, []);
    log.onCommit(() => done.push('never'));
    log[Symbol.dispose]();
    expect(done).toEqual(['fourth 4 x false []', 'third', 'second 2 undefined true {"k":1}', 'first']);
    // Disposed once: a second rollback or a late commit does nothing.
    log[Symbol.dispose]();
    log.commit();
    expect(done).toHaveLength(4);
  });

  it('on commit forgets the inverses and runs the deferred effects once, in the order queued', () => {
    const done: string[] = [];
    const log = new UndoLog();
    log.record(() => done.push('undo'));
    log.recordCall((x: number) => done.push(`undo ${x}`), 1, undefined, undefined, undefined, undefined);
    log.onCommit(() => done.push('effect 1'));
    log.onCommit(() => done.push('effect 2'));
    log.commit();
    expect(log.closed).toBe(true);
    expect(done).toEqual(['effect 1', 'effect 2']);
    log.commit();
    log[Symbol.dispose]();
    expect(done).toEqual(['effect 1', 'effect 2']);
  });

  it('works with `using`: leaving the scope without a commit rolls back', () => {
    const done: string[] = [];
    const run = (commit: boolean) => {
      using log = new UndoLog();
      log.record(() => done.push(`undo (${commit})`));
      if (commit) log.commit();
    };
    run(true);
    run(false);
    expect(done).toEqual(['undo (false)']);
  });

  it('says whether it is closed, committed or rolled back; an empty log does either without trouble', () => {
    const a = new UndoLog();
    expect(a.closed).toBe(false);
    a[Symbol.dispose]();
    expect(a.closed).toBe(true);
    const b = new UndoLog();
    expect(b.closed).toBe(false);
    b.commit();
    expect(b.closed).toBe(true);
  });

  it('panics on a step or an effect recorded once it is closed, which would never run', () => {
    const committed = new UndoLog();
    committed.commit();
    expect(() => committed.record(() => {})).toThrow(KernelPanic);
    expect(() => committed.onCommit(() => {})).toThrow(KernelPanic);
    const rolledBack = new UndoLog();
    rolledBack[Symbol.dispose]();
    expect(() => rolledBack.recordCall(() => {}, 1, 2, 3, 4, 5)).toThrow(KernelPanic);
    expect(() => rolledBack.onCommit(() => {})).toThrow(KernelPanic);
  });
});
