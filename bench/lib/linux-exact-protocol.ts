/**
 * Shapes shared by bench/linux-exact.ts, its model worker (linux-exact-worker.ts) and its kernel
 * side (linux-exact-kernel.ts). Types only: the worker is stripped by esbuild and may import nothing
 * else.
 */

/**
 * The timed operations. `scale-*@N` run in an address space of N VMAs (the model's small one has
 * 16, the kernel's small one as many as the C process has, about 25).
 */
export type OpName =
  | 'mmap1'
  | 'mprotect-pop'
  | 'mprotect-unpop'
  | 'brk'
  | 'touch'
  | 'scale-mmap@small'
  | 'scale-mprotect@small'
  | 'scale-mmap@large'
  | 'scale-mprotect@large';

export const OPS: readonly OpName[] = [
  'mmap1',
  'mprotect-pop',
  'mprotect-unpop',
  'brk',
  'touch',
  'scale-mmap@small',
  'scale-mprotect@small',
  'scale-mmap@large',
  'scale-mprotect@large',
];

/** One batch: `iters` repetitions (pairs, or fresh mappings for `touch`) took `ns`. */
export interface OpResult {
  op: OpName;
  iters: number;
  ns: number;
}

/** How one side's address space looked for an operation: VMAs before it, change mid-pair. */
export interface OpShape {
  op: OpName;
  vmas: number;
  delta: number;
}

export interface ExactConfig {
  /** Pages of one first-touch mapping. */
  touchPages: number;
  /** VMAs of the model's small address space (16). */
  smallCount: number;
  /** VMAs of the large address space on both sides (65 528: the 3-way split then peaks at 65 530). */
  largeCount: number;
}

export type ExactRequest =
  | { cmd: 'warmup'; msPerOp: number }
  | { cmd: 'calibrate'; batchMs: number }
  | { cmd: 'round'; plan: Record<OpName, number> }
  | { cmd: 'check' }
  | { cmd: 'exit' };

export type ExactReply =
  | { ok: true; kind: 'ready'; shapes: OpShape[]; buildMs: number }
  | { ok: true; kind: 'warmup'; ms: number }
  | { ok: true; kind: 'calibrate'; plan: Record<OpName, number> }
  | { ok: true; kind: 'round'; results: OpResult[] }
  | { ok: true; kind: 'check'; violations: string[]; shapes: OpShape[] }
  | { ok: false; error: string };
