import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseReadable } from '../../src/cli/trace-files.js';
import {
  createParserState,
  finishParse,
  type MemoryCallEvent,
  parseLine,
  parseLines,
  parseStraceText,
  pidFromFileName,
  type TraceEvent,
  TraceSyntaxError,
} from '../../src/trace/index.js';

function one(line: string, opts: Parameters<typeof createParserState>[0] = {}): TraceEvent {
  return parseLine(line, createParserState(opts));
}

function mem(line: string, opts: Parameters<typeof createParserState>[0] = {}): MemoryCallEvent {
  const e = one(line, opts);
  if (e.kind !== 'memory') throw new Error(`not a memory call: ${e.kind}`);
  return e;
}

describe('memory calls', () => {
  it('decodes mmap with symbolic flags and a hex result', () => {
    const e = mem(
      'mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7fbd000',
    );
    expect(e.call).toEqual({
      syscall: 'mmap',
      addr: 0n,
      length: 8192n,
      prot: 3n,
      flags: 0x22n,
      fd: -1n,
      offset: 0n,
    });
    expect(e.result).toEqual({ kind: 'value', value: 0x7ffff7fbd000n, hex: true });
  });

  it('keeps full 64-bit values exactly', () => {
    const e = mem('munmap(0xfffffffffffff000, 18446744073709547520) = -1 EINVAL (Invalid argument)');
    expect(e.call).toEqual({ syscall: 'munmap', addr: 0xfffffffffffff000n, length: 18446744073709547520n });
    expect(e.result).toEqual({ kind: 'error', value: -1n, errno: 22 });
  });

  it('decodes numeric and partly numeric flags', () => {
    expect(
      mem('mprotect(0x7f2cf2aa3000, 4096, PROT_READ|0x10) = -1 EINVAL (Invalid argument)').call,
    ).toMatchObject({
      prot: 0x11n,
    });
    expect(mem('mprotect(0x1000, 4096, 0x10 /* PROT_??? */) = 0').call).toMatchObject({ prot: 0x10n });
    expect(mem('mprotect(0x1000, 4096, PROT_NONE) = 0').call).toMatchObject({ prot: 0n });
    expect(
      mem(
        'mmap(NULL, 4096, PROT_READ, 0xa /* MAP_??? */|MAP_ANONYMOUS, -1, 0) = -1 EINVAL (Invalid argument)',
      ).call,
    ).toMatchObject({
      flags: 0x2an,
    });
    expect(mem('mmap(NULL, 4096, PROT_READ, 0x8 /* MAP_??? */, -1, 0) = 0x1000').call).toMatchObject({
      flags: 0x8n,
    });
    expect(
      mem(
        'mmap(NULL, 2097152, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0) = 0x1000',
      ).call,
    ).toMatchObject({ flags: 0x2n | 0x20n | 0x40000n | (21n << 26n) });
    expect(
      mem('madvise(0x7f2cf2aa1000, 4096, 0x4bc /* MADV_??? */) = -1 EINVAL (Invalid argument)').call,
    ).toMatchObject({
      advice: 0x4bcn,
    });
    expect(mem('mremap(0x7fff, 8192, 262144, 0) = -1 EINVAL (Invalid argument)').call).toMatchObject({
      flags: 0n,
    });
  });

  it('decodes every memory syscall', () => {
    expect(mem('brk(NULL)                               = 0x55894cb9d000').call).toEqual({
      syscall: 'brk',
      addr: 0n,
    });
    expect(mem('madvise(0x7f9159b82000, 32768, MADV_HUGEPAGE) = 0').call).toEqual({
      syscall: 'madvise',
      addr: 0x7f9159b82000n,
      length: 32768n,
      advice: 14n,
    });
    expect(
      mem(
        'mremap(0x7f9159984000, 16384, 16384, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7f9159998000) = 0x7f9159998000',
      ).call,
    ).toEqual({
      syscall: 'mremap',
      oldAddress: 0x7f9159984000n,
      oldSize: 16384n,
      newSize: 16384n,
      flags: 3n,
      newAddress: 0x7f9159998000n,
    });
    expect(mem('pkey_mprotect(0x7f2cf28b7000, 4096, PROT_READ, -1) = 0').call).toEqual({
      syscall: 'pkey_mprotect',
      addr: 0x7f2cf28b7000n,
      length: 4096n,
      prot: 1n,
      pkey: -1n,
    });
  });

  it('reads -y and -yy fd decorations, including nested and socket ones', () => {
    const e = mem(
      'mmap(0x7f106ef4f000, 475136, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libm.so.6>, 0x10000) = 0x7f106ef4f000',
    );
    expect(e.call).toMatchObject({ fd: 3n, fdPath: '/usr/lib/x86_64-linux-gnu/libm.so.6', offset: 0x10000n });
    expect(
      mem('mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 4</dev/zero<char 1:5>>, 0) = 0x1000').call,
    ).toMatchObject({
      fdPath: '/dev/zero<char 1:5>',
    });
    expect(mem('mmap(NULL, 4096, PROT_READ, MAP_SHARED, 5</tmp/a, b>c>, 0) = 0x1000').call).toMatchObject({
      fdPath: '/tmp/a, b>c',
    });
    const s = one(
      'socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[127.0.0.1:80->127.0.0.1:5555]>',
    );
    expect(s.kind === 'other' && s.result).toEqual({
      kind: 'value',
      value: 3n,
      hex: false,
      decoration: 'TCP:[127.0.0.1:80->127.0.0.1:5555]',
    });
  });

  it('uses the aarch64 constants when asked', () => {
    expect(
      mem('mprotect(0x1000, 4096, PROT_READ|PROT_EXEC|PROT_BTI) = 0', { arch: 'aarch64' }).call,
    ).toMatchObject({
      prot: 0x15n,
    });
    expect(() => one('mprotect(0x1000, 4096, PROT_BTI) = 0')).toThrow(TraceSyntaxError);
    expect(() =>
      one('mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_32BIT, -1, 0) = 0x1000', { arch: 'aarch64' }),
    ).toThrow(/expected a MAP_\* flag/);
  });
});

