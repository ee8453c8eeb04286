/**
 * A bug in the kernel model itself: a double free, a corrupted table, an operation on a frame that
 * was never handed out. Never used for a user's bad input, which is always a negative errno.
 */
export class KernelPanic extends Error {
  constructor(message: string) {
    super(`kernel panic: ${message}`);
    this.name = 'KernelPanic';
  }
}
