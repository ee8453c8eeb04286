/**
 * Streaming a log (or the per-process files of `strace -ff`) through a Replayer: one line in, one
 * line out, in constant memory. The output line of every input line is the input line itself,
 * except for memory calls whose result differs, which carry the model's result. The lines come from
 * the caller (files and pipes on the command line, a File in a browser).
 */
import type { Arch } from '../hal/addr.js';
import { createParserState, finishParse, type ParserState, parseLine } from '../trace/strace-parse.js';
import type { TraceEvent } from '../trace/strace-types.js';
import type { CallOutcome, Replayer } from './engine.js';

/** One input: a file, standard input, or one file of a `-ff` set (with the pid from its name). */
export interface TraceInput {
  /** The name in error messages. */
  name: string;
  /** Its lines, without line ends (called once, when the replay starts). */
  lines(): AsyncIterable<string>;
  /** The pid of lines without a pid prefix (`-ff` files). */
  pid?: number;
}

export interface DriveHooks {
  /** An output line (without newline) for input number `input`. */
  line(text: string, input: number): void;
  /** Every memory call's outcome. */
  call?(outcome: CallOutcome, input: number): void;
  /** Called every few thousand lines and at the end. */
  progress?(lines: number): void;
}

export interface DriveOptions {
  arch?: Arch;
  lenient?: boolean;
}

interface Source {
  input: TraceInput;
  index: number;
  state: ParserState;
  lines: AsyncIterator<string>;
  /** A `strace: Process N attached` message written into the middle of a call line. */
  held?: { partial: string; message: string };
  head?: TraceEvent;
  done: boolean;
}

const PROGRESS_EVERY = 4096;

/**
 * Replays `inputs`. One input is read in order; several (`-ff`) are merged by their timestamps when
 * every file has -t/-tt/-ttt times, else replayed one after the other in pid order (processes have
 * address spaces of their own, so only threads of one process, which -ff also splits, need the
 * interleaving). Returns the calls left unfinished at the end.
 */
export async function drive(
  replayer: Pick<Replayer, 'step'>,
  inputs: readonly TraceInput[],
  options: DriveOptions,
  hooks: DriveHooks,
): Promise<Array<{ pid?: number; name: string; line: number; file: string }>> {
  const sources: Source[] = inputs.map((input, index) => {
    const state = createParserState({
      file: input.name,
      lenient: options.lenient ?? false,
      arch: options.arch ?? 'x86_64',
      pid: input.pid,
    });
    return { input, index, state, lines: input.lines()[Symbol.asyncIterator](), done: false };
  });
  let count = 0;
  const emit = (src: Source, ev: TraceEvent) => {
    const out = replayer.step(ev);
    let text = out ? out.line : ev.raw;
    if (src.held) {
      const { partial, message } = src.held;
      src.held = undefined;
      const split = (ev.kind === 'memory' || ev.kind === 'other') && ev.splitAt === partial.length;
      if (split) text = `${text.slice(0, partial.length)}${message}\n${text.slice(partial.length)}`;
      else hooks.line(`${partial}${message}`, src.index);
    }
    if (ev.kind === 'message' && src.state.partial !== undefined) {
      src.held = { partial: src.state.partial.text, message: ev.raw };
    } else {
      hooks.line(text, src.index);
    }
    if (out && hooks.call) hooks.call(out, src.index);
    if (++count % PROGRESS_EVERY === 0) hooks.progress?.(count);
  };
  const next = async (src: Source): Promise<TraceEvent | undefined> => {
    const r = await src.lines.next();
    if (r.done) {
      src.done = true;
      return undefined;
    }
    return parseLine(r.value, src.state);
  };

  if (sources.length === 1) {
    const src = sources[0];
    for (;;) {
      const ev = await next(src);
      if (ev === undefined) break;
      emit(src, ev);
    }
  } else {
    for (const src of sources) src.head = await next(src);
    const timed = sources.every((s) => s.head === undefined || s.head.prefix.time !== undefined);
    if (!timed) {
      for (const src of sources) {
        while (src.head !== undefined) {
          emit(src, src.head);
          src.head = await next(src);
        }
      }
    } else {
      for (;;) {
        let best: Source | undefined;
        for (const s of sources) {
          if (s.head === undefined) continue;
          const t = s.head.prefix.time?.seconds ?? Number.NEGATIVE_INFINITY;
          const bt = best?.head?.prefix.time?.seconds ?? Number.NEGATIVE_INFINITY;
          if (best === undefined || t < bt) best = s;
        }
        if (best === undefined) break;
        emit(best, best.head!);
        best.head = await next(best);
      }
    }
  }
  hooks.progress?.(count);
  const left: Array<{ pid?: number; name: string; line: number; file: string }> = [];
  for (const src of sources) {
    if (src.held) hooks.line(`${src.held.partial}${src.held.message}`, src.index);
    if (src.state.partial) hooks.line(src.state.partial.text, src.index);
    for (const u of finishParse(src.state)) left.push({ ...u, file: src.input.name });
  }
  return left;
}
