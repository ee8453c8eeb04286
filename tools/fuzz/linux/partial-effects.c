/*
 * What Linux keeps when mprotect or madvise fails part of the way through a range of several VMAs
 * (or holes), one line per scenario. test/syscall/madvise-partial-effects.test.ts runs the same
 * scenarios in the model and compares its lines with partial-effects.txt, this program's output on
 * the reference kernel:  cc -O1 -o /tmp/pe partial-effects.c && /tmp/pe > partial-effects.txt
 *
 * Pages are 4 KiB. A, B: private anonymous read-write mappings; S, S2: shared anonymous ones;
 * R: private read-only; N: private PROT_NONE; D: MAP_DROPPABLE. "byte" is the first byte of the
 * mapping, written as 1 (A, S) or 2 (B, S2) before the call; "resident" counts pages of its own
 * (smaps Rss, the zero page not counted; for S, the object's pages it maps); MADV_PAGEOUT
 * stands for memory pressure: it drops pages given up with MADV_FREE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#define P 4096

static char *base;
static sigjmp_buf jb;
static void on_segv(int s) { (void)s; siglongjmp(jb, 1); }

static char *at(int page) { return base + (long)page * P; }
static void reset(void) { munmap(base, 16 * P); }
static void map(int page, int pages, int prot, int flags) {
  if (mmap(at(page), (size_t)pages * P, prot, flags | MAP_FIXED, -1, 0) == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
}
static const char *result(int r) {
  static char buf[32];
  if (r == 0) return "0";
  snprintf(buf, sizeof buf, "-%s", errno == ENOMEM ? "ENOMEM" : errno == EINVAL ? "EINVAL" : errno == EACCES ? "EACCES" : errno == EFAULT ? "EFAULT" : "?");
  return buf;
}
static int byte(int page) {
  if (sigsetjmp(jb, 1)) return -1;
  return *(volatile char *)at(page);
}
/* The smaps field of the VMA holding `page`: a number (Rss, in pages) or the VmFlags text. */
static void smaps(int page, const char *field, char *out) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  unsigned long s, e, a = (unsigned long)at(page);
  int in = 0;
  out[0] = 0;
  while (fgets(line, sizeof line, f)) {
    char *dash = strchr(line, '-'), *space = strchr(line, ' ');
    if (dash && space && dash < space && sscanf(line, "%lx-%lx", &s, &e) == 2) {
      in = a >= s && a < e;
      continue;
    }
    if (!in || strncmp(line, field, strlen(field))) continue;
    char *v = line + strlen(field);
    while (*v == ' ') v++;
    v[strcspn(v, "\n")] = 0;
    if (!strcmp(field, "Rss:")) sprintf(out, "%ld", atol(v) / 4);
    else strcpy(out, v);
    while (strlen(out) && out[strlen(out) - 1] == ' ') out[strlen(out) - 1] = 0;
    break;
  }
  fclose(f);
}

