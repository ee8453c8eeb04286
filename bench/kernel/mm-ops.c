/*
 * The real kernel's side of `bench/linux-exact.ts`: the memory syscalls of the issue "Linux-exact
 * address spaces", each timed as a batch with raw syscalls and clock_gettime(CLOCK_MONOTONIC).
 *
 *   cc -O2 -o mm-ops mm-ops.c
 *   ./mm-ops OP [OP ...]
 *
 * OPs (every ITERS is the number of timed repetitions of the pair):
 *
 *   mmap1:ITERS           mmap(0, 4096, RW, MAP_PRIVATE|MAP_ANONYMOUS) + munmap (no populate)
 *   mprotect-pop:ITERS    in a 1024-page RW private anonymous mapping with every page written,
 *                         mprotect(page 512, R) (a 3-way split) + mprotect(page 512, RW) (the merge)
 *   mprotect-unpop:ITERS  the same in a 1024-page mapping never touched (no PTEs to rewrite)
 *   brk:ITERS             brk(+1 page) + brk(-1 page) on top of a heap of one page
 *   touch:PAGES:MAPS      MAPS fresh PAGES-page MAP_PRIVATE|MAP_ANONYMOUS mappings; only the loop
 *                         that writes one byte into every page is timed (the first-touch faults)
 *   scale:COUNT:ITERS     an address space of COUNT VMAs (0: as the process has them, plus the
 *                         1024-page target), built from one-page mappings spaced one page apart
 *                         with alternating PROT_READ / PROT_READ|PROT_WRITE (so none merge); then
 *                         ITERS one-page mmap+munmap pairs and ITERS mprotect split+merge pairs in
 *                         the (unpopulated) target
 *   getppid:ITERS         the null syscall, for context
 *
 * Before each timed batch an untimed warm-up of about a tenth of ITERS runs. Output, one line per
 * batch (ns for the whole batch; vmas = map_count, from /proc/self/maps without [vsyscall], before
 * the batch; delta = how map_count changes in the middle of one pair, checked once):
 *
 *   kernel op=mmap1 iters=1000 ns=123456 vmas=23 delta=1
 *   kernel op=touch pages=16384 iters=2 ns=... vmas=24 delta=0
 *   kernel op=scale-mmap count=65528 iters=... ns=... vmas=65528 delta=1
 *   kernel null-syscall iters=20000 ns=...
 *
 * Transparent huge pages are disabled for the process (PR_SET_THP_DISABLE) so every page is a
 * 4 KiB page, as in the model. Exit status 2 on a usage error, 1 on a failed syscall.
 */
#define _GNU_SOURCE
#include <errno.h>
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
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define TARGET_PAGES 1024UL
/* Where the scale test's spaced mappings go: 16 TiB, far from the heap and from mmap_base. */
#define SCALE_BASE 0x100000000000UL

static void die(const char *what) {
  fprintf(stderr, "mm-ops: %s: %s\n", what, strerror(errno));
  exit(1);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long raw_mmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags) {
  long r = syscall(SYS_mmap, addr, len, prot, flags, -1L, 0UL);
  return r;
}
static long raw_munmap(unsigned long addr, unsigned long len) { return syscall(SYS_munmap, addr, len); }
static long raw_mprotect(unsigned long addr, unsigned long len, unsigned long prot) {
  return syscall(SYS_mprotect, addr, len, prot);
}
static unsigned long raw_brk(unsigned long addr) { return (unsigned long)syscall(SYS_brk, addr); }

/* map_count: the lines of /proc/self/maps, less the [vsyscall] gate area, which is no VMA. */
static long vma_count(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) die("/proc/self/maps");
  static char line[4096];
  long n = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strstr(line, "[vsyscall]") == NULL) n++;
  }
  fclose(f);
  return n;
}

static unsigned long warm(unsigned long iters) { return iters / 10 > 0 ? iters / 10 : 1; }

static void report(const char *op, const char *extra, unsigned long iters, long long ns, long vmas,
                   long delta) {
  printf("kernel op=%s%s iters=%lu ns=%lld vmas=%ld delta=%ld\n", op, extra, iters, ns, vmas, delta);
  fflush(stdout);
}

