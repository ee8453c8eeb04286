/**
 * Files as they are on this machine: size, file system and its mount's options, for the replay
 * (a log's -y paths) and the recorders (the files a sequence maps). Also the `--file` option.
 */
import { readFileSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { type FileFacts, fileSystemRules } from '../mm/memory-object.js';
import { parseBytes } from './values.js';

/** statfs f_type values (linux/magic.h) of the file systems a mapped file may be on. */
const FS_MAGIC: Record<number, string> = {
  61267: 'ext4',
  16914836: 'tmpfs',
  2240043254: 'ramfs',
  1481003842: 'xfs',
  2435016766: 'btrfs',
  2035054128: 'overlay',
  1702057286: 'fuse',
  26985: 'nfs',
  1936814952: 'squashfs',
  801189825: 'zfs',
  3774210530: 'erofs',
  3393526350: 'bcachefs',
};

/** A file system's name by its statfs f_type (`0x…` when unknown). */
export function fileSystemName(magic: number): string {
  return FS_MAGIC[magic] ?? `0x${magic.toString(16)}`;
}

/** The options of the mount `file` is on (the super options of /proc/self/mountinfo), or ''. */
export function mountOptions(file: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string {
  let best = '';
  let options = '';
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const point = f[4];
    const dash = f.indexOf('-');
    if (point === undefined || dash < 0) continue;
    const inside = file === point || file.startsWith(point === '/' ? '/' : `${point}/`);
    if (inside && point.length >= best.length) {
      best = point;
      options = f[dash + 3] ?? '';
    }
  }
  return options;
}

/** The `huge=` option of the tmpfs `file` is on (`never` when absent). */
export function tmpfsHuge(file: string, mountinfo?: string): string {
  return /(?:^|,)huge=(\w+)/.exec(mountOptions(file, mountinfo))?.[1] ?? 'never';
}

/** What this machine says about `path`: its size and file system, or undefined when it is not here. */
function hostFile(path: string): { size: number; fs: string; huge?: string; device: boolean } | undefined {
  try {
    const st = statSync(path);
    if (st.isCharacterDevice()) return { size: 0, fs: 'chr', device: true };
    if (!st.isFile()) return undefined;
    const fs = fileSystemName(statfsSync(path).type);
    return {
      size: st.size,
      fs,
      device: false,
      ...(fs === 'tmpfs' ? { huge: tmpfsHuge(realpathSync(path)) } : {}),
    };
  } catch {
    return undefined;
  }
}

/** `--file PATH=SIZE[:FS]`: a file of the log as it was where the log was recorded. */
export interface GivenFile {
  path: string;
  size: number;
  fs?: string;
}

export function parseFileOption(value: string, previous: GivenFile[] = []): GivenFile[] {
  const m = /^(.+)=([^:=]+)(?::([\w-]+))?$/.exec(value);
  if (!m) throw new InvalidArgumentError(`not PATH=SIZE[:FS]: ${value} (e.g. /usr/lib/libc.so.6=2M:ext4)`);
  return [...previous, { path: m[1], size: parseBytes(m[2]), ...(m[3] ? { fs: m[3] } : {}) }];
}

/**
 * The facts of a log's file: from `--file` when given, else from the file of that path on this
 * machine when there is one (unless `useHost` is false: `--no-host-files`, for a log recorded on
 * another machine), else the file system `defaultFs` (`--file-system`) with no known size.
 */
export function fileFactsFrom(
  given: readonly GivenFile[],
  defaultFs?: string,
  useHost = true,
): (path: string) => FileFacts | undefined {
  const byPath = new Map(given.map((g) => [g.path, g]));
  return (path) => {
    const g = byPath.get(path);
    if (g !== undefined) return { size: g.size, ...fileSystemRules(g.fs ?? defaultFs ?? 'unknown') };
    const here = useHost ? hostFile(path) : undefined;
    if (here?.device) return { device: true };
    if (here !== undefined) return { size: here.size, ...fileSystemRules(here.fs, here.huge) };
    return defaultFs === undefined ? undefined : fileSystemRules(defaultFs);
  };
}
