/**
 * Everything below src/cli runs in a browser: bundling it for the browser fails on any `node:`
 * import (esbuild cannot resolve Node's built-ins there), and so does bundling the page and its
 * worker.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { buildWebBundle } from '../../tools/web-bundle.js';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every module below src/cli: all of src/ but the command line and the Node package entry. */
function browserModules(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (relative(src, p) !== 'cli') walk(p);
      } else if (/\.tsx?$/.test(e.name) && relative(src, p) !== 'index.ts') out.push(p);
    }
  };
  walk(src);
  return out.sort();
}

/** Bundles `entry` (a module's source) for the browser; returns esbuild's error texts. */
async function browserErrors(contents: string): Promise<string[]> {
  try {
    await build({
      stdin: { contents, resolveDir: src, sourcefile: 'entry.ts', loader: 'ts' },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      logLevel: 'silent',
      jsx: 'automatic',
      jsxImportSource: 'preact',
    });
    return [];
  } catch (e) {
    return ((e as { errors?: Array<{ text: string }> }).errors ?? []).map((x) => x.text);
  }
}

describe('the browser bundle', () => {
  it('bundles every module below src/cli for the browser', async () => {
    const modules = browserModules();
    expect(modules.length).toBeGreaterThan(50);
    const entry = modules.map((m) => `import './${relative(src, m).replace(/\.tsx?$/, '.js')}';`).join('\n');
    expect(await browserErrors(entry)).toEqual([]);
  });

  it('fails on a node: import (the check can fail)', async () => {
    const errors = await browserErrors("import { readFileSync } from 'node:fs';\nconsole.log(readFileSync);");
    expect(errors.join('\n')).toMatch(/node:fs/);
  });

  it('builds the page and its worker', async () => {
    const b = await buildWebBundle();
    expect(b.html).toContain('<!--APP-->');
    expect(b.app.length).toBeGreaterThan(10_000);
    expect(b.worker).toContain('postMessage');
    expect(b.app + b.worker).not.toMatch(/\brequire\(["']node:/);
  });
});
