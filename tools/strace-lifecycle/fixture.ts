/**
 * The format of the real-program strace fixtures (test/fixtures/strace/lifecycle), shared by the
 * recorder and the tests: each case is one command of this machine recorded with `setarch -R
 * strace -f`, and what its execs built on the real kernel (the maps at each new program's first
 * instruction, from exec-tree), with the files those execs read.
 */

/** Where the recorder puts the files its commands need (a fixed path: it appears in the logs). */
export const BUILD_DIR = '/tmp/levitate-mm-strace';

/** The environment every case runs with, so that a re-recording runs the programs alike. */
export const RECORD_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: BUILD_DIR, LC_ALL: 'C' };

/**
 * A file an exec of the case read. `host`: one of this machine's image (checked by its hash before
 * a test trusts it); `build`: one the recorder built, kept here whole, with its identity.
 */
export type CaseFile =
  | { kind: 'host'; size: number; sha256: string }
  | {
      kind: 'build';
      size: number;
      sha256: string;
      major: number;
      minor: number;
      inode: number;
      thp: boolean;
      base64: string;
    };

/** One exec of the case, as the real kernel built it. */
export interface RecordedExec {
  /** /proc/PID/exe: the program the kernel loaded (a script's interpreter). */
  program: string;
  maps: string;
}

export interface LifecycleCase {
  name: string;
  what: string;
  /** The command, run from BUILD_DIR. */
  command: string[];
  /** strace's options besides `-f -o FILE`. */
  strace: string[];
  /** The log, in this directory. */
  log: string;
  /** For a log without process lines: the maps of its first program at its first instruction. */
  snapshot?: string;
  execs: RecordedExec[];
  files: Record<string, CaseFile>;
}

export interface LifecycleFixtures {
  kernel: string;
  strace: string;
  cases: LifecycleCase[];
}
