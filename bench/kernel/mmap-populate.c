/*
 * The real kernel's side of `npm run bench`: time mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE) +
 * munmap pairs of N 4 KiB pages with raw syscalls, the same operation the model's eager paging does.
 *
 *   cc -O2 -o mmap-populate mmap-populate.c
 *   ./mmap-populate [--thp] PAGES:ITERS [PAGES:ITERS ...]
 *   ./mmap-populate getppid:ITERS            (the cost of a null syscall, for context)
 *
 * For every PAGES:ITERS argument one untimed warm-up pair runs (its residency is checked with
 * mincore), then ITERS pairs are timed as one batch with clock_gettime(CLOCK_MONOTONIC), and one
 * machine-readable line is printed:
 *
 *   kernel pages=256 iters=400 ns=123456789 resident=256
 *
 * and for getppid:ITERS, `kernel null-syscall iters=100000 ns=...` (the raw syscall(SYS_getppid)
 * round trip, which tells a virtualized host, where every syscall traps, from bare metal).
 *
 * `ns` is the whole batch; `resident` is how many of the warm-up mapping's pages mincore saw
 * resident (it must equal `pages`, or MAP_POPULATE did not populate). Transparent huge pages are
 * disabled for the process (PR_SET_THP_DISABLE) so every page is a 4 KiB page, as in the model;
 * `--thp` leaves the system's THP policy in force. Exit status 2 on a usage error, 1 on a failed
 * syscall.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#endif

#define PAGE 4096UL

static long raw_mmap(unsigned long len) {
  return syscall(SYS_mmap, 0UL, len, (unsigned long)(PROT_READ | PROT_WRITE),
                 (unsigned long)(MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE), -1L, 0UL);
}

static long raw_munmap(long addr, unsigned long len) {
  return syscall(SYS_munmap, (unsigned long)addr, len);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long resident_pages(long addr, unsigned long pages) {
  unsigned char *vec = malloc(pages);
  if (vec == NULL) return -1;
  long n = -1;
  if (mincore((void *)addr, pages * PAGE, vec) == 0) {
    n = 0;
    for (unsigned long i = 0; i < pages; i++) n += vec[i] & 1;
  }
  free(vec);
  return n;
}

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--thp") == 0) {
    first = 2;
  } else if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
    perror("prctl(PR_SET_THP_DISABLE)"); /* not fatal: THP may be off anyway */
  }
  if (first >= argc) {
    fprintf(stderr, "usage: %s [--thp] PAGES:ITERS [PAGES:ITERS ...]\n", argv[0]);
    return 2;
  }
  for (int a = first; a < argc; a++) {
    unsigned long pages = 0, iters = 0;
    if (sscanf(argv[a], "getppid:%lu", &iters) == 1 && iters > 0) {
      long long t0 = now_ns();
      for (unsigned long i = 0; i < iters; i++) syscall(SYS_getppid);
      printf("kernel null-syscall iters=%lu ns=%lld\n", iters, now_ns() - t0);
      fflush(stdout);
      continue;
    }
    if (sscanf(argv[a], "%lu:%lu", &pages, &iters) != 2 || pages == 0 || iters == 0) {
      fprintf(stderr, "bad argument '%s' (want PAGES:ITERS)\n", argv[a]);
      return 2;
    }
    unsigned long len = pages * PAGE;
    long addr = raw_mmap(len); /* warm-up, and the residency check */
    if (addr < 0 && addr > -4096) addr = -1;
    if (addr == -1) {
      perror("mmap");
      return 1;
    }
    long resident = resident_pages(addr, pages);
    if (raw_munmap(addr, len) != 0) {
      perror("munmap");
      return 1;
    }
    long long t0 = now_ns();
    for (unsigned long i = 0; i < iters; i++) {
      addr = raw_mmap(len);
      if (addr == -1) {
        perror("mmap");
        return 1;
      }
      if (raw_munmap(addr, len) != 0) {
        perror("munmap");
        return 1;
      }
    }
    long long ns = now_ns() - t0;
    printf("kernel pages=%lu iters=%lu ns=%lld resident=%ld\n", pages, iters, ns, resident);
    fflush(stdout);
  }
  return 0;
}
