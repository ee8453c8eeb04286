/**
 * Runs the fuzz cases of test/fuzz/mremap-pieces.test.ts (MREMAP_PIECES_CASES) on this machine's
 * kernel with mremap-pieces.c and writes what it printed to mremap-pieces-x86_64.txt.
 *
 *   npx tsx tools/fuzz/linux/record-mremap-pieces.ts
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCase } from '../case.js';
import { MREMAP_PIECES_CASES, opLines } from './mremap-pieces.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, '../../../test/fixtures');

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

if (os.arch() !== 'x64') throw new Error('runs on an x86-64 host');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mremap-pieces-'));
const exe = path.join(dir, 'mremap-pieces');
run('gcc', ['-O1', '-Wall', '-static', '-o', exe, path.join(HERE, 'mremap-pieces.c')]);
let out = `# Linux ${os.release()} x86_64\n`;
for (const name of MREMAP_PIECES_CASES) {
  const c = parseCase(fs.readFileSync(path.join(FIXTURES, name), 'utf8'), name);
  const env = c.config.paging === 'eager' ? { EAGER: '1' } : {};
  out += `case ${name}\n${run('setarch', ['x86_64', '-R', exe], { input: opLines(c), env })}`;
}
fs.writeFileSync(path.join(HERE, 'mremap-pieces-x86_64.txt'), out);
fs.rmSync(dir, { recursive: true });
console.log(`${MREMAP_PIECES_CASES.length} cases recorded`);
