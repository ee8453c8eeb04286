import { EACCES, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR } from '../abi/errno.js';

/**
 * A file opened for execution (`open_exec`): the bytes execve reads from it and the identity a
 * mapping of it shows in /proc/PID/maps.
 */
export interface ExecFile {
  /** The name /proc/PID/maps prints for a mapping of it: the opened path, symlinks resolved (`d_path`). */
  readonly path: string;
  readonly size: number;
  /** Device and inode, as `stat` gives them. */
  readonly major: number;
  readonly minor: number;
  readonly inode: number;
  /** Whether the file system places mappings with `thp_get_unmapped_area` (ext4, xfs, btrfs, ...). */
  readonly thpUnmappedArea: boolean;
  /** Up to `length` bytes from `offset`; fewer at the end of the file, none beyond it. */
  read(offset: number, length: number): Uint8Array;
}

/**
 * Where execve finds programs: `openExec(path)` resolves the path as `do_open_execat` does and
 * answers the file, or a negative errno: -ENOENT (missing), -ENOTDIR (a component is not a
 * directory), -ELOOP (too many symlinks), -ENAMETOOLONG, -EACCES (not a regular file, or no execute
 * permission). The command line fills it from the host file system (`src/cli/exec-files-node.ts`);
 * `MemoryExecFiles` holds files given as bytes, for tests and the browser.
 */
export interface ExecFiles {
  openExec(path: string): ExecFile | number;
}

/** `PATH_MAX` (the terminating NUL included) and `NAME_MAX`. */
export const PATH_MAX = 4096;
const NAME_MAX = 255;
/** `MAXSYMLINKS`: symlinks one lookup follows before ELOOP. */
const MAXSYMLINKS = 40;

/** A file of a `MemoryExecFiles`. */
export interface MemoryFileInit {
  /**
   * The contents. With `size` larger than the bytes given, the file is sparse: only `chunks`
   * (and `bytes` at offset 0) hold data, and a read of anything else is a bug of whoever built it.
   */
  bytes?: Uint8Array;
  chunks?: readonly { offset: number; bytes: Uint8Array }[];
  size?: number;
  /** Execute permission (default true). */
  executable?: boolean;
  major?: number;
  minor?: number;
  inode?: number;
  thpUnmappedArea?: boolean;
}

type Entry =
  | { kind: 'file'; file: ExecFile; executable: boolean }
  | { kind: 'dir' }
  | { kind: 'symlink'; target: string };

/** A file held in memory; reads outside its recorded pieces throw (the maker left them out). */
class MemoryFile implements ExecFile {
  readonly size: number;
  private readonly chunks: readonly { offset: number; bytes: Uint8Array }[];

  constructor(
    readonly path: string,
    init: MemoryFileInit,
    readonly major: number,
    readonly minor: number,
    readonly inode: number,
  ) {
    const chunks = [...(init.chunks ?? [])];
    if (init.bytes !== undefined) chunks.unshift({ offset: 0, bytes: init.bytes });
    this.chunks = chunks;
    this.size = init.size ?? Math.max(0, ...chunks.map((c) => c.offset + c.bytes.length));
    this.thpUnmappedArea = init.thpUnmappedArea ?? false;
  }

  readonly thpUnmappedArea: boolean;

  read(offset: number, length: number): Uint8Array {
    const end = Math.min(this.size, offset + length);
    if (offset >= end) return new Uint8Array(0);
    const chunk = this.chunks.find((c) => c.offset <= offset && end <= c.offset + c.bytes.length);
    if (chunk === undefined)
      throw new RangeError(`${this.path}: bytes ${offset}..${end} were not given to MemoryExecFiles`);
    return chunk.bytes.slice(offset - chunk.offset, end - chunk.offset);
  }
}

/**
 * An in-memory file system for execve: regular files (with their bytes, device and inode),
 * directories (every parent of a file is one) and symlinks. Relative paths start at `/`.
 */
export class MemoryExecFiles implements ExecFiles {
  private readonly entries = new Map<string, Entry>([['/', { kind: 'dir' }]]);
  private nextInode = 1;

  /** Adds a file at the absolute `path` (its parent directories appear with it). */
  addFile(path: string, init: MemoryFileInit): this {
    const at = this.place(path);
    const inode = init.inode ?? this.nextInode++;
    const file = new MemoryFile(at, init, init.major ?? 0, init.minor ?? 0, inode);
    this.entries.set(at, { kind: 'file', file, executable: init.executable ?? true });
    return this;
  }

  /** Adds a symlink at `path` pointing to `target` (absolute, or relative to its directory). */
  addSymlink(path: string, target: string): this {
    this.entries.set(this.place(path), { kind: 'symlink', target });
    return this;
  }

  /** Adds an empty directory. */
  addDirectory(path: string): this {
    this.entries.set(this.place(path), { kind: 'dir' });
    return this;
  }

  openExec(path: string): ExecFile | number {
    const found = this.lookup(path);
    if (typeof found === 'number') return found;
    if (found.kind !== 'file' || !found.executable) return -EACCES;
    return found.file;
  }

  private place(path: string): string {
    if (!path.startsWith('/')) throw new RangeError(`MemoryExecFiles: ${path} is not absolute`);
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (this.entries.get(dir)?.kind === 'file') throw new RangeError(`MemoryExecFiles: ${dir} is a file`);
      if (!this.entries.has(dir)) this.entries.set(dir, { kind: 'dir' });
    }
    return `/${parts.join('/')}`;
  }

  /** `path_lookupat` with LOOKUP_FOLLOW: the entry `path` names, or -errno. */
  private lookup(path: string): Entry | number {
    if (path.length + 1 > PATH_MAX) return -ENAMETOOLONG;
    if (path === '') return -ENOENT;
    const pending = path.split('/');
    const mustBeDir = path.endsWith('/');
    let dir: string[] = [];
    let links = 0;
    let entry: Entry = { kind: 'dir' };
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === '' || name === '.') continue;
      if (name.length > NAME_MAX) return -ENAMETOOLONG;
      if (entry.kind !== 'dir') return -ENOTDIR;
      if (name === '..') {
        dir.pop();
        continue;
      }
      const here = `/${[...dir, name].join('/')}`;
      const next = this.entries.get(here);
      if (next === undefined) return -ENOENT;
      if (next.kind === 'symlink') {
        if (++links > MAXSYMLINKS) return -ELOOP;
        if (next.target.startsWith('/')) dir = [];
        pending.unshift(...next.target.split('/'));
        entry = { kind: 'dir' };
        continue;
      }
      if (next.kind === 'dir') dir.push(name);
      entry = next;
    }
    if (mustBeDir && entry.kind !== 'dir') return -ENOTDIR;
    return entry;
  }
}
