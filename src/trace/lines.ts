/**
 * Lines out of chunks: a log arrives as chunks of bytes or text (a file stream, standard input, a
 * browser File's stream) that cut lines anywhere, a multi-byte character included. A line ends at
 * `\n`; a `\r` before it stays on the line (parseLine drops it), and a last line without a newline
 * still counts.
 */

/** A chunk of a log: bytes (UTF-8) or text. */
export type LogChunk = string | Uint8Array;

/** Splits chunks into lines, keeping the unfinished end of one chunk for the next. */
export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder();

  /** The lines completed by `chunk`. */
  push(chunk: LogChunk): string[] {
    const text =
      this.rest + (typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    return lines;
  }

  /** The last line, when the input did not end with a newline. */
  end(): string[] {
    const tail = this.rest + this.decoder.decode();
    this.rest = '';
    return tail === '' ? [] : [tail];
  }
}

/** The lines of an (async) iterable of chunks, e.g. a Node Readable or a browser File's stream. */
export async function* linesOf(chunks: AsyncIterable<LogChunk> | Iterable<LogChunk>): AsyncGenerator<string> {
  const splitter = new LineSplitter();
  for await (const chunk of chunks) yield* splitter.push(chunk);
  yield* splitter.end();
}
