/**
 * Linux errno values, as the raw syscalls return them (negated). One table for the whole model, so a
 * syscall can never invent an errno of its own.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EEXIST = 17;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ETXTBSY = 26;
export const ENAMETOOLONG = 36;
export const ELOOP = 40;
export const EOVERFLOW = 75;
export const ELIBBAD = 80;
export const EOPNOTSUPP = 95;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [E2BIG]: 'E2BIG',
  [ENOEXEC]: 'ENOEXEC',
  [EBADF]: 'EBADF',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [ENOTDIR]: 'ENOTDIR',
  [EISDIR]: 'EISDIR',
  [EINVAL]: 'EINVAL',
  [ETXTBSY]: 'ETXTBSY',
  [ENAMETOOLONG]: 'ENAMETOOLONG',
  [ELOOP]: 'ELOOP',
  [EOVERFLOW]: 'EOVERFLOW',
  [ELIBBAD]: 'ELIBBAD',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
};

/** `errnoName(12)` is `'ENOMEM'`; unknown values print as their number. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? String(errno);
}
