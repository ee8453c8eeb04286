import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Arch,
  createParserState,
  type Duration,
  ERRNO_TABLE,
  formatCall,
  formatEvent,
  formatMemoryArgs,
  type LinePrefix,
  type MemoryCall,
  type MemoryCallEvent,
  makePrefix,
  type PrintableCall,
  parseLine,
  parseStraceText,
  type SyscallResult,
  traceInt,
} from '../../src/trace/index.js';

function parseMem(line: string, arch: Arch = 'x86_64'): MemoryCallEvent {
  const e = parseLine(line, createParserState({ arch }));
  if (e.kind !== 'memory') throw new Error(`not a memory call: ${line}`);
  return e;
}

describe('formatCall', () => {
  it('prints calls as strace does, padding the result to column 40', () => {
    const call: MemoryCall = {
      syscall: 'mmap',
      addr: 0n,
      length: 8192n,
      prot: 3n,
      flags: 0x22n,
      fd: -1n,
      offset: 0n,
    };
    expect(formatCall({ call, result: { kind: 'value', value: 0x7ffff7fbd000n, hex: true } })).toBe(
      'mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7fbd000',
    );
    expect(
      formatCall({
        call: { syscall: 'brk', addr: 0n },
        result: { kind: 'value', value: 0x1282a000n, hex: true },
      }),
    ).toBe('brk(NULL)                               = 0x1282a000');
    expect(
      formatCall({
        call: { syscall: 'munmap', addr: 0x1000n, length: 0n },
        result: { kind: 'error', value: -1n, errno: 22 },
      }),
    ).toBe('munmap(0x1000, 0)                       = -1 EINVAL (Invalid argument)');
  });

  it('spells flags as strace 6.1 does', () => {
    const args = (call: MemoryCall, arch: Arch = 'x86_64') => formatMemoryArgs(call, arch);
    const mmap = (prot: bigint, flags: bigint): MemoryCall => ({
      syscall: 'mmap',
      addr: 0n,
      length: 4096n,
      prot,
      flags,
      fd: -1n,
      offset: 0n,
    });
    expect(args(mmap(0n, 0x22n))).toBe('NULL, 4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0');
    expect(args(mmap(0x11n, 0x2an))).toBe(
      'NULL, 4096, PROT_READ|0x10, 0xa /* MAP_??? */|MAP_ANONYMOUS, -1, 0',
    );
    expect(args(mmap(0x10n, 0x20n))).toBe('NULL, 4096, 0x10 /* PROT_??? */, MAP_FILE|MAP_ANONYMOUS, -1, 0');
    expect(args(mmap(1n, 0x2n | 0x100n | 0x20000n | 0x20n))).toBe(
      'NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_GROWSDOWN|MAP_STACK, -1, 0',
    );
    expect(args(mmap(1n, 0x62n))).toBe('NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_32BIT, -1, 0');
    expect(args(mmap(1n, 0x62n), 'aarch64')).toBe(
      'NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|0x40, -1, 0',
    );
    expect(args(mmap(0x15n, 0x2n), 'aarch64')).toBe(
      'NULL, 4096, PROT_READ|PROT_EXEC|0x10, MAP_PRIVATE, -1, 0',
    );
    expect(args(mmap(3n, 0x2n | 0x20n | 0x40000n | (21n << 26n)))).toBe(
      'NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0',
    );
    expect(args(mmap(1n, 0x2n | 0x200n))).toBe('NULL, 4096, PROT_READ, MAP_PRIVATE|0x200, -1, 0');
    expect(args({ syscall: 'madvise', addr: 0x1000n, length: 4096n, advice: 1212n })).toBe(
      '0x1000, 4096, 0x4bc /* MADV_??? */',
    );
    expect(args({ syscall: 'madvise', addr: 0x1000n, length: 4096n, advice: 102n })).toBe(
      '0x1000, 4096, 0x66 /* MADV_??? */',
    );
    expect(
      args({ syscall: 'mremap', oldAddress: 0x7fffn, oldSize: 8192n, newSize: 262144n, flags: 0n }),
    ).toBe('0x7fff, 8192, 262144, 0');
    expect(args({ syscall: 'mremap', oldAddress: 1n, oldSize: 1n, newSize: 1n, flags: 8n })).toBe(
      '0x1, 1, 1, 0x8 /* MREMAP_??? */',
    );
    expect(args({ syscall: 'munmap', addr: -4096n, length: -4096n })).toBe(
      '0xfffffffffffff000, 18446744073709547520',
    );
  });

  it('substitutes another result, keeping the prefix, the -T duration and fd paths', () => {
    const line =
      '05:14:48.577010 mmap(NULL, 34547, PROT_READ, MAP_PRIVATE, 3</etc/ld.so.cache>, 0) = 0x7f106f01f000 <0.000026>';
    const e = parseMem(line);
    expect(formatCall(e)).toBe(line);
    expect(formatCall(e, { result: { kind: 'error', value: -1n, errno: 12 } })).toBe(
      '05:14:48.577010 mmap(NULL, 34547, PROT_READ, MAP_PRIVATE, 3</etc/ld.so.cache>, 0) = -1 ENOMEM (Cannot allocate memory) <0.000026>',
    );
    expect(formatCall(e, { prefix: false, duration: false, noFdPaths: true })).toBe(
      'mmap(NULL, 34547, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f106f01f000',
    );
    const b = parseMem('3082  brk(NULL)                         = 0x3b406000');
    expect(formatCall(b, { result: { kind: 'value', value: 0x3b407000n, hex: true } })).toBe(
      '3082  brk(NULL)                         = 0x3b407000',
    );
  });

  it('prints a joined call as its resumed line, or whole with layout "joined"', () => {
    const text = [
      '3086  mmap(NULL, 134217728, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0 <unfinished ...>',
      '3086  <... mmap resumed>)               = 0x7fb83de00000',
    ].join('\n');
    const { events } = parseStraceText(text);
    expect(formatEvent(events[0])).toBe(text.split('\n')[0]);
    const e = events[1] as MemoryCallEvent;
    expect(formatCall(e)).toBe('3086  <... mmap resumed>)               = 0x7fb83de00000');
    expect(formatCall(e, { result: { kind: 'error', value: -1n, errno: 12 } })).toBe(
      '3086  <... mmap resumed>)               = -1 ENOMEM (Cannot allocate memory)',
    );
    expect(formatCall(e, { layout: 'joined' })).toBe(
      '3086  mmap(NULL, 134217728, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7fb83de00000',
    );
  });

  it('builds prefixes as strace prints them', () => {
    expect(makePrefix({ pid: 42, pidStyle: 'bare' }).text).toBe('42    ');
    expect(makePrefix({ pid: 42, pidStyle: 'bracket' }).text).toBe('[pid    42] ');
    expect(makePrefix({ pid: 1234567, pidStyle: 'bare' }).text).toBe('1234567 ');
    expect(
      makePrefix({
        time: { text: '05:14:49.000001', style: 'clock', seconds: 0 },
        relative: { text: '     0.000123', style: 'relative', seconds: 0.000123 },
      }).text,
    ).toBe('05:14:49.000001 (+     0.000123) ');
  });
});

