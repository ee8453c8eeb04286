import { describe, expect, it } from 'vitest';
import { parseCloneFlags, parseExecArgs } from '../../src/trace/process-args.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('execve arguments as strace prints them', () => {
  it('reads the path, argv and an environment abbreviated to its count', () => {
    const a = parseExecArgs(
      'execve',
      '"/usr/bin/sh", ["sh", "-c", "ls / | wc -l"], 0x7fffffffe718 /* 39 vars */',
    )!;
    expect(a.path).toBe('/usr/bin/sh');
    expect(a.pathTruncated).toBe(false);
    expect(a.argv!.strings.map(text)).toEqual(['sh', '-c', 'ls / | wc -l']);
    expect(a.argv!.truncated).toBe(false);
    expect(a.envp).toEqual({ strings: [], truncated: true, count: 39 });
  });

  it('marks a string cut by -s and a list cut after -s elements', () => {
    const a = parseExecArgs(
      'execve',
      '"/usr/lib/gcc/x86_64-linux-gnu/12/cc1", ["/usr/lib/gcc/x86_64-linux-gnu/12"..., "-quiet"], 0x56ca80 /* 43 vars */',
    )!;
    expect(a.argv!.strings.map(text)).toEqual(['/usr/lib/gcc/x86_64-linux-gnu/12', '-quiet']);
    expect(a.argv!.truncated).toBe(true);
    const b = parseExecArgs('execve', '"/bin/true", ["a", "b", ...], ["X=1", "Y=2"]')!;
    expect(b.argv).toMatchObject({ truncated: true, count: 2 });
    expect(b.envp!.strings.map(text)).toEqual(['X=1', 'Y=2']);
    expect(b.envp!.truncated).toBe(false);
  });

  it('unescapes octal, hex and one-letter escapes to bytes', () => {
    const a = parseExecArgs('execve', '"/bin/echo", ["echo", "a\\tb\\n\\\\\\"", "\\377\\x41", "\\0"], []')!;
    const [, s1, s2, s3] = a.argv!.strings;
    expect(text(s1)).toBe('a\tb\n\\"');
    expect([...s2]).toEqual([0xff, 0x41]);
    expect([...s3]).toEqual([0]);
    expect(a.envp).toEqual({ strings: [], truncated: false, count: 0 });
  });

  it('reads NULL lists and execveat', () => {
    const a = parseExecArgs('execve', '"/bin/true", NULL, NULL')!;
    expect(a.argv).toBeNull();
    expect(a.envp).toBeNull();
    const b = parseExecArgs('execveat', 'AT_FDCWD, "/bin/true", ["true"], 0x7ffd0 /* 1 var */, 0')!;
    expect(b.path).toBe('/bin/true');
    expect(b.envp!.count).toBe(1);
  });

  it('refuses what is not an execve argument text', () => {
    expect(parseExecArgs('execve', '0x1234, ["x"], NULL')).toBeUndefined();
    expect(parseExecArgs('open', '"/x", O_RDONLY')).toBeUndefined();
    expect(parseExecArgs('execve', '"/x", ["unterminated')).toBeUndefined();
  });
});

describe('clone flags as strace prints them', () => {
  it('reads clone, clone3, fork and vfork', () => {
    expect(
      parseCloneFlags(
        'clone',
        'child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7ffff7dd0a10',
      ),
    ).toBe(0x1200000);
    expect(
      parseCloneFlags(
        'clone3',
        '{flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7ffff7dcf990, exit_signal=0} => {parent_tid=[5402]}, 88',
      ),
    ).toBe(0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000);
    expect(parseCloneFlags('clone', 'child_stack=0x7f, flags=CLONE_VM|CLONE_VFORK|SIGCHLD')).toBe(0x4100);
    expect(parseCloneFlags('clone', 'child_stack=NULL, flags=CLONE_VM|0x400000000|SIGCHLD')).toBe(0x100);
    expect(parseCloneFlags('fork', '')).toBe(0);
    expect(parseCloneFlags('vfork', '')).toBe(0x4100);
    expect(parseCloneFlags('wait4', '-1, NULL, 0, NULL')).toBeUndefined();
  });
});
