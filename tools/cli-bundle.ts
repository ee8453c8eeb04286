/**
 * Makes the command line one file: dist/cli/main.js, as tsc emitted it, bundled by esbuild with
 * every module it imports (commander too) into itself. Node 20's ES module loader resolves, reads
 * and links each of the ~100 modules one by one, which cost more than Node's own start (measured:
 * `levitate-mm --version` 135–190 ms of CPU unbundled, 71–75 ms bundled, `node -e 0` 54–63 ms).
 * The other files of dist/ stay as tsc wrote them, for the package's importers.
 *
 *   tsx tools/cli-bundle.ts [DIST]     # default dist
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles `dist/cli/main.js` in place (after tsc). The bundle stays in dist/cli/, so the paths it
 * finds relative to itself (../../package.json, ../page/) are those of the modules it took in.
 */
export async function writeCliBundle(dist: string): Promise<void> {
  const main = join(dist, 'cli/main.js');
  await build({
    entryPoints: [main],
    outfile: main,
    allowOverwrite: true,
    bundle: true,
    // commander is CommonJS, which an ES module bundle cannot require: it stays a package import.
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'silent',
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeCliBundle(process.argv[2] ?? join(root, 'dist'));
}
