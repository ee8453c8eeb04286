/**
 * The framing that tools/linux-harness-arm64/init.c writes on the guest's serial console, and the
 * parser that turns one boot's console log back into the harness outputs.
 *
 * Every frame is one line:   `@@LMM <crc32 of body, 8 lower-case hex> <body>`
 *   H <text>                                    hello
 *   B <id> <rep>                                a run begins
 *   O <id> <rep> <k> <base64>                   k-th chunk (0-based) of the harness's stdout
 *   E <id> <rep> <k> <base64>                   k-th chunk of its stderr
 *   Z <id> <rep> <status> <outBytes> <outChunks> <outCrc> <errBytes> <errChunks>
 *   X <runs>                                    all runs done
 * The checksum is the IEEE (zlib) CRC-32 of the body's bytes. A frame may follow other text on the
 * same line (a kernel message without a newline); a line with a bad checksum is counted as garbled
 * and ignored, so the run it belonged to ends up incomplete.
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** IEEE CRC-32 (the zlib/PNG one) of bytes or of a latin1 string. */
export function crc32(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  let c = 0xffffffff;
  for (const b of bytes) c = TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const FRAME_PREFIX = '@@LMM ';

/** Formats one frame line (with its trailing newline), exactly as init.c does. */
export function formatFrame(body: string): string {
  return `${FRAME_PREFIX}${crc32(body).toString(16).padStart(8, '0')} ${body}\n`;
}

export interface ConsoleRun {
  id: string;
  rep: number;
  /** Raw wait status of the harness (0 = exited with 0). */
  status?: number;
  /** The harness's stdout (latin1), when every chunk arrived intact and the totals match. */
  stdout?: string;
  stderr?: string;
  /** True when the begin and end frames and every chunk were received and checked. */
  complete: boolean;
  /** Why the run is incomplete (empty when complete). */
  problems: string[];
}

export interface ConsoleLog {
  hello?: string;
  /** Runs in order of their begin frames, keyed `${id}/${rep}`. */
  runs: Map<string, ConsoleRun>;
  /** Lines that contained the frame prefix but failed the checksum or the syntax. */
  garbled: number;
  /** The run count of the done frame, if it arrived. */
  done?: number;
}

interface PartialRun {
  begun: boolean;
  out: Map<number, Buffer>;
  err: Map<number, Buffer>;
  end?: {
    status: number;
    outBytes: number;
    outChunks: number;
    outCrc: number;
    errBytes: number;
    errChunks: number;
  };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses one boot's console output (any line endings) into runs. Never throws on bad input. */
export function parseConsoleLog(text: string): ConsoleLog {
  const log: ConsoleLog = { runs: new Map(), garbled: 0 };
  const parts = new Map<string, PartialRun>();
  const order: string[] = [];
  const get = (id: string, rep: number): PartialRun => {
    const key = `${id}/${rep}`;
    let p = parts.get(key);
    if (!p) {
      p = { begun: false, out: new Map(), err: new Map() };
      parts.set(key, p);
      order.push(key);
    }
    return p;
  };
  for (const raw of text.split('\n')) {
    const at = raw.indexOf(FRAME_PREFIX);
    if (at < 0) continue;
    const line = raw.slice(at + FRAME_PREFIX.length).replace(/\r+$/, '');
    const m = /^([0-9a-f]{8}) (.*)$/s.exec(line);
    if (!m || parseInt(m[1], 16) !== crc32(m[2])) {
      log.garbled++;
      continue;
    }
    const body = m[2];
    const f = body.split(' ');
    const int = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN);
    switch (f[0]) {
      case 'H':
        log.hello = body.slice(2);
        break;
      case 'X':
        log.done = int(f[1]);
        break;
      case 'B':
        if (f.length === 3 && Number.isInteger(int(f[2]))) get(f[1], int(f[2])).begun = true;
        else log.garbled++;
        break;
      case 'O':
      case 'E': {
        const k = int(f[3]);
        if (f.length !== 5 || !Number.isInteger(int(f[2])) || !Number.isInteger(k) || !B64.test(f[4])) {
          log.garbled++;
          break;
        }
        const p = get(f[1], int(f[2]));
        (f[0] === 'O' ? p.out : p.err).set(k, Buffer.from(f[4], 'base64'));
        break;
      }
      case 'Z': {
        const n = f.slice(2).map((s, i) => (i === 4 ? parseInt(s, 16) : int(s)));
        if (f.length !== 9 || n.some((v) => !Number.isFinite(v)) || !/^[0-9a-f]{8}$/.test(f[6])) {
          log.garbled++;
          break;
        }
        const [rep, status, outBytes, outChunks, outCrc, errBytes, errChunks] = n;
        get(f[1], rep).end = { status, outBytes, outChunks, outCrc, errBytes, errChunks };
        break;
      }
      default:
        log.garbled++;
    }
  }
  for (const key of order) {
    const p = parts.get(key)!;
    const slash = key.lastIndexOf('/');
    const run: ConsoleRun = {
      id: key.slice(0, slash),
      rep: Number(key.slice(slash + 1)),
      complete: false,
      problems: [],
    };
    if (!p.begun) run.problems.push('no begin frame');
    if (!p.end) run.problems.push('no end frame');
    const join = (chunks: Map<number, Buffer>, n: number, what: string): Buffer | undefined => {
      const bufs: Buffer[] = [];
      for (let k = 0; k < n; k++) {
        const b = chunks.get(k);
        if (!b) {
          run.problems.push(`${what} chunk ${k} of ${n} missing`);
          return undefined;
        }
        bufs.push(b);
      }
      if (chunks.size > n) run.problems.push(`${what} has ${chunks.size} chunks, end frame says ${n}`);
      return Buffer.concat(bufs);
    };
    if (p.end) {
      run.status = p.end.status;
      const out = join(p.out, p.end.outChunks, 'stdout');
      const err = join(p.err, p.end.errChunks, 'stderr');
      if (out && out.length !== p.end.outBytes)
        run.problems.push(`stdout is ${out.length} bytes, expected ${p.end.outBytes}`);
      else if (out && crc32(out) !== p.end.outCrc) run.problems.push('stdout checksum mismatch');
      if (err && err.length !== p.end.errBytes)
        run.problems.push(`stderr is ${err.length} bytes, expected ${p.end.errBytes}`);
      if (out) run.stdout = out.toString('latin1');
      if (err) run.stderr = err.toString('latin1');
    }
    run.complete = run.problems.length === 0;
    if (!run.complete) run.stdout = undefined;
    log.runs.set(key, run);
  }
  return log;
}