// ---- property tests: print, then parse, gives back the same event ----

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  // Both sides of where the parser switches from numbers to bigints.
  fc.bigInt({ min: (1n << 53n) - 3n, max: (1n << 53n) + 3n }),
);
const addr = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), u64);
const len = fc.oneof(fc.bigInt({ min: 0n, max: 1n << 40n }), u64);
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map(BigInt);
const bits = (max: number) =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: BigInt(max) }),
    fc
      .subarray([1n, 2n, 4n, 8n, 0x10n, 0x20n, 0x40n, 0x100n, 0x800n, 0x4000n, 0x8000n, 0x20000n, 0x100000n])
      .map((a) => a.reduce((x, y) => x | y, 0n)),
    u64,
  );
const path = fc.stringMatching(/^\/[ -~]{0,40}$/);

const memoryCall: fc.Arbitrary<MemoryCall> = fc.oneof(
  fc
    .record({
      addr,
      length: len,
      prot: bits(0x3f),
      flags: bits(0x1fffff),
      fd: i32,
      offset: u64,
      fdPath: fc.option(path),
    })
    .map(({ fdPath, ...r }) => {
      const c: MemoryCall = { syscall: 'mmap', ...r };
      if (fdPath !== null) c.fdPath = fdPath;
      return c;
    }),
  fc.record({ addr, length: len }).map((r): MemoryCall => ({ syscall: 'munmap', ...r })),
  fc.record({ addr, length: len, prot: bits(0x3f) }).map((r): MemoryCall => ({ syscall: 'mprotect', ...r })),
  fc
    .record({ addr, length: len, prot: bits(0x3f), pkey: i32 })
    .map((r): MemoryCall => ({ syscall: 'pkey_mprotect', ...r })),
  fc.record({ addr }).map((r): MemoryCall => ({ syscall: 'brk', ...r })),
  fc
    .record({ oldAddress: addr, oldSize: len, newSize: len, flags: bits(7), newAddress: fc.option(addr) })
    .map(({ newAddress, ...r }) => {
      const c: MemoryCall = { syscall: 'mremap', ...r };
      if (newAddress !== null) c.newAddress = newAddress;
      return c;
    }),
  fc
    .record({ addr, length: len, advice: fc.oneof(fc.integer({ min: 0, max: 130 }).map(BigInt), u64) })
    .map((r): MemoryCall => ({ syscall: 'madvise', ...r })),
);

