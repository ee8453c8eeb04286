/**
 * execve's view of the host file system: `openExec` resolves a path with the host kernel (stat,
 * access, realpath), so the errno, the device and inode, and the name /proc/PID/maps prints are the
 * host's own, and reads come from the file itself.
 */
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readSync,
  realpathSync,
  statfsSync,
  statSync,
} from 'node:fs';
import { EACCES, EIO, ENAMETOOLONG, ENOENT } from '../abi/errno.js';
import { type ExecFile, type ExecFiles, PATH_MAX } from '../exec/files.js';
import { fileSystemRules } from '../mm/memory-object.js';
import { errnoNumber } from '../trace/errno.js';
import { fileSystemName } from './host-files.js';

/** Whether the file system holding `path` places file mappings with `thp_get_unmapped_area`. */
export function thpFileSystem(path: string): boolean {
  return fileSystemRules(fileSystemName(Number(statfsSync(path).type))).placement === 'thp';
}

/** glibc's `gnu_dev_major` / `gnu_dev_minor` of a `st_dev`. */
export function devMajorMinor(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** The errno of a failed Node fs call (its `code` is the errno's name). */
function errnoOf(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  return (code !== undefined ? errnoNumber(code) : undefined) ?? EIO;
}

class HostFile implements ExecFile {
  constructor(
    readonly path: string,
    readonly size: number,
    readonly major: number,
    readonly minor: number,
    readonly inode: number,
    readonly thpUnmappedArea: boolean,
  ) {}

  read(offset: number, length: number): Uint8Array {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const out = new Uint8Array(n);
    if (n === 0) return out;
    const fd = openSync(this.path, 'r');
    try {
      let done = 0;
      while (done < n) {
        const got = readSync(fd, out, done, n - done, offset + done);
        if (got === 0) break;
        done += got;
      }
      return out.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }
}

/** The host's files, relative paths from `cwd` (this process's working directory by default). */
export class NodeExecFiles implements ExecFiles {
  constructor(private readonly cwd?: string) {}

  openExec(name: string): ExecFile | number {
    if (name.length + 1 > PATH_MAX) return -ENAMETOOLONG;
    if (name === '') return -ENOENT;
    // Joined as text, so that a trailing slash keeps its meaning (ENOTDIR for a file).
    const path =
      this.cwd === undefined || name.startsWith('/') ? name : `${this.cwd.replace(/\/$/, '')}/${name}`;
    try {
      const st = statSync(path, { bigint: true });
      // may_open: only a regular file may be executed; then MAY_EXEC as access(2) checks it.
      if (!st.isFile()) return -EACCES;
      accessSync(path, constants.X_OK);
      const real = realpathSync(path);
      const { major, minor } = devMajorMinor(st.dev);
      return new HostFile(real, Number(st.size), major, minor, Number(st.ino), thpFileSystem(real));
    } catch (e) {
      return -errnoOf(e);
    }
  }
}
