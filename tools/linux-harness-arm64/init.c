/*
 * /init of the arm64 recording initramfs (static, aarch64; built by record.ts).
 *
 * 1. Mounts devtmpfs on /dev, proc on /proc and sysfs on /sys, opens /dev/console as fds 0-2 and
 *    lowers the console log level so kernel messages do not interleave with our frames.
 * 2. Reads /seq/plan:    "runs R\n" then one sequence id per line; the sequence is /seq/<id>.txt.
 * 3. For every id, R times: fork; the child sets personality(ADDR_NO_RANDOMIZE), puts the sequence
 *    on stdin, a pipe on stdout and /tmp/stderr on stderr, opens the sequence's files (below) at
 *    fds 3, 4, ..., and execs /harness with argv {"/harness"} and an empty environment (the
 *    personality takes effect at that exec). The parent collects stdout, waits, and writes it to
 *    the console in checksummed frames.
 *    Files: /seq/<id>.files, when present, has one line per descriptor, "<r|rw> <size|-> <path>":
 *    a sized file is recreated (truncated, then extended, sparse) before every run, "-" is a
 *    device opened as it is. /tmp is a tmpfs, /huge a tmpfs mounted with huge=always.
 * 4. Prints the done frame and powers off (qemu -no-reboot then exits).
 *
 * Every console line we write is   @@LMM <crc32 of body, 8 hex> <body>\n   and body is one of
 *   H <text>                                   hello (free text, no newline)
 *   B <id> <rep>                               a run begins
 *   O <id> <rep> <k> <base64>                  k-th chunk (0-based) of the harness's stdout
 *   E <id> <rep> <k> <base64>                  k-th chunk of its stderr
 *   Z <id> <rep> <status> <outBytes> <outChunks> <outCrc> <errBytes> <errChunks>
 *                                              the run ended; status is the raw wait status
 *   X <runs>                                   all runs done
 * CRC-32 is the IEEE/zlib one. A line whose checksum does not match is garbled and ignored; a run
 * with a missing or garbled frame is incomplete, and the recorder runs that sequence again.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 3000 /* raw bytes per frame: 4000 base64 characters */
#define OUT_MAX (16 * 1024 * 1024)

static char out[OUT_MAX];
static char err[1024 * 1024];
static char plan[1024 * 1024];
static char files[16384];
static char line[8192];
static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc32(const char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ (unsigned char)p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) continue; /* EINTR/EAGAIN on the console: retry */
    p += w;
    n -= (size_t)w;
  }
}

/* Body builder. */
static size_t blen;
static char body[8192];
static void b_str(const char *s) {
  while (*s && blen < sizeof body - 1) body[blen++] = *s++;
}
static void b_u64(uint64_t v) {
  char t[24];
  int i = 23;
  t[i] = 0;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  b_str(t + i);
}
static void b_hex8(uint32_t v) {
  static const char d[] = "0123456789abcdef";
  char t[9];
  for (int i = 7; i >= 0; i--, v >>= 4) t[i] = d[v & 15];
  t[8] = 0;
  b_str(t);
}
static void b_b64(const char *p, size_t n) {
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)(unsigned char)p[i + 1] << 8;
    if (i + 2 < n) v |= (uint32_t)(unsigned char)p[i + 2];
    body[blen++] = a[(v >> 18) & 63];
    body[blen++] = a[(v >> 12) & 63];
    body[blen++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
    body[blen++] = i + 2 < n ? a[v & 63] : '=';
  }
}
static void frame(void) {
  uint32_t c = crc32(body, blen);
  size_t l = 0;
  const char *pre = "@@LMM ";
  while (*pre) line[l++] = *pre++;
  static const char d[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--) line[l + (size_t)i] = d[(c >> (4 * (7 - i))) & 15];
  l += 8;
  line[l++] = ' ';
  memcpy(line + l, body, blen);
  l += blen;
  line[l++] = '\n';
  write_all(1, line, l);
  blen = 0;
}

static size_t read_fd(int fd, char *buf, size_t cap) {
  size_t n = 0;
  for (;;) {
    if (n >= cap) return n;
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) continue;
    if (r == 0) return n;
    n += (size_t)r;
  }
}

static size_t chunks(const char *kind, const char *id, int rep, const char *p, size_t n) {
  size_t k = 0;
  for (size_t off = 0; off < n; off += CHUNK, k++) {
    size_t m = n - off < CHUNK ? n - off : CHUNK;
    b_str(kind);
    b_str(" ");
    b_str(id);
    b_str(" ");
    b_u64((uint64_t)rep);
    b_str(" ");
    b_u64(k);
    b_str(" ");
    b_b64(p + off, m);
    frame();
  }
  return k;
}

