import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeWebBundle } from '../../tools/web-bundle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Builds what the tests need beyond TypeScript, once per run: the command line the CLI tests run
 * (dist/, by tsc, from the current source) and the page next to it (dist/page/).
 */
export default async function setup(): Promise<void> {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  await writeWebBundle(join(root, 'dist/page'));
}
