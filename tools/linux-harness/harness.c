/*
 * levitate-mm Linux differential-test harness (x86_64 or aarch64, static, no malloc).
 *
 * Reads a sequence of memory ops from stdin (one per line), executes them with
 * raw syscalls and prints what the kernel answered.  See README.md next to this
 * file for the input and output formats.
 *
 * Rules this program follows so that it never changes its own address space
 * except through the recorded ops:
 *   - every syscall is made with inline `syscall` (aarch64: `svc #0`; no errno, no libc wrappers
 *     apart from sigaction/sigsetjmp/siglongjmp, which allocate nothing);
 *   - all buffers are static (.bss) and are pre-faulted before the "before"
 *     snapshot, so no page of ours is touched for the first time during the run;
 *   - stack use is a few KiB, far below the initial 132 KiB [stack] VMA;
 *   - a guard refuses (exit 3) any op whose range could affect a VMA that
 *     existed at the before snapshot, or a brk below the initial break.
 *
 * Built with -DHARNESS_FORK (a separate binary, `harness-fork`), it also runs sequences in which
 * processes fork and go on side by side (procs.h). Without it the program is exactly the one
 * the fixtures of test/fixtures/linux-x86_64 were recorded with.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

typedef unsigned long u64;

#define PAGE 4096UL
#ifdef __aarch64__
#define TASK_SIZE 0x1000000000000UL /* aarch64, 48-bit user VA (no LPA2 on the recording CPU) */
#else
#define TASK_SIZE 0x7ffffffff000UL /* x86_64, 4-level paging */
#endif
#define MAP_FIXED_ 0x10UL
#define MAP_FIXED_NOREPLACE_ 0x100000UL

#ifdef __aarch64__
/* arm64 uses the generic syscall table (<sys/syscall.h> of the aarch64 toolchain gives
 * SYS_mmap 222, SYS_munmap 215, SYS_mprotect 226, SYS_brk 214, SYS_mremap 216, SYS_madvise 233,
 * SYS_openat 56, SYS_read 63, SYS_write 64, SYS_close 57, SYS_exit_group 94, ...). */
static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory", "cc");
  return x0;
}
#else
static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#endif
#define sc1(n, a) sc6(n, (long)(a), 0, 0, 0, 0, 0)
#define sc2(n, a, b) sc6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sc3(n, a, b, c) sc6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sc4(n, a, b, c, d) sc6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sc5(n, a, b, c, d, e) sc6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static __attribute__((noreturn)) void die_code(int code) {
  for (;;) sc1(SYS_exit_group, code);
}

/* ---------- static buffers ---------- */
#define IN_MAX (256 * 1024)
#define OUT_MAX (4 * 1024 * 1024)
#define FILE_MAX (2 * 1024 * 1024)
#define MAX_OPS 4096
#define MAX_PROT 512

static char inbuf[IN_MAX];
static char outbuf[OUT_MAX];
static char filebuf[FILE_MAX];
static u64 results[MAX_OPS];
static u64 prot_start[MAX_PROT], prot_end[MAX_PROT];
static int nprot;
static struct {
  char sysname[65], nodename[65], release[65], version[65], machine[65], domain[65];
} uts;
static u64 rlim_buf[2];
static size_t outlen;

/* ---------- output ---------- */
static void flush_out(void) {
  size_t off = 0;
  while (off < outlen) {
    long n = sc3(SYS_write, 1, outbuf + off, outlen - off);
    if (n <= 0) die_code(4);
    off += (size_t)n;
  }
  outlen = 0;
}
static void out_bytes(const char *s, size_t n) {
  if (outlen + n > OUT_MAX) flush_out();
  if (n > OUT_MAX) die_code(4);
  for (size_t i = 0; i < n; i++) outbuf[outlen++] = s[i];
}
static size_t slen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
static void out_str(const char *s) { out_bytes(s, slen(s)); }
static void out_u64(u64 v) {
  char tmp[24];
  int i = 23;
  tmp[i] = 0;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  out_str(tmp + i);
}
static void out_s64(long v) {
  if (v < 0) {
    out_str("-");
    out_u64((u64)0 - (u64)v);
  } else {
    out_u64((u64)v);
  }
}
static void out_hex(u64 v) {
  static const char d[] = "0123456789abcdef";
  char tmp[20];
  int i = 19;
  tmp[i] = 0;
  do {
    tmp[--i] = d[v & 15];
    v >>= 4;
  } while (v);
  out_str("0x");
  out_str(tmp + i);
}
static void err_str(const char *s) { sc3(SYS_write, 2, s, slen(s)); }
#ifdef HARNESS_FORK
static void procs_abort(void);
#endif
static __attribute__((noreturn)) void fail(const char *msg, const char *detail) {
  flush_out();
  err_str("harness: ");
  err_str(msg);
  if (detail) {
    err_str(": ");
    err_str(detail);
  }
  err_str("\n");
#ifdef HARNESS_FORK
  procs_abort();
#endif
  die_code(3);
}

