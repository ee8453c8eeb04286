/*
 * Neighbours left apart by a refused split stay apart through merges that swallow the VMA below
 * them. X is 32 private anonymous read-write pages between holes; the process is filled with
 * one-page VMAs (F, each between holes) up to max_map_count, then one is freed at a time until
 * MADV_SEQUENTIAL over [X+15p, X+20p) keeps its first split and answers EAGAIN at the second:
 * [X, X+15p) and [X+15p, X+32p) look alike but stay apart. A MAP_FIXED mapping inside the lower
 * one, and an mprotect there and back, merge the pieces below the boundary into one VMA
 * (vma_merge_new_range, vma_merge_existing_range), and none of them tries a merge at the boundary:
 * still two lines. Only a change across it merges them. test/mm/vma-merge.test.ts runs the same
 * steps in the model (with a small max_map_count) and compares its lines, but those starting with
 * '#', with unmerged-after-merge.txt, this program's output on the reference kernel:
 *   cc -O1 -o /tmp/uam unmerged-after-merge.c && /tmp/uam > unmerged-after-merge.txt
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#define P 4096L
static char *X, *F;
static long nf;
static void maps(char *lo, char *hi) {
  FILE *f = fopen("/proc/self/maps", "r"); char line[512]; unsigned long s, e;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%lx-%lx", &s, &e) == 2 && e > (unsigned long)lo && s < (unsigned long)hi)
      printf("  +%#lx-+%#lx %.4s\n", s - (unsigned long)X, e - (unsigned long)X, strchr(line, ' ') + 1);
  fclose(f);
}
static int lines(char *lo, char *hi) {
  FILE *f = fopen("/proc/self/maps", "r"); char line[512]; unsigned long s, e; int n = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%lx-%lx", &s, &e) == 2 && e > (unsigned long)lo && s < (unsigned long)hi) n++;
  fclose(f); return n;
}
static void freshX(void) {
  if (mmap(X, 32 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != X) { perror("X"); exit(1); }
}
int main(void) {
  struct utsname u; uname(&u); printf("# Linux %s %s\n", u.release, u.version);
  FILE *mc = fopen("/proc/sys/vm/max_map_count", "r"); long max; fscanf(mc, "%ld", &max); fclose(mc);
  printf("# max_map_count %ld\n", max);
  /* X: 32 pages rw with a hole on each side; F: filler, one page every other page (no merges). */
  char *area = mmap(NULL, 34 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(area, 34 * P); X = area + P; freshX();
  F = mmap(NULL, 2 * (max + 10) * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  munmap(F, 2 * (max + 10) * P);
  for (nf = 0; mmap(F + 2 * nf * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != MAP_FAILED; nf++);
  printf("# filler VMAs until mmap refused: %ld\n", nf);
  int r;
  for (;;) {
    r = madvise(X + 15 * P, 5 * P, MADV_SEQUENTIAL);
    int n = lines(X, X + 32 * P);
    if (r == 0) { printf("overshot\n"); return 1; }
    if (n == 2) break;
    munmap(F + 2 * --nf * P, P);
  }
  printf("madvise(X+15p, 5p, MADV_SEQUENTIAL) = -%s, X is now:\n", errno == EAGAIN ? "EAGAIN" : "?");
  maps(X, X + 32 * P);
  for (int i = 0; i < 10; i++) munmap(F + 2 * --nf * P, P);
  char *m = mmap(X + 4 * P, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("mmap(X+4p, 3p, rw, MAP_FIXED) = X+%#lx, X is now:\n", (long)(m - X));
  maps(X, X + 32 * P);
  r = mprotect(X + 4 * P, 3 * P, PROT_READ);
  printf("mprotect(X+4p, 3p, r) = %d, X is now:\n", r);
  maps(X, X + 32 * P);
  r = mprotect(X + 4 * P, 3 * P, PROT_READ | PROT_WRITE);
  printf("mprotect(X+4p, 3p, rw) = %d, X is now:\n", r);
  maps(X, X + 32 * P);
  r = mprotect(X + 14 * P, 2 * P, PROT_READ | PROT_WRITE);
  printf("mprotect(X+14p, 2p, rw) = %d (no change, so no merge tried), X is now:\n", r);
  maps(X, X + 32 * P);
  r = mprotect(X + 14 * P, 2 * P, PROT_READ);
  printf("mprotect(X+14p, 2p, r) = %d, X is now:\n", r);
  maps(X, X + 32 * P);
  r = mprotect(X + 14 * P, 2 * P, PROT_READ | PROT_WRITE);
  printf("mprotect(X+14p, 2p, rw) = %d, X is now:\n", r);
  maps(X, X + 32 * P);
  return 0;
}
