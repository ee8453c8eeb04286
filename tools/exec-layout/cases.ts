/** The cases the exec-layout recorder runs on x86-64 (see README.md). */
import { type ArgItem, buildPath as B, BUILD_DIR, FIXTURE_ENV } from './fixture.js';

/** One execve to record. */
export interface Case {
  name: string;
  what: string;
  path: string;
  /** argv (default: [path]); null passes an empty argv. */
  argv?: ArgItem[] | null;
  envp?: ArgItem[];
  /** RLIMIT_STACK soft limit (default 8 MiB); Infinity for unlimited. */
  rlimitStack?: number;
  /** Files of the build directory this exec opens (the program, scripts, interpreters). */
  uses?: string[];
}

const big = (count: number, length: number, repeat = 'x'): ArgItem => ({ repeat, length, count });

export const CASES: Case[] = [
  { name: 'true', what: 'a PIE with ld.so, argv only its name', path: '/bin/true' },
  { name: 'cat', what: 'a PIE with arguments', path: '/usr/bin/cat', argv: ['cat', '-n', '/proc/self/maps'] },
  {
    name: 'env',
    what: 'a PIE, two environment strings',
    path: '/usr/bin/env',
    envp: [...FIXTURE_ENV, 'LC_ALL=C'],
  },
  { name: 'ls', what: 'a PIE', path: '/usr/bin/ls', argv: ['ls', '-l'] },
  {
    name: 'sh',
    what: '/bin/sh: a symlink to dash (maps name the target)',
    path: '/bin/sh',
    argv: ['sh', '-c', ':'],
  },
  { name: 'bash', what: 'bash, a larger PIE', path: '/usr/bin/bash', argv: ['bash', '-c', 'exit'] },
  {
    name: 'python3',
    what: 'python3: a non-PIE (ET_EXEC) with ld.so',
    path: '/usr/bin/python3',
    argv: ['python3', '-c', 'pass'],
  },
  { name: 'perl', what: 'perl, a PIE', path: '/usr/bin/perl', argv: ['perl', '-e', '1'] },
  {
    name: 'node',
    what: 'node: a 95 MiB non-PIE with six segments',
    path: '/usr/bin/node',
    argv: ['node', '-e', '0'],
  },
  { name: 'gcc', what: 'the gcc driver', path: '/usr/bin/gcc', argv: ['gcc', '--version'] },
  {
    name: 'cc1',
    what: 'cc1, a 30 MiB PIE',
    path: '/usr/lib/gcc/x86_64-linux-gnu/12/cc1',
    argv: ['cc1', '--version'],
  },
  { name: 'as', what: 'the assembler', path: '/usr/bin/as', argv: ['as', '--version'] },
  {
    name: 'ld-so-direct',
    what: 'ld.so run directly: an ET_DYN without interpreter, placed by the mmap allocator, its break at ELF_ET_DYN_BASE',
    path: '/lib64/ld-linux-x86-64.so.2',
    argv: ['/lib64/ld-linux-x86-64.so.2', '/bin/true'],
  },
  { name: 'pie', what: 'gcc (default PIE), dynamic', path: B('pie'), uses: ['pie'] },
  { name: 'nopie', what: 'gcc -no-pie: ET_EXEC at 0x400000 with ld.so', path: B('nopie'), uses: ['nopie'] },
  { name: 'static', what: 'gcc -static: ET_EXEC, no interpreter', path: B('static'), uses: ['static'] },
  {
    name: 'static-pie',
    what: 'gcc -static-pie: ET_DYN without interpreter',
    path: B('static-pie'),
    uses: ['static-pie'],
  },
  {
    name: 'static-pie-2m',
    what: 'a static PIE with p_align 2 MiB: placed by the allocator, then aligned',
    path: B('static-pie-2m'),
    uses: ['static-pie-2m'],
  },
  {
    name: 'execstack',
    what: 'gcc -z execstack: PT_GNU_STACK with PF_X, an rwx stack',
    path: B('execstack'),
    uses: ['execstack'],
  },
  {
    name: 'bigbss',
    what: 'a static program with a 64 MiB bss (vm_brk_flags)',
    path: B('bigbss'),
    uses: ['bigbss'],
  },
  {
    name: 'script',
    what: 'a #! script run by /bin/sh',
    path: B('script.sh'),
    argv: ['script.sh', 'one', 'two'],
    uses: ['script.sh'],
  },
  {
    name: 'script-arg',
    what: 'a #! line with an argument and trailing blanks',
    path: B('script-arg.sh'),
    argv: ['script-arg.sh', 'x'],
    uses: ['script-arg.sh'],
  },
  {
    name: 'script-nested',
    what: 'a script whose interpreter is a script',
    path: B('script-nested'),
    argv: ['script-nested', 'a'],
    uses: ['script-nested', 'script.sh'],
  },
  {
    name: 'script-chain5',
    what: 'five nested #! scripts: the deepest exec_binprm allows',
    path: B('chain5'),
    uses: ['chain1', 'chain2', 'chain3', 'chain4', 'chain5'],
  },
  { name: 'no-argv', what: 'an empty argv: the kernel adds ""', path: '/bin/true', argv: null },
  {
    name: 'craft-bss-overlap',
    what: 'a crafted ELF: two bss-only segments over one page (vm_brk_flags does not merge upwards)',
    path: B('craft-bss-overlap'),
    uses: ['craft-bss-overlap'],
  },
  {
    name: 'craft-odd-segments',
    what: 'a crafted ELF: an unaligned segment, a read-only bss tail, an executable bss',
    path: B('craft-odd-segments'),
    uses: ['craft-odd-segments'],
  },
  {
    name: 'craft-pie-hole',
    what: 'a crafted static PIE with a 1 MiB hole between its segments',
    path: B('craft-pie-hole'),
    uses: ['craft-pie-hole'],
  },
  {
    name: 'many-args',
    what: '300 arguments of 300 bytes: the strings take 23 pages of stack',
    path: '/bin/true',
    argv: ['/bin/true', big(300, 300)],
  },
  {
    name: 'big-env',
    what: 'an environment of 200 strings of 1000 bytes',
    path: '/bin/true',
    envp: [...FIXTURE_ENV, big(200, 1000, 'y')],
  },
  {
    name: 'rlimit-256m',
    what: 'RLIMIT_STACK 256 MiB: mmap_base moves down',
    path: '/bin/true',
    rlimitStack: 256 * 2 ** 20,
  },
  {
    name: 'rlimit-unlimited',
    what: 'unlimited RLIMIT_STACK: the gap is capped at 5/6 of the address space',
    path: '/usr/bin/cat',
    rlimitStack: Number.POSITIVE_INFINITY,
  },
  {
    name: 'rlimit-64k',
    what: 'RLIMIT_STACK 64 KiB: stack_expand is cut to the rlimit',
    path: B('static'),
    rlimitStack: 65536,
    uses: ['static'],
  },
  // What execve refuses, and the errno (checked on this kernel).
  { name: 'err-missing', what: 'no such file: ENOENT', path: B('missing') },
  { name: 'err-directory', what: 'a directory: EACCES', path: B('dir'), uses: ['dir'] },
  { name: 'err-noexec', what: 'no execute permission: EACCES', path: B('noexec'), uses: ['noexec'] },
  { name: 'err-notdir', what: 'a path through a file: ENOTDIR', path: B('pie/x'), uses: ['pie'] },
  { name: 'err-symlink-loop', what: 'a symlink loop: ELOOP', path: B('loop1'), uses: ['loop1', 'loop2'] },
  {
    name: 'err-name-too-long',
    what: 'a path of 5000 bytes: ENAMETOOLONG',
    path: `${BUILD_DIR}/${'a'.repeat(5000)}`,
  },
  { name: 'err-empty', what: 'an empty file: ENOEXEC', path: B('empty'), uses: ['empty'] },
  { name: 'err-text', what: 'text without #!: ENOEXEC', path: B('text'), uses: ['text'] },
  {
    name: 'err-wrong-machine',
    what: 'an aarch64 ELF header: ENOEXEC',
    path: B('wrong-machine'),
    uses: ['wrong-machine'],
  },
  {
    name: 'err-truncated',
    what: 'only the ELF header, no program headers: ENOEXEC',
    path: B('truncated'),
    uses: ['truncated'],
  },
  {
    name: 'err-bad-phentsize',
    what: 'e_phentsize 32: ENOEXEC',
    path: B('bad-phentsize'),
    uses: ['bad-phentsize'],
  },
  {
    name: 'err-interp-missing',
    what: 'PT_INTERP names a missing file: ENOENT',
    path: B('interp-missing'),
    uses: ['interp-missing'],
  },
  {
    name: 'err-interp-short',
    what: 'PT_INTERP names a file shorter than an ELF header: EIO',
    path: B('interp-short'),
    uses: ['interp-short', 'text'],
  },
  {
    name: 'err-interp-not-elf',
    what: 'PT_INTERP names an executable file that is not ELF: ELIBBAD',
    path: B('interp-not-elf'),
    uses: ['interp-not-elf', 'long-text'],
  },
  {
    name: 'err-interp-noexec',
    what: 'PT_INTERP names a file without execute permission: EACCES',
    path: B('interp-noexec'),
    uses: ['interp-noexec', 'noexec'],
  },
  {
    name: 'err-interp-unterminated',
    what: 'PT_INTERP without its NUL: ENOEXEC',
    path: B('interp-unterminated'),
    uses: ['interp-unterminated'],
  },
  {
    name: 'err-script-missing',
    what: '#! names a missing interpreter: ENOENT',
    path: B('s-missing'),
    uses: ['s-missing'],
  },
  {
    name: 'err-script-empty',
    what: 'a #! line with no interpreter: ENOEXEC',
    path: B('s-empty'),
    uses: ['s-empty'],
  },
  { name: 'err-script-dir', what: '#! names a directory: EACCES', path: B('s-dir'), uses: ['s-dir', 'dir'] },
  {
    name: 'err-script-loop',
    what: 'a script that is its own interpreter: ELOOP',
    path: B('s-loop'),
    uses: ['s-loop'],
  },
  {
    name: 'err-script-chain6',
    what: 'six nested #! scripts: ELOOP',
    path: B('chain6'),
    uses: ['chain1', 'chain2', 'chain3', 'chain4', 'chain5', 'chain6'],
  },
  {
    name: 'err-arg-too-long',
    what: 'one argument of MAX_ARG_STRLEN bytes (NUL included: one too many): E2BIG',
    path: '/bin/true',
    argv: ['/bin/true', big(1, 131072)],
  },
  {
    name: 'err-args-too-many',
    what: 'arguments beyond a quarter of the stack rlimit: E2BIG',
    path: '/bin/true',
    argv: ['/bin/true', big(20, 110000)],
  },
  {
    name: 'err-segment-high',
    what: 'a PT_LOAD above TASK_SIZE: Linux is past its point of no return and kills the task',
    path: B('segment-high'),
    uses: ['segment-high'],
  },
];
