/** clone(2) flags (include/uapi/linux/sched.h) that decide what a new task shares with its parent. */
export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_VFORK = 0x4000;
export const CLONE_THREAD = 0x10000;
/** The flags a POSIX thread is created with (glibc's `create_thread`, the memory-relevant part). */
export const CLONE_THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
