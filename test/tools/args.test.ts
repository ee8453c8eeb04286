/**
 * The tools' command-line reader: flags in order, values taken with their flag, and each mistake a
 * UsageError naming the flag.
 */
import { describe, expect, it } from 'vitest';
import { Args, UsageError } from '../../tools/args.js';

/** Reads `argv` the way the tools do: --seed N, --arch A, --out DIR, --fork, and words. */
function read(argv: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = { words: [] };
  const args = new Args(argv);
  for (const a of args) {
    if (a === '--seed') o.seed = args.int();
    else if (a === '--jobs') o.jobs = args.int(1);
    else if (a === '--arch') o.arch = args.oneOf(['x86_64', 'aarch64', 'all']);
    else if (a === '--out') o.out = args.value();
    else if (a === '--fork') o.fork = true;
    else if (a.startsWith('--')) args.unknown();
    else (o.words as string[]).push(a);
  }
  return o;
}

function mistake(argv: string[]): string {
  try {
    read(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  return 'no mistake';
}

describe('Args', () => {
  it('reads flags in order, each value with its flag, and leaves other words to the tool', () => {
    expect(read(['a', '--seed', '7', '--fork', '--out', '--x', 'b', '--arch', 'aarch64'])).toEqual({
      words: ['a', 'b'],
      seed: 7,
      fork: true,
      out: '--x',
      arch: 'aarch64',
    });
    expect(read([])).toEqual({ words: [] });
  });

  it('refuses a missing value, a number that is not a whole one in range, a choice not offered, an unknown flag', () => {
    expect(mistake(['--out'])).toBe('--out needs a value');
    expect(mistake(['--seed', 'many'])).toBe('--seed needs an integer of at least 0, not many');
    expect(mistake(['--seed', ''])).toBe('--seed needs an integer of at least 0, not ');
    expect(mistake(['--seed', '1.5'])).toBe('--seed needs an integer of at least 0, not 1.5');
    expect(mistake(['--seed', '-1'])).toBe('--seed needs an integer of at least 0, not -1');
    expect(mistake(['--jobs', '0'])).toBe('--jobs needs an integer of at least 1, not 0');
    expect(mistake(['--arch', 'sparc'])).toBe('--arch is x86_64, aarch64 or all, not sparc');
    expect(mistake(['--seed', '1', '--frobnicate'])).toBe('unknown option --frobnicate (try --help)');
  });
});
