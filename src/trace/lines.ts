/**
 * Lines of a text stream, a chunk at a time: the lines of each chunk are split synchronously, so a
 * long log costs one await per chunk instead of one Promise per line (Node's readline async iterator).
 *
 * Line ends are those of Node's `readline` with `crlfDelay: Infinity`, which this replaces: `\n`,
 * `\r\n` (also when a chunk ends between the two) and a lone `\r`; a last line without a line end
 * is a line; bytes are decoded as UTF-8, invalid sequences becoming U+FFFD, a leading BOM kept.
 */

/** Splits pushed chunks into lines; keeps the unfinished end of the last chunk for the next one. */
export class LineSplitter {
  private rest = '';
  /** The previous chunk ended with `\r`: a `\n` starting this one belongs to that line end. */
  private afterCR = false;
  private decoder: InstanceType<typeof TextDecoder> | undefined;

  /** Appends the complete lines of `chunk` (with what was left of the previous chunks) to `out`. */
  push(chunk: string | Uint8Array, out: string[]): void {
    let text: string;
    if (typeof chunk === 'string') text = chunk;
    else {
      this.decoder ??= new TextDecoder('utf-8', { ignoreBOM: true });
      text = this.decoder.decode(chunk, { stream: true });
    }
    if (text.length === 0) return;
    let from = 0;
    if (this.afterCR) {
      this.afterCR = false;
      if (text.charCodeAt(0) === 10) from = 1;
    }
    if (text.indexOf('\r', from) < 0) this.splitLF(text, from, out);
    else this.splitAny(text, from, out);
  }

  /** Ends the input: the last line, when the input did not end with a line end. */
  end(out: string[]): void {
    if (this.decoder !== undefined) {
      const tail = this.decoder.decode();
      if (tail.length > 0) this.push(tail, out);
    }
    if (this.rest.length > 0) out.push(this.rest);
    this.rest = '';
    this.afterCR = false;
  }

  /** The usual case: only `\n` ends lines in this chunk. */
  private splitLF(text: string, from: number, out: string[]): void {
    let start = from;
    let nl = text.indexOf('\n', start);
    if (nl < 0) {
      this.rest += start === 0 ? text : text.slice(start);
      return;
    }
    out.push(this.rest.length === 0 ? text.slice(start, nl) : this.rest + text.slice(start, nl));
    this.rest = '';
    start = nl + 1;
    for (nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      out.push(text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  private splitAny(text: string, from: number, out: string[]): void {
    let start = from;
    for (let i = from; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      out.push(this.rest + text.slice(start, i));
      this.rest = '';
      if (ch === 13) {
        if (i + 1 === text.length) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.rest += text.slice(start);
  }
}

/**
 * The lines of a stream (a Node Readable, a web ReadableStream, any async iterable of chunks) as
 * batches: one array per chunk read, possibly empty.
 */
export async function* lineBatches(
  chunks: AsyncIterable<string | Uint8Array>,
): AsyncGenerator<string[], void, undefined> {
  const splitter = new LineSplitter();
  for await (const chunk of chunks) {
    const out: string[] = [];
    splitter.push(chunk, out);
    yield out;
  }
  const out: string[] = [];
  splitter.end(out);
  if (out.length > 0) yield out;
}