/* ---------- files ---------- */
/* Reads a whole file into filebuf; returns its length. */
static size_t read_file(const char *path) {
  long fd = sc4(SYS_openat, -100, path, 0 /* O_RDONLY */, 0);
  if (fd < 0) fail("cannot open", path);
  size_t len = 0;
  for (;;) {
    if (len >= FILE_MAX - 1) fail("file too large", path);
    long n = sc3(SYS_read, fd, filebuf + len, FILE_MAX - 1 - len);
    if (n < 0) fail("read failed", path);
    if (n == 0) break;
    len += (size_t)n;
  }
  sc1(SYS_close, fd);
  filebuf[len] = 0;
  return len;
}
static void out_block(const char *name, const char *data, size_t len) {
  out_str("block ");
  out_str(name);
  out_str(" ");
  out_u64(len);
  out_str("\n");
  out_bytes(data, len);
  out_str("\n");
}
static void out_file_block(const char *name, const char *path) {
  size_t len = read_file(path);
  out_block(name, filebuf, len);
}

/* ---------- parsing helpers ---------- */
static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
static int streq(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* /proc/self/stat field (1-based, as in proc(5)). */
static u64 stat_field(const char *stat, size_t len, int field) {
  size_t p = len;
  while (p > 0 && stat[p - 1] != ')') p--;
  if (p == 0) fail("bad /proc/self/stat", 0);
  int f = 2; /* we are just after field 2 (comm) */
  while (p < len) {
    while (p < len && stat[p] == ' ') p++;
    f++;
    size_t s = p;
    while (p < len && stat[p] != ' ' && stat[p] != '\n') p++;
    if (f == field) {
      u64 v = 0;
      for (size_t i = s; i < p; i++) v = v * 10 + (u64)(stat[i] - '0');
      return v;
    }
  }
  fail("stat field missing", 0);
}

static void collect_protected(const char *maps, size_t len) {
  size_t p = 0;
  nprot = 0;
  while (p < len) {
    u64 a = 0, b = 0;
    while (p < len && is_hex(maps[p])) a = a * 16 + (u64)hexval(maps[p++]);
    if (p < len && maps[p] == '-') p++;
    while (p < len && is_hex(maps[p])) b = b * 16 + (u64)hexval(maps[p++]);
    if (nprot >= MAX_PROT) fail("too many initial mappings", 0);
    prot_start[nprot] = a;
    prot_end[nprot] = b;
    nprot++;
    while (p < len && maps[p] != '\n') p++;
    p++;
  }
}

/* ---------- symbols ---------- */
static u64 initial_brk, start_brk;
static int nops;

static const char *cur_line; /* for error messages */

static u64 parse_term(const char **sp) {
  const char *s = *sp;
  u64 v = 0;
  if (*s == '$') {
    s++;
    if (s[0] == 'b' && s[1] == 'r' && s[2] == 'k' && s[3] == 'p' && s[4] == 'a' && s[5] == 'g' && s[6] == 'e') {
      v = (initial_brk + PAGE - 1) & ~(PAGE - 1);
      s += 7;
    } else if (s[0] == 'b' && s[1] == 'r' && s[2] == 'k') {
      v = initial_brk;
      s += 3;
    } else if (s[0] == 's' && s[1] == 't' && s[2] == 'a' && s[3] == 'r' && s[4] == 't' && s[5] == 'b' &&
               s[6] == 'r' && s[7] == 'k') {
      v = start_brk;
      s += 8;
    } else if (*s >= '0' && *s <= '9') {
      u64 idx = 0;
      while (*s >= '0' && *s <= '9') idx = idx * 10 + (u64)(*s++ - '0');
      if (idx >= (u64)nops) fail("reference to a later op", cur_line);
      v = results[idx];
    } else {
      fail("unknown symbol", cur_line);
    }
  } else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    if (!is_hex(*s)) fail("bad hex number", cur_line);
    while (is_hex(*s)) v = v * 16 + (u64)hexval(*s++);
  } else if (*s >= '0' && *s <= '9') {
    while (*s >= '0' && *s <= '9') v = v * 10 + (u64)(*s++ - '0');
  } else {
    fail("bad term", cur_line);
  }
  *sp = s;
  return v;
}

