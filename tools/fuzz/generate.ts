/**
 * The campaign's operation generator, seeded and online (arguments may name earlier results). Most
 * operations come from the Linux harness's generator (tools/linux-harness/generate.ts), one stream
 * per task slot, its 4 KiB units scaled to the page size; to those it adds context switches, task
 * exits, multi-byte reads and writes across pages, the madvise advice the harness leaves out (guards,
 * COLD, PAGEOUT, KSM, COLLAPSE), calls with arbitrary register values (the shared fast-check
 * arbitraries), and injected allocation failures.
 */
import fc from 'fast-check';
import {
  MADV_COLD,
  MADV_COLLAPSE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_MERGEABLE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_UNMERGEABLE,
} from 'levitate-mm';
import { generateSequence, mulberry32, type Op } from '../linux-harness/generate.js';
import { wildCall } from './arbitraries.js';
import { type FuzzConfig, type FuzzOp, hexArg } from './case.js';
import type { SyscallName } from './rollback.js';
import type { Session } from './session.js';

/** Which arguments of each generated op are addresses or lengths (scaled with the page size). */
const SCALED: Record<Op['op'], readonly number[]> = {
  mmap: [0, 1, 5],
  munmap: [0, 1],
  mprotect: [0, 1],
  brk: [0],
  mremap: [0, 1, 2, 4],
  madvise: [0, 1],
  touch: [0],
  peek: [0],
  fork: [],
  exit: [],
};

const EXTRA_ADVICE = [
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_COLD,
  MADV_PAGEOUT,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MADV_COLLAPSE,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
];

interface Stream {
  ops: Op[];
  pos: number;
  results: bigint[];
  brk: bigint;
  startBrk: bigint;
}

export class CaseGenerator {
  private readonly random: () => number;
  private readonly streams: (Stream | null)[] = [];
  private readonly wild: FuzzOp[];
  private streamsMade = 0;
  private slot = 0;
  private made = 0;
  private pending: Stream | null = null;

