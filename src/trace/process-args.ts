/**
 * The arguments of strace's process lines, as far as a replay needs them: the program, argv and
 * environment of an `execve`/`execveat`, and the flags of a `clone`/`clone3`/`fork`/`vfork`.
 *
 * strace abbreviates both lists: each string is cut after `-s` bytes (default 32) and printed with
 * `...` after the closing quote; a list longer than `-s` elements ends in `...`; without `-v` the
 * environment is only its address and a count (`0x7ffd... /* 39 vars *\/`). What was cut is
 * reported (`truncated`), so a caller knows the strings are not the program's own.
 */

/** One argument list of an execve line. */
export interface ExecList {
  /** The strings' bytes as printed (unescaped; a cut string holds only its printed part). */
  strings: Uint8Array[];
  /** Whether any string was cut, or the list ended in `...`, or (envp) only its count was printed. */
  truncated: boolean;
  /** The number of strings the list had, when strace printed it (`/* 39 vars *\/`); else strings.length. */
  count: number;
}

export interface ExecArgs {
  path: string;
  /** Whether the path string itself was cut (then the program cannot be found by it). */
  pathTruncated: boolean;
  /** null: strace printed NULL (or an address it could not read). */
  argv: ExecList | null;
  envp: ExecList | null;
}

const CLONE_FLAG_BITS: Record<string, number> = {
  CLONE_VM: 0x100,
  CLONE_FS: 0x200,
  CLONE_FILES: 0x400,
  CLONE_SIGHAND: 0x800,
  CLONE_PIDFD: 0x1000,
  CLONE_PTRACE: 0x2000,
  CLONE_VFORK: 0x4000,
  CLONE_PARENT: 0x8000,
  CLONE_THREAD: 0x10000,
  CLONE_NEWNS: 0x20000,
  CLONE_SYSVSEM: 0x40000,
  CLONE_SETTLS: 0x80000,
  CLONE_PARENT_SETTID: 0x100000,
  CLONE_CHILD_CLEARTID: 0x200000,
  CLONE_DETACHED: 0x400000,
  CLONE_UNTRACED: 0x800000,
  CLONE_CHILD_SETTID: 0x1000000,
  CLONE_NEWCGROUP: 0x2000000,
  CLONE_NEWUTS: 0x4000000,
  CLONE_NEWIPC: 0x8000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
  CLONE_IO: 0x80000000,
};

/** The one-letter escapes of strace's strings (`\n`, `\"`, ...). */
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  n: 10,
  t: 9,
  r: 13,
  v: 11,
  f: 12,
  a: 7,
  b: 8,
  '\\': 92,
  '"': 34,
};

const UTF8 = new TextEncoder();

/** A cursor over an argument text. */
class Text {
  pos = 0;
  constructor(readonly s: string) {}

  skipSpace(): void {
    while (this.s[this.pos] === ' ') this.pos++;
  }

  eat(t: string): boolean {
    if (!this.s.startsWith(t, this.pos)) return false;
    this.pos += t.length;
    return true;
  }

