import { hex } from './addr.js';
import type { Access } from './rights.js';

/**
 * Why a user access could not complete: nothing mapped there, the mapping forbids it, or no frame
 * was left to back a permitted access (Linux's OOM killer then ends the task).
 */
export type FaultReason = 'not-mapped' | 'denied' | 'out-of-memory';

const REASON_TEXT: Record<FaultReason, string> = {
  'not-mapped': 'SEGV_MAPERR (not mapped)',
  denied: 'SEGV_ACCERR (access denied)',
  'out-of-memory': 'SIGKILL (out of memory)',
};

/**
 * A user access the MMU and the fault handler could not satisfy: what Linux delivers as SIGSEGV
 * with si_code SEGV_MAPERR (`not-mapped`) or SEGV_ACCERR (`denied`).
 */
export class PageFaultError extends Error {
  constructor(
    readonly address: number,
    readonly access: Access,
    readonly reason: FaultReason,
  ) {
    super(`page fault: ${access} at ${hex(address)}: ${REASON_TEXT[reason]}`);
    this.name = 'PageFaultError';
  }

  /** The signal Linux would deliver. */
  get signal(): 'SIGSEGV' | 'SIGKILL' {
    return this.reason === 'out-of-memory' ? 'SIGKILL' : 'SIGSEGV';
  }

  /** The SIGSEGV si_code, or null for an out-of-memory kill. */
  get siCode(): 'SEGV_MAPERR' | 'SEGV_ACCERR' | null {
    if (this.reason === 'out-of-memory') return null;
    return this.reason === 'not-mapped' ? 'SEGV_MAPERR' : 'SEGV_ACCERR';
  }
}
