/**
 * `levitate-mm replay TRACE`: run the memory calls of a real strace log through the model and print
 * the model's answer to each in strace's own format (see REPLAY_HELP).
 */

import { isAscii } from 'node:buffer';
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { type Command, Option } from 'commander';
import { type MapsEntry, parseMaps } from '../abi/proc-maps.js';
import { type Arch, hex } from '../hal/addr.js';
import { PAGE_SIZES } from '../hal/geometry.js';
import { SnapshotError } from '../kernel/snapshot.js';
import { drive, type TraceInput } from '../replay/drive.js';
import {
  archOfMaps,
  type CallOutcome,
  type DivergenceReason,
  ReplayContradiction,
  Replayer,
  type ReplayOptions,
  type ReplaySummary,
  resultText,
  type SpaceOrigin,
  type TaskReport,
} from '../replay/engine.js';
import { TraceSyntaxError } from '../trace/errors.js';
import { NodeExecFiles } from './exec-files-node.js';
import { fileFactsFrom, type GivenFile, parseFileOption } from './host-files.js';
import { type LayoutFlags, layoutFrom, machineDefaults } from './replay-options.js';
import { findPerPidFiles } from './trace-files.js';
import { parseAddress, parseBytes, parseCount, parseLimit, ramGranule, UsageError } from './values.js';

const REPLAY_HELP = `
Recording a log that replays with nothing else needed:
  setarch -R strace -f -e trace=%memory,%process -o app.strace ./app args
    -R: no address randomization, so every address is Linux's own; %process: execve, clone, fork,
    vfork and exit are in the log, so the model execs each program from its ELF file, forks and
    shares address spaces as the log says, and tears them down at exit
  setarch -R strace -f -v -s 4096 -e trace=%memory,%process -o app.strace ./app
    -v -s 4096: execve's arguments and environment in full, so that [stack] is Linux's too
  strace -f -e trace=%memory -o app.strace ./app args     # memory calls only (see --maps, --relocate)
  strace -ff -e trace=%memory,%process -o app ./app        # one file per process: app.PID
  (also: strace's default output on stderr, -t/-tt/-ttt/-r, -y/-yy, unfiltered logs)

Replaying it:
  levitate-mm replay app.strace > model.strace      # then: diff app.strace model.strace
  levitate-mm replay app.strace --relocate          # a log recorded with ASLR on
  levitate-mm replay app                            # the app.PID files of strace -ff
  strace -f -e trace=%memory ./app 2>&1 >/dev/null | levitate-mm replay -

Output: every input line again on standard output (or --trace-out), memory calls with the model's
result, so that diff shows exactly the calls on which the model differs from Linux; then a summary
on standard error: calls replayed, how many differed and why, what the model could not do as the
log says (said once each: a program not on this machine or of another build, abbreviated execve
arguments), and for each process its pids, its program, its calls and how many got Linux's result,
its mappings at the end and at the peak, mapped and resident bytes, page-table pages, and the
frames in use.

Why a result may differ (the summary counts each reason; --json gives each call's):
  aslr                the log was recorded with address randomization (its first mapping placed
                      by the kernel lies far below where it goes without): use --relocate
  placement           the model placed the mapping elsewhere than Linux did, relative to its
                      neighbours (with --relocate: once the log's randomization is accounted for)
  unknown-memory      the call works on, or was placed around, memory mapped before the log began
                      (the program and ld.so, mapped by an execve the log does not show); record
                      with -e trace=%memory,%process, or give the process's maps at its start
                      with --maps
  follows-difference  the call works on memory an earlier differing call left out (or put
                      elsewhere), or was placed next to such memory
  unexplained         the model and Linux disagree

How the log is read: each pid is a task of the model's kernel. An execve line runs the model's
execve of the program it names, found on this machine (relative paths from --cwd), with the argv
and environment the line shows (where strace cut them, the strings it printed, and empty ones for
an environment it only counted: the [stack] may then start elsewhere); the new program's first
calls must then agree with Linux, else its exec layout is not the log's (another build, or a log
recorded with randomization) and it is replayed from an empty address space, as a program the
machine lacks is. clone/clone3/fork/vfork lines fork or share the address space with the log's
flags (CLONE_VM, CLONE_FILES, CLONE_THREAD, CLONE_VFORK), even when the child's lines come first;
+++ exited ends a task, and the last one of an address space tears it down. Without process lines:
a new pid whose first call is brk(NULL) is a new program with an empty address space, any other a
thread of the process seen just before it; a pid whose brk(NULL) shows another break than its own,
or whose first mapping after brk(NULL) lands on memory it holds, runs a new program (an exec the
log does not show). The first process starts from --maps, or empty. An fd an mmap uses is opened,
by its -y path (or "fd N"), as the log's open/close lines say, else read-write; a file is placed
as one on the file system of the programs the log runs (ext4: files of 2 MiB and more at a 2 MiB
boundary); file pages read as zeros, since the model has the file's name but not its contents.

Calls of threads that overlap in the log (<unfinished ...> then <... resumed>) may have taken
effect in any order between the two: each runs at its return, and when a result differs from
Linux's, the orders the log allows are searched (a pending call may have to go first) for one in
which every result is Linux's; the summary says how many were reordered, and how many had none
(a real difference of the model). Not with --relocate, nor --paging eager.

With --relocate, an address inside a mapping the log created is translated to where the model
has that mapping, and the model's results are printed and compared in the log's coordinates. An
address the kernel chose matches when the model put the mapping at the same distance from the
same neighbour (the nearest mapping above it), or at the same offset from the relocated base of
the mmap area, which the first such mapping fixes; a mapping aligned to 2 MiB for huge pages may
be up to 2 MiB off, as randomization moves its neighbours by pages. So diff shows a placement
difference too, as the address where the model put the mapping, seen from the log.

Exit status: 0 when the log was replayed (even with differences; with --check, 1 when any result
differed), 2 for a usage error, a missing or unreadable file, a line that cannot be parsed
(file:line:column: what was expected), a bad snapshot, or a log that contradicts its snapshot.`;

