/**
 * strace logs on the host: files, streams and the PREFIX.PID files of `strace -ff`, read as lines
 * for the parser (src/trace, which has no file access of its own, so that it runs in a browser).
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createParserState, type ParserState, parseLines, pidFromFileName } from '../trace/strace-parse.js';
import type { ParseOptions, TraceEvent } from '../trace/strace-types.js';

/** The lines of a byte stream (a file, standard input, a pipe), without their line ends. */
export function linesOf(input: Readable | NodeJS.ReadableStream): AsyncIterable<string> {
  return createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
}

/** Parse a byte stream. */
export function parseReadable(
  input: Readable | NodeJS.ReadableStream,
  options: ParseOptions = {},
  state: ParserState = createParserState(options),
): AsyncGenerator<TraceEvent, ParserState, undefined> {
  return parseLines(linesOf(input), options, state);
}

/**
 * Parse a file. `file` defaults to the path; with `perPidFile: true` the pid of unprefixed lines is
 * taken from a `-ff` file name suffix (`trace.1234`).
 */
export function parseStraceFile(
  path: string,
  options: ParseOptions & { perPidFile?: boolean } = {},
  state?: ParserState,
): AsyncGenerator<TraceEvent, ParserState, undefined> {
  const opts: ParseOptions = { file: path, ...options };
  if (options.perPidFile && opts.pid === undefined) {
    const pid = pidFromFileName(path);
    if (pid !== undefined) opts.pid = pid;
  }
  return parseReadable(createReadStream(path), opts, state ?? createParserState(opts));
}

/**
 * The files of a `strace -ff -o PREFIX` run: every `PREFIX.PID` next to PREFIX, sorted by pid
 * (which is also the order in which the processes were created, barring pid wrap-around).
 */
export async function findPerPidFiles(prefix: string): Promise<Array<{ pid: number; path: string }>> {
  const dir = dirname(prefix);
  const base = basename(prefix);
  const out: Array<{ pid: number; path: string }> = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith(`${base}.`)) continue;
    const rest = name.slice(base.length + 1);
    if (/^\d+$/.test(rest)) out.push({ pid: Number(rest), path: join(dir, name) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