  constructor(
    readonly seed: number,
    readonly config: FuzzConfig,
    readonly length: number,
    private readonly session: Session,
  ) {
    this.random = mulberry32(seed);
    this.wild = fc.sample(wildCall, { seed, numRuns: 128 }).map(([call, ...args]) => ({
      task: 0,
      call,
      args: args.map((a) => hexArg(BigInt(a))),
    }));
    for (let i = 0; i < config.tasks; i++) this.streams[i] = this.newStream(i);
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private newStream(slot: number): Stream {
    const task = this.session.tasks[slot];
    const seed = (Math.imul(this.seed, 0x9e3779b1) + 0x7f4a7c15 * ++this.streamsMade) | 0;
    return {
      ops: generateSequence(seed, { minOps: 60, maxOps: 200, arch: this.config.arch }),
      pos: 0,
      results: [],
      brk: BigInt(task.mm.brk),
      startBrk: BigInt(task.mm.startBrk),
    };
  }

  /** The result of the operation `next` returned last (symbolic arguments may refer to it). */
  record(result: number): void {
    this.pending?.results.push(BigInt(result));
    this.pending = null;
  }

  /** The next operation, or null when the case is long enough. */
  next(): FuzzOp | null {
    if (this.made >= this.length) return null;
    this.made++;
    if (this.config.tasks > 1 && this.chance(0.1)) this.slot = this.int(0, this.config.tasks - 1);
    const task = this.slot;
    if (this.chance(0.002)) {
      this.streams[task] = null;
      return { task, call: 'exit' };
    }
    if (this.config.tasks > 1 && this.chance(0.004)) {
      const into = (task + this.int(1, this.config.tasks - 1)) % this.config.tasks;
      this.streams[into] = null;
      const fork: FuzzOp = { task, call: 'fork', into, shareMm: this.chance(0.2) };
      if (this.chance(0.3)) fork.inject = this.int(0, 7);
      return fork;
    }
    const op = this.pick(task);
    if (this.chance(0.08)) op.inject = this.int(0, 7);
    return op;
  }

  private pick(task: number): Exclude<FuzzOp, { call: 'exit' | 'fork' }> {
    const r = this.random();
    if (r < 0.03)
      return {
        ...(this.wild[this.int(0, this.wild.length - 1)] as { call: SyscallName; args: string[] }),
        task,
      };
    const span = this.aim(task);
    if (span !== null && r < 0.08) {
      const [start, len] = span;
      const advice = EXTRA_ADVICE[this.int(0, EXTRA_ADVICE.length - 1)];
      return {
        task,
        call: 'madvise',
        args: [hexArg(BigInt(start)), hexArg(BigInt(len)), hexArg(BigInt(advice))],
      };
    }
    if (span !== null && r < 0.15) {
      const ps = this.config.pageSize;
      const at = span[0] + this.int(0, Math.max(0, Math.min(span[1], 64 * ps) - 1));
      const n = this.chance(0.3) ? this.int(1, 2 * ps) : this.int(1, 16);
      if (this.chance(0.5)) return { task, call: 'read', addr: hexArg(BigInt(at)), len: n };
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = this.int(0, 255);
      return {
        task,
        call: 'write',
        addr: hexArg(BigInt(at)),
        data: Buffer.from(data.buffer).toString('hex'),
      };
    }
    return this.fromStream(task);
  }

  /** A page-aligned range inside (or running past) something the task has mapped. */
  private aim(task: number): [number, number] | null {
    const spans = this.session.shadows[task].spans();
    if (spans.length === 0) return null;
    const s = spans[this.int(0, spans.length - 1)];
    const ps = this.config.pageSize;
    const pages = Math.min((s.end - s.start) / ps, 1024);
    const first = this.int(0, pages - 1);
    const n = this.int(1, pages - first + (this.chance(0.2) ? 4 : 0));
    return [s.start + first * ps, n * ps];
  }

  private fromStream(task: number): Exclude<FuzzOp, { call: 'exit' | 'fork' }> {
    let stream = this.streams[task];
    if (stream === null || stream.pos >= stream.ops.length) {
      stream = this.newStream(task);
      this.streams[task] = stream;
    }
    const op = stream.ops[stream.pos++];
    this.pending = stream;
    const scale = BigInt(this.config.pageSize / 4096);
    const args = op.args.map((a, i) => this.resolve(a, stream, SCALED[op.op].includes(i) ? scale : 1n));
    if (op.op === 'touch') {
      return {
        task,
        call: 'write',
        addr: hexArg(args[0]),
        data: Number(args[1] & 0xffn)
          .toString(16)
          .padStart(2, '0'),
      };
    }
    if (op.op === 'peek') return { task, call: 'read', addr: hexArg(args[0]), len: 1 };
    if (op.op === 'fork' || op.op === 'exit') throw new Error(`the harness generator made a ${op.op} op`);
    return { task, call: op.op, args: args.map(hexArg) };
  }

  /** Evaluates the harness generator's expression (`$3+0x2000`, `$brkpage`, `-0x1`), literals scaled. */
  private resolve(expr: string, s: Stream, scale: bigint): bigint {
    const ps = BigInt(this.config.pageSize);
    let total = 0n;
    for (const t of expr.match(/[+-]?[^+-]+/g) ?? []) {
      const neg = t.startsWith('-');
      const body = t.replace(/^[+-]/, '');
      let v: bigint;
      if (body === '$brkpage') v = ((s.brk + ps - 1n) / ps) * ps;
      else if (body === '$brk') v = s.brk;
      else if (body === '$startbrk') v = s.startBrk;
      else if (body.startsWith('$')) v = s.results[Number(body.slice(1))] ?? 0n;
      else v = BigInt(body) * scale;
      total += neg ? -v : v;
    }
    return BigInt.asUintN(64, total);
  }
}
