/**
 * The README's code runs as written against the published package (dist/, built by the global
 * setup, imported by its name), and typechecks against its declarations with skipLibCheck off.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
// Inside the package, so that `levitate-mm` resolves to the package itself (its "exports").
const dir = mkdtempSync(join(root, 'dist', 'readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first ```ts block after a heading. */
function snippet(heading: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at).toBeGreaterThan(0);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(m).not.toBeNull();
  return m![1];
}

describe('the README', () => {
  const code = snippet('## Using the model');

  it('says the package is an ES module, as package.json has it', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { type: string };
    expect(pkg.type).toBe('module');
    expect(readme).toMatch(/levitate-mm is an ES module package \(`"type": "module"`/);
  });

  it('runs its example as written, printing what its comments say', () => {
    const file = join(dir, 'example.mjs');
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      'Uint8Array(3) [ 1, 2, 3 ]\n-12\nUint8Array(3) [ 1, 2, 3 ]\n0\nnot-mapped SEGV_MAPERR\n[]\n',
    );
    // Every printed line is the comment of its console.log.
    const comments = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
    const printed = r.stdout.trimEnd().split('\n');
    expect(comments).toHaveLength(printed.length);
    expect(printed.map((line, i) => comments[i].startsWith(line))).toEqual(printed.map(() => true));
  });

  it('typechecks its example against the published declarations, skipLibCheck off', () => {
    writeFileSync(join(dir, 'example.ts'), code);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: [],
        },
        files: ['example.ts'],
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
