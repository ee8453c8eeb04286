/**
 * What a user-mode access may do at a page: a bitmask with the PROT_* values (read 1, write 2,
 * execute 4), so `prot` and rights compare directly.
 */
export type Rights = number;
export const R_READ = 1;
export const R_WRITE = 2;
export const R_EXEC = 4;

/** The kinds of user access the MMU checks. */
export type Access = 'read' | 'write' | 'exec';

export const ACCESS_RIGHT: Record<Access, Rights> = { read: R_READ, write: R_WRITE, exec: R_EXEC };

export function formatRights(r: Rights): string {
  return `${r & R_READ ? 'r' : '-'}${r & R_WRITE ? 'w' : '-'}${r & R_EXEC ? 'x' : '-'}`;
}
