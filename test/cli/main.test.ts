import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });

describe('levitate-mm, the front door', () => {
  it('ends quietly when the reader of its output goes away (demo | head -1)', () => {
    const r = spawnSync(
      'bash',
      ['-c', `node dist/cli/main.js demo | head -1; echo "status \${PIPESTATUS[0]}" >&2`],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(r.stdout).toBe('levitate-mm demo: aarch64, 4096-byte pages, 8 MiB RAM, eager paging\n');
    expect(r.stderr).toBe('status 0\n');
  });

  it('prints its version', () => {
    const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = cli(flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('names an unknown command as such, with the one it resembles', () => {
    const r = cli('replya', 'app.strace');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      "levitate-mm: unknown command 'replya' (did you mean replay?); the commands are demo, replay, exec and view (levitate-mm --help)\n",
    );
    const f = cli('frobnicate');
    expect(f.status).toBe(2);
    expect(f.stderr).toBe(
      "levitate-mm: unknown command 'frobnicate'; the commands are demo, replay, exec and view (levitate-mm --help)\n",
    );
  });

  it('answers help with exit status 0', () => {
    for (const args of [['--help'], ['help'], ['help', 'replay']]) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: levitate-mm/);
    }
  });
});