export interface ReplayFlags extends LayoutFlags {
  maps?: string;
  arch?: Arch;
  pageSize: number;
  ram: number;
  paging: 'eager' | 'demand';
  relocate?: boolean;
  file?: GivenFile[];
  fileSystem?: string;
  hostFiles?: boolean;
  lenient?: boolean;
  json?: boolean;
  quiet?: boolean;
  check?: boolean;
  traceOut?: string;
  mapsOut?: string;
  progress?: boolean;
  proc: string;
  cwd?: string;
}

/** Buffered line output to a file descriptor or to process.stdout, in chunks (constant memory). */
class LineSink {
  private buf: string[] = [];
  private size = 0;
  constructor(private readonly target: number | 'stdout') {}
  write(s: string): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (this.target === 'stdout') process.stdout.write(chunk);
    else writeSync(this.target, chunk);
  }
  close(): void {
    this.flush();
    if (this.target !== 'stdout') closeSync(this.target);
  }
}

/** What went wrong with a file, in words: `permission denied` of `EACCES: permission denied, open '/x'`. */
function ioText(e: unknown): string {
  return (e as Error).message
    .replace(/^[A-Z]+: /, '')
    .replace(/, \w+ '.*'$/, '')
    .replace(/, \w+$/, '');
}

function openOut(path: string): LineSink {
  try {
    return new LineSink(openSync(path, 'w'));
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${ioText(e)}`);
  }
}

/** An input on the host: a file or standard input, opened when the replay reads it. */
interface HostInput {
  name: string;
  pid?: number;
  open(): Readable;
}

/** The files of a log: one file, or the PREFIX.PID files of strace -ff (with their pids). */
export async function traceFiles(
  trace: string,
): Promise<Array<{ path: string; pid?: number; bytes: number }>> {
  if (existsSync(trace)) {
    const st = statSync(trace);
    if (st.isDirectory()) throw new UsageError(`${trace}: is a directory, not a strace log`);
    return [{ path: trace, bytes: st.size }];
  }
  let files: Array<{ pid: number; path: string }> = [];
  try {
    files = await findPerPidFiles(trace);
  } catch {
    files = [];
  }
  if (files.length === 0) {
    throw new UsageError(`${trace}: no such file (nor ${trace}.PID files from strace -ff)`);
  }
  return files.map((f) => ({ path: f.path, pid: f.pid, bytes: statSync(f.path).size }));
}

/** Large reads: the lines of a chunk are parsed without awaiting (see replay/drive.ts). */
const READ_OPTIONS = { highWaterMark: 1 << 20 };

/**
 * The chunks of `stream`, each one that is all ASCII (so far) as a string: for ASCII, Latin-1 and
 * UTF-8 read the same, and a Latin-1 copy costs a fifth of the streaming TextDecoder's time
 * (measured: 8–14 ms against 48–75 ms for a 15 MiB log). From the first chunk with any other byte
 * on, every chunk goes on as bytes, to the splitter's one decoder, so that a character cut in two
 * by a chunk's end (and everything after it) is decoded as before. No decoder state is lost at the
 * switch: every earlier chunk ended with a whole (ASCII) character.
 */
async function* asciiAsText(stream: Readable): AsyncGenerator<string | Uint8Array, void, undefined> {
  let ascii = true;
  for await (const chunk of stream as AsyncIterable<string | Buffer>) {
    if (ascii && typeof chunk !== 'string' && isAscii(chunk)) yield chunk.toString('latin1');
    else {
      if (typeof chunk !== 'string') ascii = false;
      yield chunk;
    }
  }
}

/** The inputs: standard input, one file, or the PREFIX.PID files of strace -ff. */
async function inputsFor(trace: string | undefined): Promise<{ inputs: HostInput[]; bytes: number }> {
  if (trace === undefined || trace === '-') {
    return { inputs: [{ name: '<stdin>', open: () => process.stdin }], bytes: 0 };
  }
  const files = await traceFiles(trace);
  const inputs = files.map((f) => ({
    name: f.path,
    pid: f.pid,
    open: (): Readable => createReadStream(f.path, READ_OPTIONS),
  }));
  return { inputs, bytes: files.reduce((n, f) => n + f.bytes, 0) };
}

const REASON_TEXT: Record<DivergenceReason, string> = {
  aslr: 'placed elsewhere by address randomization (use --relocate)',
  placement: 'placed at another position than Linux chose',
  'unknown-memory': 'on or around memory mapped before the log began',
  'follows-difference': 'following an earlier difference',
  unexplained: 'unexplained',
};

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** Processes the text summary lists one by one. */
const MAX_PROCESS_LINES = 24;

const ORIGIN_TEXT: Record<SpaceOrigin, string> = {
  exec: "exec'd from its ELF file",
  snapshot: 'from the snapshot',
  fork: 'a fork',
  empty: 'from an empty address space',
};

/** One process of the summary: pids, program, how it began, its calls, its memory at the end. */
function processLine(t: TaskReport): string {
  const who =
    t.pids.length === 0 ? 'process' : `pid ${t.pids.slice(0, 4).join(',')}${t.pids.length > 4 ? ',…' : ''}`;
  const what = [t.program, ORIGIN_TEXT[t.origin]].filter((x) => x !== undefined).join(', ');
  const calls =
    t.replayed === 0
      ? 'no calls'
      : `${t.replayed} call${t.replayed === 1 ? '' : 's'}, ${t.matched === t.replayed ? 'all' : t.matched} as Linux`;
  return (
    `${who} (${what}): ${calls}; ${t.exited ? 'at exit ' : ''}${t.mappings} mappings (peak ${t.peakMappings}), ` +
    `${bytesText(t.mappedBytes)} mapped, ${bytesText(t.residentBytes)} resident, ${t.pageTablePages} page-table pages`
  );
}

/** The text summary (lines without the `levitate-mm replay: ` prefix). */
function summaryLines(s: ReplaySummary, relocate: boolean): string[] {
  if (s.replayed + s.notModelled + s.noResult === 0) {
    return [
      s.lines === 0
        ? 'the log is empty: no memory calls to replay'
        : `the log held no memory calls (mmap, munmap, mprotect, brk, mremap, madvise) in its ${s.lines} line${s.lines === 1 ? '' : 's'}: ` +
          'record them with strace -e trace=%memory',
    ];
  }
  const out: string[] = [];
  const why = (Object.keys(s.reasons) as DivergenceReason[])
    .filter((r) => s.reasons[r] > 0)
    .map((r) => `${s.reasons[r]} ${REASON_TEXT[r]}`);
  out.push(
    `${s.replayed} memory calls replayed: ${s.matched} same result, ${s.differed} different` +
      (why.length > 0 ? ` (${why.join(', ')})` : ''),
  );
  const r = s.randomization;
  if (r?.randomized) {
    out.push(
      `the log was recorded with address randomization: the first mapping the kernel placed (line ${r.line}) ` +
        `is at ${hex(r.logAddress)}, ${bytesText(r.modelAddress - r.logAddress)} below ` +
        `${hex(r.modelAddress)} where it goes without randomization${relocate ? '' : '; replay with --relocate'}`,
    );
  }
  const extra: string[] = [];
  if (s.notModelled > 0) {
    extra.push(
      `${s.notModelled} not modelled (pkey_mprotect with a protection key; printed with the log's result)`,
    );
  }
  if (s.noResult > 0) extra.push(`${s.noResult} without a result in the log`);
  if (s.invalidLines > 0) extra.push(`${s.invalidLines} unparseable lines skipped`);
  if (extra.length > 0) out.push(extra.join('; '));
  const o = s.overlaps;
  if (o.searches > 0) {
    const parts = [`${o.reordered} resolved by another order`];
    if (o.inconsistent > 0) parts.push(`${o.inconsistent} with no consistent order (a real difference)`);
    if (o.bounded > 0) parts.push(`${o.bounded} not resolved within the search's bound`);
    out.push(
      `overlapping calls of threads: ${o.searches} printed orders contradicted Linux's results: ${parts.join(', ')}`,
    );
  }
  const shown = s.tasks.slice(0, MAX_PROCESS_LINES);
  for (const t of shown) out.push(processLine(t));
  if (s.tasks.length > shown.length) {
    out.push(`… and ${s.tasks.length - shown.length} more processes (--json lists them all)`);
  }
  out.push(`frames in use: ${s.framesInUse} (peak ${s.peakFramesInUse}) of ${bytesText(s.pageSize)} each`);
  return out;
}

