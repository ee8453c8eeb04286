/**
 * The order in which overlapping calls took effect, found the way linearizability checkers find
 * it (Porcupine, Knossos's WGL search): a history of operations, each with the moment it was
 * invoked and the moment it returned; a model that applies one operation and says whether the
 * result is the one the history shows; a depth-first search over the orders the history allows.
 *
 * An operation may take effect only after every operation that returned before it was invoked
 * (real-time order); between its invocation and its return it may take effect at any point. An
 * operation still pending (invoked, not yet returned) has no result to hold against the model: it
 * may be placed anywhere after its invocation, or left out. The search tries the order in which
 * the operations returned first (what a replay that runs each call at its return does), and on a
 * contradiction the other candidates at the deepest point first, backtracking. To go back, the
 * search loads the state it saved at that depth, or, for a model that cannot save its state,
 * resets it and applies the current prefix again. States seen
 * before (the same operations applied and the same model key) are not explored twice. The search
 * is bounded by a number of model steps; when no order is found within it, it says whether the
 * history has none (every order was tried) or the bound was reached, and gives the longest
 * consistent prefix it found.
 */

/** One operation of a history, with its invocation and return as positions in the history. */
export interface Operation {
  readonly invoked: number;
  /** Undefined while the operation is pending. */
  readonly returned: number | undefined;
}

/** What the search steps: the kernel in the replay, anything with a state in the tests. */
export interface LinearModel<Op extends Operation> {
  /** Back to the state before the history's first operation. */
  reset(): void;
  /** Applies `op`; false when its result contradicts the one the history shows (the state is then unspecified). */
  step(op: Op): boolean;
  /**
   * A key of the current state, when the model can give one: two states with the same key after
   * the same operations are the same state, so the second is not explored again.
   */
  key?(): string;
  /**
   * The current state, to come back to with `load`, when the model can keep one: backtracking then
   * costs a load instead of a reset and the prefix applied again.
   */
  save?(): unknown;
  load?(state: unknown): void;
}

export type Linearization<Op> =
  /** Every returned operation in an order consistent with the model (pending ones that had to precede some). */
  | { ok: true; order: Op[]; steps: number }
  /**
   * No order found: `exhausted` when every order was tried (the history has none: a real
   * difference of the model), else the step bound was reached first.
   */
  | { ok: false; exhausted: boolean; longest: Op[]; steps: number };

interface Frame {
  candidates: number[];
  next: number;
}

/**
 * Where a search may start: operations of the history already applied in an order the history
 * allows, each consistent, and the state after the first `d` of them (`state(d)`, for d ≥ 1, in the
 * form the model's `save` gives). The search explores that order first and goes back from its end.
 */
export interface SearchStart<Op> {
  readonly prefix: readonly Op[];
  state(d: number): unknown;
}

/**
 * Searches an order of `ops` in which every returned operation's result is the model's. The model
 * is left in the state after the order found; after a failure its state is unspecified.
 */
export function linearize<Op extends Operation>(
  ops: readonly Op[],
  model: LinearModel<Op>,
  limits: { maxSteps: number; maxPending?: number },
  start?: SearchStart<Op>,
): Linearization<Op> {
  const { maxSteps } = limits;
  const maxPending = limits.maxPending ?? Number.POSITIVE_INFINITY;
  let pendingUsed = 0;
  const n = ops.length;
  const done = new Uint8Array(n);
  let returnedLeft = 0;
  for (const op of ops) if (op.returned !== undefined) returnedLeft++;
  // Preference: returned operations in the order they returned, then pending ones as invoked.
  const byPreference = [...ops.keys()].sort((a, b) => {
    const ra = ops[a].returned ?? Number.POSITIVE_INFINITY;
    const rb = ops[b].returned ?? Number.POSITIVE_INFINITY;
    return ra !== rb ? ra - rb : ops[a].invoked - ops[b].invoked;
  });
  const path: number[] = [];
  let longest: number[] = [];
  const frames: Frame[] = [];
  const seen = new Set<string>();
  let steps = 0;

  const candidates = (): number[] => {
    // The earliest return among the operations not yet applied: nothing invoked after it may go first.
    let horizon = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const r = ops[i].returned;
      if (!done[i] && r !== undefined && r < horizon) horizon = r;
    }
    const pendingOk = pendingUsed < maxPending;
    return byPreference.filter(
      (i) => !done[i] && ops[i].invoked <= horizon && (pendingOk || ops[i].returned !== undefined),
    );
  };
  // States after each prefix of `path` (index d: after d operations), when the model saves them.
  const saved: unknown[] = [];
  const canSave = model.save !== undefined && model.load !== undefined;
  const replay = (): void => {
    if (canSave) {
      if (path.length === 0) model.reset();
      else model.load!(saved[path.length]);
      return;
    }
    model.reset();
    for (const i of path) {
      steps++;
      if (!model.step(ops[i])) throw new Error('linearize: the model is not deterministic');
    }
  };

  const take = (i: number): void => {
    path.push(i);
    done[i] = 1;
    if (ops[i].returned !== undefined) returnedLeft--;
    else pendingUsed++;
    if (path.length > longest.length) longest = [...path];
  };
  for (const p of start?.prefix ?? []) {
    const i = ops.indexOf(p);
    const c = candidates();
    if (i < 0 || !c.includes(i)) break;
    // The given order first at this depth, then the others as usual.
    frames.push({ candidates: [i, ...c.filter((x) => x !== i)], next: 1 });
    take(i);
    if (canSave) saved[path.length] = start!.state(path.length);
  }
  replay();
  for (;;) {
    if (returnedLeft === 0) return { ok: true, order: path.map((i) => ops[i]), steps };
    let fresh = true;
    if (model.key !== undefined) {
      let bits = '';
      for (let i = 0; i < n; i++) bits += done[i] ? '1' : '0';
      const key = `${bits}|${model.key()}`;
      fresh = !seen.has(key);
      seen.add(key);
    }
    frames.push({ candidates: fresh ? candidates() : [], next: 0 });
    // Take the next candidate that steps, backtracking past exhausted frames.
    for (;;) {
      const f = frames[frames.length - 1];
      if (f.next < f.candidates.length) {
        if (steps >= maxSteps)
          return { ok: false, exhausted: false, longest: longest.map((i) => ops[i]), steps };
        const i = f.candidates[f.next++];
        steps++;
        if (model.step(ops[i])) {
          take(i);
          if (canSave) saved[path.length] = model.save!();
          break;
        }
        replay();
        continue;
      }
      frames.pop();
      if (frames.length === 0)
        return { ok: false, exhausted: true, longest: longest.map((i) => ops[i]), steps };
      const undone = path.pop()!;
      saved.length = path.length + 1;
      done[undone] = 0;
      if (ops[undone].returned !== undefined) returnedLeft++;
      else pendingUsed--;
      replay();
    }
  }
}
