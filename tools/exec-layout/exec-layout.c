/*
 * exec-layout: run one execve under ptrace and print what the kernel built, at the new program's
 * first instruction.
 *
 *   exec-layout [-e NAME=VALUE]... [-E COUNT:LEN:CHAR] [-A COUNT:LEN:CHAR] [-0 ARGV0 | -n]
 *               PATH [ARG...]
 *
 * The child asks to be traced (PTRACE_TRACEME) and calls execve(PATH, {ARGV0 or PATH, ARG...},
 * {the -e strings, in order}): exactly those strings, nothing inherited, so the initial stack is a
 * function of the command line alone. `-n` passes an empty argv (the kernel then adds "").
 * `-A` and `-E` append COUNT generated strings of LEN bytes of CHAR to argv and envp. A traced
 * task stops with SIGTRAP right after a successful execve, before its first user instruction; the parent then copies /proc/PID/{maps,smaps,stat,
 * cmdline,environ,auxv} and the stack pointer, and kills the child. When execve fails, the child reports its errno
 * through a pipe and exits; the output then says `errno N` and nothing else.
 *
 * Output (stdout), one item per line, blocks as `block NAME LENGTH` followed by LENGTH bytes and a
 * newline:
 *   exec-layout 1
 *   kernel RELEASE
 *   errno N                     (0 on success)
 *   signal N                    (instead of errno: the exec failed past its point of no return)
 *   sp 0x...                    (the stack pointer at the first instruction)
 *   block maps|smaps|stat|cmdline|environ|auxv-hex ...
 * With no arguments at all, the arguments are read from stdin, one per line.
 * Run it under `setarch -R` so nothing is randomized. Exit status 0 when the exec was observed
 * (successful or not), 2 on a usage or tracing error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <elf.h>
#endif

#define MAX_STRINGS 1024

/* Appends COUNT strings of LEN bytes of CHAR ("COUNT:LEN:CHAR") to list, for sizes no command line carries. */
static int generate(char **list, int n, const char *spec) {
  unsigned count, len;
  char c;
  if (sscanf(spec, "%u:%u:%c", &count, &len, &c) != 3 || n + count > MAX_STRINGS) {
    fprintf(stderr, "exec-layout: bad generated strings %s\n", spec);
    exit(2);
  }
  for (unsigned k = 0; k < count; k++) {
    char *s = malloc(len + 1);
    memset(s, c, len);
    s[len] = 0;
    list[n++] = s;
  }
  return n;
}

static void die(const char *what) {
  fprintf(stderr, "exec-layout: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* All of fd, which is then closed. */
static char *slurp_fd(int fd, const char *what, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) die(what);
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

static char *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  return slurp_fd(fd, path, len);
}

static void block(const char *name, const char *data, size_t len) {
  printf("block %s %zu\n", name, len);
  fwrite(data, 1, len, stdout);
  putchar('\n');
}

static void proc_block(pid_t pid, const char *file) {
  char path[64];
  size_t len;
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  char *data = slurp(path, &len);
  block(file, data, len);
  free(data);
}

static void auxv_block(pid_t pid) {
  char path[64];
  size_t len;
  snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
  unsigned char *data = (unsigned char *)slurp(path, &len);
  char *hex = malloc(len * 2 + 1);
  for (size_t i = 0; i < len; i++) sprintf(hex + 2 * i, "%02x", data[i]);
  block("auxv-hex", hex, len * 2);
  free(hex);
  free(data);
}

static unsigned long stack_pointer(pid_t pid) {
#if defined(__x86_64__)
  struct user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0) die("PTRACE_GETREGS");
  return regs.rsp;
#elif defined(__aarch64__)
  struct user_regs_struct regs;
  struct iovec iov = {&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0) die("PTRACE_GETREGSET");
  return regs.sp;
#else
#error "exec-layout knows the stack pointer of x86_64 and aarch64 only"
#endif
}

