/** The fuzz cases mremap-pieces.c runs on Linux, and a case's calls as that program's input. */
import type { FuzzCase } from '../case.js';

/** In test/fixtures/fuzz/: refused MREMAP_FIXED moves at the vDSO's special mappings. */
export const MREMAP_PIECES_CASES = [
  'mremap-pieces-second-splits-vvar.json',
  'mremap-pieces-gap-kept-second-splits-vvar.json',
  'mremap-pieces-refused-target-kept.json',
  'mremap-pieces-first-replaces-vvar.json',
  'mremap-pieces-target-abuts-source.json',
  'mremap-shrink-tail-split-kept.json',
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
