/*
 * Runs the syscalls of a fuzz case on this machine's kernel: one call a line on stdin
 * ("mmap addr len prot flags fd off", "munmap addr len", "mprotect addr len prot",
 * "madvise addr len advice", "mremap addr old_len new_len flags new_addr", hex), each printed with
 * its raw result (-errno on failure), then /proc/self/maps from 0x10000000 to the end of the stack
 * before the first call and after the last. Built static and run under `setarch x86_64 -R` it
 * starts from the layout of the fuzz's x86-64 snapshot (test/fixtures/linux-x86_64/seq-001.json:
 * [vvar] at 0x7ffff7ff7000, [vvar_vclock], [vdso], [stack]). With EAGER set, each new mapping is
 * populated as the model's eager paging does (MADV_POPULATE_WRITE when writable, so that it has an
 * anon_vma and keeps its pgoff when moved; MADV_POPULATE_READ when readable; a PROT_NONE one
 * cannot be).
 * record-mremap-pieces.ts runs the cases test/fuzz/mremap-pieces.test.ts names and writes
 * mremap-pieces-x86_64.txt, which that test compares with the model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void dump(const char *title) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  unsigned long s, e;
  printf("%s\n", title);
  while (fgets(line, sizeof line, f)) {
    sscanf(line, "%lx-%lx", &s, &e);
    if (s >= 0x10000000UL && e <= 0x7ffffffff000UL) fputs(line, stdout);
  }
  fclose(f);
}

int main(void) {
  /* Read every line first: stdio's buffers come from brk, far below what the calls touch. */
  static char lines[256][256];
  int n = 0;
  while (n < 256 && fgets(lines[n], sizeof lines[n], stdin)) n++;
  dump("before");
  for (int i = 0; i < n; i++) {
    char op[16];
    unsigned long a[6] = {0};
    if (sscanf(lines[i], "%15s %lx %lx %lx %lx %lx %lx", op, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) < 2)
      return 2;
    long r;
    if (!strcmp(op, "mmap")) r = syscall(SYS_mmap, a[0], a[1], a[2], a[3], a[4], a[5]);
    else if (!strcmp(op, "munmap")) r = syscall(SYS_munmap, a[0], a[1]);
    else if (!strcmp(op, "mprotect")) r = syscall(SYS_mprotect, a[0], a[1], a[2]);
    else if (!strcmp(op, "madvise")) r = syscall(SYS_madvise, a[0], a[1], a[2]);
    else if (!strcmp(op, "mremap")) r = syscall(SYS_mremap, a[0], a[1], a[2], a[3], a[4]);
    else return 2;
    if (r == -1) r = -errno;
    printf("op %d %s = %ld\n", i, op, r);
    if (!strcmp(op, "mmap") && r >= 0 && getenv("EAGER") && a[2] != PROT_NONE &&
        syscall(SYS_madvise, r, a[1], (a[2] & PROT_WRITE) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0)
      printf("  populate: %s\n", strerror(errno));
  }
  dump("after");
  return 0;
}
