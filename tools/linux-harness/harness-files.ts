/**
 * The files a harness run has open at fds 3, 4, ...: recreated and opened by the recorder, reported
 * by the harness (an `fd` line each), and described in the fixture (`files`). See README.md, "Files".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileSystemName, tmpfsHuge } from '../../src/cli/host-files.js';

/** One file a sequence had open (fd 3, 4, ...), as the model needs to know it. */
export interface FixtureFile {
  fd: number;
  path: string;
  /** How it was opened: O_RDONLY or O_RDWR. */
  mode: 'r' | 'rw';
  /** Size in bytes when the sequence began (0 for a device). */
  size: number;
  /** Its file system by statfs f_type (`ext4`, `tmpfs`, ...), or `chr` for a character device. */
  fs: string;
  /** tmpfs: the `huge=` mount option (`never` when not given). */
  huge?: string;
  /** The device and inode /proc/PID/maps shows for it (`fe:00`, a character device's own `01:05`). */
  dev: string;
  inode: number;
}

/** A file the harness gets open at fd 3, 4, ... in the order given. */
export interface HarnessFile {
  path: string;
  mode: 'r' | 'rw';
  /**
   * The file is recreated with this size (sparse, so all zeros; truncated first, so it keeps its
   * inode) before every run, undoing what shared mappings wrote; once per run when several
   * descriptors open it (give all of them the same size). Absent for a device, which is opened as
   * it is.
   */
  size?: number;
  /** For a file on tmpfs: its mount's `huge=` option, when it cannot be read from this machine's mounts (a guest's). */
  huge?: string;
}

/** The architecture this process runs on, as the fixtures name it. */
export function hostArch(): 'x86_64' | 'aarch64' | undefined {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
}

/** `MAJOR:MINOR` as /proc/PID/maps prints a dev_t (two hex digits at least). */
export function formatDev(dev: number): string {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 2 ** 12) & 0xfff00);
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `${h(major)}:${h(minor)}`;
}

/** What the harness reported about one descriptor it was started with (an `fd` line). */
export interface ReportedFd {
  dev: number;
  ino: number;
  size: number;
  /** st_mode. */
  mode: number;
  /** statfs f_type. */
  fsType: number;
}

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;

/**
 * What the fixture says about an open file: the descriptor's device, inode, size and file system
 * as the harness saw them, and its path and mode from the recorder's list. `onHost` files may
 * have their tmpfs mount's options read here.
 */
export function describeFile(fd: number, file: HarnessFile, seen: ReportedFd, onHost: boolean): FixtureFile {
  const chr = (seen.mode & S_IFMT) === S_IFCHR;
  const type = chr ? 'chr' : fileSystemName(seen.fsType);
  const d: FixtureFile = {
    fd,
    path: file.path,
    mode: file.mode,
    size: chr ? 0 : seen.size,
    fs: type,
    dev: formatDev(seen.dev),
    inode: seen.ino,
  };
  if (type === 'tmpfs') d.huge = file.huge ?? (onHost ? tmpfsHuge(fs.realpathSync(file.path)) : 'never');
  return d;
}

/**
 * Recreates the sized files and opens every one; the descriptors go to the harness as fds 3, 4, ...
 * The caller closes them (`closeFds`) once the harness has run.
 */
export function openHarnessFiles(files: readonly HarnessFile[]): number[] {
  const made = new Set<string>();
  for (const f of files) {
    if (f.size === undefined || made.has(f.path)) continue;
    made.add(f.path);
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    const fd = fs.openSync(f.path, 'w');
    try {
      fs.ftruncateSync(fd, f.size);
    } finally {
      fs.closeSync(fd);
    }
  }
  return files.map((f) => fs.openSync(f.path, f.mode === 'rw' ? 'r+' : 'r'));
}

export function closeFds(fds: readonly number[]): void {
  for (const fd of fds) fs.closeSync(fd);
}
