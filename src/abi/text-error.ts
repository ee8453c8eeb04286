/**
 * A line of strace output or of /proc/PID/maps that could not be understood.
 *
 * `message` is exactly `file:line:column: expected <what>, found <what was there>`; line and column
 * are 1-based, and the column counts UTF-16 code units of the line (the same as characters for the
 * ASCII text strace and the kernel print).
 */
export class TraceSyntaxError extends Error {
  override readonly name = 'TraceSyntaxError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** What the parser expected at that column, e.g. `a PROT_* flag`. */
  readonly expected: string;
  /** What it found there: a short quoted excerpt, or `end of line`. */
  readonly found: string;

  constructor(file: string, line: number, column: number, expected: string, found: string) {
    super(`${file}:${line}:${column}: expected ${expected}, found ${found}`);
    this.file = file;
    this.line = line;
    this.column = column;
    this.expected = expected;
    this.found = found;
  }
}

/** A short, quoted excerpt of `text` at `index`, for error messages. */
export function excerptAt(text: string, index: number): string {
  if (index >= text.length) return 'end of line';
  const rest = text.slice(index);
  const word = /^[A-Za-z0-9_?]+/.exec(rest)?.[0] ?? rest.slice(0, 1);
  const shown = word.length > 30 ? `${word.slice(0, 30)}...` : word;
  return JSON.stringify(shown);
}
