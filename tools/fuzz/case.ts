/**
 * A fuzz case: a kernel configuration and a list of concrete operations, enough to reproduce a run
 * exactly (the kernel is deterministic). Saved as JSON; `npm run fuzz -- --replay FILE` reruns one.
 */
import type { Arch, PagingMode } from 'levitate-mm';
import type { SyscallName } from './rollback.js';

export interface FuzzConfig {
  arch: Arch;
  pageSize: number;
  paging: PagingMode;
  ramBytes: number;
  /** Task slots: operations name a slot, and a change of slot is a context switch. */
  tasks: number;
  /** RAM the overcommit heuristic counts, in pages (default: the simulated RAM). */
  totalRamPages?: number;
  overcommitMemory?: 0 | 1 | 2;
  maxMapCount?: number;
  /** x86-64: the CPU has protection keys (PROT_EXEC alone is execute-only; `layout.protectionKeys`). */
  protectionKeys?: boolean;
  /** Run the invariant checker after every k-th operation (and at the end). */
  checkEvery: number;
}

/** Register values are written as hex strings (64-bit, two's complement for negative ones). */
export type FuzzOp =
  | { task: number; call: SyscallName; args: string[]; inject?: number }
  | { task: number; call: 'read'; addr: string; len: number; inject?: number }
  | { task: number; call: 'write'; addr: string; data: string; inject?: number }
  | { task: number; call: 'exit' }
  /** fork(2) of the task in `task` into slot `into` (whose task exits first); `shareMm`: clone(CLONE_VM). */
  | { task: number; call: 'fork'; into: number; shareMm?: boolean; inject?: number };

export type FailureKind = 'panic' | 'exception' | 'result' | 'checker' | 'rollback' | 'shadow';

export interface Failure {
  /** Index of the operation after which the failure was seen (ops.length: at the final checks). */
  op: number;
  kind: FailureKind;
  message: string;
}

export interface FuzzCase {
  format: 'levitate-mm fuzz case';
  version: 1;
  /** The generator seed the case came from. */
  seed?: number;
  config: FuzzConfig;
  ops: FuzzOp[];
  failure?: Failure;
  /** Number of operations before shrinking. */
  shrunkFrom?: number;
}

export const hexArg = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

export function parseCase(text: string, source: string): FuzzCase {
  const c = JSON.parse(text) as FuzzCase;
  if (
    c?.format !== 'levitate-mm fuzz case' ||
    c.version !== 1 ||
    !Array.isArray(c.ops) ||
    c.config === undefined
  )
    throw new Error(`${source}: not a levitate-mm fuzz case (version 1)`);
  return c;
}

export function formatCase(c: FuzzCase): string {
  const { ops, ...head } = c;
  // One operation per line keeps a saved case readable and diffable.
  const body = ops.map((o) => `    ${JSON.stringify(o)}`).join(',\n');
  const headJson = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  return `${headJson},\n  "ops": [\n${body}\n  ]\n}\n`;
}

/** A failure's kind and message with addresses and numbers taken out: equal for the same bug. */
export function failureSignature(f: Failure): string {
  return `${f.kind}: ${f.message.replace(/0x[0-9a-f]+/g, 'X').replace(/\d+/g, 'N')}`;
}