describe('prefixes', () => {
  it('reads the bare pid prefix of -f -o and the [pid N] prefix of -f to stderr', () => {
    const a = mem('3082  brk(NULL)                         = 0x3b406000');
    expect(a.pid).toBe(3082);
    expect(a.prefix).toEqual({ text: '3082  ', pid: 3082, pidStyle: 'bare' });
    const b = mem('[pid  4288] brk(NULL)                   = 0x55f62c754000');
    expect(b.prefix).toEqual({ text: '[pid  4288] ', pid: 4288, pidStyle: 'bracket' });
    expect(mem('123456 brk(NULL) = 0x1').pid).toBe(123456);
  });

  it('reads -t, -tt, -ttt, -r and -t -r timestamps', () => {
    expect(mem('05:14:49 brk(NULL)                      = 0x2fac000').prefix.time).toEqual({
      text: '05:14:49',
      style: 'clock',
      seconds: 5 * 3600 + 14 * 60 + 49,
    });
    expect(mem('05:14:48.575122 brk(NULL)               = 0x1282a000').prefix.time?.seconds).toBeCloseTo(
      5 * 3600 + 14 * 60 + 48.575122,
      6,
    );
    const ttt = mem('1795670089.124831 brk(NULL)             = 0x36111000');
    expect(ttt.prefix.time).toMatchObject({ style: 'epoch', text: '1795670089.124831' });
    const r = mem(
      '3117       0.000682 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7fef76af6000',
    );
    expect(r.prefix).toMatchObject({ pid: 3117, text: '3117       0.000682 ' });
    expect(r.prefix.relative).toEqual({ text: '     0.000682', style: 'relative', seconds: 0.000682 });
    const tr = mem('05:14:49.000001 (+     0.000123) brk(NULL) = 0x1');
    expect(tr.prefix.time?.style).toBe('clock');
    expect(tr.prefix.relative?.seconds).toBeCloseTo(0.000123, 9);
  });

  it('reads -T durations', () => {
    const e = mem('05:14:48.575122 brk(NULL)               = 0x1282a000 <0.000170>');
    expect(e.duration).toEqual({ text: '0.000170', seconds: 0.00017 });
    const f = mem('munmap(0x7f915998d000, 0) = -1 EINVAL (Invalid argument) <0.000020>');
    expect(f.result).toEqual({ kind: 'error', value: -1n, errno: 22 });
    expect(f.duration?.text).toBe('0.000020');
  });

  it('takes the pid of -ff files from the file name', () => {
    expect(pidFromFileName('/x/trace.3107')).toBe(3107);
    expect(pidFromFileName('/x/trace')).toBeUndefined();
    expect(mem('brk(NULL) = 0x1', { pid: 3107 }).pid).toBe(3107);
  });
});

