import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { syntheticLog } from '../../src/replay/synthetic.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'test/fixtures/strace');
/**
 * The command as run on the machine the fixtures were recorded on, whatever machine runs the test:
 * its /proc values and its architecture (each can be overridden by a later option), and none of
 * this machine's files (their size and file system).
 */
const HOST = ['--proc', join(fixtures, 'proc'), '--arch', 'x86_64', '--no-host-files'];
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['dist/cli/main.js', 'replay', ...HOST, ...args], {
    cwd: root,
    encoding: 'utf8',
    input,
    maxBuffer: 1 << 28,
  });
const tmp = mkdtempSync(join(tmpdir(), 'levitate-replay-'));
const ANON = 'PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0';

describe('levitate-mm replay', () => {
  it('prints a log the model wrote unchanged, with a summary on stderr, exit 0', () => {
    const log = `${[...syntheticLog({ calls: 500, seed: 3 })].join('\n')}\n`;
    const file = join(tmp, 'self.strace');
    writeFileSync(file, log);
    const r = cli([file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(log);
    expect(r.stderr).toMatch(/500 memory calls replayed: 500 same result, 0 different/);
    expect(r.stderr).toMatch(/mappings \(peak \d+\), .* mapped, .* resident, \d+ page-table pages/);
    expect(r.stderr).toMatch(/frames in use: \d+ \(peak \d+\)/);
  });

  it('prints a log that turns from ASCII to UTF-8 mid-way as it read it, a character cut by the 1 MiB read intact', () => {
    // The file is read 1 MiB at a time; chunks that are all ASCII skip the UTF-8 decoder. Here the
    // first MiB is ASCII and its last byte is the first of a two-byte character: the decoder takes
    // over from that chunk on, so the character comes out whole; an invalid byte later reads as U+FFFD.
    const mmap = `mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000`;
    const munmap = 'munmap(0x7ffff7ffe000, 4096) = 0';
    const head: string[] = [];
    let size = 0;
    for (let i = 0; size < 2 ** 20 - 200; i++) {
      const l = i % 2 === 0 ? mmap : munmap;
      head.push(l);
      size += l.length + 1;
    }
    if (head.length % 2 === 1) head.push(munmap);
    const ascii = Buffer.from(`${head.join('\n')}\n`);
    // A line of a call the model does not run (printed as it is), padded so that "é" starts at byte 2^20 - 1.
    const open = (name: string) =>
      `openat(AT_FDCWD, "/tmp/${name}", O_RDONLY) = -1 ENOENT (No such file or directory)`;
    const pad = 2 ** 20 - 1 - ascii.length - 'openat(AT_FDCWD, "/tmp/'.length;
    const name = `${'x'.repeat(pad)}é`;
    const bytes = Buffer.concat([
      ascii,
      Buffer.from(`${open(name)}\n`),
      Buffer.from('openat(AT_FDCWD, "/tmp/'),
      Buffer.from([0xff]),
      Buffer.from(`", O_RDONLY) = -1 ENOENT (No such file or directory)\n${mmap}\n`),
    ]);
    expect(bytes.indexOf(Buffer.from('é'))).toBe(2 ** 20 - 1);
    const file = join(tmp, 'utf8-mid-way.strace');
    writeFileSync(file, bytes);
    const r = cli([file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${head.join('\n')}\n${open(name)}\n${open('\ufffd')}\n${mmap}\n`);
    expect(r.stderr).toMatch(
      new RegExp(`${head.length + 1} memory calls replayed: ${head.length + 1} same result`),
    );
  });

  it('runs a log of real programs on the kernel’s lifecycle: notices once, each process with its program', () => {
    const r = cli([join(fixtures, 'lifecycle/gcc.strace'), '-q']);
    expect(r.status).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.filter((l) => /abbreviates execve arguments/.test(l))).toHaveLength(1);
    expect(lines).toContain('levitate-mm replay: 128 memory calls replayed: 128 same result, 0 different');
    expect(
      lines.filter((l) => /^levitate-mm replay: pid /.test(l)).map((l) => l.replace(/; at exit.*/, '')),
    ).toEqual([
      expect.stringMatching(
        /^levitate-mm replay: pid \d+,\d+,\d+ \(\/usr\/bin\/gcc, exec'd from its ELF file\): 16 calls, all as Linux$/,
      ),
      expect.stringMatching(
        /^levitate-mm replay: pid \d+ \(\/usr\/lib\/gcc\/x86_64-linux-gnu\/12\/cc1, exec'd from its ELF file\): 75 calls, all as Linux$/,
      ),
      expect.stringMatching(
        /^levitate-mm replay: pid \d+ \(\/usr\/bin\/as, exec'd from its ELF file\): 37 calls, all as Linux$/,
      ),
    ]);
    // A relative program path is found from --cwd: here there is no ./threads, which is said.
    const threads = cli([join(fixtures, 'lifecycle/threads.strace'), '-q', '--cwd', tmp]);
    expect(threads.status).toBe(0);
    expect(threads.stderr).toMatch(
      /\.\/threads \(pid \d+, line 1\) cannot be run on this machine \(ENOENT, a path relative to where the traced command ran\)/,
    );
    expect(threads.stderr).toMatch(
      /overlapping calls of threads: \d+ printed orders contradicted Linux's results: \d+ resolved by another order/,
    );
  });

  it('reads standard input (no TRACE, or -), saying so only on a terminal', () => {
    const input = `mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000\n`;
    for (const args of [[], ['-']]) {
      const r = cli(args, input);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(input);
      expect(r.stderr).not.toMatch(/reading/);
    }
    // On a terminal (script gives the command one), then Ctrl-D at once: an empty log.
    const tty = spawnSync('script', ['-qec', 'node dist/cli/main.js replay', '/dev/null'], {
      cwd: root,
      encoding: 'utf8',
      input: '\x04',
    });
    expect(tty.status).toBe(0);
    expect(tty.stdout.replaceAll('\r', '').replace(/^\^D/, '')).toBe(
      'levitate-mm replay: reading an strace log from standard input (end it with Ctrl-D; see levitate-mm replay --help)\n' +
        'levitate-mm replay: the log is empty: no memory calls to replay\n',
    );
  });

  it('says when a log holds no memory calls', () => {
    const empty = cli(['-'], '');
    expect(empty.status).toBe(0);
    expect(empty.stderr).toBe('levitate-mm replay: the log is empty: no memory calls to replay\n');
    const other = cli(['-'], 'write(1, "x", 1) = 1\n+++ exited with 0 +++\n');
    expect(other.status).toBe(0);
    expect(other.stdout).toBe('write(1, "x", 1) = 1\n+++ exited with 0 +++\n');
    expect(other.stderr).toBe(
      'levitate-mm replay: the log held no memory calls (mmap, munmap, mprotect, brk, mremap, madvise) in its 2 lines: record them with strace -e trace=%memory\n',
    );
  });

  it('shows exactly the differing calls to diff, and exits 1 with --check', () => {
    const file = join(fixtures, 'mm-exercise.strace');
    const input = readFileSync(file, 'utf8').split('\n');
    const r = cli([file, '--relocate', '--total-ram', '24098M']);
    expect(r.status).toBe(0);
    const out = r.stdout.split('\n');
    expect(out).toHaveLength(input.length);
    const differing = out.filter((l, i) => l !== input[i]);
    const m = /(\d+) same result, (\d+) different/.exec(r.stderr)!;
    expect(differing).toHaveLength(Number(m[2]));
    expect(Number(m[1])).toBe(48);
    expect(cli([file, '--relocate', '--check', '-q']).status).toBe(1);
  });

  it('writes --trace-out and --maps-out', () => {
    const traceOut = join(tmp, 'out.strace');
    const mapsOut = join(tmp, 'out.maps');
    const input = `brk(NULL) = 0x555555560000\nmmap(NULL, 8192, ${ANON}) = 0x7ffff7ffd000\n`;
    const r = cli(['-', '--trace-out', traceOut, '--maps-out', mapsOut, '-q'], input);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(readFileSync(traceOut, 'utf8')).toBe(input);
    expect(readFileSync(mapsOut, 'utf8')).toBe('7ffff7ffd000-7ffff7fff000 rw-p 00000000 00:00 0 \n');
  });

  it('replays the files of strace -ff given their prefix, --trace-out as a prefix too', () => {
    const out = join(tmp, 'ff');
    const r = cli([join(fixtures, 'sh-pipeline-ff/trace'), '--relocate', '--trace-out', out, '-q']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/112 memory calls replayed: 104 same result/);
    expect(readFileSync(`${out}.3107`, 'utf8').split('\n')).toHaveLength(
      readFileSync(join(fixtures, 'sh-pipeline-ff/trace.3107'), 'utf8').split('\n').length,
    );
  });

  it('gives file:line:column for a line it cannot parse, exit 2; --lenient skips and counts it', () => {
    const file = join(tmp, 'bad.strace');
    writeFileSync(
      file,
      `mmap(NULL, 4096, ${ANON}) = 0x7ffff7ffe000\nmmap(NULL, 4096, PROT_RAED, MAP_PRIVATE, -1, 0) = 0x1000\n`,
    );
    const r = cli([file, '-q']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `levitate-mm: ${file}:2:18: expected a PROT_* flag or a number, found "PROT_RAED"\n`,
    );
    const l = cli([file, '--lenient']);
    expect(l.status).toBe(0);
    expect(l.stdout).toBe(readFileSync(file, 'utf8'));
    expect(l.stderr).toMatch(/1 unparseable lines skipped/);
  });

  it('answers missing files, bad snapshots and contradicting snapshots with one line, exit 2', () => {
    const badMaps = join(tmp, 'bad.maps');
    writeFileSync(
      badMaps,
      '7ffff7ff0000-7ffff7fff000 rw-p 00000000 00:00 0 \n7ffff7ff8000-7ffff7fff800 rw-p 00000000 00:00 0 \n',
    );
    const cases: Array<[string[], RegExp]> = [
      [['nonexistent.strace'], /^levitate-mm: nonexistent\.strace: no such file/],
      [['-', '--maps', 'nonexistent.maps'], /^levitate-mm: nonexistent\.maps: no such file/],
      [['-', '--maps', badMaps], /^levitate-mm: .*bad\.maps: maps line 2 .*(overlaps|page-aligned)/],
      [
        [join(fixtures, 'python3-memory.strace'), '--maps', join(fixtures, 'maps/python3.maps')],
        /^levitate-mm: .*python3-memory\.strace:1: brk\(NULL\) returned 0x3899000, but the break in .* is 0x38f32000/,
      ],
      [['--arch', 'sparc'], /^levitate-mm: .*sparc/],
      [['-', '--ram', '0'], /^levitate-mm: --ram must be a positive multiple of 256K\n$/],
      [
        ['-', '--task-size', '12'],
        /^levitate-mm: --task-size must be a multiple of the page size \(4096\)\n$/,
      ],
      [['/proc/self/mem'], /^levitate-mm: \/proc\/self\/mem: cannot read: i\/o error\n$/],
      [
        ['-', '--trace-out', '/nonexistent/x'],
        /^levitate-mm: cannot write \/nonexistent\/x: no such file or directory\n$/,
      ],
      [[tmp], /is a directory, not a strace log\n$/],
      [['-', '--bogus'], /^levitate-mm: unknown option '--bogus'\n$/],
      [['--total-ram', 'lots'], /^levitate-mm: .*not a size/],
      [
        ['--page-size', '16384', '--arch', 'x86_64'],
        /^levitate-mm: page size 16384 is not supported on x86_64/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = cli(args, '');
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('relocates a log recorded with ASLR: --relocate finds the same results, and says it was randomized', () => {
    const file = join(fixtures, 'node-memory-f.strace');
    const plain = cli([file, '-q']);
    const relocated = cli([file, '-q', '--relocate']);
    expect(plain.stderr).toMatch(
      /168 same result, 55 different \(25 placed elsewhere by address randomization/,
    );
    expect(plain.stderr).toMatch(
      /the log was recorded with address randomization: the first mapping the kernel placed \(line 2\) is at 0x7fb84d1ab000, .* below 0x7ffff7ffd000 where it goes without randomization; replay with --relocate/,
    );
    expect(relocated.stderr).toMatch(
      /214 same result, 9 different \(1 placed at another position than Linux chose/,
    );
    expect(relocated.stderr).not.toMatch(/unexplained|replay with --relocate/);
  });

  it('shows a placement difference to diff, as the address the model chose seen from the log', () => {
    const file = join(fixtures, 'gcc-memory-f-y-norandom.strace');
    const input = readFileSync(file, 'utf8').split('\n');
    const r = cli([file, '--relocate']);
    expect(r.status).toBe(0);
    const out = r.stdout.split('\n');
    const differing = out.map((l, i) => [input[i], l]).filter(([a, b]) => a !== b);
    expect(differing).toHaveLength(9);
    // libisl: Linux aligned it to 2 MiB (ext4), the model, which knows no file system for it, put
    // it right below ld.so.cache.
    expect(differing).toContainEqual([
      '4318  mmap(NULL, 2137880, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libisl.so.23.2.0>, 0) = 0x7ffff7c00000',
      '4318  mmap(NULL, 2137880, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</usr/lib/x86_64-linux-gnu/libisl.so.23.2.0>, 0) = 0x7ffff7dab000',
    ]);
    expect(r.stderr).not.toMatch(/randomization/);
  });

  it('prints a JSON report with every call and the summary', () => {
    const r = cli([join(fixtures, 'python3-memory.strace'), '--json', '--relocate']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      calls: Array<{ line: number; syscall: string; status: string; log: string; model: string | null }>;
      summary: { replayed: number; matched: number; tasks: unknown[] };
    };
    expect(report.calls).toHaveLength(report.summary.replayed);
    expect(report.calls.filter((c) => c.status === 'match')).toHaveLength(report.summary.matched);
    expect(report.calls[0]).toMatchObject({ line: 1, syscall: 'brk', log: '0x3899000' });
    expect(report.summary.tasks).toHaveLength(1);
  });

  it('takes the machine’s memory settings from --proc, never from the machine it runs on', () => {
    const log = `mmap(NULL, 1073741824, ${ANON}) = 0x7fffb7e00000\n`;
    expect(cli(['-q'], log).stderr).toMatch(/1 memory calls replayed: 1 same result/);
    const small = join(tmp, 'proc-small');
    mkdirSync(join(small, 'sys/vm'), { recursive: true });
    writeFileSync(join(small, 'meminfo'), 'MemTotal:         524288 kB\nSwapTotal:             0 kB\n');
    writeFileSync(join(small, 'sys/vm/overcommit_memory'), '2\n');
    writeFileSync(join(small, 'sys/vm/overcommit_ratio'), '50\n');
    // Strict overcommit on a 512 MiB machine: 1 GiB cannot be committed.
    const r = cli(['-q', '--proc', small], log);
    expect(r.stderr).toMatch(/1 memory calls replayed: 0 same result, 1 different/);
  });

  it('documents itself in --help', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/strace -f -e trace=%memory -o app\.strace/);
    expect(r.stdout).toMatch(/--relocate/);
    expect(r.stdout).toMatch(/Exit status/);
  });
});