  /** A quoted C string's bytes (strace's escapes), and whether `...` followed it (cut by -s). */
  string(): { bytes: Uint8Array; cut: boolean } | undefined {
    if (this.s[this.pos] !== '"') return undefined;
    const bytes: number[] = [];
    let i = this.pos + 1;
    const s = this.s;
    while (i < s.length && s[i] !== '"') {
      if (s[i] !== '\\') {
        let j = i;
        while (j < s.length && s[j] !== '"' && s[j] !== '\\') j++;
        for (const b of UTF8.encode(s.slice(i, j))) bytes.push(b);
        i = j;
        continue;
      }
      const c = s[i + 1];
      const simple = SIMPLE_ESCAPES[c];
      if (simple !== undefined) {
        bytes.push(simple);
        i += 2;
      } else if (c === 'x') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 2, i + 4));
        if (m === null) return undefined;
        bytes.push(Number.parseInt(m[0], 16));
        i += 2 + m[0].length;
      } else if (c !== undefined && c >= '0' && c <= '7') {
        const m = /^[0-7]{1,3}/.exec(s.slice(i + 1, i + 4))!;
        bytes.push(Number.parseInt(m[0], 8) & 0xff);
        i += 1 + m[0].length;
      } else {
        return undefined;
      }
    }
    if (i >= s.length) return undefined;
    this.pos = i + 1;
    const cut = this.eat('...');
    return { bytes: Uint8Array.from(bytes), cut };
  }

  /** `[...]` of strings, `NULL`, an address (optionally with `/* N vars *\/`). */
  list(): ExecList | null | undefined {
    this.skipSpace();
    if (this.eat('NULL')) return null;
    if (this.eat('[')) {
      const strings: Uint8Array[] = [];
      let truncated = false;
      for (;;) {
        this.skipSpace();
        if (this.eat(']')) break;
        if (this.eat('...')) {
          truncated = true;
          continue;
        }
        const str = this.string();
        if (str === undefined) return undefined;
        strings.push(str.bytes);
        if (str.cut) truncated = true;
        this.skipSpace();
        this.eat(',');
      }
      return { strings, truncated, count: strings.length };
    }
    const addr = /^0x[0-9a-fA-F]+/.exec(this.s.slice(this.pos));
    if (addr === null) return undefined;
    this.pos += addr[0].length;
    const vars = /^ \/\* (\d+) vars? \*\//.exec(this.s.slice(this.pos));
    if (vars === null) return null;
    this.pos += vars[0].length;
    return { strings: [], truncated: true, count: Number(vars[1]) };
  }
}

/**
 * The arguments of an `execve` (`"PATH", ARGV, ENVP`) or `execveat` (`DIRFD, "PATH", ARGV, ENVP,
 * FLAGS`) line; undefined when the text is not of that shape.
 */
export function parseExecArgs(name: string, args: string): ExecArgs | undefined {
  const t = new Text(args);
  if (name === 'execveat') {
    const comma = args.indexOf(', ');
    if (comma < 0) return undefined;
    t.pos = comma + 2;
  } else if (name !== 'execve') {
    return undefined;
  }
  const path = t.string();
  if (path === undefined || !t.eat(',')) return undefined;
  const argv = t.list();
  if (argv === undefined || !t.eat(',')) return undefined;
  const envp = t.list();
  if (envp === undefined) return undefined;
  return { path: new TextDecoder().decode(path.bytes), pathTruncated: path.cut, argv, envp };
}

/** The CLONE_* bits of a `|`-list such as `CLONE_VM|CLONE_VFORK|SIGCHLD` (signals and unknown names ignored). */
function cloneBits(list: string): number {
  let flags = 0;
  for (const part of list.split('|')) {
    const p = part.trim();
    const bit = CLONE_FLAG_BITS[p];
    if (bit !== undefined) flags |= bit;
    else if (/^0x[0-9a-fA-F]+$/.test(p)) flags |= Number(BigInt(p) & 0xffffff00n);
  }
  return flags >>> 0;
}

/**
 * The clone flags of a process-creating line: `clone(... flags=A|B ...)`, `clone3({flags=A|B, ...},
 * SIZE)`, `fork()` (none), `vfork()` (CLONE_VM|CLONE_VFORK). Undefined for any other call.
 */
export function parseCloneFlags(name: string, args: string): number | undefined {
  switch (name) {
    case 'fork':
      return 0;
    case 'vfork':
      return CLONE_FLAG_BITS.CLONE_VM | CLONE_FLAG_BITS.CLONE_VFORK;
    case 'clone':
    case 'clone2':
    case 'clone3': {
      const m = /\bflags=([A-Za-z0-9_|]+)/.exec(args);
      return m === null ? 0 : cloneBits(m[1]);
    }
    default:
      return undefined;
  }
}