describe('other lines', () => {
  it('reads exit, kill, signal, superseded and strace messages', () => {
    expect(one('3093  +++ exited with 0 +++')).toMatchObject({ kind: 'exit', pid: 3093, status: 0 });
    expect(one('+++ killed by SIGSEGV +++')).toMatchObject({
      kind: 'killed',
      signal: 'SIGSEGV',
      coreDumped: false,
    });
    expect(one('+++ killed by SIGABRT (core dumped) +++')).toMatchObject({
      kind: 'killed',
      coreDumped: true,
    });
    expect(one('[pid  12] +++ superseded by execve in pid 10 +++')).toMatchObject({
      kind: 'superseded',
      byPid: 10,
    });
    expect(one('--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0xfff} ---')).toMatchObject({
      kind: 'signal',
      signal: 'SIGSEGV',
      siCode: 'SEGV_MAPERR',
      siAddr: 0xfffn,
    });
    expect(one('--- stopped by SIGSTOP ---')).toMatchObject({ kind: 'signal', stopped: true });
    expect(one('strace: Process 4288 attached')).toMatchObject({ kind: 'message', attached: 4288 });
    expect(one('')).toMatchObject({ kind: 'blank' });
  });

  it('reads every other syscall as an "other" event with its raw arguments and result', () => {
    const e = one('openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3');
    expect(e).toMatchObject({
      kind: 'other',
      name: 'openat',
      args: 'AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC',
    });
    const w = one('write(1, "a) = 5\\n", 7)                = 7');
    expect(w).toMatchObject({
      kind: 'other',
      args: '1, "a) = 5\\n", 7',
      result: { kind: 'value', value: 7n },
    });
    expect(one('exit_group(0)                           = ?')).toMatchObject({ result: { kind: 'none' } });
    expect(one('fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)')).toMatchObject({
      result: { kind: 'value', value: 1n, hex: true, aux: ' (flags FD_CLOEXEC)' },
    });
    expect(one('read(0, 0x7ffd, 10) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)')).toMatchObject({
      result: { kind: 'restart', name: 'ERESTARTSYS', errno: 512 },
    });
    expect(one('wait4(-1, 0x7ffd, 0, NULL) = ? <unavailable>')).toMatchObject({
      result: { kind: 'unavailable' },
    });
    expect(one('foo(1) = -1 (errno 600)')).toMatchObject({ result: { kind: 'error', errno: 600 } });
  });
});

describe('unfinished and resumed calls', () => {
  it('joins the two halves into one call and forgets them on exit', () => {
    const text = [
      '3086  mmap(NULL, 134217728, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0 <unfinished ...>',
      '3085  munmap(0x7fb835e00000, 35651584 <unfinished ...>',
      '3086  <... mmap resumed>)               = 0x7fb83de00000',
      '3085  <... munmap resumed>)             = 0',
      '3129  exit_group(0 <unfinished ...>',
      '3129  +++ exited with 0 +++',
    ].join('\n');
    const { events, state } = parseStraceText(text);
    expect(events.map((e) => e.kind)).toEqual([
      'unfinished',
      'unfinished',
      'memory',
      'memory',
      'unfinished',
      'exit',
    ]);
    const m = events[2] as MemoryCallEvent;
    expect(m.call).toMatchObject({ syscall: 'mmap', length: 134217728n, flags: 0x4022n });
    expect(m.resumed).toMatchObject({ unfinishedLine: 1, resumedArgs: '' });
    expect(m.pid).toBe(3086);
    expect(state.pending.size).toBe(0);
  });

  it('reports calls still unfinished at the end', () => {
    const state = createParserState();
    parseLine('[pid 7] mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>', state);
    expect(finishParse(state)).toEqual([
      { pid: 7, name: 'mmap', args: 'NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0', line: 1 },
    ]);
  });

  it('reads a resumption with no unfinished line as an orphan "other" event', () => {
    expect(one('3086  <... mmap resumed>)               = 0x7fb83de00000')).toMatchObject({
      kind: 'other',
      orphan: true,
    });
  });

  it('joins a call line cut by a "strace: Process N attached" message', () => {
    const text = [
      '[pid  4288] mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0strace: Process 4289 attached',
      ') = 0x7f68c62b2000',
    ].join('\n');
    const { events } = parseStraceText(text);
    expect(events[0]).toMatchObject({ kind: 'message', attached: 4289 });
    expect(one('write(2, "strace: Process 5 attached to me", 32) = 32')).toMatchObject({ kind: 'other' });
    expect(events[1]).toMatchObject({ kind: 'memory', pid: 4288, line: 2, splitAt: text.indexOf('strace:') });
  });
});

