/**
 * Records special-mappings.c on the reference kernels: on this machine (x86-64) into
 * special-mappings-x86_64.txt, and in the arm64 guest of tools/linux-harness-arm64 (the same pinned
 * kernel and qemu command, the program as the initramfs's /init) into special-mappings-aarch64.txt.
 *
 *   npx tsx tools/fuzz/linux/record-special-mappings.ts [--arch x86_64|aarch64]   (both by default)
 *
 * The arm64 part needs what record.ts needs (root on a Debian-like host, which installs qemu and
 * the cross compiler, and the Debian mirror for the kernel package).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Args, UsageError } from '../../args.js';
import {
  boot,
  DEFAULT_CACHE,
  EnvironmentError,
  ensureHostTools,
  ensureKernel,
} from '../../linux-harness-arm64/record.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(HERE, 'special-mappings.c');

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

function recordX86(dir: string): void {
  if (os.arch() !== 'x64') throw new Error('the x86-64 part runs on an x86-64 host');
  const exe = path.join(dir, 'special-mappings');
  run('cc', ['-O1', '-Wall', '-o', exe, SOURCE]);
  fs.writeFileSync(path.join(HERE, 'special-mappings-x86_64.txt'), run(exe, []));
}

function recordArm64(dir: string): void {
  ensureHostTools();
  const kernel = ensureKernel(DEFAULT_CACHE);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root, { recursive: true });
  run('aarch64-linux-gnu-gcc', ['-O1', '-Wall', '-static', '-DINIT', '-o', path.join(root, 'init'), SOURCE]);
  const initramfs = path.join(dir, 'initramfs.cpio');
  run('sh', ['-c', 'cpio -o -H newc -R 0:0 --reproducible --quiet > "$1"', 'x', initramfs], {
    cwd: root,
    input: '.\ninit\n',
  });
  const console = boot(kernel, initramfs, path.join(dir, 'console.log'), 300_000).replaceAll('\r', '');
  const begin = console.indexOf('SPECIAL-MAPPINGS-BEGIN\n');
  const end = console.indexOf('SPECIAL-MAPPINGS-END\n');
  if (begin < 0 || end < begin) throw new Error(`no complete output on the console (${dir}/console.log)`);
  const text = console.slice(begin + 'SPECIAL-MAPPINGS-BEGIN\n'.length, end);
  fs.writeFileSync(path.join(HERE, 'special-mappings-aarch64.txt'), text);
}

function main(argv: string[]): void {
  let arch: 'x86_64' | 'aarch64' | undefined;
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--arch') arch = args.oneOf(['x86_64', 'aarch64'] as const);
    else args.unknown();
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'special-mappings-'));
  if (arch === undefined || arch === 'x86_64') recordX86(dir);
  if (arch === undefined || arch === 'aarch64') recordArm64(dir);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`record-special-mappings: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1);
}