/* expr := ['-'] term (('+'|'-') term)*, evaluated modulo 2^64. */
static u64 parse_expr(const char **sp) {
  const char *s = *sp;
  int neg = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  u64 v = parse_term(&s);
  if (neg) v = (u64)0 - v;
  while (*s == '+' || *s == '-') {
    char o = *s++;
    u64 t = parse_term(&s);
    v = o == '+' ? v + t : v - t;
  }
  *sp = s;
  return v;
}

/* ---------- guard ---------- */
static int intersects_protected(u64 start, u64 end) {
  for (int i = 0; i < nprot; i++)
    if (start < prot_end[i] && end > prot_start[i]) return 1;
  return 0;
}
/* Could a range op on [addr, addr+len) touch an initial mapping?  Ranges the
 * kernel rejects outright (unaligned, len 0, wrapping) are harmless. */
static int range_unsafe(u64 addr, u64 len) {
  if (addr & (PAGE - 1)) return 0;
  if (len == 0) return 0;
  u64 alen = (len + PAGE - 1) & ~(PAGE - 1);
  if (alen == 0) return 0;
  u64 end = addr + alen;
  if (end < addr) return 0;
  return intersects_protected(addr, end);
}

/* ---------- faults ---------- */
static sigjmp_buf fault_env;
static volatile int fault_sig, fault_code;
static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  fault_sig = sig;
  fault_code = si->si_code;
  siglongjmp(fault_env, 1);
}
/* touch (write val) or peek (read) one byte; returns 1 if it faulted. Kept
 * out of line so sigsetjmp cannot clobber the caller's locals. */
static __attribute__((noinline)) int access_byte(int is_touch, u64 addr, u64 val, long *out) {
  volatile unsigned char *ptr = (volatile unsigned char *)addr;
  if (sigsetjmp(fault_env, 1) != 0) return 1;
  if (is_touch) {
    *ptr = (unsigned char)val;
    *out = 0;
  } else {
    *out = *ptr;
  }
  return 0;
}
static const char *fault_name(int sig, int code) {
  if (sig == SIGSEGV) {
    if (code == 1) return "SEGV_MAPERR";
    if (code == 2) return "SEGV_ACCERR";
    if (code == 4) return "SEGV_PKUERR";
    return "SEGV_OTHER";
  }
  if (code == 2) return "BUS_ADRERR";
  return "BUS_OTHER";
}


/* ---------- zero-page probe ---------- */
/* Whether a read fault on private anonymous memory maps the shared zero page (Linux's default)
 * or allocates a page of its own (some kernel builds): the Rss smaps shows for a fresh one-page
 * mapping after one read. The mapping is gone again before the before snapshot. Returns 1 for the
 * zero page, 0 for an allocation, -1 when smaps does not show the mapping. */
