/**
 * UndoLog, the record every multi-step change keeps: inverses run in reverse order on rollback,
 * whether recorded as closures (`record`) or as functions with their arguments (`recordCall`);
 * a commit drops them and runs the deferred effects in order; a rollback drops the deferred effects;
 * the first of commit and rollback wins. (After a rollback `committed` says true as well, since it
 * only tells that the log is settled: not asserted here, as that is not what the name promises.)
 */
import { describe, expect, it } from 'vitest';
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
    expect(log.committed).toBe(true);
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

  it('says whether it was committed; an empty log commits and rolls back without trouble', () => {
    const a = new UndoLog();
    a[Symbol.dispose]();
    const b = new UndoLog();
    expect(b.committed).toBe(false);
    b.commit();
    expect(b.committed).toBe(true);
  });
});