int main(void) {
  const int PA = MAP_PRIVATE | MAP_ANONYMOUS, SA = MAP_SHARED | MAP_ANONYMOUS;
  char x[256], y[256];
  struct utsname u;
  uname(&u);
  printf("# Linux %s %s\n", u.release, u.machine);
  signal(SIGSEGV, on_segv);
  base = mmap(NULL, 16 * P, PROT_NONE, PA | MAP_NORESERVE, -1, 0);
  int r;

  reset(); map(0, 2, 3, PA); map(3, 2, 3, PA); *at(0) = 1; *at(3) = 2;
  r = madvise(at(0), 5 * P, MADV_DONTNEED);
  printf("DONTNEED [A, hole, B]: %s; A byte %d, B byte %d\n", result(r), byte(0), byte(3));

  reset(); map(0, 2, 3, PA); map(2, 2, 3, SA); *at(0) = 1; *at(2) = 1;
  r = madvise(at(0), 4 * P, MADV_DONTNEED);
  printf("DONTNEED [A, S]: %s; A byte %d, S byte %d\n", result(r), byte(0), byte(2));

  reset(); map(0, 2, 3, PA); map(2, 2, 3, SA); *at(0) = 1; *at(2) = 1;
  r = madvise(at(0), 4 * P, MADV_FREE);
  madvise(at(0), 4 * P, MADV_PAGEOUT);
  printf("FREE [A, S]: %s; under pressure A byte %d, S byte %d\n", result(r), byte(0), byte(2));

  reset(); map(0, 2, 3, PA); map(3, 2, 3, PA); *at(0) = 1; *at(3) = 2;
  r = madvise(at(0), 5 * P, MADV_FREE);
  madvise(at(0), 5 * P, MADV_PAGEOUT);
  printf("FREE [A, hole, B]: %s; under pressure A byte %d, B byte %d\n", result(r), byte(0), byte(3));

  reset(); map(0, 2, 3, SA); map(2, 2, 3, PA); *at(0) = 1; *at(2) = 1;
  r = madvise(at(0), 4 * P, MADV_REMOVE);
  printf("REMOVE [S, A]: %s; S byte %d, A byte %d\n", result(r), byte(0), byte(2));

  reset(); map(0, 2, 3, SA); map(3, 2, 3, SA); *at(0) = 1; *at(3) = 2;
  r = madvise(at(0), 5 * P, MADV_REMOVE);
  printf("REMOVE [S, hole, S2]: %s; S byte %d, S2 byte %d\n", result(r), byte(0), byte(3));

  reset(); map(0, 2, 3, PA); map(2, 2, PROT_READ, PA);
  r = madvise(at(0), 4 * P, MADV_POPULATE_WRITE); smaps(0, "Rss:", x);
  printf("POPULATE_WRITE [A, R]: %s; A resident %s\n", result(r), x);

  reset(); map(0, 2, 3, PA);
  r = madvise(at(0), 4 * P, MADV_POPULATE_WRITE); smaps(0, "Rss:", x);
  printf("POPULATE_WRITE [A, hole]: %s; A resident %s\n", result(r), x);

  reset(); map(1, 2, 3, PA);
  r = madvise(at(0), 3 * P, MADV_POPULATE_WRITE); smaps(1, "Rss:", x);
  printf("POPULATE_WRITE [hole, A]: %s; A resident %s\n", result(r), x);

  reset(); map(0, 2, 3, PA); map(2, 2, PROT_NONE, PA);
  r = madvise(at(0), 4 * P, MADV_POPULATE_READ);
  printf("POPULATE_READ [A, N]: %s\n", result(r));

  /* S grown in place by mremap: its shmem object keeps 2 pages, the pages past it are SIGBUS. */
  reset(); map(0, 2, 3, SA);
  if (mremap(at(0), 2 * P, 4 * P, 0) != at(0)) { perror("mremap"); exit(1); }
  r = madvise(at(0), 4 * P, MADV_POPULATE_WRITE); smaps(0, "Rss:", x);
  printf("POPULATE_WRITE [S grown past its object]: %s; S resident %s\n", result(r), x);

  reset(); map(0, 2, 3, PA); map(2, 2, 3, SA);
  r = madvise(at(0), 4 * P, MADV_WIPEONFORK); smaps(0, "VmFlags:", x);
  printf("WIPEONFORK [A, S]: %s; A %s\n", result(r), x);

  reset(); map(0, 2, 3, PA); map(3, 2, 3, PA);
  r = madvise(at(0), 5 * P, MADV_WIPEONFORK); smaps(3, "VmFlags:", x);
  printf("WIPEONFORK [A, hole, B]: %s; B %s\n", result(r), x);

  reset(); map(0, 2, 3, PA); map(3, 2, 3, PA); *at(0) = 1; *at(3) = 2;
  r = madvise(at(0), 5 * P, MADV_GUARD_INSTALL);
  printf("GUARD_INSTALL [A, hole, B]: %s; A byte %d, B byte %d\n", result(r), byte(0), byte(3));
  r = madvise(at(0), 5 * P, MADV_GUARD_REMOVE);
  printf("GUARD_REMOVE [A, hole, B]: %s; A byte %d, B byte %d\n", result(r), byte(0), byte(3));

  reset(); map(0, 2, 3, SA); *at(0) = 1;
  r = madvise(at(0), 2 * P, MADV_GUARD_INSTALL);
  printf("GUARD_INSTALL [S]: %s; S byte %d\n", result(r), byte(0));
  r = madvise(at(0), 2 * P, MADV_GUARD_REMOVE);
  printf("GUARD_REMOVE [S]: %s; S byte %d\n", result(r), byte(0));

  reset(); map(0, 2, 3, PA); map(3, 2, 3, PA);
  r = mprotect(at(0), 5 * P, PROT_READ); smaps(0, "VmFlags:", x); smaps(3, "VmFlags:", y);
  printf("mprotect PROT_READ [A, hole, B]: %s; A %s; B %s\n", result(r), x, y);

  reset(); map(0, 2, 3, PA); map(2, 2, 3, MAP_DROPPABLE | MAP_ANONYMOUS);
  madvise(at(0), 2 * P, MADV_DONTDUMP);
  r = madvise(at(0), 4 * P, MADV_DODUMP); smaps(0, "VmFlags:", x);
  printf("DODUMP [A (DONTDUMP), D]: %s; A %s\n", result(r), x);
  return 0;
}