static int probe_zero_page_reads(void) {
  long a = sc6(SYS_mmap, 0, PAGE, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (a < 0 && a > -4096) fail("probe mmap", 0);
  (void)*(volatile char *)a;
  size_t len = read_file("/proc/self/smaps");
  sc2(SYS_munmap, a, PAGE);
  char want[24];
  int n = 0;
  char tmp[20];
  int k = 0;
  u64 v = (u64)a;
  do {
    tmp[k++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (k < 8) tmp[k++] = '0';
  while (k > 0) want[n++] = tmp[--k];
  want[n++] = '-';
  for (size_t p = 0; p + (size_t)n < len; p++) {
    if (p != 0 && filebuf[p - 1] != '\n') continue;
    int i = 0;
    while (i < n && filebuf[p + (size_t)i] == want[i]) i++;
    if (i < n) continue;
    /* The Rss: line of this entry. */
    for (size_t q = p; q + 4 < len; q++) {
      if (filebuf[q] == '\n' && filebuf[q + 1] == 'R' && filebuf[q + 2] == 's' && filebuf[q + 3] == 's' &&
          filebuf[q + 4] == ':') {
        q += 5;
        while (q < len && filebuf[q] == ' ') q++;
        return filebuf[q] == '0' && filebuf[q + 1] == ' ';
      }
    }
  }
  return -1;
}

/* ---------- protection-key probe ---------- */
/* Whether the kernel maps PROT_EXEC alone with the execute-only protection key (x86-64 with
 * CR4.PKE): a read there faults with SEGV_PKUERR (4). Without keys the read succeeds on x86-64 (or
 * faults with SEGV_ACCERR where the MMU has execute-only pages). The probe takes the key the first
 * PROT_EXEC mapping of a sequence would have taken; the sequences allocate no other key. The
 * mapping is gone again before the before snapshot. */
static int probe_protection_keys(void) {
  long a = sc6(SYS_mmap, 0, PAGE, 4 /* PROT_EXEC */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (a < 0 && a > -4096) fail("probe mmap", 0);
  long v;
  int faulted = access_byte(0, (u64)a, 0, &v);
  sc2(SYS_munmap, a, PAGE);
  return faulted && fault_sig == SIGSEGV && fault_code == 4;
}

/* ---------- inherited files ---------- */
/* One line per descriptor from fd 3 up that the harness was started with (the files a sequence
 * maps): "fd <n> <st_dev> <st_ino> <st_size> <st_mode octal> <statfs f_type hex>". */
static void report_files(void) {
  static struct stat st;
  static struct statfs sf;
  for (long fd = 3; fd < 64; fd++) {
    if (sc2(SYS_fstat, fd, &st) != 0) continue;
    if (sc2(SYS_fstatfs, fd, &sf) != 0) fail("fstatfs", 0);
    out_str("fd ");
    out_u64((u64)fd);
    out_str(" ");
    out_u64((u64)st.st_dev);
    out_str(" ");
    out_u64((u64)st.st_ino);
    out_str(" ");
    out_u64((u64)st.st_size);
    out_str(" ");
    char mode[12];
    int k = 11;
    mode[k] = 0;
    u64 m = (u64)st.st_mode;
    do {
      mode[--k] = (char)('0' + (m & 7));
      m >>= 3;
    } while (m);
    out_str(mode + k);
    out_str(" ");
    out_hex((u64)sf.f_type);
    out_str("\n");
  }
}

/* ---------- main ---------- */
static void snapshot(const char *name, const char *path) {
  size_t len = read_file(path);
  out_block(name, filebuf, len);
}

#ifdef HARNESS_FORK
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif
#include "procs.h"
#endif

int main(void) {
  /* Pre-fault every static buffer so nothing is first-touched later. */
  for (size_t i = 0; i < sizeof inbuf; i += PAGE) ((volatile char *)inbuf)[i] = 0;
  for (size_t i = 0; i < sizeof outbuf; i += PAGE) ((volatile char *)outbuf)[i] = 0;
  for (size_t i = 0; i < sizeof filebuf; i += PAGE) ((volatile char *)filebuf)[i] = 0;
  for (size_t i = 0; i < sizeof results; i += PAGE) ((volatile char *)results)[i] = 0;

  /* Read the sequence from stdin. */
  size_t inlen = 0;
  for (;;) {
    if (inlen >= IN_MAX - 1) fail("sequence too large", 0);
    long n = sc3(SYS_read, 0, inbuf + inlen, IN_MAX - 1 - inlen);
    if (n < 0) fail("cannot read stdin", 0);
    if (n == 0) break;
    inlen += (size_t)n;
  }
  inbuf[inlen] = 0;
#ifdef HARNESS_FORK
  procs_prescan(inbuf);
#endif

  struct sigaction sa;
  for (size_t i = 0; i < sizeof sa; i++) ((char *)&sa)[i] = 0;
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  if (sigaction(SIGSEGV, &sa, 0) != 0 || sigaction(SIGBUS, &sa, 0) != 0) fail("sigaction", 0);
  /* One harmless access now, so the first recorded one does not differ. */
  {
    long dummy;
    if (access_byte(0, (u64)inbuf, 0, &dummy)) fail("unexpected fault", 0);
  }

  /* Metadata. */
  out_str("harness levitate-linux-harness 1\n");
  sc1(SYS_uname, &uts);
  out_block("uname_release", uts.release, slen(uts.release));
  out_block("uname_machine", uts.machine, slen(uts.machine));
  out_str("pagesize ");
  out_u64(getauxval(AT_PAGESZ));
  out_str("\n");
  out_str("personality ");
  out_hex((u64)sc1(SYS_personality, 0xffffffffUL));
  out_str("\n");
  out_str("euid ");
  out_u64((u64)sc6(SYS_geteuid, 0, 0, 0, 0, 0, 0));
  out_str("\n");
  out_file_block("meminfo", "/proc/meminfo");
  out_file_block("overcommit_memory", "/proc/sys/vm/overcommit_memory");
  out_file_block("overcommit_ratio", "/proc/sys/vm/overcommit_ratio");
  out_file_block("max_map_count", "/proc/sys/vm/max_map_count");
  out_file_block("mmap_min_addr", "/proc/sys/vm/mmap_min_addr");
  out_file_block("thp_enabled", "/sys/kernel/mm/transparent_hugepage/enabled");
  out_file_block("thp_shmem_enabled", "/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  out_block("uname_version", uts.version, slen(uts.version));
  report_files();
  {
    int z = probe_zero_page_reads();
    out_str("zero_page_reads ");
    out_str(z < 0 ? "unknown" : z ? "1" : "0");
    out_str("\n");
    out_str("protection_keys ");
    out_str(probe_protection_keys() ? "1" : "0");
    out_str("\n");
  }
  static const struct {
    const char *name;
    int res;
  } lims[] = {{"stack", 3}, {"as", 9}, {"data", 2}};
  for (int i = 0; i < 3; i++) {
    if (sc4(SYS_prlimit64, 0, lims[i].res, 0, rlim_buf) != 0) fail("prlimit64", 0);
    out_str("rlimit ");
    out_str(lims[i].name);
    out_str(" ");
    out_u64(rlim_buf[0]);
    out_str(" ");
    out_u64(rlim_buf[1]);
    out_str("\n");
  }

  /* brk(0) before the snapshot: not a sequence op. */
  initial_brk = (u64)sc1(SYS_brk, 0);
  out_str("initial_brk ");
  out_u64(initial_brk);
  out_str("\n");
  size_t stlen = read_file("/proc/self/stat");
  out_block("stat", filebuf, stlen);
  start_brk = stat_field(filebuf, stlen, 47);

#ifdef HARNESS_FORK
  procs_setup();
#endif
  /* Before snapshot: the last thing before the first op. */
  size_t mlen = read_file("/proc/self/maps");
  collect_protected(filebuf, mlen);
  out_block("maps_before", filebuf, mlen);

  /* Execute. */
  char *p = inbuf;
  while (*p) {
    char *line = p;
    while (*p && *p != '\n') p++;
    if (*p == '\n') *p++ = 0;
    cur_line = line;
    while (*line == ' ' || *line == '\t') line++;
    if (*line == 0 || *line == '#') continue;
    if (nops >= MAX_OPS) fail("too many ops", 0);
#ifdef HARNESS_FORK
    if (procs_skip(&line)) {
      nops++;
      continue;
    }
#endif

    char name[16];
    int nl = 0;
    while (*line && *line != ' ' && nl < 15) name[nl++] = *line++;
    name[nl] = 0;
    u64 a[6] = {0, 0, 0, 0, 0, 0};
    int na = 0;
    for (;;) {
      while (*line == ' ') line++;
      if (*line == 0) break;
      if (na >= 6) fail("too many args", cur_line);
      const char *s = line;
      a[na++] = parse_expr(&s);
      if (*s != ' ' && *s != 0) fail("junk after expression", cur_line);
      line = (char *)s;
    }
    int want = -1;
    if (streq(name, "mmap")) want = 6;
    else if (streq(name, "munmap")) want = 2;
    else if (streq(name, "mprotect")) want = 3;
    else if (streq(name, "brk")) want = 1;
    else if (streq(name, "mremap")) want = 5;
    else if (streq(name, "madvise")) want = 3;
    else if (streq(name, "touch")) want = na == 1 ? 1 : 2;
    else if (streq(name, "peek")) want = 1;
#ifdef HARNESS_FORK
    else if (streq(name, "fork") || streq(name, "exit")) want = 0;
#endif
    else fail("unknown op", cur_line);
    if (na != want) fail("wrong number of args", cur_line);
    if (streq(name, "touch") && na == 1) {
      a[1] = 1;
      na = 2;
    }

    /* Guard. */
    int unsafe = 0;
    if (streq(name, "mmap")) {
      /* Fixed ranges ending above TASK_SIZE are rejected (ENOMEM) before anything changes. */
      u64 alen = (a[1] + PAGE - 1) & ~(PAGE - 1);
      if ((a[3] & MAP_FIXED_) && !(a[3] & MAP_FIXED_NOREPLACE_) && alen != 0 && alen <= TASK_SIZE &&
          a[0] <= TASK_SIZE - alen)
        unsafe = range_unsafe(a[0], a[1]);
    } else if (streq(name, "munmap")) {
      /* munmap rejects start > TASK_SIZE and len > TASK_SIZE - start before anything else. */
      if (!(a[0] > TASK_SIZE || a[1] > TASK_SIZE - a[0])) unsafe = range_unsafe(a[0], a[1]);
    } else if (streq(name, "mprotect") || streq(name, "madvise")) {
      unsafe = range_unsafe(a[0], a[1]);
    } else if (streq(name, "mremap")) {
      /* Flag combinations mremap rejects (EINVAL) before looking at any range are harmless;
       * without MREMAP_FIXED the kernel chooses the new place itself. */
      u64 f = a[3];
      int valid = !(f & ~7UL) && !((f & 2) && !(f & 1)) && !((f & 4) && (!(f & 1) || a[1] != a[2]));
      if (valid) {
        unsafe = range_unsafe(a[0], a[1] ? a[1] : 1);
        if (f & 2) unsafe |= range_unsafe(a[4], a[2]);
      }
    } else if (streq(name, "brk")) {
      unsafe = a[0] >= start_brk && a[0] < initial_brk;
    } else { /* touch, peek */
      unsafe = intersects_protected(a[0], a[0] + 1);
    }
    if (unsafe) fail("unsafe op (would touch the harness's own mappings)", cur_line);

    long r = 0;
    int faulted = 0;
#ifdef HARNESS_FORK
    int special = procs_special(name, &r);
    if (special == 2) {
      nops++;
      continue;
    }
    if (special) {
      /* fork or exit, run by procs_special */
    } else
#endif
    if (streq(name, "mmap")) r = sc6(SYS_mmap, a[0], a[1], a[2], a[3], a[4], a[5]);
    else if (streq(name, "munmap")) r = sc2(SYS_munmap, a[0], a[1]);
    else if (streq(name, "mprotect")) r = sc3(SYS_mprotect, a[0], a[1], a[2]);
    else if (streq(name, "brk")) r = sc1(SYS_brk, a[0]);
    else if (streq(name, "mremap")) r = sc5(SYS_mremap, a[0], a[1], a[2], a[3], a[4]);
    else if (streq(name, "madvise")) r = sc3(SYS_madvise, a[0], a[1], a[2]);
    else {
      faulted = access_byte(streq(name, "touch"), a[0], a[1], &r);
    }
    results[nops] = (u64)r;

    out_str("op ");
    out_u64((u64)nops);
#ifdef HARNESS_FORK
    if (me) {
      out_str(" @");
      out_u64((u64)me);
    }
#endif
    out_str(" ");
    out_str(name);
    for (int i = 0; i < na; i++) {
      out_str(" ");
      out_hex(a[i]);
    }
    out_str(" = ");
    if (faulted) {
      out_str("fault ");
      out_str(fault_name(fault_sig, fault_code));
    } else {
      out_s64(r);
    }
    out_str("\n");
    nops++;
#ifdef HARNESS_FORK
    procs_after_op();
#endif
  }

  /* After snapshot: maps first, then smaps (neither changes the mappings). */
#ifdef HARNESS_FORK
  procs_final();
#else
  snapshot("maps_after", "/proc/self/maps");
  snapshot("smaps_after", "/proc/self/smaps");
  out_str("end ");
  out_u64((u64)nops);
  out_str("\n");
  flush_out();
  die_code(0);
#endif
}
