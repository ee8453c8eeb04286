import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });

describe('levitate-mm demo', () => {
  it.each([
    { arch: 'aarch64' as const, pageSize: 4096 },
    { arch: 'aarch64' as const, pageSize: 16384 },
    { arch: 'aarch64' as const, pageSize: 65536, ramBytes: 256 * 2 ** 20 },
    { arch: 'x86_64' as const, pageSize: 4096 },
  ])('behaves on every step ($arch, $pageSize)', (opts) => {
    const lines: string[] = [];
    expect(runDemo({ ramBytes: 8 * 2 ** 20, ...opts }, (l) => lines.push(l))).toBe(true);
    expect(lines.join('\n')).toContain('-ENOMEM');
  });

  it('runs from the command line with built-in defaults and exits 0', () => {
    const r = cli();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('all steps behaved');
    expect(r.stdout).toMatch(
      /mmap\(NULL, 65536, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = 0xfffff7ff0000/,
    );
  });

  it('answers bad options with one line and exit status 2', () => {
    for (const args of [
      ['demo', '--arch', 'sparc'],
      ['demo', '--ram', 'lots'],
      ['demo', '--page-size', '8192'],
      ['frobnicate'],
    ]) {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  });
});
