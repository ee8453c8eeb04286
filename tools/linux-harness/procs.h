/*
 * Several processes for the harness (compiled only with -DHARNESS_FORK; see README.md,
 * "Sequences with fork").
 *
 * A sequence line may start with `@N ` to say that process N runs it (no tag: process 0, the one
 * started). `fork` makes process N+1... (numbered in the order of the fork lines) a copy of the
 * process that runs it, `exit` ends the process that runs it. Every process reads the whole
 * sequence, skips the lines of the others and runs its own in sequence order: a token passed through
 * one pipe per process says whose turn it is. The token carries the results of every op so far, so
 * `$N` means the same in every process, and, after an `exit`, the pid of the process that left,
 * whose end the next one waits for (pidfd), so that the address space is gone before anyone
 * goes on. Output is written only by the token holder, flushed before the token moves, so the
 * stdout stream is in sequence order. At the end every live process, in number order, prints its
 * maps (`maps_after@N`, `smaps_after@N`; process 0 keeps the plain names) and the last one prints
 * `end`. Process 0 is a child subreaper and waits for every descendant. A fork the kernel refuses
 * gives its -errno as the result; the number it would have had is used up.
 *
 * Everything here is decided from the sequence text before the first op, so every process knows
 * who runs which op without asking.
 */
#define MAX_PROCS 16
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static int me;                    /* this process's number */
static int nprocs = 1;            /* 1 + the number of fork lines */
static int n_total;               /* ops in the sequence */
static int op_proc[MAX_OPS];      /* the process that runs op i */
static int fork_child[MAX_OPS];   /* for a fork op, the process it creates */
static int exit_op[MAX_PROCS];    /* the op at which process p exits, or -1 */
static int pipe_rd[MAX_PROCS], pipe_wr[MAX_PROCS];
static long group_leader;         /* process 0: its pid is the process group of every process */

/* The token: how many ops are done, the pid of a process that just exited (or 0), then results. */
static u64 token_head[2];

static void procs_abort(void) {
  if (nprocs > 1 && group_leader > 0) sc2(SYS_kill, -group_leader, SIGKILL);
}

/* "@N " at the start of a line: N, and the rest of the line; -1 when there is no tag. */
static int take_tag(const char **sp) {
  const char *s = *sp;
  if (*s != '@') return -1;
  s++;
  if (*s < '0' || *s > '9') fail("bad process tag", cur_line);
  int n = 0;
  while (*s >= '0' && *s <= '9') n = n * 10 + (*s++ - '0');
  if (*s != ' ') fail("bad process tag", cur_line);
  while (*s == ' ') s++;
  *sp = s;
  return n;
}

static int is_word(const char *s, const char *w) {
  while (*w && *s == *w) s++, w++;
  return *w == 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == 0);
}

/* Reads the sequence once, without changing it, to learn who runs which op. */
static void procs_prescan(const char *in) {
  for (int p = 0; p < MAX_PROCS; p++) exit_op[p] = -1;
  const char *p = in;
  while (*p) {
    const char *line = p;
    while (*p && *p != '\n') p++;
    if (*p == '\n') p++;
    cur_line = line;
    while (*line == ' ' || *line == '\t') line++;
    if (*line == '\n' || *line == 0 || *line == '#') continue;
    if (n_total >= MAX_OPS) fail("too many ops", 0);
    int proc = take_tag(&line);
    if (proc < 0) proc = 0;
    if (proc >= nprocs || exit_op[proc] >= 0) fail("op for a process that does not exist", cur_line);
    op_proc[n_total] = proc;
    fork_child[n_total] = -1;
    if (is_word(line, "fork")) {
      if (nprocs >= MAX_PROCS) fail("too many processes", 0);
      fork_child[n_total] = nprocs++;
    } else if (is_word(line, "exit")) {
      if (proc == 0) fail("process 0 cannot exit", cur_line);
      exit_op[proc] = n_total;
    }
    n_total++;
  }
}

/* Before the snapshot: one pipe per process, a process group to kill on failure, the subreaper. */
static void procs_setup(void) {
  if (nprocs == 1) return;
  group_leader = sc6(SYS_getpid, 0, 0, 0, 0, 0, 0);
  if (sc2(SYS_setpgid, 0, 0) != 0) fail("setpgid", 0);
  if (sc2(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1) != 0) fail("prctl(PR_SET_CHILD_SUBREAPER)", 0);
  for (int p = 0; p < nprocs; p++) {
    int fds[2];
    if (sc2(SYS_pipe2, fds, 0) != 0) fail("pipe2", 0);
    pipe_rd[p] = fds[0];
    pipe_wr[p] = fds[1];
  }
}