/* Opens the files of /seq/<id>.files at fds 3, 4, ... (in the child, after stdin/out/err). */
static int open_files(const char *listPath) {
  int lf = open(listPath, O_RDONLY);
  if (lf < 0) return 0;
  size_t n = read_fd(lf, files, sizeof files - 1);
  close(lf);
  files[n] = 0;
  int count = 0;
  char *p = files;
  while (*p) {
    char *l = p;
    while (*p && *p != '\n') p++;
    if (*p) *p++ = 0;
    if (*l == 0) continue;
    int rw = l[0] == 'r' && l[1] == 'w';
    while (*l && *l != ' ') l++;
    while (*l == ' ') l++;
    long size = -1;
    if (*l != '-') {
      size = 0;
      while (*l >= '0' && *l <= '9') size = size * 10 + (*l++ - '0');
    } else {
      l++;
    }
    while (*l == ' ') l++;
    if (size >= 0) {
      int c = open(l, O_RDWR | O_CREAT | O_TRUNC, 0644);
      if (c < 0 || ftruncate(c, size) != 0) _exit(122);
      close(c);
    }
    int fd = open(l, rw ? O_RDWR : O_RDONLY);
    if (fd < 0 || dup2(fd, 32 + count) < 0) _exit(123);
    close(fd);
    count++;
  }
  for (int i = 0; i < count; i++) {
    if (dup2(32 + i, 3 + i) < 0) _exit(124);
    close(32 + i);
  }
  return count;
}

static void run(const char *id, int rep) {
  char path[256];
  char list[256];
  size_t pl = 0;
  const char *pre = "/seq/";
  while (*pre) path[pl++] = *pre++;
  for (const char *s = id; *s && pl < 240; s++) path[pl++] = *s;
  memcpy(list, path, pl);
  memcpy(path + pl, ".txt", 5);
  memcpy(list + pl, ".files", 7);

  b_str("B ");
  b_str(id);
  b_str(" ");
  b_u64((uint64_t)rep);
  frame();

  int pfd[2];
  if (pipe(pfd) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    personality(ADDR_NO_RANDOMIZE);
    int in = open(path, O_RDONLY);
    int e = open("/tmp/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || e < 0) _exit(120);
    dup2(in, 0);
    dup2(pfd[1], 1);
    dup2(e, 2);
    close(in);
    close(e);
    close(pfd[0]);
    close(pfd[1]);
    int nfiles = open_files(list);
    for (int fd = 3 + nfiles; fd < 64; fd++) close(fd);
    char *argv[] = {(char *)"/harness", 0};
    char *envp[] = {0};
    execve("/harness", argv, envp);
    _exit(121);
  }
  close(pfd[1]);
  size_t n = read_fd(pfd[0], out, sizeof out);
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  size_t en = 0;
  int efd = open("/tmp/stderr", O_RDONLY);
  if (efd >= 0) {
    en = read_fd(efd, err, sizeof err);
    close(efd);
  }
  size_t ok = chunks("O", id, rep, out, n);
  size_t ek = chunks("E", id, rep, err, en);
  b_str("Z ");
  b_str(id);
  b_str(" ");
  b_u64((uint64_t)rep);
  b_str(" ");
  b_u64((uint64_t)(unsigned)status);
  b_str(" ");
  b_u64(n);
  b_str(" ");
  b_u64(ok);
  b_str(" ");
  b_hex8(crc32(out, n));
  b_str(" ");
  b_u64(en);
  b_str(" ");
  b_u64(ek);
  frame();
}

int main(void) {
  crc_init();
  mkdir("/dev", 0755);
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/tmp", 01777);
  mkdir("/huge", 01777);
  mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
  mount("tmpfs", "/tmp", "tmpfs", 0, 0);
  mount("tmpfs", "/huge", "tmpfs", 0, "huge=always");
  mount("proc", "/proc", "proc", 0, 0);
  mount("sysfs", "/sys", "sysfs", 0, 0);
  int c = open("/dev/console", O_RDWR);
  if (c >= 0) {
    dup2(c, 0);
    dup2(c, 1);
    dup2(c, 2);
    if (c > 2) close(c);
  }
  int pk = open("/proc/sys/kernel/printk", O_WRONLY);
  if (pk >= 0) {
    write_all(pk, "1 4 1 7\n", 8);
    close(pk);
  }
  write_all(1, "\n", 1);
  b_str("H levitate-mm arm64 recorder init 1");
  frame();

  int pf = open("/seq/plan", O_RDONLY);
  size_t n = pf >= 0 ? read_fd(pf, plan, sizeof plan - 1) : 0;
  plan[n] = 0;
  int runs = 1;
  char *p = plan;
  if (strncmp(p, "runs ", 5) == 0) {
    runs = 0;
    p += 5;
    while (*p >= '0' && *p <= '9') runs = runs * 10 + (*p++ - '0');
    while (*p && *p != '\n') p++;
    if (*p) p++;
  }
  uint64_t total = 0;
  while (*p) {
    char *id = p;
    while (*p && *p != '\n') p++;
    if (*p) *p++ = 0;
    if (*id == 0) continue;
    for (int r = 0; r < runs; r++, total++) run(id, r);
  }
  b_str("X ");
  b_u64(total);
  frame();
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}
