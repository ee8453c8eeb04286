/**
 * Strace logs on disk: the file and directory access the pure parser (src/trace) leaves to the
 * command line, so that everything below src/cli runs in a browser too.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  createParserState,
  type ParserState,
  parseReadable,
  pidFromFileName,
} from '../trace/strace-parse.js';
import type { ParseOptions, TraceEvent } from '../trace/strace-types.js';

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
