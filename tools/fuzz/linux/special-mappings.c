/*
 * What munmap, MAP_FIXED mmap, mprotect, mremap and madvise do to the vDSO's special mappings
 * ([vvar], on x86-64 [vvar_vclock], [vdso]) when they would have to split one (Linux refuses:
 * special_mapping_split, the vm_ops->may_split hook __split_vma and prep_move_vma ask), and when
 * they take one whole. Each case runs in a child of its own and prints its results and then the
 * VMAs from two pages below [vvar] to the end of [vdso], in pages from the start of [vvar], and
 * those at FAR. Two private read-write pages of our own lie right below [vvar] (on x86-64 there
 * already are two there), so that a range can start inside an ordinary VMA and end inside a special
 * one. What replaces a whole special mapping is read-only, so that it never merges with them. test/exec/special-mappings.test.ts runs the same cases in the model and compares its lines
 * with this program's output on the reference kernels (special-mappings-x86_64.txt,
 * special-mappings-aarch64.txt), which record-special-mappings.ts writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define P 4096UL
#define FAR 0x600000000000UL

static unsigned long vvar, vvar_end, vclock, vclock_end, vdso, vdso_end;

static void find(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx", &s, &e) != 2) continue;
    if (strstr(line, "[vvar]")) vvar = s, vvar_end = e;
    if (strstr(line, "[vvar_vclock]")) vclock = s, vclock_end = e;
    if (strstr(line, "[vdso]")) vdso = s, vdso_end = e;
  }
  fclose(f);
}

static void where(unsigned long a, char *out, size_t n) {
  if (a >= FAR && a < FAR + (1UL << 30)) snprintf(out, n, "FAR+%lu", (a - FAR) / P);
  else snprintf(out, n, "vvar%+ld", ((long)a - (long)vvar) / (long)P);
}

/* The VMAs in [lo, hi), one line each. */
static void show(unsigned long lo, unsigned long hi) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e;
    char perms[8], name[256] = "";
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &s, &e, perms, name) < 3) continue;
    if (e <= lo || s >= hi) continue;
    char a[32], b[32];
    where(s, a, sizeof a);
    where(e, b, sizeof b);
    printf("  %s..%s %s%s%s\n", a, b, perms, name[0] ? " " : "", name);
  }
  fclose(f);
}

static void report(const char *what, long r) {
  char a[32];
  if (r == -1) printf("  %s: -%s\n", what, strerrorname_np(errno));
  else if (r == 0) printf("  %s: 0\n", what);
  else {
    where((unsigned long)r, a, sizeof a);
    printf("  %s: %s\n", what, a);
  }
}

#define CASE(name, body)                                                                         \
  do {                                                                                           \
    fflush(stdout);                                                                              \
    pid_t pid = fork();                                                                          \
    if (pid == 0) {                                                                              \
      printf("%s\n", name);                                                                      \
      body;                                                                                      \
      show(vvar - 2 * P, vdso_end);                                                              \
      show(FAR, FAR + 64 * P);                                                                   \
      fflush(stdout);                                                                            \
      _exit(0);                                                                                  \
    }                                                                                            \
    waitpid(pid, 0, 0);                                                                          \
  } while (0)

static void *addr(unsigned long a) { return (void *)a; }

