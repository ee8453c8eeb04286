/**
 * The arm64 oracle of the differential fuzzer: batches of sequences run in the qemu guest of
 * tools/linux-harness-arm64 (Debian's 6.18.15 arm64 kernel, TCG), one boot per batch, every
 * sequence once, with the guest's files open at fds 3, 4, ... A run whose console frames came
 * out garbled is retried in another boot.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serializeSequence, WIDE_GENERATOR_VERSION } from '../linux-harness/generate.js';
import { type Fixture, HarnessError, type HarnessFile, makeFixture } from '../linux-harness/record.js';
import { parseConsoleLog } from '../linux-harness-arm64/console.js';
import {
  boot,
  buildGuestPrograms,
  DEFAULT_CACHE,
  ensureHostTools,
  ensureKernel,
  writeInitramfs,
} from '../linux-harness-arm64/record.js';
import { guestFiles } from './files.js';
import type { Job, Oracle } from './fuzz.js';

const MAX_BOOTS = 3;

export function guestOracle(o: {
  /** The guest's standard file table (`guestFiles`), none, or these. */
  files: boolean | readonly HarnessFile[];
  log: (s: string) => void;
  cache?: string;
}): {
  oracle: Oracle;
  cleanup: () => void;
} {
  const cache = o.cache ?? process.env.LEVITATE_ARM64_CACHE ?? DEFAULT_CACHE;
  ensureHostTools(true, o.log);
  const kernel = ensureKernel(cache, o.log);
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'levitate-mm-fuzz-arm64-'));
  buildGuestPrograms(buildDir);
  const logDir = path.join(cache, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const files = o.files === true ? guestFiles() : o.files === false ? [] : [...o.files];
  const generator = { wideVersion: WIDE_GENERATOR_VERSION, wide: true, files: files.length };
  let boots = 0;
  const run = (jobs: readonly Job[]): Array<Fixture | Error> => {
    const results: Array<Fixture | Error | undefined> = jobs.map(() => undefined);
    let pending = jobs.map((_, i) => i);
    for (let attempt = 0; attempt < MAX_BOOTS && pending.length > 0; attempt++) {
      const initramfs = writeInitramfs(
        buildDir,
        pending.map((i) => [String(i), serializeSequence(jobs[i].ops)]),
        1,
        files,
      );
      const logFile = path.join(logDir, `fuzz-${process.pid}-${++boots}.log`);
      const text = boot(kernel, initramfs, logFile, (600 + 6 * pending.length) * 1000);
      const console = parseConsoleLog(text);
      const retry: number[] = [];
      for (const i of pending) {
        const r = console.runs.get(`${i}/0`);
        if (r === undefined || !r.complete) {
          retry.push(i);
          continue;
        }
        if (r.status !== 0) {
          results[i] = new HarnessError(
            `harness wait status ${r.status}: ${(r.stderr ?? '').trim()}`,
            r.status ?? null,
          );
          continue;
        }
        results[i] = makeFixture(r.stdout!, jobs[i].ops, jobs[i].seed, { arch: 'aarch64', files, generator });
      }
      fs.rmSync(logFile, { force: true });
      pending = retry;
    }
    if (pending.length > 0)
      throw new Error(`no complete guest output for ${pending.length} sequences after ${MAX_BOOTS} boots`);
    return results as Array<Fixture | Error>;
  };
  return {
    oracle: { arch: 'aarch64', files, run },
    cleanup: () => fs.rmSync(buildDir, { recursive: true, force: true }),
  };
}
