/*
 * exec-tree: run a command under ptrace, following every fork, vfork and clone, and print what the
 * kernel's execve built each time a task of the tree execs, at the new program's first
 * instruction: its pid, the program (/proc/PID/exe) and /proc/PID/maps.
 *
 *   exec-tree OUTPUT COMMAND [ARG...]
 *
 * The command runs with this process's environment, as it does under strace, so that run under
 * `setarch -R` beside `strace -f`, it execs the same programs with the same layouts. Output
 * (OUTPUT, so that the command keeps stdout), one exec after the other:
 *   exec PID PROGRAM
 *   block maps LENGTH
 *   <LENGTH bytes>
 * Exit status: the command's, or 2 on a tracing error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "exec-tree: %s: %s\n", what, strerror(errno));
  exit(2);
}

static char *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) die(path);
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

static void report(FILE *out, pid_t pid) {
  char path[64], exe[4096];
  snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
  ssize_t n = readlink(path, exe, sizeof exe - 1);
  if (n < 0) die(path);
  exe[n] = 0;
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  size_t len;
  char *maps = slurp(path, &len);
  fprintf(out, "exec %d %s\nblock maps %zu\n", (int)pid, exe, len);
  fwrite(maps, 1, len, out);
  free(maps);
  fflush(out);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exec-tree OUTPUT COMMAND [ARG...]\n");
    return 2;
  }
  FILE *out = fopen(argv[1], "w");
  if (out == NULL) die(argv[1]);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) _exit(126);
    raise(SIGSTOP);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");
  long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
              PTRACE_O_EXITKILL;
  if (ptrace(PTRACE_SETOPTIONS, child, 0, opts) < 0) die("PTRACE_SETOPTIONS");
  if (ptrace(PTRACE_CONT, child, 0, 0) < 0) die("PTRACE_CONT");
  int code = 0;
  for (;;) {
    pid_t pid = waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno == ECHILD) break;
      die("waitpid");
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (pid == child) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      continue;
    }
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status);
    int event = status >> 16;
    int deliver = 0;
    if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
      report(out, pid);
    } else if (sig == SIGTRAP && event != 0) {
      /* fork, vfork, clone: the new task is traced and stops by itself. */
    } else if (sig == SIGSTOP && event == 0) {
      /* A new task's first stop, or a real SIGSTOP: neither is passed on. */
    } else if (event == PTRACE_EVENT_STOP) {
      /* Group stop. */
    } else {
      deliver = sig;
    }
    ptrace(PTRACE_CONT, pid, 0, deliver);
  }
  fclose(out);
  return code;
}
