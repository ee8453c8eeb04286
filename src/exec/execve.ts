import { E2BIG, ELOOP, ENOEXEC, ENOMEM } from '../abi/errno.js';
import type { AddressSpace } from '../mm/address-space.js';
import type { ExecImage } from '../mm/exec-image.js';
import { type Layout, topDownMmapBase } from '../mm/layout.js';
import { execArch } from './arch.js';
import { loadElfBinary } from './binfmt-elf.js';
import { loadScript } from './binfmt-script.js';
import {
  Binprm,
  bprmMmInit,
  bprmStackLimits,
  copyStringKernel,
  copyStrings,
  type ExecEnvironment,
  type ExecString,
  MAX_ARG_STRINGS,
  prepareBinprm,
  stringsAt,
} from './binprm.js';

/** Per-call settings of execve. */
export interface ExecOptions {
  /**
   * The caller's RLIMIT_STACK soft limit in bytes (Infinity for unlimited). It decides `mmap_base`
   * and the strings' share of the stack. Default: the kernel layout's.
   */
  rlimitStack?: number;
}

/** A failed execve: its errno, and whether Linux had passed its point of no return (it then kills the task). */
export interface ExecFailure {
  readonly errno: number;
  readonly fatal: boolean;
}

export type ExecOutcome =
  | { readonly ok: true; readonly space: AddressSpace }
  | ({ readonly ok: false } & ExecFailure);

/** The binary formats in the kernel's list order (binfmt_script registers before binfmt_elf). */
const FORMATS = [loadScript, loadElfBinary];

/** `exec_binprm` allows this many rounds of interpreters (`#!` scripts) before ELOOP. */
const MAX_DEPTH = 5;

/** The new address space's layout: the kernel's, with `mmap_base` for this exec's RLIMIT_STACK. */
function execLayout(env: ExecEnvironment, base: Layout, opts: ExecOptions): Layout {
  const rlimitStack = opts.rlimitStack;
  if (rlimitStack === undefined || rlimitStack === base.rlimitStack) return base;
  const mmapBase = topDownMmapBase(base.taskSize, rlimitStack, base.stackGuardGap, env.pageSize);
  return { ...base, rlimitStack, mmapBase };
}

/**
 * `search_binary_handler`: reads the file's first bytes and offers them to each format; the first
 * that does not answer ENOEXEC (or that passed the point of no return) decides.
 */
function searchBinaryHandler(bprm: Binprm): number {
  prepareBinprm(bprm);
  for (const load of FORMATS) {
    const r = load(bprm);
    if (bprm.pointOfNoReturn || r !== -ENOEXEC) return r;
  }
  return -ENOEXEC;
}

/** `exec_binprm`: formats until one loads a binary; a `#!` script hands on to its interpreter. */
function execBinprm(bprm: Binprm): number {
  for (let depth = 0; ; depth++) {
    if (depth > MAX_DEPTH) return -ELOOP;
    const r = searchBinaryHandler(bprm);
    if (r < 0) return r;
    if (bprm.interpreter === null) return 0;
    bprm.file = bprm.interpreter;
    bprm.interpreter = null;
  }
}

/** The steps of `do_execveat_common` after the file is open and the new mm exists. */
function execStrings(bprm: Binprm, argv: readonly ExecString[], envp: readonly ExecString[]): number {
  let r = bprmMmInit(bprm);
  if (r < 0) return r;
  if (argv.length > MAX_ARG_STRINGS || envp.length > MAX_ARG_STRINGS) return -E2BIG;
  bprm.argc = argv.length;
  bprm.envc = envp.length;
  r = bprmStackLimits(bprm);
  if (r < 0) return r;
  r = copyStringKernel(bprm, bprm.filename);
  if (r < 0) return r;
  bprm.exec = bprm.p;
  r = copyStrings(bprm, envp);
  if (r < 0) return r;
  r = copyStrings(bprm, argv);
  if (r < 0) return r;
  // An empty argv gets "" as argv[0], so that argv[1] is never envp[0].
  if (bprm.argc === 0) {
    r = copyStringKernel(bprm, '');
    if (r < 0) return r;
    bprm.argc = 1;
  }
  return execBinprm(bprm);
}

/**
 * Undoes an execve that failed: the new address space goes with every page, table and charge, and
 * the page cache loses what this exec added to it (a file the caller maps keeps exactly its pages).
 */
function abandon(bprm: Binprm): void {
  bprm.env.dropAddressSpace(bprm.space);
  const { frames } = bprm.space.ctx;
  for (const [object, before] of bprm.objects) {
    for (const [index, frame] of [...object.pages]) {
      if (before.pages.has(index)) continue;
      object.pages.delete(index);
      frames.count[frames.frameIndex(frame)]--;
      bprm.space.releaseFrame(frame);
    }
    if (before.created) bprm.env.pageCache.forget(object);
  }
}

/**
 * execve(2) (`do_execveat_common`, fs/exec.c, 6.18): opens `path`, builds a new address space with
 * the argument strings on its stack, loads the binary into it (binfmt_script, binfmt_elf) and
 * returns it, complete, for the caller to install at its point of no return. Nothing of the caller
 * is touched: every failure, Linux's own errnos as much as an allocation failing at any step, gives
 * the new address space back and returns the errno. `fatal` marks failures Linux meets only after
 * `begin_new_exec`, where the real task is killed with SIGSEGV instead of seeing the errno.
 */
export function execve(
  env: ExecEnvironment,
  layout: Layout,
  path: string,
  argv: readonly ExecString[],
  envp: readonly ExecString[],
  opts: ExecOptions = {},
): ExecOutcome {
  const file = env.files.openExec(path);
  if (typeof file === 'number') return { ok: false, errno: -file, fatal: false };
  const newLayout = execLayout(env, layout, opts);
  const space = env.newAddressSpace(newLayout);
  if (space === null) return { ok: false, errno: ENOMEM, fatal: false };
  const bprm = new Binprm(env, execArch(env.arch, newLayout, space.pageSize), space, path, file);
  let r: number;
  try {
    r = execStrings(bprm, argv, envp);
  } catch (e) {
    abandon(bprm);
    throw e;
  }
  if (r < 0 || bprm.result === null) {
    abandon(bprm);
    return { ok: false, errno: r < 0 ? -r : ENOEXEC, fatal: bprm.pointOfNoReturn };
  }
  const loaded = bprm.result;
  const image: ExecImage = {
    path: bprm.file.path,
    interpreter: loaded.interpreter,
    entry: loaded.entry,
    sp: bprm.p,
    startCode: loaded.startCode,
    endCode: loaded.endCode,
    ...loaded.bounds,
    auxv: loaded.auxv,
    argv: stringsAt(space, loaded.bounds.argStart, loaded.bounds.argEnd),
    envp: stringsAt(space, loaded.bounds.envStart, loaded.bounds.envEnd),
  };
  space.image = image;
  return { ok: true, space };
}
