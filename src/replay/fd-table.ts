/**
 * The file descriptors of a log's processes, inferred from what the log shows. A `-e trace=%memory`
 * log shows no open or close, so the fd table is rebuilt from `openat`/`open`/`creat`/`memfd_create`
 * results (with their access mode) and `close` when present; else an fd is opened, read-write, the
 * first time an mmap uses it, named by its `-y` path (or `fd N`), and the log's own answer tells what
 * the fd was when that can only be the fd table's doing (EBADF: not open; EACCES for a shared
 * writable mapping: open read-only).
 */
import { EACCES, EBADF } from '../abi/errno.js';
import { MAP_ANONYMOUS, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, PROT_WRITE } from '../abi/mman.js';
import type { Task } from '../kernel/task.js';
import { type FileFacts, MemoryObject } from '../mm/memory-object.js';
import type { MemoryCall, SyscallResult, TraceEvent } from '../trace/strace-types.js';
import { isZero, low32 } from '../trace/trace-int.js';

/** What the fd inference works on: a task's fd table and the fds whose state the log showed. */
export interface FdOwner {
  readonly task: Task;
  /** fds the log showed being opened or closed, so no inference from mmap results. */
  readonly trackedFds: Set<number>;
}

/** How the files of a log are (size, file system rules), by path; undefined when not known. */
export type FileFactsOf = (path: string) => FileFacts | undefined;

/** The files of a log, by path (one path is one page cache), and the fd tables of its tasks. */
export class LogFiles {
  private readonly files = new Map<string, MemoryObject>();
  /** Synthetic inode numbers by path (the log shows none), in the order this log names them. */
  private readonly inodes = new Map<string, number>();
  /**
   * Whether a file the log maps that `factsOf` knows nothing of is placed as on a file system with
   * `thp_get_unmapped_area` (ext4, xfs, btrfs, ...): the log does not say where its files live, so
   * they are taken to be where the programs it runs are (set from the first program the model loads).
   */
  thpFiles = false;

  constructor(private readonly factsOf: FileFactsOf = () => undefined) {}

  /** An open/close line of the log (any other line is ignored). */
  other(owner: FdOwner, ev: TraceEvent & { kind: 'other' }): void {
    const r = ev.result;
    const name = ev.name;
    if (/^(openat2?|open|creat|memfd_create)$/.test(name) && r.kind === 'value' && r.value >= 0) {
      const fd = Number(r.value);
      const args = ev.args;
      const path =
        r.decoration ??
        (/"((?:[^"\\]|\\.)*)"/.exec(args)?.[1] ?? `fd ${fd}`) + (name === 'memfd_create' ? ' (deleted)' : '');
      const acc =
        name === 'creat' ? 'O_WRONLY' : (/\bO_(RDONLY|WRONLY|RDWR)\b/.exec(args)?.[0] ?? 'O_RDONLY');
      owner.task.files.set(fd, {
        file: this.named(name === 'memfd_create' ? `/memfd:${path}` : path),
        readable: acc !== 'O_WRONLY',
        writable: acc !== 'O_RDONLY',
      });
      owner.trackedFds.add(fd);
    } else if (name === 'close' && r.kind === 'value' && isZero(r.value)) {
      const fd = Number.parseInt(ev.args, 10);
      owner.task.files.delete(fd);
      owner.trackedFds.add(fd);
    }
  }

  /** An fd an mmap of the log uses: registered from its -y path when the log did not show its open. */
  beforeMmap(owner: FdOwner, call: MemoryCall & { syscall: 'mmap' }, log: SyscallResult): void {
    if ((low32(call.flags) & MAP_ANONYMOUS) !== 0) return; // MAP_ANONYMOUS ignores the fd
    const fd = low32(call.fd) | 0;
    if (fd < 0 || owner.trackedFds.has(fd)) return;
    const files = owner.task.files;
    if (log.kind === 'error' && log.errno === EBADF) {
      files.delete(fd);
      return;
    }
    const path = call.fdPath ?? `fd ${fd}`;
    const current = files.get(fd);
    const readOnly =
      log.kind === 'error' &&
      log.errno === EACCES &&
      // do_mmap: a shared mapping, validated or not, that may write needs a file open for writing.
      ((low32(call.flags) & MAP_TYPE) === MAP_SHARED ||
        (low32(call.flags) & MAP_TYPE) === MAP_SHARED_VALIDATE) &&
      (low32(call.prot) & PROT_WRITE) !== 0;
    if (current !== undefined && current.file.path === path.replace(/<(?:char|block) \d+:\d+>$/, '')) {
      if (readOnly && current.writable) files.set(fd, { ...current, writable: false });
      return;
    }
    files.set(fd, { file: this.named(path), readable: true, writable: !readOnly });
  }

  /** The file of an fd path: one per path. A `-yy` decoration `path<char 1:5>` gives the device. */
  private named(path: string): MemoryObject {
    let f = this.files.get(path);
    if (f === undefined) {
      const m = /^(.*)<(char|block) (\d+):(\d+)>$/.exec(path);
      const name = m ? m[1] : path;
      const inode = this.inodes.get(name) ?? this.inodes.size + 1;
      this.inodes.set(name, inode);
      // The file of a `-y` path, or of a `-yy` decoration `path<char 1:5>` (the path and the
      // device numbers), with what `factsOf` knows of it. Of a regular file it knows nothing, the
      // file system is taken to be that of the programs the log runs (see `thpFiles`).
      const known = this.factsOf(name);
      const regular = m === null && !/^\/(dev|proc|sys|memfd:)/.test(name);
      const facts: FileFacts = {
        ...(known === undefined && regular && this.thpFiles ? { placement: 'thp' as const } : {}),
        ...known,
        ...(m?.[2] === 'char' ? { device: true } : {}),
      };
      const kind = name === '/dev/zero' ? 'dev-zero' : 'file';
      f = new MemoryObject(name, m ? Number(m[3]) : 0, m ? Number(m[4]) : 0, inode, kind, facts);
      this.files.set(path, f);
    }
    return f;
  }
}