/* With no arguments, they come from stdin, one per line (the qemu guest's /init passes them so). */
static char **arguments_from_stdin(int *argc, char *argv0) {
  size_t len;
  char *text = slurp_fd(0, "stdin", &len);
  char **out = malloc(sizeof(char *) * (MAX_STRINGS + 2));
  int n = 0;
  out[n++] = argv0;
  for (size_t at = 0; at < len && n <= MAX_STRINGS;) {
    char *nl = memchr(text + at, '\n', len - at);
    size_t end = nl ? (size_t)(nl - text) : len;
    text[end] = 0;
    out[n++] = text + at;
    at = end + 1;
  }
  out[n] = NULL;
  *argc = n;
  return out;
}

int main(int argc, char **argv) {
  if (argc == 1) argv = arguments_from_stdin(&argc, argv[0]);
  char *envp[MAX_STRINGS + 1];
  int envc = 0;
  const char *argv0 = NULL;
  int no_argv = 0;
  const char *gen_argv = NULL, *gen_env = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "-e") == 0 && i + 1 < argc && envc < MAX_STRINGS) {
      envp[envc++] = argv[++i];
    } else if (strcmp(argv[i], "-0") == 0 && i + 1 < argc) {
      argv0 = argv[++i];
    } else if (strcmp(argv[i], "-n") == 0) {
      no_argv = 1;
    } else if (strcmp(argv[i], "-A") == 0 && i + 1 < argc) {
      gen_argv = argv[++i];
    } else if (strcmp(argv[i], "-E") == 0 && i + 1 < argc) {
      gen_env = argv[++i];
    } else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else {
      break;
    }
  }
  if (gen_env) envc = generate(envp, envc, gen_env);
  envp[envc] = NULL;
  if (i >= argc) {
    fprintf(stderr, "usage: exec-layout [-e NAME=VALUE]... [-0 ARGV0 | -n] PATH [ARG...]\n");
    return 2;
  }
  const char *path = argv[i];
  char *cargv[MAX_STRINGS + 1];
  int cargc = 0;
  cargv[cargc++] = (char *)(argv0 ? argv0 : path);
  for (int j = i + 1; j < argc && cargc < MAX_STRINGS; j++) cargv[cargc++] = argv[j];
  if (gen_argv) cargc = generate(cargv, cargc, gen_argv);
  cargv[cargc] = NULL;
  if (no_argv) cargv[0] = NULL;

  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) die("pipe2");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(report[0]);
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) _exit(126);
    execve(path, cargv, envp);
    int err = errno;
    if (write(report[1], &err, sizeof err) != sizeof err) _exit(126);
    _exit(127);
  }
  close(report[1]);
  int status;
  if (waitpid(pid, &status, 0) < 0) die("waitpid");
  struct utsname uts;
  uname(&uts);
  printf("exec-layout 1\n");
  printf("kernel %s\n", uts.release);
  if (WIFEXITED(status)) {
    int err = 0;
    if (read(report[0], &err, sizeof err) != sizeof err) {
      fprintf(stderr, "exec-layout: child exited with %d before exec\n", WEXITSTATUS(status));
      return 2;
    }
    printf("errno %d\n", err);
    return 0;
  }
  /* A failure past execve's point of no return kills the task: SIGSEGV, which cannot be caught. */
  if (WIFSIGNALED(status)) {
    printf("signal %d\n", WTERMSIG(status));
    return 0;
  }
  if (WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP) {
    printf("signal %d\n", WSTOPSIG(status));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
  }
  if (!WIFSTOPPED(status)) {
    fprintf(stderr, "exec-layout: unexpected child status 0x%x\n", status);
    kill(pid, SIGKILL);
    return 2;
  }
  printf("errno 0\n");
  printf("sp 0x%lx\n", stack_pointer(pid));
  proc_block(pid, "maps");
  proc_block(pid, "smaps");
  proc_block(pid, "stat");
  proc_block(pid, "cmdline");
  proc_block(pid, "environ");
  auxv_block(pid);
  fflush(stdout);
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return 0;
}