/* ---- the pairs ------------------------------------------------------------------------------- */

static void mmap1_pairs(unsigned long n) {
  for (unsigned long i = 0; i < n; i++) {
    long a = raw_mmap(0, PAGE, RW, ANON);
    if (a < 0) die("mmap");
    if (raw_munmap(a, PAGE) != 0) die("munmap");
  }
}

static void mprotect_pairs(unsigned long target, unsigned long n) {
  unsigned long mid = target + (TARGET_PAGES / 2) * PAGE;
  for (unsigned long i = 0; i < n; i++) {
    if (raw_mprotect(mid, PAGE, PROT_READ) != 0) die("mprotect R");
    if (raw_mprotect(mid, PAGE, RW) != 0) die("mprotect RW");
  }
}

/* The VMA-count change in the middle of one pair (after the mmap / the split), undone after. */
static long mmap1_delta(void) {
  long before = vma_count();
  long a = raw_mmap(0, PAGE, RW, ANON);
  if (a < 0) die("mmap");
  long during = vma_count();
  if (raw_munmap(a, PAGE) != 0) die("munmap");
  return during - before;
}

static long mprotect_delta(unsigned long target) {
  unsigned long mid = target + (TARGET_PAGES / 2) * PAGE;
  long before = vma_count();
  if (raw_mprotect(mid, PAGE, PROT_READ) != 0) die("mprotect R");
  long during = vma_count();
  if (raw_mprotect(mid, PAGE, RW) != 0) die("mprotect RW");
  if (vma_count() != before) {
    fprintf(stderr, "mm-ops: mprotect did not merge back\n");
    exit(1);
  }
  return during - before;
}

static unsigned long new_target(int populate) {
  long t = raw_mmap(0, TARGET_PAGES * PAGE, RW, ANON);
  if (t < 0) die("mmap target");
  if (populate) {
    for (unsigned long p = 0; p < TARGET_PAGES; p++) ((volatile char *)t)[p * PAGE] = 1;
  }
  return (unsigned long)t;
}

/* ---- the operations -------------------------------------------------------------------------- */

static void op_mmap1(unsigned long iters) {
  long delta = mmap1_delta();
  long vmas = vma_count();
  mmap1_pairs(warm(iters));
  long long t0 = now_ns();
  mmap1_pairs(iters);
  report("mmap1", "", iters, now_ns() - t0, vmas, delta);
}

static void op_mprotect(unsigned long iters, int populate) {
  unsigned long target = new_target(populate);
  long delta = mprotect_delta(target);
  long vmas = vma_count();
  mprotect_pairs(target, warm(iters));
  long long t0 = now_ns();
  mprotect_pairs(target, iters);
  report(populate ? "mprotect-pop" : "mprotect-unpop", "", iters, now_ns() - t0, vmas, delta);
  if (raw_munmap(target, TARGET_PAGES * PAGE) != 0) die("munmap target");
}

static void brk_pairs(unsigned long base, unsigned long n) {
  for (unsigned long i = 0; i < n; i++) {
    if (raw_brk(base + 2 * PAGE) != base + 2 * PAGE) die("brk grow");
    if (raw_brk(base + PAGE) != base + PAGE) die("brk shrink");
  }
}

static void op_brk(unsigned long iters) {
  unsigned long base = raw_brk(0);
  if (raw_brk(base + PAGE) != base + PAGE) die("brk base");
  long before = vma_count();
  if (raw_brk(base + 2 * PAGE) != base + 2 * PAGE) die("brk grow");
  long delta = vma_count() - before;
  if (raw_brk(base + PAGE) != base + PAGE) die("brk shrink");
  brk_pairs(base, warm(iters));
  long long t0 = now_ns();
  brk_pairs(base, iters);
  long long ns = now_ns() - t0;
  report("brk", "", iters, ns, before, delta);
  if (raw_brk(base) != base) die("brk restore");
}