static void write_all(int fd, const void *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    long n = sc3(SYS_write, fd, (const char *)buf + off, len - off);
    if (n <= 0) fail("token write", 0);
    off += (size_t)n;
  }
}

static void read_all(int fd, void *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    long n = sc3(SYS_read, fd, (char *)buf + off, len - off);
    if (n <= 0) fail("token read", 0);
    off += (size_t)n;
  }
}

static void send_token(int to, long exited_pid) {
  flush_out();
  token_head[0] = (u64)nops;
  token_head[1] = (u64)exited_pid;
  write_all(pipe_wr[to], token_head, sizeof token_head);
  write_all(pipe_wr[to], results, (size_t)nops * sizeof results[0]);
}

/* Waits until the process `pid` has exited (so its address space is torn down). */
static void wait_gone(long pid) {
  long fd = sc2(SYS_pidfd_open, pid, 0);
  if (fd < 0) return; /* already reaped */
  struct {
    int fd;
    short events, revents;
  } pfd = {(int)fd, 1 /* POLLIN */, 0};
  while (sc5(SYS_ppoll, &pfd, 1, 0, 0, 8) != 1) {
  }
  sc1(SYS_close, fd);
}

static void await_token(void) {
  read_all(pipe_rd[me], token_head, sizeof token_head);
  if (token_head[0] > MAX_OPS) fail("bad token", 0);
  read_all(pipe_rd[me], results, (size_t)token_head[0] * sizeof results[0]);
  if (token_head[1] != 0) wait_gone((long)token_head[1]);
}

/* At the start of op `nops`: takes the tag off the line; 1 if another process runs the op. */
static int procs_skip(char **line) {
  if (nops >= n_total) fail("sequence changed", 0);
  take_tag((const char **)line);
  if (op_proc[nops] != me) return 1;
  if (nops > 0 && op_proc[nops - 1] != me) await_token();
  return 0;
}

/* Runs fork and exit: 0 for any other op, 1 when done here, 2 in the new child (prints nothing). */
static int procs_special(const char *name, long *r) {
  if (streq(name, "exit")) {
    *r = 0;
    return 1;
  }
  if (!streq(name, "fork")) return 0;
  flush_out();
  long pid = sc5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    /* A refused fork (ENOMEM from dup_mmap, say) is a result like any other: the process it would
     * have made counts as gone, and the sequence may not give it ops. */
    int child = fork_child[nops];
    for (int i = nops + 1; i < n_total; i++)
      if (op_proc[i] == child) fail("ops for the process of a failed fork", cur_line);
    exit_op[child] = nops;
    *r = pid;
    return 1;
  }
  if (pid == 0) {
    me = fork_child[nops];
    return 2;
  }
  *r = fork_child[nops];
  return 1;
}

/* After op `nops - 1` ran here: hands the token on when the next op (or the end) is another's. */
static void procs_after_op(void) {
  int exiting = exit_op[me] == nops - 1;
  int next = nops < n_total ? op_proc[nops] : 0;
  if (next != me || exiting) send_token(next, exiting ? sc6(SYS_getpid, 0, 0, 0, 0, 0, 0) : 0);
  if (exiting) die_code(0);
}

static int proc_alive(int p) { return p < nprocs && exit_op[p] < 0; }

/* The end: every live process in turn prints its maps; then each waits for its children. */
static void procs_final(void) {
  if (me != 0 || (n_total > 0 && op_proc[n_total - 1] != 0)) await_token();
  char name[32];
  for (int k = 0; k < 2; k++) {
    const char *base = k ? "smaps_after" : "maps_after";
    int len = 0;
    while (base[len]) name[len] = base[len], len++;
    if (me != 0) {
      name[len++] = '@';
      if (me >= 10) name[len++] = (char)('0' + me / 10);
      name[len++] = (char)('0' + me % 10);
    }
    name[len] = 0;
    snapshot(name, k ? "/proc/self/smaps" : "/proc/self/maps");
  }
  int next = me + 1;
  while (next < nprocs && !proc_alive(next)) next++;
  if (next < nprocs) {
    send_token(next, 0);
  } else {
    out_str("end ");
    out_u64((u64)nops);
    out_str("\n");
    flush_out();
  }
  int bad = 0, status = 0;
  while (sc4(SYS_wait4, -1, &status, 0x40000000 /* __WALL */, 0) > 0)
    if (status != 0) bad = 1;
  die_code(bad ? 3 : 0);
}
