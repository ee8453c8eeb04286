import { ENOEXEC } from '../abi/errno.js';
import { BINPRM_BUF_SIZE, type Binprm, copyStringKernel, removeArgZero } from './binprm.js';

const isSpaceTab = (c: number) => c === 0x20 || c === 0x09;

/** `next_non_spacetab`: the first index in [first, last] that is not a space or tab, or -1. */
function nextNonSpaceTab(buf: Uint8Array, first: number, last: number): number {
  for (let i = first; i <= last; i++) if (!isSpaceTab(buf[i])) return i;
  return -1;
}

/** `next_terminator`: the first index in [first, last] holding a space, a tab or a NUL, or -1. */
function nextTerminator(buf: Uint8Array, first: number, last: number): number {
  for (let i = first; i <= last; i++) if (isSpaceTab(buf[i]) || buf[i] === 0) return i;
  return -1;
}

/**
 * binfmt_script's `load_script` (fs/binfmt_script.c): a file starting with `#!` runs its
 * interpreter with argv [interpreter, optional argument, script path, argv[1]...]. Only the first
 * BINPRM_BUF_SIZE bytes are looked at: an interpreter path that may be cut off there is refused
 * (ENOEXEC), a cut-off argument is passed as far as it goes. Everything after the first space or
 * tab following the interpreter is one argument. On success `bprm.interpreter` is the opened
 * interpreter, which the next round of `exec_binprm` loads.
 */
export function loadScript(bprm: Binprm): number {
  const buf = bprm.buf;
  if (buf[0] !== 0x23 || buf[1] !== 0x21) return -ENOEXEC;
  const bufEnd = BINPRM_BUF_SIZE - 1;
  let iEnd = buf.indexOf(0x0a);
  if (iEnd < 0) {
    iEnd = nextNonSpaceTab(buf, 2, bufEnd);
    if (iEnd < 0) return -ENOEXEC;
    if (nextTerminator(buf, iEnd, bufEnd) < 0) return -ENOEXEC;
    iEnd = bufEnd;
  }
  while (isSpaceTab(buf[iEnd - 1])) iEnd--;
  const iName = nextNonSpaceTab(buf, 2, iEnd);
  if (iName < 0 || iName === iEnd) return -ENOEXEC;
  let iArg = -1;
  const iSep = nextTerminator(buf, iName, iEnd);
  if (iSep >= 0 && buf[iSep] !== 0) iArg = nextNonSpaceTab(buf, iSep, iEnd);

  // The interpreter path ends at the separator; the argument runs to the end of the line.
  const cString = (from: number, to: number) => {
    const bytes = buf.subarray(from, to);
    const nul = bytes.indexOf(0);
    return nul < 0 ? bytes : bytes.subarray(0, nul);
  };
  const name = cString(iName, iSep >= 0 && iArg >= 0 ? iSep : iEnd);
  let r = removeArgZero(bprm);
  if (r < 0) return r;
  r = copyStringKernel(bprm, bprm.interp);
  if (r < 0) return r;
  bprm.argc++;
  if (iArg >= 0) {
    r = copyStringKernel(bprm, cString(iArg, iEnd).slice());
    if (r < 0) return r;
    bprm.argc++;
  }
  r = copyStringKernel(bprm, name.slice());
  if (r < 0) return r;
  bprm.argc++;
  // bprm_change_interp, then open_exec of the interpreter.
  bprm.interp = new TextDecoder().decode(name);
  const file = bprm.env.files.openExec(bprm.interp);
  if (typeof file === 'number') return file;
  bprm.interpreter = file;
  return 0;
}
