/**
 * `levitate-mm exec PROGRAM [ARGS...]`: run execve in the model on a program of this machine and
 * print the /proc/PID/maps it builds, as the real process would show it at its first instruction.
 */
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { EACCES, ENOENT } from '../abi/errno.js';
import type { Arch } from '../hal/addr.js';
import { PAGE_SIZES } from '../hal/geometry.js';
import { Kernel } from '../kernel/kernel.js';
import { mapsEntry, procMaps } from '../kernel/procfs.js';
import { errnoName, errnoText } from '../trace/errno.js';
import { NodeExecFiles } from './exec-files-node.js';
import { hostCpuWords } from './host-cpu.js';
import { parseBytes, parseLimit } from './values.js';

export const EXEC_HELP = `
What it shows: the mappings Linux 6.18's execve sets up, with address randomization off (as under
setarch -R): the program's segments and its bss, its ELF interpreter (ld.so), [vvar], [vdso] (and
[vvar_vclock], [vsyscall] on x86-64) and [stack], sized for these arguments and this environment.
Files are this machine's, so devices and inodes are the real ones, and auxv has this CPU's words
(AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ) when the arch is this machine's. Compare with the kernel:
  levitate-mm exec /bin/true > model.maps
  setarch -R tools/exec-layout/exec-layout /bin/true   # or any program stopped at its first instruction

PROGRAM without a slash is looked up in PATH, as a shell does; argv[0] is PROGRAM as given. The
environment is this one (as a shell passes it), or only the -e strings with -i.

Exit status: 0 when the program was loaded; 2 when execve fails (one line: the errno Linux gives,
and whether Linux would already have killed the process) or for a usage error.`;

/** A command-line or exec failure: one line on stderr, exit status 2. */
export class ExecUsageError extends Error {}

export interface ExecFlags {
  arch?: Arch;
  pageSize: number;
  json?: boolean;
  ignoreEnvironment?: boolean;
  env: string[];
  argv0?: string;
  rlimitStack?: number;
}

/** This process's RLIMIT_STACK soft limit (what the program would inherit), or 8 MiB. */
function hostStackLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max stack size'));
    const soft = line?.slice(26).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
    if (soft !== undefined && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    // not Linux: the usual default
  }
  return 8 * 2 ** 20;
}

/** `execvp`'s search: PROGRAM itself when it has a slash, else the first PATH entry that opens. */
function findProgram(files: NodeExecFiles, program: string, env: readonly string[]): string | number {
  if (program.includes('/')) return program;
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
  let denied = false;
  for (const dir of pathVar.split(':')) {
    const candidate = `${dir === '' ? '.' : dir}/${program}`;
    const r = files.openExec(candidate);
    if (typeof r !== 'number') return candidate;
    if (r === -EACCES) denied = true;
  }
  return denied ? -EACCES : -ENOENT;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** What `levitate-mm exec` prints for PROGRAM and ARGS; an ExecUsageError for a failing exec or a bad option. */
export function execReport(program: string, args: string[], flags: ExecFlags): string {
  const arch = flags.arch ?? (process.arch === 'arm64' ? 'aarch64' : 'x86_64');
  if (!PAGE_SIZES[arch].includes(flags.pageSize))
    throw new ExecUsageError(`page size ${flags.pageSize} is not supported on ${arch}`);
  const files = new NodeExecFiles();
  const envp = flags.ignoreEnvironment
    ? [...flags.env]
    : [...Object.entries(process.env).map(([k, v]) => `${k}=${v}`), ...flags.env];
  const path = findProgram(files, program, envp);
  const fail = (errno: number, extra = '') =>
    new ExecUsageError(`exec ${program}: ${errnoName(errno) ?? errno} (${errnoText(errno)})${extra}`);
  if (typeof path === 'number') throw fail(-path);
  const rlimitStack = flags.rlimitStack ?? hostStackLimit();
  const kernel = new Kernel({
    arch,
    pageSize: flags.pageSize,
    paging: 'demand',
    ramBytes: 2 ** 30,
    execFiles: files,
    layout: { rlimitStack, cpuWords: hostCpuWords(arch) },
  });
  const task = kernel.spawn();
  const r = kernel.execve(task, path, [flags.argv0 ?? program, ...args], envp);
  if (r < 0) {
    const fatal = kernel.lastExecFailure?.fatal ?? false;
    throw fail(-r, fatal ? ', past the point of no return: Linux kills the process with SIGSEGV' : '');
  }
  const space = task.mm;
  if (!flags.json) return procMaps(space);
  const image = space.image!;
  const maps = [...space].map((vma) => {
    const e = mapsEntry(space, vma);
    const p = e.perms;
    return {
      start: hex(vma.start),
      end: hex(vma.end),
      perms: `${p.read ? 'r' : '-'}${p.write ? 'w' : '-'}${p.exec ? 'x' : '-'}${p.shared ? 's' : 'p'}`,
      offset: `0x${e.offset.toString(16)}`,
      dev: `${e.major.toString(16).padStart(2, '0')}:${e.minor.toString(16).padStart(2, '0')}`,
      inode: Number(e.inode),
      name: e.name,
    };
  });
  const report = {
    arch,
    path,
    argv: image.argv,
    envc: image.envp.length,
    interpreter: image.interpreter,
    entry: hex(image.entry),
    sp: hex(image.sp),
    startBrk: hex(space.startBrk),
    rlimitStack: Number.isFinite(rlimitStack) ? rlimitStack : 'unlimited',
    mmapBase: hex(space.layout.mmapBase),
    maps,
    vsyscall: space.gateArea,
    auxv: image.auxv.map(([type, value]) => ({ type, value: hex(value) })),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Adds `exec` to the program. */
export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('print the /proc/PID/maps the model builds for PROGRAM at its first instruction')
    .argument('<program>', 'the program to exec (looked up in PATH when it has no slash)')
    .argument('[args...]', 'its arguments')
    .addOption(
      new Option('--arch <arch>', 'architecture (default: this machine)').choices(['x86_64', 'aarch64']),
    )
    .option('--page-size <bytes>', 'page size (4096; 16384 or 65536 on aarch64)', parseBytes, 4096)
    .option('--json', 'print a JSON report (maps, entry point, stack pointer, break, auxv)')
    .option('-i, --ignore-environment', 'pass only the -e strings as the environment')
    .option(
      '-e, --env <NAME=VALUE>',
      'add a string to the environment (repeatable)',
      (v, acc: string[]) => [...acc, v],
      [],
    )
    .option('--argv0 <name>', 'argv[0] (default: PROGRAM as given)')
    .option('--rlimit-stack <size>', "RLIMIT_STACK (default: this process's); sets mmap_base", parseLimit)
    .passThroughOptions()
    .addHelpText('after', EXEC_HELP)
    .action((prog: string, args: string[], flags: ExecFlags) => {
      try {
        process.stdout.write(execReport(prog, args, flags));
      } catch (e) {
        if (e instanceof ExecUsageError) {
          process.stderr.write(`levitate-mm: ${e.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
    });
}
