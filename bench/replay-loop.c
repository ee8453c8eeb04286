/*
 * The replay benchmark's program: a loop of memory calls (mmap, mprotect, madvise, munmap, brk),
 * four to five per round, timed with CLOCK_MONOTONIC around the loop only. Run it under
 * `strace -f -e trace=%memory -o FILE` to get the log, and alone to time the kernel.
 *
 *   replay-loop ROUNDS   prints "calls=N ns=T" (calls made inside the timed loop)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 25000;
  const long P = 4096;
  void *live[32] = {0};
  size_t lens[32] = {0};
  char *base = sbrk(0);
  long calls = 0;
  unsigned x = 12345;
  long long t0 = now_ns();
  for (long i = 0; i < rounds; i++) {
    x = x * 1103515245u + 12345u;
    int slot = (x >> 8) % 32;
    if (live[slot]) {
      munmap(live[slot], lens[slot]);
      calls++;
    }
    size_t len = (size_t)(1 + (x >> 16) % 16) * P;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    calls++;
    if (p == MAP_FAILED) return 1;
    live[slot] = p;
    lens[slot] = len;
    mprotect(p, P, PROT_READ);
    calls++;
    madvise(p, len, MADV_DONTNEED);
    calls++;
    brk(base + ((i % 8) + 1) * P);
    calls++;
  }
  long long t1 = now_ns();
  printf("calls=%ld ns=%lld\n", calls, t1 - t0);
  return 0;
}
