#!/usr/bin/env node
/**
 * `levitate-mm`: the command line. Every mistake in what it is given is answered with one line on
 * standard error and exit status 2; a closed standard output (`| head`) ends it quietly.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { Arch } from '../hal/addr.js';
import { PAGE_SIZES } from '../hal/geometry.js';
import { SnapshotError } from '../kernel/snapshot.js';
import { TraceSyntaxError } from '../trace/errors.js';
import { runDemo } from './demo.js';
import { registerExec } from './exec.js';
import { registerReplay } from './replay.js';
import { parseBytes, ramGranule, UsageError } from './values.js';
import { registerView } from './view.js';

// `| head`: a reader that went away ends the output quietly, as it ends cat.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/** The package's version (package.json is two levels above both src/cli and dist/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const program = new Command()
  .name('levitate-mm')
  .description('An executable model of a kernel memory-management subsystem.')
  .version(version(), '-V, --version', 'print the version')
  .configureOutput({
    outputError: (str, write) => write(`levitate-mm: ${str.split('\n')[0].replace(/^error: /, '')}\n`),
  })
  .enablePositionalOptions()
  .exitOverride();

program
  .command('demo', { isDefault: true })
  .description("run the seed's scenario: mmap, MAP_FIXED, out-of-memory rollback, munmap")
  .addOption(new Option('--arch <arch>', 'architecture').choices(['aarch64', 'x86_64']).default('aarch64'))
  .option('--page-size <bytes>', 'page size (4096; 16384 or 65536 on aarch64)', parseBytes, 4096)
  .option('--ram <size>', 'simulated RAM', parseBytes, 8 * 2 ** 20)
  .action((opts: { arch: Arch; pageSize: number; ram: number }) => {
    if (!PAGE_SIZES[opts.arch].includes(opts.pageSize)) {
      throw new UsageError(`page size ${opts.pageSize} is not supported on ${opts.arch}`);
    }
    const granule = ramGranule(opts.pageSize);
    if (opts.ram < granule || opts.ram % granule !== 0) {
      throw new UsageError(`--ram must be a positive multiple of ${granule / 1024}K`);
    }
    const ok = runDemo({ arch: opts.arch, pageSize: opts.pageSize, ramBytes: opts.ram }, (l) =>
      process.stdout.write(`${l}\n`),
    );
    process.exitCode = ok ? 0 : 1;
  });

registerReplay(program);
registerExec(program);
registerView(program);

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/**
 * `demo` is the default command, so commander would hand a mistyped command to it as an argument;
 * a first word that is no command is named as what it is instead.
 */
function checkCommand(args: readonly string[]): void {
  const first = args[0];
  if (first === undefined || first.startsWith('-')) return;
  const names = [...program.commands.map((c) => c.name()), 'help'];
  if (names.includes(first)) return;
  const near = names.filter((n) => distance(first, n) <= 2);
  const commands = names.filter((n) => n !== 'help');
  const list = `${commands.slice(0, -1).join(', ')} and ${commands[commands.length - 1]}`;
  throw new UsageError(
    `unknown command '${first}'${near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : ''}; ` +
      `the commands are ${list} (levitate-mm --help)`,
  );
}

try {
  checkCommand(process.argv.slice(2));
  await program.parseAsync();
} catch (err) {
  const e = err as { code?: string };
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
    process.exit(0);
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) process.exit(2);
  if (err instanceof UsageError || err instanceof TraceSyntaxError || err instanceof SnapshotError) {
    process.stderr.write(`levitate-mm: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
