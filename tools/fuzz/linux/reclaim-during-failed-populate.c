/*
 * Reclaim during a call that then fails: G (8 MiB) is given up with MADV_FREE, then
 * MADV_POPULATE_WRITE over [A (12 MiB, read-write), R (one page, read-only)] populates A and
 * answers EINVAL at R. Run in a 16 MiB memory cgroup, populating A reclaims G's pages (no
 * allocation is refused: A ends fully resident) and they stay reclaimed after the EINVAL; the
 * fuzzer's rollback check allows that (tools/fuzz/rollback.ts, reclaimedBefore). Output on the
 * reference kernel: reclaim-during-failed-populate.txt. As root, with cgroup v1:
 *   cc -O1 -o /tmp/rp reclaim-during-failed-populate.c
 *   cg=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)/rp; mkdir $cg
 *   echo 16777216 > $cg/memory.limit_in_bytes
 *   sh -c "echo \$\$ > $cg/cgroup.procs; exec /tmp/rp"; rmdir $cg
 * Without the cgroup nothing is reclaimed (G resident after 2048, no page reading zero).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#define P 4096
static long rss(void *p) {
  FILE *f = fopen("/proc/self/smaps", "r"); char line[512]; unsigned long s, e, a = (unsigned long)p; int in = 0; long r = -1;
  while (fgets(line, sizeof line, f)) {
    char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
    if (dash && sp && dash < sp && sscanf(line, "%lx-%lx", &s, &e) == 2) { in = a >= s && a < e; continue; }
    if (in && !strncmp(line, "Rss:", 4)) { r = atol(line + 4) / 4; break; }
  }
  fclose(f); return r;
}
int main(void) {
  struct utsname u; uname(&u); printf("# Linux %s %s\n", u.release, u.version);
  const int PA = MAP_PRIVATE | MAP_ANONYMOUS;
  long gp = 2048, ap = 3072; /* 8 MiB given up, 12 MiB to populate */
  char *g = mmap(NULL, gp * P, 3, PA, -1, 0);
  for (long i = 0; i < gp; i++) g[i * P] = 1;
  if (madvise(g, gp * P, MADV_FREE)) { perror("free"); return 1; }
  char *base = mmap(NULL, (ap + 1) * P, PROT_READ, PA, -1, 0);
  if (mprotect(base, ap * P, 3)) { perror("mprotect"); return 1; }
  printf("G resident before %ld\n", rss(g));
  int r = madvise(base, (ap + 1) * P, MADV_POPULATE_WRITE);
  printf("POPULATE_WRITE [A, R] = %d %s; A resident %ld of %ld\n", r, r ? strerror(errno) : "", rss(base), ap);
  long zero = 0; for (long i = 0; i < gp; i++) zero += g[i * P] == 0;
  printf("G resident after %ld; G pages reading zero %ld of %ld\n", rss(g), zero, gp);
  return 0;
}
