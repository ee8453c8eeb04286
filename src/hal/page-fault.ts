import { hex } from './addr.js';
import type { Access } from './rights.js';

/**
 * Why a user access could not complete: nothing mapped there, the mapping forbids it (or, on x86-64
 * with protection keys, the key of an execute-only mapping forbids a data access), the page
 * lies past the end of the file the mapping maps, or no frame was left to back a permitted access
 * (Linux's OOM killer then ends the task).
 */
export type FaultReason = 'not-mapped' | 'denied' | 'protection-key' | 'beyond-eof' | 'out-of-memory';

/** The signal a fault delivers. */
export type FaultSignal = 'SIGSEGV' | 'SIGBUS' | 'SIGKILL';

/** The si_code of a SIGSEGV or SIGBUS, as strace and the harness print it. */
export type FaultCode = 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'SEGV_PKUERR' | 'BUS_ADRERR';

const DELIVERY: Record<FaultReason, { signal: FaultSignal; code: FaultCode | null; text: string }> = {
  'not-mapped': { signal: 'SIGSEGV', code: 'SEGV_MAPERR', text: 'SEGV_MAPERR (not mapped)' },
  denied: { signal: 'SIGSEGV', code: 'SEGV_ACCERR', text: 'SEGV_ACCERR (access denied)' },
  'protection-key': {
    signal: 'SIGSEGV',
    code: 'SEGV_PKUERR',
    text: 'SEGV_PKUERR (denied by the protection key)',
  },
  'beyond-eof': {
    signal: 'SIGBUS',
    code: 'BUS_ADRERR',
    text: 'SIGBUS BUS_ADRERR (past the end of the file)',
  },
  'out-of-memory': { signal: 'SIGKILL', code: null, text: 'SIGKILL (out of memory)' },
};

/**
 * A user access the MMU and the fault handler could not satisfy: what Linux delivers as SIGSEGV
 * with si_code SEGV_MAPERR (`not-mapped`), SEGV_ACCERR (`denied`) or SEGV_PKUERR (`protection-key`),
 * as SIGBUS with BUS_ADRERR (`beyond-eof`: `filemap_fault` finds the page past the file's size), or
 * as an OOM kill.
 */
export class PageFaultError extends Error {
  constructor(
    readonly address: number,
    readonly access: Access,
    readonly reason: FaultReason,
  ) {
    super(`page fault: ${access} at ${hex(address)}: ${DELIVERY[reason].text}`);
    this.name = 'PageFaultError';
  }

  /** The signal Linux would deliver. */
  get signal(): FaultSignal {
    return DELIVERY[this.reason].signal;
  }

  /** The signal's si_code, or null for an out-of-memory kill. */
  get siCode(): FaultCode | null {
    return DELIVERY[this.reason].code;
  }
}
