import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
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

describe('levitate-mm exec', () => {
  it("prints the maps the real kernel showed for the same exec (fixture 'true')", () => {
    const r = cli(...FIXED, '/bin/true');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(fixtures.get('true')!.maps);
  });

  it('passes the arguments after PROGRAM through, options included (fixture cat)', () => {
    const r = cli(...FIXED, '--argv0', 'cat', '/usr/bin/cat', '-n', '/proc/self/maps');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(fixtures.get('cat')!.maps);
  });

  it('--json: the maps, entry point, stack pointer, break and auxv', () => {
    const r = cli(...FIXED, '--json', '/bin/true');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const f = fixtures.get('true')!;
    expect(report.sp).toBe(f.sp);
    expect(report.startBrk).toBe(f.stat!.start_brk);
    expect(report.argv).toEqual(['/bin/true']);
    expect(report.maps.map((m: { start: string }) => m.start)).toEqual(
      f
        .maps!.trim()
        .split('\n')
        .slice(0, -1)
        .map((l) => `0x${l.split('-')[0].replace(/^0+(?=.)/, '')}`),
    );
    expect(report.interpreter).toBe('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  });

  it('looks PROGRAM up in PATH when it has no slash', () => {
    const r = cli(...FIXED, 'true');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/ \/usr\/bin\/true$/);
  });

  it('answers a failing exec with one line (the errno Linux gives) and exit status 2', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmm-exec-cli-'));
    writeFileSync(join(tmp, 'plain'), 'hello\n', { mode: 0o755 });
    for (const [args, errno] of [
      [['/nonexistent/program'], 'ENOENT'],
      [['no-such-program-anywhere'], 'ENOENT'],
      [[tmp], 'EACCES'],
      [[join(tmp, 'plain')], 'ENOEXEC'],
      [['--arch', 'aarch64', '/bin/true'], 'ENOEXEC'],
    ] as const) {
      const r = cli(...FIXED, ...args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^levitate-mm: exec .*: ${errno} \\(`));
    }
  });

  it('says when Linux would already have killed the process (a segment above TASK_SIZE)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmm-exec-cli-'));
    const f = fixtures.get('err-segment-high')!;
    const entry = Object.values(f.files)[0];
    if (entry.kind !== 'file') throw new Error('fixture holds no file');
    writeFileSync(join(tmp, 'high'), Buffer.from(entry.chunks[0].base64, 'base64'), { mode: 0o755 });
    const r = cli(...FIXED, join(tmp, 'high'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/past the point of no return: Linux kills the process with SIGSEGV\n$/);
  });

  it('answers usage errors with one line and exit status 2', () => {
    for (const args of [['--arch', 'sparc', '/bin/true'], ['--page-size', '8192', '/bin/true'], []]) {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
