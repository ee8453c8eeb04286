#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Arch } from '../hal/addr.js';
import { PAGE_SIZES } from '../hal/geometry.js';
import { RAM_CHUNK_BYTES } from '../hal/ram.js';
import { runDemo } from './demo.js';
import { registerReplay } from './replay.js';
import { registerView } from './view.js';

/** A command-line mistake found after parsing: one line on stderr, exit status 2. */
class UsageError extends Error {}

function parseSize(value: string): number {
  const m = /^(\d+)\s*([KMG]i?B?)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`not a size: ${value} (use e.g. 8M, 64MiB, 1G or bytes)`);
  const unit = (m[2] ?? '').toUpperCase()[0];
  const mult = unit === 'K' ? 2 ** 10 : unit === 'M' ? 2 ** 20 : unit === 'G' ? 2 ** 30 : 1;
  return Number(m[1]) * mult;
}

const program = new Command()
  .name('levitate-mm')
  .description('An executable model of a kernel memory-management subsystem.')
  .configureOutput({
    outputError: (str, write) => write(`levitate-mm: ${str.split('\n')[0].replace(/^error: /, '')}\n`),
  })
  .exitOverride();

program
  .command('demo', { isDefault: true })
  .description("run the seed's scenario: mmap, MAP_FIXED, out-of-memory rollback, munmap")
  .addOption(new Option('--arch <arch>', 'architecture').choices(['aarch64', 'x86_64']).default('aarch64'))
  .option('--page-size <bytes>', 'page size (4096; 16384 or 65536 on aarch64)', (v) => parseSize(v), 4096)
  .option('--ram <size>', 'simulated RAM', parseSize, 8 * 2 ** 20)
  .action((opts: { arch: Arch; pageSize: number; ram: number }) => {
    if (!PAGE_SIZES[opts.arch].includes(opts.pageSize)) {
      throw new UsageError(`page size ${opts.pageSize} is not supported on ${opts.arch}`);
    }
    const granule = Math.max(RAM_CHUNK_BYTES, opts.pageSize);
    if (opts.ram < granule || opts.ram % granule !== 0) {
      throw new UsageError(`--ram must be a positive multiple of ${granule / 1024}K`);
    }
    const ok = runDemo({ arch: opts.arch, pageSize: opts.pageSize, ramBytes: opts.ram }, (l) =>
      process.stdout.write(`${l}\n`),
    );
    process.exitCode = ok ? 0 : 1;
  });

registerReplay(program);
registerView(program);

try {
  await program.parseAsync();
} catch (err) {
  const e = err as { code?: string; exitCode?: number; message?: string };
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) process.exit(2);
  if (err instanceof UsageError || err instanceof RangeError) {
    process.stderr.write(`levitate-mm: ${(err as Error).message}\n`);
    process.exit(2);
  }
  throw err;
}
