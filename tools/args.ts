/**
 * The tools' command lines, read flag by flag with each value checked where it is read:
 *
 *   const args = new Args(argv);
 *   for (const a of args) {
 *     if (a === '--seed') o.seed = args.int();
 *     else if (a === '--out') o.out = args.value();
 *     else args.unknown();
 *   }
 *
 * A mistake is a `UsageError`: the tool prints its message as one line and exits with status 2.
 */

/** A mistake in a tool's command line. */
export class UsageError extends Error {}

export class Args implements Iterable<string> {
  private i = -1;
  private flag = '';

  constructor(private readonly argv: readonly string[]) {}

  /** Each flag (or other word) in turn; the values `value` and `int` take are skipped. */
  *[Symbol.iterator](): Iterator<string> {
    for (this.i++; this.i < this.argv.length; this.i++) {
      this.flag = this.argv[this.i];
      yield this.flag;
    }
  }

  /** The value after the current flag. */
  value(): string {
    const v = this.argv[++this.i];
    if (v === undefined) throw new UsageError(`${this.flag} needs a value`);
    return v;
  }

  /** The value after the current flag, a whole number of at least `min`. */
  int(min = 0): number {
    const s = this.value();
    const v = Number(s);
    if (s.trim() === '' || !Number.isSafeInteger(v) || v < min)
      throw new UsageError(`${this.flag} needs an integer of at least ${min}, not ${s}`);
    return v;
  }

  /** The value after the current flag, one of `choices`. */
  oneOf<T extends string>(choices: readonly T[]): T {
    const v = this.value();
    if (!(choices as readonly string[]).includes(v))
      throw new UsageError(
        `${this.flag} is ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, not ${v}`,
      );
    return v as T;
  }

  /** Refuses the current flag, which the tool does not know. */
  unknown(): never {
    throw new UsageError(`unknown option ${this.flag} (try --help)`);
  }
}