describe('bad input', () => {
  it('throws TraceSyntaxError with file:line:column: what was expected', () => {
    const state = createParserState({ file: 'log.txt' });
    parseLine('brk(NULL) = 0x1000', state);
    try {
      parseLine('mmap(NULL, 4096, PROT_READ|PROT_FOO, MAP_PRIVATE, -1, 0) = 0x1', state);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TraceSyntaxError);
      const err = e as TraceSyntaxError;
      expect(err.line).toBe(2);
      expect(err.column).toBe(28);
      expect(err.expected).toBe('a PROT_* flag or a number');
      expect(err.message).toBe('log.txt:2:28: expected a PROT_* flag or a number, found "PROT_FOO"');
    }
  });

  it('points at the column of each kind of mistake', () => {
    const col = (line: string) => {
      try {
        one(line);
      } catch (e) {
        return (e as TraceSyntaxError).message;
      }
      return 'no error';
    };
    expect(col('munmap(0x1000) = 0')).toBe('<input>:1:14: expected ", " and another argument, found ")"');
    expect(col('brk(NULL) = banana')).toBe(
      '<input>:1:13: expected a result: a number, 0x..., or "?", found "banana"',
    );
    expect(col('brk(NULL')).toBe(
      '<input>:1:9: expected ") = " and a result, or " <unfinished ...>", found end of line',
    );
    expect(col('hello world')).toBe(
      '<input>:1:1: expected a syscall name, "+++", "---" or "<... resumed>", found "hello"',
    );
    expect(col('mmap(NULL, 1, PROT_READ, MAP_PRIVATE, -1, 0, 7) = 0x1')).toBe(
      '<input>:1:44: expected ")" (end of the arguments), found ","',
    );
    expect(col('brk(NULL) = -1 EBANANA (No)')).toBe('<input>:1:16: expected an errno name, found "EBANANA"');
    expect(col('+++ exploded +++')).toMatch(/^<input>:1:5: expected "exited with N \+\+\+"/);
  });

  it('in lenient mode skips and counts such lines', async () => {
    const state = createParserState({ lenient: true, file: 'x' });
    const events: TraceEvent[] = [];
    for await (const e of parseLines(
      ['brk(NULL) = 0x1', 'garbage', 'brk(0x2000) = 0x2000', '@@'],
      {},
      state,
    )) {
      events.push(e);
    }
    expect(events.map((e) => e.kind)).toEqual(['memory', 'invalid', 'memory', 'invalid']);
    expect(state.stats).toEqual({ lines: 4, memoryCalls: 2, otherCalls: 0, invalid: 2 });
    expect(state.firstError?.message).toBe(
      'x:2:1: expected a syscall name, "+++", "---" or "<... resumed>", found "garbage"',
    );
  });

  it('reports an error in the <unfinished ...> half on its own line', () => {
    const state = createParserState({ file: 'f' });
    parseLine('1  mprotect(0x1000, 4096, PROT_BAD <unfinished ...>', state);
    parseLine('2  brk(NULL) = 0x1', state);
    expect(() => parseLine('1  <... mprotect resumed>) = 0', state)).toThrow(
      'f:1:27: expected a PROT_* flag',
    );
  });
});

describe('streaming', () => {
  it('parses a Readable line by line, with CRLF and a missing final newline', async () => {
    const input = Readable.from(['brk(NULL) = 0x1\r\nmunmap(0x1000, 4096)', ' = 0\n+++ exited with 0 +++']);
    const kinds: string[] = [];
    const gen = parseReadable(input, { file: 'stdin' });
    for await (const e of gen) kinds.push(e.kind);
    expect(kinds).toEqual(['memory', 'memory', 'exit']);
  });

  it('keeps only pending unfinished calls between lines', () => {
    const state = createParserState();
    for (let i = 0; i < 10000; i++) {
      parseLine(
        `${100 + (i % 7)}  mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>`,
        state,
      );
      parseLine(`${100 + (i % 7)}  <... mmap resumed>) = 0x1000`, state);
    }
    expect(state.pending.size).toBe(0);
    expect(state.stats.memoryCalls).toBe(10000);
  });
});