const HEX = new Set(['mmap', 'brk', 'mremap']);
const errnos = fc.oneof(fc.constantFrom(...ERRNO_TABLE.map(([n]) => n)), fc.integer({ min: 600, max: 4095 }));

function resultFor(name: string): fc.Arbitrary<SyscallResult> {
  const value: fc.Arbitrary<SyscallResult> = HEX.has(name)
    ? u64.map((v) => ({ kind: 'value', value: v, hex: v !== 0n })) // strace's %#lx prints 0 as "0"
    : fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }).map((v) => ({ kind: 'value', value: v, hex: false }));
  return fc.oneof(
    { weight: 4, arbitrary: value },
    { weight: 3, arbitrary: errnos.map((errno): SyscallResult => ({ kind: 'error', value: -1n, errno })) },
    { weight: 1, arbitrary: fc.constant<SyscallResult>({ kind: 'none' }) },
    { weight: 1, arbitrary: fc.constant<SyscallResult>({ kind: 'unavailable' }) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          ['ERESTARTSYS', 512],
          ['ERESTARTNOINTR', 513],
          ['ERESTARTNOHAND', 514],
          ['ERESTART_RESTARTBLOCK', 516],
        )
        .map(
          ([name, errno]): SyscallResult => ({
            kind: 'restart',
            name: name as string,
            errno: errno as number,
          }),
        ),
    },
  );
}

const micros = fc.integer({ min: 0, max: 999999 }).map((n) => String(n).padStart(6, '0'));
const clock = fc
  .tuple(
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
    fc.option(micros),
  )
  .map(([h, m, s, us]) => {
    const hms = [h, m, s].map((x) => String(x).padStart(2, '0')).join(':');
    return us === null ? hms : `${hms}.${us}`;
  });
const epoch = fc
  .tuple(fc.integer({ min: 1_000_000_000, max: 1_999_999_999 }), micros)
  .map(([s, us]) => `${s}.${us}`);
const relative = fc
  .tuple(fc.integer({ min: 0, max: 99999 }), micros)
  .map(([s, us]) => `${String(s).padStart(6)}.${us}`);

const prefix: fc.Arbitrary<LinePrefix> = fc
  .record({
    pid: fc.option(
      fc.record({ pid: fc.integer({ min: 1, max: 4194304 }), style: fc.constantFrom('bare', 'bracket') }),
    ),
    time: fc.option(
      fc.oneof(
        clock.map((t) => ({ t, s: 'clock' as const })),
        epoch.map((t) => ({ t, s: 'epoch' as const })),
      ),
    ),
    relative: fc.option(relative),
  })
  .map((r) => {
    const parts: Omit<LinePrefix, 'text'> = {};
    if (r.pid) {
      parts.pid = r.pid.pid;
      parts.pidStyle = r.pid.style as 'bare' | 'bracket';
    }
    if (r.time) parts.time = { text: r.time.t, style: r.time.s, seconds: 0 };
    if (r.relative) parts.relative = { text: r.relative, style: 'relative', seconds: 0 };
    return makePrefix(parts);
  });

const duration: fc.Arbitrary<Duration | null> = fc.option(
  fc.tuple(fc.integer({ min: 0, max: 100 }), micros).map(([s, us]) => ({ text: `${s}.${us}`, seconds: 0 })),
);

const printable: fc.Arbitrary<PrintableCall & { arch: Arch }> = memoryCall.chain((call) =>
  fc
    .record({
      result: resultFor(call.syscall),
      prefix,
      duration,
      arch: fc.constantFrom<Arch>('x86_64', 'aarch64'),
    })
    .map(({ duration: d, ...rest }) => (d === null ? { call, ...rest } : { call, ...rest, duration: d })),
);

/** `o` with every bigint field in the parser's form: a number when it is a safe integer. */
function canonical<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === 'bigint' ? traceInt(v) : v;
  return out as T;
}

describe('print-then-parse round trip (fast-check)', () => {
  it('parses back the call, result, prefix and duration that were printed', () => {
    fc.assert(
      fc.property(printable, (p) => {
        const line = formatCall(p, { arch: p.arch });
        const e = parseMem(line, p.arch);
        // Parsed values are numbers below 2^53 and bigints above, whatever form was printed.
        expect(e.call).toEqual(canonical(p.call));
        expect(e.result).toEqual(canonical(p.result));
        expect(e.prefix.text).toBe(p.prefix?.text ?? '');
        expect(e.prefix.pid).toBe(p.prefix?.pid);
        expect(e.prefix.time?.text).toBe(p.prefix?.time?.text);
        expect(e.prefix.relative?.text).toBe(p.prefix?.relative?.text);
        expect(e.duration?.text).toBe(p.duration?.text);
        // ... and printing the parsed event again gives the same line.
        expect(formatCall(e, { arch: p.arch })).toBe(line);
      }),
      { numRuns: 3000 },
    );
  });
});
