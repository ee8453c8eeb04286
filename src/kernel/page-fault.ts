import type { Access } from '../hal/rights.js';

/** Why a user access could not complete: nothing mapped there, or the mapping forbids it. */
export type FaultReason = 'not-mapped' | 'denied';

/**
 * A user access the MMU and the fault handler could not satisfy: what Linux delivers as SIGSEGV
 * with si_code SEGV_MAPERR (`not-mapped`) or SEGV_ACCERR (`denied`).
 */
export class PageFaultError extends Error {
  readonly signal = 'SIGSEGV';
  constructor(
    readonly address: number,
    readonly access: Access,
    readonly reason: FaultReason,
  ) {
    super(
      `page fault: ${access} at 0x${address.toString(16)}: ${reason === 'not-mapped' ? 'SEGV_MAPERR (not mapped)' : 'SEGV_ACCERR (access denied)'}`,
    );
    this.name = 'PageFaultError';
  }

  get siCode(): 'SEGV_MAPERR' | 'SEGV_ACCERR' {
    return this.reason === 'not-mapped' ? 'SEGV_MAPERR' : 'SEGV_ACCERR';
  }
}
