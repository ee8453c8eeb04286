/**
 * /proc/PID/maps lines (fs/proc/task_mmu.c, show_vma_header_prefix + show_map_vma):
 *
 *   `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ` then, if the VMA has a name, spaces up to column 72
 *   and one more space (so the name starts at column 73 when the prefix is shorter than 72), then the name.
 *   A line without a name ends with the space after the inode.
 *
 * Choice of number types: `start`, `end`, `offset` and `inode` are **bigint**. User addresses fit in a
 * JS number, but `[vsyscall]` (0xffffffffff600000) does not, nor can an inode or a file offset be
 * assumed to; bigint keeps every line exact, so formatMapsLine(parseMapsLine(x)) === x always.
 * Use `Number(entry.start)` where a number is wanted (exact for every user-space address < 2^53).
 */

import { excerptAt, TraceSyntaxError } from './text-error.js';

export interface MapsPerms {
  read: boolean;
  write: boolean;
  exec: boolean;
  /** `s` (VM_MAYSHARE) rather than `p`. */
  shared: boolean;
}

export interface MapsEntry {
  start: bigint;
  end: bigint;
  perms: MapsPerms;
  /** The file offset in bytes (`vm_pgoff << PAGE_SHIFT`; 0 for anonymous VMAs). */
  offset: bigint;
  major: number;
  minor: number;
  inode: bigint;
  /** The path or `[heap]`, `[stack]`, `[vdso]`, `[anon:x]`, `/x (deleted)`...; '' when the line has no name. */
  name: string;
}

/** The column before which names are padded: 25 + 6 * sizeof(void *) - 1 on a 64-bit kernel. */
export const MAPS_NAME_COLUMN_64 = 72;

const RE_LINE =
  /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([sp]) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) ([0-9]+) (?: *(.*))?$/;

/** Parse one line of /proc/PID/maps (without its newline). */
export function parseMapsLine(line: string, where: { file?: string; line?: number } = {}): MapsEntry {
  const m = RE_LINE.exec(line);
  if (!m) {
    throw mapsError(line, where);
  }
  return {
    start: BigInt(`0x${m[1]}`),
    end: BigInt(`0x${m[2]}`),
    perms: { read: m[3] === 'r', write: m[4] === 'w', exec: m[5] === 'x', shared: m[6] === 's' },
    offset: BigInt(`0x${m[7]}`),
    major: Number.parseInt(m[8], 16),
    minor: Number.parseInt(m[9], 16),
    inode: BigInt(m[10]),
    name: m[11] ?? '',
  };
}

/** Find the first column at which the line departs from the format, for the error message. */
function mapsError(line: string, where: { file?: string; line?: number }): TraceSyntaxError {
  const steps: Array<[RegExp, string]> = [
    [/^[0-9a-f]+/, 'a start address in lowercase hex'],
    [/^-/, '"-"'],
    [/^[0-9a-f]+/, 'an end address in lowercase hex'],
    [/^ /, 'a space'],
    [/^[r-]/, '"r" or "-"'],
    [/^[w-]/, '"w" or "-"'],
    [/^[x-]/, '"x" or "-"'],
    [/^[sp]/, '"s" or "p"'],
    [/^ /, 'a space'],
    [/^[0-9a-f]+/, 'an offset in hex'],
    [/^ /, 'a space'],
    [/^[0-9a-f]+/, 'a major device number in hex'],
    [/^:/, '":"'],
    [/^[0-9a-f]+/, 'a minor device number in hex'],
    [/^ /, 'a space'],
    [/^[0-9]+/, 'an inode number'],
    [/^ /, 'a space after the inode'],
  ];
  let pos = 0;
  for (const [re, what] of steps) {
    const m = re.exec(line.slice(pos));
    if (!m)
      return new TraceSyntaxError(
        where.file ?? '<maps>',
        where.line ?? 1,
        pos + 1,
        what,
        excerptAt(line, pos),
      );
    pos += m[0].length;
  }
  return new TraceSyntaxError(
    where.file ?? '<maps>',
    where.line ?? 1,
    pos + 1,
    'a name or the end of the line',
    excerptAt(line, pos),
  );
}

/** Parse the whole text of /proc/PID/maps. */
export function parseMaps(text: string, file = '<maps>'): MapsEntry[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => parseMapsLine(l, { file, line: i + 1 }));
}

function hexPad(v: bigint, width: number): string {
  return v.toString(16).padStart(width, '0');
}

/** Format one line exactly as the kernel does (without the newline). */
export function formatMapsLine(e: MapsEntry, nameColumn = MAPS_NAME_COLUMN_64): string {
  const p = e.perms;
  const prefix =
    `${hexPad(e.start, 8)}-${hexPad(e.end, 8)} ` +
    `${p.read ? 'r' : '-'}${p.write ? 'w' : '-'}${p.exec ? 'x' : '-'}${p.shared ? 's' : 'p'} ` +
    `${hexPad(e.offset, 8)} ${e.major.toString(16).padStart(2, '0')}:${e.minor.toString(16).padStart(2, '0')} ${e.inode} `;
  if (e.name === '') return prefix;
  const pad = nameColumn - prefix.length;
  return `${prefix}${pad > 0 ? ' '.repeat(pad) : ''} ${e.name}`;
}

/** Format a whole maps file: every line followed by a newline. */
export function formatMaps(entries: readonly MapsEntry[], nameColumn = MAPS_NAME_COLUMN_64): string {
  let s = '';
  for (const e of entries) s += `${formatMapsLine(e, nameColumn)}\n`;
  return s;
}

/** `rw-p`-style text of the permissions. */
export function formatPerms(p: MapsPerms): string {
  return `${p.read ? 'r' : '-'}${p.write ? 'w' : '-'}${p.exec ? 'x' : '-'}${p.shared ? 's' : 'p'}`;
}
