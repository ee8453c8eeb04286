/**
 * Where the benchmark takes levitate-mm from, and how its workers are run.
 *
 * The model is measured as users run it: the tsc build in dist/ (`npm run build`), imported by
 * plain `node`. Running it through tsx instead would measure tsx's on-the-fly transform, which
 * turns every imported constant into a getter call and wraps functions in `__name` (more than
 * twice the time per page). For the same reason the workers themselves (TypeScript files next to
 * this one) are stripped of their types with esbuild into the OS temp directory and run by plain
 * node, not through tsx.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';

export const PAGE = 4096;
/** 512 MiB of simulated RAM: 131 072 frames, room for 65 536 mapped pages plus their tables. */
export const MODEL_RAM_BYTES = 512 * 2 ** 20;

/** The file URL of the compiled model's entry point in `dir` (default dist/), or a reason it is missing. */
export function modelEntry(dir: string | undefined): { url: string; label: string } | { missing: string } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const base = path.resolve(root, dir ?? 'dist');
  const entry = path.join(base, 'index.js');
  if (!existsSync(entry)) return { missing: `${entry} not found: run \`npm run build\` first` };
  return { url: pathToFileURL(entry).href, label: path.relative(root, base) || base };
}

/** Compiles bench/lib/<name>.ts (which may import only types) to plain ESM; returns the .mjs path. */
export function compileWorker(name: string): string {
  const src = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const code = readFileSync(src, 'utf8');
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'levitate-mm-bench');
  const out = path.join(dir, `${name}-${hash}.mjs`);
  if (!existsSync(out)) {
    const js = transformSync(code, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: src });
    mkdirSync(dir, { recursive: true });
    writeFileSync(out, js.code);
  }
  return out;
}
