/**
 * The files a fuzzed sequence has open (fds 3, 4, ...): real files of several sizes on the file
 * systems this machine has, so the kernel's placement rule, end-of-file handling and page cache
 * all come into play. Each sized file is recreated before every run (see `HarnessFile`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileSystemName } from '../../src/cli/host-files.js';
import type { HarnessFile } from '../linux-harness/record.js';

const MiB = 2 ** 20;

/** Where the files go: a directory on the root file system and one on tmpfs. */
export interface FileRoots {
  /** On the root file system (ext4 here): `thp_get_unmapped_area`. */
  disk: string;
  /** On tmpfs (/dev/shm here, no huge pages). */
  tmpfs?: string;
  /** On a tmpfs mounted with huge=always (shmem's own 2 MiB alignment), when there is one. */
  hugeTmpfs?: string;
}

/** The default roots for a run tagged `tag` (one directory per campaign, so campaigns never share files). */
export function defaultRoots(tag: string): FileRoots {
  const roots: FileRoots = { disk: path.join('/var/tmp', `levitate-mm-fuzz-${tag}`) };
  if (isTmpfs('/dev/shm')) roots.tmpfs = path.join('/dev/shm', `levitate-mm-fuzz-${tag}`);
  return roots;
}

function isTmpfs(dir: string): boolean {
  try {
    return fileSystemName(fs.statfsSync(dir).type) === 'tmpfs';
  } catch {
    return false;
  }
}

/**
 * The file table: a page, an odd size (its last page partly past the end), a 64 KiB file opened
 * read-only, a file of 4 MiB and a bit open twice (read-write and read-only: one page cache), the
 * same shapes on tmpfs, and /dev/zero.
 */
export function fuzzFiles(roots: FileRoots): HarnessFile[] {
  const d = (name: string) => path.join(roots.disk, name);
  const files: HarnessFile[] = [
    { path: d('page'), mode: 'rw', size: 4096 },
    { path: d('odd'), mode: 'rw', size: 5000 },
    { path: d('small-ro'), mode: 'r', size: 64 * 1024 },
    { path: d('big'), mode: 'rw', size: 4 * MiB + 12345 },
    { path: d('big'), mode: 'r', size: 4 * MiB + 12345 },
  ];
  if (roots.tmpfs) {
    files.push({ path: path.join(roots.tmpfs, 'odd'), mode: 'rw', size: 9000 });
    files.push({ path: path.join(roots.tmpfs, 'big'), mode: 'rw', size: 3 * MiB });
  }
  if (roots.hugeTmpfs) files.push({ path: path.join(roots.hugeTmpfs, 'big'), mode: 'rw', size: 4 * MiB });
  files.push({ path: '/dev/zero', mode: 'rw' });
  return files;
}

/** Removes the campaign's directories. */
export function removeRoots(roots: FileRoots): void {
  for (const dir of [roots.disk, roots.tmpfs, roots.hugeTmpfs]) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The file table in the arm64 guest, whose file systems are all in memory: the same shapes on its
 * /tmp (tmpfs), a 4 MiB file on /huge (tmpfs with huge=always: shmem's own 2 MiB alignment) and
 * /dev/zero. There is no ext4 in the guest.
 */
export function guestFiles(): HarnessFile[] {
  return [
    { path: '/tmp/page', mode: 'rw', size: 4096, huge: 'never' },
    { path: '/tmp/odd', mode: 'rw', size: 5000, huge: 'never' },
    { path: '/tmp/small-ro', mode: 'r', size: 64 * 1024, huge: 'never' },
    { path: '/tmp/big', mode: 'rw', size: 4 * MiB + 12345, huge: 'never' },
    { path: '/tmp/big', mode: 'r', size: 4 * MiB + 12345, huge: 'never' },
    { path: '/huge/big', mode: 'rw', size: 4 * MiB, huge: 'always' },
    { path: '/dev/zero', mode: 'rw' },
  ];
}
