/**
 * Builds the browser view (src/web): the page's script and the worker's, bundled by esbuild for the
 * browser, and the page template. `levitate-mm view` serves or inlines these files; the tests build
 * them to check that nothing below src/cli needs Node.
 *
 *   tsx tools/web-bundle.ts [OUTDIR]     # default dist/page
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface WebBundle {
  /** The page template (src/web/index.html). */
  html: string;
  app: string;
  worker: string;
}

/** Bundles the page and the worker. Throws esbuild's error (with every message) on failure. */
export async function buildWebBundle(options: { minify?: boolean } = {}): Promise<WebBundle> {
  const common = {
    bundle: true,
    write: false,
    platform: 'browser' as const,
    format: 'iife' as const,
    target: 'es2022',
    minify: options.minify ?? true,
    legalComments: 'none' as const,
    logLevel: 'silent' as const,
    jsx: 'automatic' as const,
    jsxImportSource: 'preact',
  };
  const [app, worker] = await Promise.all([
    build({ ...common, entryPoints: [join(root, 'src/web/app/main.tsx')] }),
    build({ ...common, entryPoints: [join(root, 'src/web/worker.ts')] }),
  ]);
  return {
    html: readFileSync(join(root, 'src/web/index.html'), 'utf8'),
    app: app.outputFiles![0].text,
    worker: worker.outputFiles![0].text,
  };
}

/** Writes the bundle to `outdir` as index.html, app.js and worker.js. */
export async function writeWebBundle(outdir: string): Promise<void> {
  const b = await buildWebBundle();
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'index.html'), b.html);
  writeFileSync(join(outdir, 'app.js'), b.app);
  writeFileSync(join(outdir, 'worker.js'), b.worker);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeWebBundle(process.argv[2] ?? join(root, 'dist/page'));
}