/** A progress line on a terminal, once the replay has run for a second. */
class Progress {
  private readonly start = Date.now();
  private last = 0;
  private shown = false;
  constructor(
    private readonly total: number,
    private readonly bytesRead: () => number,
  ) {}
  update(lines: number): void {
    const now = Date.now();
    if (now - this.start < 1000 || now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    const rate = Math.round(lines / ((now - this.start) / 1000));
    let bar = '';
    if (this.total > 0) {
      const f = Math.min(1, this.bytesRead() / this.total);
      const w = 30;
      const n = Math.round(f * w);
      bar = `[${'#'.repeat(n)}${'.'.repeat(w - n)}] ${(f * 100).toFixed(0).padStart(3)}% `;
    }
    process.stderr.write(`\r\x1b[Kreplay: ${bar}${lines} lines, ${rate} lines/s`);
  }
  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
  }
}

function callJson(o: CallOutcome, file: string | undefined): string {
  const ev = o.event;
  const rec: Record<string, unknown> = {};
  if (file !== undefined) rec.file = file;
  rec.line = ev.line;
  if (ev.pid !== undefined) rec.pid = ev.pid;
  rec.syscall = ev.call.syscall;
  rec.status = o.status;
  if (o.reason !== undefined) rec.reason = o.reason;
  if (o.causeLine !== undefined) rec.causeLine = o.causeLine;
  rec.log = resultText(ev.call.syscall, ev.result);
  rec.model = o.status === 'match' || o.status === 'differ' ? resultText(ev.call.syscall, o.printed) : null;
  if (o.model !== undefined && o.model >= 0 && /^(mmap|mremap|brk)$/.test(ev.call.syscall))
    rec.modelAddress = hex(o.model);
  return JSON.stringify(rec);
}

