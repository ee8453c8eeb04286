/**
 * The exec-layout fixture format, shared by the recorder and the tests. One fixture is one execve
 * on the real kernel: what was run (path, argv, envp, RLIMIT_STACK), the files it opened, and what
 * the kernel answered: an errno, a signal, or the layout at the first instruction.
 */

/** Where the recorder builds its programs: a fixed path, since it appears in maps and on the stack. */
export const BUILD_DIR = '/tmp/levitate-mm-exec-layout';

/** The path of a file of the build directory. */
export const buildPath = (name: string) => `${BUILD_DIR}/${name}`;

/** The environment of every case that does not give its own. */
export const FIXTURE_ENV = ['PATH=/usr/bin:/bin'];

/** A string, or `count` strings of `length` bytes of `repeat` (too long to keep literally). */
export type ArgItem = string | { repeat: string; length: number; count: number };

export function expandArgs(items: readonly ArgItem[]): string[] {
  return items.flatMap((a) => (typeof a === 'string' ? [a] : Array(a.count).fill(a.repeat.repeat(a.length))));
}

/**
 * A file the exec used. `host`: a file of this machine's image (/usr/bin, /usr/lib), read from the
 * host at test time after its hash is checked. `file`: a file of the build directory, kept here as
 * the parts execve reads (`chunks`), with its identity. `dir` and `symlink` complete the picture.
 */
export type FileEntry =
  | { kind: 'host'; size: number; sha256: string; major: number; minor: number; inode: number }
  | {
      kind: 'file';
      size: number;
      sha256: string;
      major: number;
      minor: number;
      inode: number;
      executable: boolean;
      thp: boolean;
      chunks: { offset: number; base64: string }[];
    }
  | { kind: 'dir' }
  | { kind: 'symlink'; target: string };

export interface ExecFixture {
  kernel: string;
  arch: 'x86_64' | 'aarch64';
  pageSize: number;
  euid: number;
  name: string;
  what: string;
  rlimitStack: number | 'unlimited';
  path: string;
  /** null: an empty argv. */
  argv: ArgItem[] | null;
  envp: ArgItem[];
  files: Record<string, FileEntry>;
  /**
   * The directory whose paths the test serves from `files` only (a path there that is not among
   * them does not exist); others come from the host. Default BUILD_DIR; '/' for a qemu guest.
   */
  filesRoot?: string;
  /** 0 for a successful exec, else the errno execve returned (absent when `signal`). */
  errno?: number;
  /** The signal that killed the task (an exec failing past its point of no return). */
  signal?: number;
  /** The rest only for a successful exec. */
  sp?: string;
  maps?: string;
  vmflags?: string[];
  anonKb?: number[];
  stat?: Record<string, string>;
  /** argv as the new program sees it (/proc/PID/cmdline: after a #! line rewrote it), and envc. */
  programArgv?: string[];
  programEnvc?: number;
  auxv?: [number, string][];
}
