/** The fuzz cases mremap-pieces.c runs on Linux, and a case's calls as that program's input. */
import type { FuzzCase } from '../case.js';

/**
 * Refused MREMAP_FIXED moves at the vDSO's special mappings, in test/fixtures/: those the fuzz
 * campaign failed on (fuzz/), and more of their kind written by hand (mremap-pieces/); and one
 * more refused call the campaign failed on, checked the same way.
 */
export const MREMAP_PIECES_CASES = [
  'fuzz/mremap-pieces-second-splits-vvar.json',
  'fuzz/mremap-pieces-gap-kept-second-splits-vvar.json',
  'fuzz/mremap-pieces-refused-target-kept.json',
  'fuzz/mremap-pieces-first-replaces-vvar.json',
  'fuzz/mremap-pieces-target-abuts-source.json',
  'fuzz/mremap-shrink-tail-split-kept.json',
  'mremap-pieces/dontunmap-second-splits-vvar.json',
  'mremap-pieces/source-piece-splits-vvar-target-cleared.json',
  // Not an mremap: PROT_GROWSDOWN from a hole below a grows-down VMA changes that VMA (ENOMEM after).
  'fuzz/mprotect-growsdown-from-hole.json',
];

/** The calls of a single-task case, one a line, as mremap-pieces.c reads them. */
export function opLines(c: Pick<FuzzCase, 'ops'>): string {
  return c.ops
    .map((op) => {
      if (!('args' in op) || op.task !== 0) throw new Error('only the syscalls of task 0');
      return `${op.call} ${op.args.join(' ')}\n`;
    })
    .join('');
}