/** The Replayer's options from the command line's flags (reading --maps and this machine's defaults). */
export function replayOptionsOf(flags: ReplayFlags): ReplayOptions & { arch: Arch; mapsText?: string } {
  let maps: readonly MapsEntry[] | undefined;
  let text: string | undefined;
  if (flags.maps !== undefined) {
    try {
      text = readFileSync(flags.maps, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(
        `${flags.maps}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : ioText(e)}`,
      );
    }
    maps = parseMaps(text, flags.maps);
  }
  const arch: Arch =
    flags.arch ?? (maps ? archOfMaps(maps) : undefined) ?? (process.arch === 'arm64' ? 'aarch64' : 'x86_64');
  if (!PAGE_SIZES[arch].includes(flags.pageSize)) {
    throw new UsageError(`page size ${flags.pageSize} is not supported on ${arch}`);
  }
  if (flags.ram < ramGranule(flags.pageSize) || flags.ram % ramGranule(flags.pageSize) !== 0) {
    throw new UsageError(`--ram must be a positive multiple of ${ramGranule(flags.pageSize) / 1024}K`);
  }
  for (const [name, v] of [
    ['--task-size', flags.taskSize],
    ['--mmap-base', flags.mmapBase],
  ] as const) {
    if (v !== undefined && v % flags.pageSize !== 0)
      throw new UsageError(`${name} must be a multiple of the page size (${flags.pageSize})`);
  }
  return {
    arch,
    pageSize: flags.pageSize,
    ramBytes: flags.ram,
    paging: flags.paging,
    layout: layoutFrom(flags, flags.pageSize, machineDefaults(flags.proc)),
    maps,
    mapsText: text,
    mapsName: flags.maps,
    relocate: flags.relocate ?? false,
    fileFacts: fileFactsFrom(flags.file ?? [], flags.fileSystem, flags.hostFiles ?? true),
  };
}

/** A Replayer, a bad snapshot reported as a usage error. */
export function newReplayer(options: ReplayOptions): Replayer {
  try {
    return new Replayer(options);
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(`${options.mapsName}: ${e.message}`);
    throw e;
  }
}

async function runReplay(trace: string | undefined, flags: ReplayFlags): Promise<number> {
  const options = replayOptionsOf(flags);
  const { arch } = options;
  const { inputs: host, bytes } = await inputsFor(trace);
  if ((trace === undefined || trace === '-') && process.stdin.isTTY) {
    process.stderr.write(
      'levitate-mm replay: reading an strace log from standard input (end it with Ctrl-D; see levitate-mm replay --help)\n',
    );
  }
  // The streams opened, for the progress line.
  const streams: Readable[] = [];
  const inputs: TraceInput[] = host.map((h) => ({
    name: h.name,
    pid: h.pid,
    chunks: () => {
      const s = h.open();
      streams.push(s);
      return asciiAsText(s);
    },
  }));
  const replayer = newReplayer({
    ...options,
    execFiles: new NodeExecFiles(flags.cwd),
    onNotice: flags.json
      ? undefined
      : (text) =>
          process.stderr.write(`levitate-mm replay: ${text}
`),
  });

  const perPid = inputs.length > 1;
  const stdoutTrace = !flags.json && !flags.quiet;
  const stdout = new LineSink('stdout');
  const outs: LineSink[] = [];
  if (flags.traceOut !== undefined) {
    if (perPid) for (const i of inputs) outs.push(openOut(`${flags.traceOut}.${i.pid}`));
    else outs.push(openOut(flags.traceOut));
  }
  let progress: Progress | undefined;
  if (flags.progress !== false && process.stderr.isTTY) {
    progress = new Progress(bytes, () => {
      let read = 0;
      for (const s of streams) read += (s as { bytesRead?: number }).bytesRead ?? 0;
      return read;
    });
  }
  let jsonFirst = true;
  if (flags.json) stdout.write('{"calls":[');
  let left: Awaited<ReturnType<typeof drive>>;
  try {
    left = await drive(
      replayer,
      inputs,
      { arch, lenient: flags.lenient ?? false },
      {
        line(text, input) {
          if (stdoutTrace) stdout.write(`${text}\n`);
          if (outs.length > 0) outs[perPid ? input : 0].write(`${text}\n`);
        },
        call: flags.json
          ? (o, input) => {
              stdout.write(
                `${jsonFirst ? '\n' : ',\n'}${callJson(o, perPid ? inputs[input].name : undefined)}`,
              );
              jsonFirst = false;
            }
          : undefined,
        progress: progress ? (n) => progress.update(n) : undefined,
      },
    );
  } catch (e) {
    progress?.done();
    stdout.flush();
    for (const o of outs) o.close();
    if (e instanceof TraceSyntaxError) throw new UsageError(e.message);
    if (e instanceof ReplayContradiction) {
      const name = inputs.length === 1 ? inputs[0].name : 'the log';
      throw new UsageError(`${name}:${e.message.replace(/^line /, '')}`);
    }
    if (e instanceof SnapshotError) throw new UsageError(e.message);
    const io = e as NodeJS.ErrnoException;
    if (typeof io.code === 'string' && typeof io.syscall === 'string') {
      // A file that could not be opened or read (the name is in `path` when Node has it).
      const name = io.path ?? (inputs.length === 1 ? inputs[0].name : 'the log');
      throw new UsageError(`${name}: cannot read: ${ioText(io)}`);
    }
    throw e;
  }
  progress?.done();
  const summary = replayer.finish();
  for (const o of outs) o.close();
  if (flags.mapsOut !== undefined) {
    const m = openOut(flags.mapsOut);
    m.write(replayer.firstMaps ?? '');
    m.close();
  }
  if (flags.json) {
    const unfinished = left.map((u) => ({ file: u.file, line: u.line, pid: u.pid, syscall: u.name }));
    stdout.write(
      `${jsonFirst ? '' : '\n'}],\n"summary":${JSON.stringify({ ...summary, relocate: replayer.relocate, unfinished })}}\n`,
    );
    stdout.flush();
  } else {
    stdout.flush();
    const lines = summaryLines(summary, replayer.relocate);
    process.stderr.write(lines.map((l) => `levitate-mm replay: ${l}\n`).join(''));
  }
  return flags.check && summary.differed > 0 ? 1 : 0;
}

/** The options that say how a log is replayed (shared by `replay` and `view`). */
export function addReplayOptions(command: Command): Command {
  return command
    .option('--maps <file>', 'a /proc/PID/maps snapshot the first process starts from')
    .addOption(
      new Option('--arch <arch>', 'architecture (default: from --maps, else this machine)').choices([
        'x86_64',
        'aarch64',
      ]),
    )
    .option('--page-size <bytes>', 'page size (4096; 16384 or 65536 on aarch64)', parseBytes, 4096)
    .option('--ram <size>', 'simulated RAM (committed lazily)', parseBytes, 4 * 2 ** 30)
    .addOption(
      new Option('--paging <mode>', 'when frames are allocated')
        .choices(['demand', 'eager'])
        .default('demand'),
    )
    .option(
      '--total-ram <size>',
      "RAM the overcommit heuristic counts (default: this machine's MemTotal)",
      parseBytes,
    )
    .option(
      '--total-swap <size>',
      "swap the overcommit heuristic counts (default: this machine's)",
      parseBytes,
    )
    .addOption(
      new Option('--overcommit <mode>', "vm.overcommit_memory (default: this machine's)").choices([
        '0',
        '1',
        '2',
      ]),
    )
    .option('--max-map-count <n>', "vm.max_map_count (default: this machine's)", parseCount)
    .option('--proc <dir>', "where this machine's values are read from (meminfo, sys/vm/*)", '/proc')
    .option(
      '--mmap-base <addr>',
      "top of the mmap area (default: Linux's without randomization)",
      parseAddress,
    )
    .option('--task-size <addr>', 'end of user address space', parseAddress)
    .option('--mmap-min-addr <addr>', 'vm.mmap_min_addr', parseAddress)
    .option('--rlimit-as <size>', 'RLIMIT_AS (default unlimited)', parseLimit)
    .option('--rlimit-data <size>', 'RLIMIT_DATA (default unlimited)', parseLimit)
    .option('--rlimit-stack <size>', 'RLIMIT_STACK (default 8M; sets the mmap base)', parseLimit)
    .option(
      '--file <path=size[:fs]>',
      "a mapped file as it was where the log was recorded (size, file system), instead of this machine's file of that path; repeatable",
      parseFileOption,
    )
    .option(
      '--no-host-files',
      "do not read this machine's files of the log's paths (a log recorded elsewhere)",
    )
    .option(
      '--file-system <fs>',
      'file system of mapped files neither on this machine nor given with --file (ext4, xfs, btrfs: 2 MiB alignment of large mappings; tmpfs, ...)',
    )
    .option('--relocate', 'translate addresses of mappings the log created (logs recorded with ASLR)')
    .option('--lenient', 'skip lines that cannot be parsed (printed unchanged, counted)');
}

/** Adds `replay` to the program (inheriting its error output and exit override). */
export function registerReplay(program: Command): void {
  const command = program
    .command('replay')
    .description("replay an strace log's memory calls through the model and print the model's answers")
    .argument('[trace]', 'strace output file, the PREFIX of strace -ff files, or - (default) for stdin');
  addReplayOptions(command)
    .option('--json', 'print a JSON report (every call and the summary) instead of the trace')
    .option('-q, --quiet', 'print no trace on standard output, only the summary')
    .option('--check', 'exit with status 1 when any result differed')
    .option('--trace-out <file>', 'write the replayed trace to FILE (with strace -ff input: FILE.PID)')
    .option('--maps-out <file>', "write the first process's final /proc/PID/maps to FILE")
    .option('--cwd <dir>', 'the directory the traced command ran in: relative execve paths start there')
    .option('--no-progress', 'no progress line on a terminal')
    .addHelpText('after', REPLAY_HELP)
    .action(async (trace: string | undefined, flags: ReplayFlags) => {
      process.exitCode = await runReplay(trace, flags);
    });
}
