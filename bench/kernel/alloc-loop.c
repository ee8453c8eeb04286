/*
 * The replay benchmark's program: a small C program that loops over the memory calls an allocator
 * makes. Each round maps 1-16 anonymous pages, writes the first one, write-protects one of them
 * and unmaps them (mmap, mprotect, munmap), then has malloc/free do what they do with a large block
 * (above the mmap threshold: mmap + munmap) and a small one (the heap: brk now and then).
 * 46,600 rounds make 233,346 memory calls (the log has 233,347 lines with the exit line).
 *
 *   alloc-loop [ROUNDS]   prints "ns=T": the time of the loop alone, CLOCK_MONOTONIC
 *
 * The malloc thresholds are fixed (mallopt) so glibc's dynamic threshold does not change which
 * blocks are mapped as the program runs: every run makes the same calls.
 */
#define _GNU_SOURCE
#include <malloc.h>
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
  long rounds = argc > 1 ? atol(argv[1]) : 46600;
  const long P = 4096;
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024);
  mallopt(M_TOP_PAD, 0);
  void *small[64] = {0};
  unsigned x = 12345;
  long long t0 = now_ns();
  for (long i = 0; i < rounds; i++) {
    x = x * 1103515245u + 12345u;
    size_t len = (size_t)(1 + (x >> 16) % 16) * P;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    p[0] = 1;
    mprotect(p + P * ((x >> 4) % (len / P)), P, PROT_READ);
    munmap(p, len);
    /* volatile: without it the compiler may drop a malloc/free pair whose block is never read. */
    char *volatile big = malloc(256 * 1024 + (x >> 20) % (256 * 1024));
    if (big == NULL) return 1;
    big[0] = 1;
    free(big);
    int s = (x >> 10) % 64;
    free(small[s]);
    small[s] = malloc(1 + (x >> 12) % (32 * 1024));
    if (small[s] == NULL) return 1;
    ((char *)small[s])[0] = 1;
  }
  long long t1 = now_ns();
  printf("ns=%lld\n", t1 - t0);
  return 0;
}
