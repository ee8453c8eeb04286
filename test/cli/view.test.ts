/**
 * `levitate-mm view` from the command line: the self-contained page, the local server (127.0.0.1,
 * the URL printed, nothing opened with --no-open) and the one-line answers to bad input.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'test/fixtures/strace');
const tmp = mkdtempSync(join(tmpdir(), 'levitate-view-'));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/cli/main.js', 'view', ...args], { cwd: root, encoding: 'utf8' });

/** The JSON session a page carries. */
const sessionOf = (html: string) =>
  JSON.parse(
    /<script type="application\/json" id="session">(.*?)<\/script>/s.exec(html)![1].replace(/<\\\//g, '</'),
  );

// The command under test is the build and the page next to it, made from the current source by
// test/support/global-setup.ts.

describe('levitate-mm view', () => {
  it('writes one self-contained page with the log and the replay options inside', () => {
    const out = join(tmp, 'mm.html');
    const r = cli(join(fixtures, 'mm-exercise.strace'), '--relocate', '--ram', '256M', '--html', out);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/50 memory calls replayed: 48 same result, 2 different/);
    const html = readFileSync(out, 'utf8');
    // Nothing is loaded from anywhere: no src= or href= to another resource.
    expect(html).not.toMatch(/\s(src|href)=["'](?!#)/);
    const s = sessionOf(html);
    expect(s.kind).toBe('logs');
    expect(s.options).toMatchObject({ arch: 'x86_64', relocate: true, ramBytes: 2 ** 28, paging: 'demand' });
    expect(s.logs[0].chunks[0]).toBe(readFileSync(join(fixtures, 'mm-exercise.strace'), 'utf8'));
  });

  it('writes the demo page', () => {
    const out = join(tmp, 'demo.html');
    const r = cli('--demo', '--html', out);
    expect(r.status).toBe(0);
    expect(sessionOf(readFileSync(out, 'utf8'))).toMatchObject({ kind: 'demo', arch: 'aarch64' });
  });

  describe('serving', () => {
    let child: ChildProcess;
    let url = '';
    beforeAll(async () => {
      child = spawn(
        process.execPath,
        ['dist/cli/main.js', 'view', join(fixtures, 'sh-pipeline-ff', 'trace'), '--no-open'],
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`view exited with ${code}`)));
      });
    });
    afterAll(() => {
      child?.kill();
    });

    it('prints a 127.0.0.1 URL and serves the page and each -ff file', async () => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await (await fetch(url)).text();
      const s = sessionOf(page);
      expect(s.kind).toBe('urls');
      expect(s.urls.map((u: { pid: number }) => u.pid)).toEqual([3106, 3107, 3108, 3109]);
      const log = await (await fetch(new URL(s.urls[1].url, url))).text();
      expect(log).toBe(readFileSync(join(fixtures, 'sh-pipeline-ff', 'trace.3107'), 'utf8'));
      expect((await fetch(new URL('/etc/passwd', url))).status).toBe(404);
      expect((await fetch(new URL('/log/9', url))).status).toBe(404);
    });
  });

  it('answers bad input with one line and exit status 2', () => {
    const bad = join(tmp, 'bad.strace');
    spawnSync('sh', [
      '-c',
      `printf 'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 = 0x1000\\n' > ${bad}`,
    ]);
    for (const args of [
      [],
      [join(tmp, 'missing.strace')],
      [bad],
      ['--demo', bad],
      ['--demo', '--port', 'x'],
    ]) {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    expect(cli(bad).stderr).toMatch(/bad\.strace:1:\d+: expected/);
  });
});
