import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCliBundle } from '../../tools/cli-bundle.js';
import { writeWebBundle } from '../../tools/web-bundle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Builds what the tests need beyond TypeScript, once per run: dist/, which the command-line tests
 * run and the README test imports as the published package, from the current source, with the
 * command line bundled into dist/cli/main.js as `npm run build` makes it, and the browser view's
 * page next to it (dist/page/, which `levitate-mm view` serves).
 */
export default async function setup(): Promise<void> {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  await writeCliBundle(join(root, 'dist'));
  await writeWebBundle(join(root, 'dist/page'));
}