static void op_touch(unsigned long pages, unsigned long maps) {
  unsigned long len = pages * PAGE;
  long long total = 0;
  long vmas = 0, delta = 0;
  for (unsigned long m = 0; m <= maps; m++) { /* m == 0: untimed warm-up */
    long a = raw_mmap(0, len, RW, ANON);
    if (a < 0) die("mmap touch");
    if (m == 1) vmas = vma_count();
    volatile char *p = (volatile char *)a;
    long long t0 = now_ns();
    for (unsigned long i = 0; i < pages; i++) p[i * PAGE] = 1;
    long long ns = now_ns() - t0;
    if (m > 0) total += ns;
    if (m == 1) delta = vma_count() - vmas;
    if (raw_munmap(a, len) != 0) die("munmap touch");
  }
  char extra[64];
  snprintf(extra, sizeof extra, " pages=%lu", pages);
  report("touch", extra, maps, total, vmas, delta);
}

static void op_scale(long count, unsigned long iters) {
  unsigned long target = new_target(0);
  long natural = vma_count();
  long spaced = count > natural ? count - natural : 0;
  for (long i = 0; i < spaced; i++) {
    long a = raw_mmap(SCALE_BASE + (unsigned long)i * 2 * PAGE, PAGE, (i & 1) ? PROT_READ : RW,
                      ANON | MAP_FIXED_NOREPLACE);
    if (a < 0) {
      fprintf(stderr, "mm-ops: scale: mapping %ld of %ld (map_count %ld): %s\n", i, spaced, natural + i,
              strerror(errno));
      exit(1);
    }
  }
  long vmas = vma_count();
  if (count > 0 && vmas != count) {
    fprintf(stderr, "mm-ops: scale: wanted %ld VMAs, have %ld\n", count, vmas);
    exit(1);
  }
  char extra[64];
  snprintf(extra, sizeof extra, " count=%ld", count);
  long d1 = mmap1_delta();
  mmap1_pairs(warm(iters));
  long long t0 = now_ns();
  mmap1_pairs(iters);
  report("scale-mmap", extra, iters, now_ns() - t0, vmas, d1);
  long d2 = mprotect_delta(target);
  mprotect_pairs(target, warm(iters));
  t0 = now_ns();
  mprotect_pairs(target, iters);
  report("scale-mprotect", extra, iters, now_ns() - t0, vmas, d2);
  if (spaced > 0 && raw_munmap(SCALE_BASE, (unsigned long)spaced * 2 * PAGE) != 0) die("munmap scale");
  if (raw_munmap(target, TARGET_PAGES * PAGE) != 0) die("munmap target");
}

int main(int argc, char **argv) {
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) perror("prctl(PR_SET_THP_DISABLE)");
  if (argc < 2) {
    fprintf(stderr, "usage: %s OP [OP ...] (see the comment at the top of mm-ops.c)\n", argv[0]);
    return 2;
  }
  for (int a = 1; a < argc; a++) {
    unsigned long x = 0, y = 0;
    long c = 0;
    const char *s = argv[a];
    if (sscanf(s, "getppid:%lu", &x) == 1 && x > 0) {
      long long t0 = now_ns();
      for (unsigned long i = 0; i < x; i++) syscall(SYS_getppid);
      printf("kernel null-syscall iters=%lu ns=%lld\n", x, now_ns() - t0);
      fflush(stdout);
    } else if (sscanf(s, "mmap1:%lu", &x) == 1 && x > 0) {
      op_mmap1(x);
    } else if (sscanf(s, "mprotect-pop:%lu", &x) == 1 && x > 0) {
      op_mprotect(x, 1);
    } else if (sscanf(s, "mprotect-unpop:%lu", &x) == 1 && x > 0) {
      op_mprotect(x, 0);
    } else if (sscanf(s, "brk:%lu", &x) == 1 && x > 0) {
      op_brk(x);
    } else if (sscanf(s, "touch:%lu:%lu", &x, &y) == 2 && x > 0 && y > 0) {
      op_touch(x, y);
    } else if (sscanf(s, "scale:%ld:%lu", &c, &x) == 2 && c >= 0 && x > 0) {
      op_scale(c, x);
    } else {
      fprintf(stderr, "mm-ops: bad argument '%s'\n", s);
      return 2;
    }
  }
  return 0;
}
