import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ExecFlags, ExecUsageError, execReport } from '../../src/cli/exec.js';
import { loadExecFixtures } from '../support/exec-fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The command line from source (tsx), so it is always the current code. */
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'exec', ...args], {
    cwd: root,
    encoding: 'utf8',
  });
const fixtures = new Map(loadExecFixtures('x86_64').map((f) => [f.name, f]));
const FIXED = ['-i', '-e', 'PATH=/usr/bin:/bin', '--rlimit-stack', '8M'];
/** The options FIXED gives, for the command's function itself. */
const fixed = (more: Partial<ExecFlags> = {}): ExecFlags => ({
  pageSize: 4096,
  ignoreEnvironment: true,
  env: ['PATH=/usr/bin:/bin'],
  rlimitStack: 8 * 2 ** 20,
  ...more,
});
/** The one line a failing exec gives. */
function failure(program: string, flags = fixed()): string {
  try {
    execReport(program, [], flags);
  } catch (e) {
    if (e instanceof ExecUsageError) return e.message;
    throw e;
  }
  throw new Error(`${program} did not fail`);
}

describe('levitate-mm exec', () => {
  it("prints the maps the real kernel showed for the same exec (fixture 'true'), exit status 0", () => {
    const r = cli(...FIXED, '/bin/true');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(fixtures.get('true')!.maps);
  });

  it('passes the arguments after PROGRAM through, options included (fixture cat)', () => {
    const out = execReport('/usr/bin/cat', ['-n', '/proc/self/maps'], fixed({ argv0: 'cat' }));
    expect(out).toBe(fixtures.get('cat')!.maps);
  });

  it('--json: the maps, entry point, stack pointer, break and auxv', () => {
    const report = JSON.parse(execReport('/bin/true', [], fixed({ json: true })));
    const f = fixtures.get('true')!;
    expect(report.sp).toBe(f.sp);
    expect(report.startBrk).toBe(f.stat!.start_brk);
    expect(report.argv).toEqual(['/bin/true']);
    const starts = f
      .maps!.trim()
      .split('\n')
      .slice(0, -1)
      .map((l) => `0x${l.split('-')[0]}`);
    expect(report.maps.map((m: { start: string }) => m.start)).toEqual(starts);
    expect(report.vsyscall).toBe(true);
    expect(report.interpreter).toBe('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  });

  it("--json: auxv carries this CPU's words, as ld.so shows them to a program started here", () => {
    const shown = spawnSync('/bin/true', [], { env: { LD_SHOW_AUXV: '1' }, encoding: 'utf8' }).stdout;
    const word = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(?:0x)?([0-9a-f]+)$`, 'm').exec(shown);
      if (m === null) throw new Error(`LD_SHOW_AUXV printed no ${name}`);
      return name === 'AT_MINSIGSTKSZ' ? Number(m[1]) : Number.parseInt(m[1], 16);
    };
    const report = JSON.parse(execReport('/bin/true', [], fixed({ json: true })));
    const auxv = new Map(report.auxv.map((e: { type: number; value: string }) => [e.type, Number(e.value)]));
    expect(auxv.get(16)).toBe(word('AT_HWCAP'));
    expect(auxv.get(26)).toBe(word('AT_HWCAP2'));
    expect(auxv.get(51)).toBe(word('AT_MINSIGSTKSZ'));
  });

  it('looks PROGRAM up in PATH when it has no slash', () => {
    expect(execReport('true', [], fixed()).split('\n')[0]).toMatch(/ \/usr\/bin\/true$/);
  });

  it('answers a failing exec with the errno Linux gives, and says when Linux would kill the process', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmm-exec-cli-'));
    writeFileSync(join(tmp, 'plain'), 'hello\n', { mode: 0o755 });
    const high = fixtures.get('err-segment-high')!;
    const entry = Object.values(high.files)[0];
    if (entry.kind !== 'file') throw new Error('fixture holds no file');
    writeFileSync(join(tmp, 'high'), Buffer.from(entry.chunks[0].base64, 'base64'), { mode: 0o755 });
    expect(failure('/nonexistent/program')).toBe(
      'exec /nonexistent/program: ENOENT (No such file or directory)',
    );
    expect(failure('no-such-program-anywhere')).toMatch(/: ENOENT \(/);
    expect(failure(tmp)).toMatch(/: EACCES \(Permission denied\)$/);
    expect(failure(join(tmp, 'plain'))).toMatch(/: ENOEXEC \(Exec format error\)$/);
    expect(failure('/bin/true', fixed({ arch: 'aarch64' }))).toMatch(/: ENOEXEC \(/);
    // Linux shows only the SIGSEGV; the errno is the one do_mmap returns inside it for MAP_FIXED above TASK_SIZE.
    expect(failure(join(tmp, 'high'))).toMatch(
      /: ENOMEM \(Cannot allocate memory\), past the point of no return: Linux kills the process with SIGSEGV$/,
    );
    expect(failure('/bin/true', fixed({ pageSize: 8192 }))).toBe('page size 8192 is not supported on x86_64');
  });

  it('exits with status 2 and one line on standard error for a failing exec or a usage error', () => {
    for (const args of [['/nonexistent/program'], ['--arch', 'sparc', '/bin/true'], []]) {
      const r = cli(...FIXED, ...args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^levitate-mm: /);
    }
  });
});
