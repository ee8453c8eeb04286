export { excerptAt, TraceSyntaxError } from '../abi/text-error.js';

import { excerptAt } from '../abi/text-error.js';

/**
 * Thrown (or returned) inside the strace parser with a column in the (possibly joined) line; the
 * parser turns it into a TraceSyntaxError with the file and line.
 */
export class LineError {
  constructor(
    readonly index: number,
    readonly expected: string,
    readonly found: string,
    /** When the error is in an earlier line (the `<unfinished ...>` half of a call). */
    readonly line?: number,
  ) {}
}

/** Throws a LineError at `index` of `text`. */
export function fail(text: string, index: number, expected: string): never {
  throw new LineError(index, expected, excerptAt(text, index));
}