int main(void) {
#ifdef INIT
  /* As the guest's /init: proc for the maps, the console for the output, power off at the end. */
  mkdir("/proc", 0555);
  mkdir("/dev", 0755);
  mount("proc", "/proc", "proc", 0, 0);
  mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
  int console = open("/dev/console", O_WRONLY);
  dup2(console, 1);
  dup2(console, 2);
  printf("SPECIAL-MAPPINGS-BEGIN\n");
#endif
  struct utsname u;
  uname(&u);
  printf("# Linux %s %s\n", u.release, u.machine);
  find();
  const int RW = PROT_READ | PROT_WRITE, FIX = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  if (mmap(addr(vvar - 2 * P), 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
          MAP_FAILED &&
      errno != EEXIST) {
    perror("mmap below [vvar]");
    return 1;
  }
  printf("[vvar] %lu pages, [vvar_vclock] %lu, [vdso] %lu\n", (vvar_end - vvar) / P, (vclock_end - vclock) / P,
         (vdso_end - vdso) / P);
  CASE("before", (void)0);

  CASE("munmap first page of [vvar]", report("munmap", munmap(addr(vvar), P)));
  CASE("munmap second page of [vvar]", report("munmap", munmap(addr(vvar + P), P)));
  CASE("munmap last page of [vvar]", report("munmap", munmap(addr(vvar_end - P), P)));
  CASE("munmap all of [vvar]", report("munmap", munmap(addr(vvar), vvar_end - vvar)));
  CASE("munmap first page of [vdso]", report("munmap", munmap(addr(vdso), P)));
  CASE("munmap all of [vdso]", report("munmap", munmap(addr(vdso), vdso_end - vdso)));
  CASE("munmap [vvar-1, vvar+1)", report("munmap", munmap(addr(vvar - P), 2 * P)));
  CASE("munmap [vvar-2, vvar+1)", report("munmap", munmap(addr(vvar - 2 * P), 3 * P)));
  CASE("munmap [vvar-1, end of [vvar])", report("munmap", munmap(addr(vvar - P), vvar_end - vvar + P)));
  CASE("munmap [vvar-1, end of [vdso] - 1)", report("munmap", munmap(addr(vvar - P), vdso_end - P - vvar + P)));

  CASE("mmap FIXED first page of [vvar]", report("mmap", (long)mmap(addr(vvar), P, PROT_WRITE, FIX, -1, 0)));
  CASE("mmap FIXED [vvar-1, vvar+1)", report("mmap", (long)mmap(addr(vvar - P), 2 * P, PROT_WRITE, FIX, -1, 0)));
  CASE("mmap FIXED all of [vvar] PROT_READ",
       report("mmap", (long)mmap(addr(vvar), vvar_end - vvar, PROT_READ, FIX, -1, 0)));
  CASE("mmap FIXED last page of [vdso]", report("mmap", (long)mmap(addr(vdso_end - P), P, RW, FIX, -1, 0)));

  CASE("mprotect first page of [vvar] PROT_NONE", report("mprotect", mprotect(addr(vvar), P, PROT_NONE)));
  CASE("mprotect first page of [vvar] PROT_READ", report("mprotect", mprotect(addr(vvar), P, PROT_READ)));
  CASE("mprotect first page of [vvar] PROT_READ|PROT_WRITE", report("mprotect", mprotect(addr(vvar), P, RW)));
  CASE("mprotect all of [vvar] PROT_NONE", report("mprotect", mprotect(addr(vvar), vvar_end - vvar, PROT_NONE)));
  CASE("mprotect first page of [vdso] PROT_READ", report("mprotect", mprotect(addr(vdso), P, PROT_READ)));
  CASE("mprotect all of [vdso] PROT_READ", report("mprotect", mprotect(addr(vdso), vdso_end - vdso, PROT_READ)));
  CASE("mprotect [vvar-1, vvar+1) PROT_NONE", report("mprotect", mprotect(addr(vvar - P), 2 * P, PROT_NONE)));

  const int MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
  CASE("mremap first page of [vvar] to FAR", report("mremap", (long)mremap(addr(vvar), P, P, MOVE, addr(FAR))));
  CASE("mremap second page of [vvar] to FAR",
       report("mremap", (long)mremap(addr(vvar + P), P, P, MOVE, addr(FAR))));
  CASE("mremap all of [vvar] to FAR",
       report("mremap", (long)mremap(addr(vvar), vvar_end - vvar, vvar_end - vvar, MOVE, addr(FAR))));
  CASE("mremap first page of [vdso] to FAR", report("mremap", (long)mremap(addr(vdso), P, P, MOVE, addr(FAR))));
  CASE("mremap all of [vdso] to FAR",
       report("mremap", (long)mremap(addr(vdso), vdso_end - vdso, vdso_end - vdso, MOVE, addr(FAR))));
  CASE("mremap first page of [vvar] to FAR+1 over a mapping of 4 pages at FAR", {
    report("mmap", (long)mmap(addr(FAR), 4 * P, RW, FIX, -1, 0));
    report("mremap", (long)mremap(addr(vvar), P, P, MOVE, addr(FAR + P)));
  });
  CASE("mremap [vvar-1, vvar+1) to FAR (two VMAs)",
       report("mremap", (long)mremap(addr(vvar - P), 2 * P, 2 * P, MOVE, addr(FAR))));
  CASE("mremap first page of [vvar] grown to 2, MAYMOVE",
       report("mremap", (long)mremap(addr(vvar), P, 2 * P, MREMAP_MAYMOVE, 0)));
  CASE("mremap first page of [vvar], same size, MAYMOVE",
       report("mremap", (long)mremap(addr(vvar), P, P, MREMAP_MAYMOVE, 0)));
  CASE("mremap first page of [vvar] MAYMOVE|DONTUNMAP",
       report("mremap", (long)mremap(addr(vvar), P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0)));
  CASE("mremap all of [vvar] shrunk to 1 page in place",
       report("mremap", (long)mremap(addr(vvar), vvar_end - vvar, P, 0)));
  CASE("mremap all of [vvar] shrunk to 1 page, to FAR",
       report("mremap", (long)mremap(addr(vvar), vvar_end - vvar, P, MOVE, addr(FAR))));
  CASE("mremap all of [vdso] shrunk to 1 page in place",
       report("mremap", (long)mremap(addr(vdso), vdso_end - vdso, P, 0)));
  CASE("mremap 2 pages at FAR onto [vvar-1, vvar+1)", {
    report("mmap", (long)mmap(addr(FAR), 2 * P, RW, FIX, -1, 0));
    report("mremap", (long)mremap(addr(FAR), 2 * P, 2 * P, MOVE, addr(vvar - P)));
  });
  CASE("mremap a page at FAR onto the first page of [vvar]", {
    report("mmap", (long)mmap(addr(FAR), P, RW, FIX, -1, 0));
    report("mremap", (long)mremap(addr(FAR), P, P, MOVE, addr(vvar)));
  });
  CASE("mremap 4 pages at FAR (PROT_READ) onto all of [vvar]", {
    report("mmap", (long)mmap(addr(FAR), 4 * P, PROT_READ, FIX, -1, 0));
    report("mremap", (long)mremap(addr(FAR), 4 * P, vvar_end - vvar, MOVE, addr(vvar)));
  });

  CASE("madvise first page of [vvar] MADV_DONTFORK", report("madvise", madvise(addr(vvar), P, MADV_DONTFORK)));
  CASE("madvise all of [vvar] MADV_DONTFORK", report("madvise", madvise(addr(vvar), vvar_end - vvar, MADV_DONTFORK)));
  CASE("madvise first page of [vvar] MADV_WIPEONFORK", report("madvise", madvise(addr(vvar), P, MADV_WIPEONFORK)));
  CASE("madvise first page of [vdso] MADV_DONTFORK", report("madvise", madvise(addr(vdso), P, MADV_DONTFORK)));
  CASE("madvise first page of [vdso] MADV_WIPEONFORK", report("madvise", madvise(addr(vdso), P, MADV_WIPEONFORK)));
  CASE("madvise [vvar-1, vvar+1) MADV_DONTFORK", report("madvise", madvise(addr(vvar - P), 2 * P, MADV_DONTFORK)));
#ifdef INIT
  printf("SPECIAL-MAPPINGS-END\n");
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
#endif
  return 0;
}
