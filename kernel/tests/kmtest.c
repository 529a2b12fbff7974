// Guest tests of kmview.ko: each test forks a tracee that attaches itself to a tracer fd of this
// process, does something, and reports what it observed through its exit status (0 = all it saw
// was right, else the line of the first wrong observation). The tracer side asserts on events.
// Prints "PASS name" / "FAIL name: why"; exits 1 if anything failed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmview.h"

static int failures;
static char why[256];

#define CHECK(c)                                              \
  do {                                                        \
    if (!(c)) {                                               \
      snprintf(why, sizeof why, "line %d: %s", __LINE__, #c); \
      return 1;                                               \
    }                                                         \
  } while (0)
#define TRACEE_CHECK(c)                  \
  do {                                   \
    if (!(c)) _exit(__LINE__ % 250 + 1); \
  } while (0)

static int tracer(const int* nrs, int n, unsigned flags) {
  int fd = open(KMVIEW_DEVICE, O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct kmview_config c = {.flags = flags};
  for (int i = 0; i < n; i++) c.bitmap[nrs[i] / 64] |= 1ULL << (nrs[i] % 64);
  if (ioctl(fd, KMVIEW_IOC_CONFIG, &c) != 0) return -1;
  return fd;
}

// Forks a tracee attached to fds[0..n) (in that order) that runs fn and exits with its result.
static pid_t spawn(const int* fds, int n, int (*fn)(void*), void* arg) {
  pid_t p = fork();
  if (p == 0) {
    for (int i = 0; i < n; i++) {
      if (ioctl(fds[i], KMVIEW_IOC_ATTACH_SELF) != 0) _exit(200);
    }
    for (int i = 0; i < n; i++) close(fds[i]);  // the tracer must not outlive its file in us
    _exit(fn(arg));
  }
  return p;
}

// The next event, or type 0 after 20 s.
static struct kmview_event next(int fd) {
  struct kmview_event ev = {0};
  struct pollfd pfd = {fd, POLLIN, 0};
  if (poll(&pfd, 1, 20000) == 1 && read(fd, &ev, sizeof ev) != sizeof ev) ev.type = 0;
  return ev;
}

// The next stop event (skips thread/exec events).
static struct kmview_event next_stop(int fd) {
  for (;;) {
    struct kmview_event ev = next(fd);
    if (ev.type == 0 || ev.type == KMVIEW_EV_SYSCALL_ENTRY || ev.type == KMVIEW_EV_SYSCALL_EXIT ||
        ev.type == KMVIEW_EV_THREAD_EXIT)
      return ev;
  }
}

static int reply(int fd, const struct kmview_event* ev, unsigned action, long value) {
  struct kmview_reply r = {.tid = ev->tid, .action = action, .seq = ev->seq, .value = value};
  return ioctl(fd, KMVIEW_IOC_REPLY, &r);
}

// Reaps p; its exit status must be 0 (the tracee saw what it should).
static int reaped_ok(pid_t p) {
  int st;
  if (waitpid(p, &st, 0) != p) return 0;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    snprintf(why, sizeof why, "tracee status 0x%x (exit code = line %d)", st, WEXITSTATUS(st));
    return 0;
  }
  return 1;
}

static void run(const char* name, int (*t)(void)) {
  why[0] = 0;
  int r = t();
  if (r == 0) {
    printf("PASS %s\n", name);
  } else {
    printf("FAIL %s: %s\n", name, why);
    failures++;
  }
  fflush(stdout);
}

// ---- SYSVM outcomes ---------------------------------------------------------------------

static int t_getppid(void* a) {
  TRACEE_CHECK(syscall(SYS_getppid) == (long)(intptr_t)a);
  return 0;
}
static int test_run_unchanged(void) {
  int nr = SYS_getppid, fd = tracer(&nr, 1, 0);
  CHECK(fd >= 0);
  pid_t p = spawn(&fd, 1, t_getppid, (void*)(intptr_t)getpid());
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getppid && ev.tid == p);
  CHECK(ev.arch == 0xc000003e && ev.ip != 0 && ev.sp != 0);
  CHECK(reply(fd, &ev, KMVIEW_RUN, 0) == 0);
  CHECK(reply(fd, &ev, KMVIEW_RUN, 0) != 0);  // a stop takes one reply
  ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_THREAD_EXIT && ev.tid == p && WIFEXITED(ev.status));
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

static int t_skip(void* a) {
  TRACEE_CHECK(syscall(SYS_getpid) == 4242);
  errno = 0;
  TRACEE_CHECK(syscall(SYS_getpid) == -1 && errno == EPERM);
  return 0;
}
static int test_skip(void) {
  int nr = SYS_getpid, fd = tracer(&nr, 1, 0);
  pid_t p = spawn(&fd, 1, t_skip, NULL);
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getpid);
  CHECK(reply(fd, &ev, KMVIEW_SKIP, 4242) == 0);
  ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getpid);
  CHECK(reply(fd, &ev, KMVIEW_SKIP, -EPERM) == 0);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);  // a skip has no exit event
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

static int t_rewrite_nr(void* a) {
  TRACEE_CHECK(syscall(SYS_getppid) == getpid());           // ran as getpid (getpid not trapped)
  TRACEE_CHECK(syscall(SYS_getppid) == 77);                 // exit value changed
  TRACEE_CHECK(syscall(SYS_getppid) == (long)(intptr_t)a);  // exit reported, value kept
  return 0;
}
static int test_rewrite_nr_and_exit(void) {
  int nr = SYS_getppid, fd = tracer(&nr, 1, 0);
  pid_t p = spawn(&fd, 1, t_rewrite_nr, (void*)(intptr_t)getpid());
  struct kmview_event ev = next_stop(fd);
  struct kmview_reply r = {.tid = ev.tid,
                           .seq = ev.seq,
                           .action = KMVIEW_RUN,
                           .change = KMVIEW_REPLY_NR,
                           .nr = SYS_getpid};
  CHECK(ioctl(fd, KMVIEW_IOC_REPLY, &r) == 0);
  ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getppid);
  CHECK(reply(fd, &ev, KMVIEW_RUN_REPORT_EXIT, 0) == 0);
  ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_EXIT && ev.ret == getpid());
  CHECK(reply(fd, &ev, KMVIEW_SET_RETURN, 77) == 0);
  ev = next_stop(fd);
  CHECK(reply(fd, &ev, KMVIEW_RUN_REPORT_EXIT, 0) == 0);
  ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_EXIT && reply(fd, &ev, KMVIEW_KEEP_RETURN, 0) == 0);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// Arguments rewritten to a path the tracer put in the (read-only) scratch area.
static int t_open_rewrite(void* a) {
  int fd = open("/nonexistent-kmview", O_RDONLY);
  TRACEE_CHECK(fd >= 0);
  char buf[16] = {0};
  TRACEE_CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
  return 0;
}
static int test_arg_rewrite_scratch(void) {
  int fdw = open("/tmp/kmview-hello", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fdw >= 0 && write(fdw, "hello", 5) == 5);
  close(fdw);
  int nr = SYS_openat, fd = tracer(&nr, 1, KMVIEW_CFG_SCRATCH);
  pid_t p = spawn(&fd, 1, t_open_rewrite, NULL);
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_openat);
  CHECK(ev.scratch != 0 && ev.scratch_size >= 4096);
  char path[64];
  struct kmview_mem m = {KMVIEW_MEM_STRING, ev.tid, ev.args[1], (uintptr_t)path, sizeof path};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) == 0 && m.result == 19);
  CHECK(strcmp(path, "/nonexistent-kmview") == 0);
  const char* real = "/tmp/kmview-hello";
  m = (struct kmview_mem){KMVIEW_MEM_WRITE, ev.tid, ev.scratch, (uintptr_t)real, strlen(real) + 1};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) == 0 && m.result == (long)strlen(real) + 1);
  struct kmview_reply r = {
      .tid = ev.tid, .seq = ev.seq, .action = KMVIEW_RUN, .change = KMVIEW_REPLY_ARGS};
  memcpy(r.args, ev.args, sizeof r.args);
  r.args[1] = ev.scratch;
  CHECK(ioctl(fd, KMVIEW_IOC_REPLY, &r) == 0);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// ---- memory -----------------------------------------------------------------------------

// Two pages: the first ends with "edge\0", the second is unmapped. args: the page, and where the
// tracer writes.
static int t_memory(void* a) {
  long pg = sysconf(_SC_PAGESIZE);
  char* m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  TRACEE_CHECK(m != MAP_FAILED && munmap(m + pg, pg) == 0);
  memset(m, 'x', pg);
  memcpy(m + pg - 5, "edge", 5);
  syscall(SYS_getppid, m, m + pg - 5, m + pg - 3);
  TRACEE_CHECK(memcmp(m, "WRITTEN", 7) == 0);
  return 0;
}
static int test_memory_boundaries(void) {
  int nr = SYS_getppid, fd = tracer(&nr, 1, 0);
  pid_t p = spawn(&fd, 1, t_memory, NULL);
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY);
  uint64_t page = ev.args[0], edge = ev.args[1];
  long pg = sysconf(_SC_PAGESIZE);
  char buf[8192];
  struct kmview_mem m = {KMVIEW_MEM_STRING, ev.tid, edge, (uintptr_t)buf, 4096};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) == 0 && m.result == 4 && strcmp(buf, "edge") == 0);
  m = (struct kmview_mem){KMVIEW_MEM_STRING, ev.tid, edge, (uintptr_t)buf, 3};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) != 0 && m.result == -ENAMETOOLONG);
  m = (struct kmview_mem){KMVIEW_MEM_READ, ev.tid, page, (uintptr_t)buf, pg};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) == 0 && m.result == pg && buf[0] == 'x');
  m = (struct kmview_mem){KMVIEW_MEM_READ, ev.tid, page + 10, (uintptr_t)buf, pg};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) != 0 && errno == EFAULT && m.result == -EFAULT);
  m = (struct kmview_mem){KMVIEW_MEM_STRING, ev.tid, page + pg, (uintptr_t)buf, 100};
  CHECK(ioctl(fd, KMVIEW_IOC_MEM, &m) != 0 && m.result == -EFAULT);
  // MULTI: a write, a read of it, a bad read, and the reply, in order, per-op results.
  char got[8] = {0};
  struct kmview_mem ops[3] = {
      {KMVIEW_MEM_WRITE, ev.tid, page, (uintptr_t) "WRITTEN", 7},
      {KMVIEW_MEM_READ, ev.tid, page, (uintptr_t)got, 7},
      {KMVIEW_MEM_READ, ev.tid, page + pg, (uintptr_t)buf, 8},
  };
  struct kmview_multi mu = {.ops = (uintptr_t)ops, .nops = 3, .has_reply = 1};
  mu.reply = (struct kmview_reply){.tid = ev.tid, .seq = ev.seq, .action = KMVIEW_RUN};
  CHECK(ioctl(fd, KMVIEW_IOC_MULTI, &mu) == 0);
  CHECK(ops[0].result == 7 && ops[1].result == 7 && memcmp(got, "WRITTEN", 7) == 0);
  CHECK(ops[2].result == -EFAULT && mu.reply_result == 0);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// ---- filters ----------------------------------------------------------------------------

static int t_mixed(void* a) {
  for (int i = 0; i < 100; i++) {
    syscall(SYS_getppid);
    syscall(SYS_getpid);
  }
  return 0;
}
// Answers every stop with RUN; counts entry events until the tracee exits.
static int drain(int fd, int* entries) {
  *entries = 0;
  for (;;) {
    struct kmview_event ev = next(fd);
    if (ev.type == 0) return -1;
    if (ev.type == KMVIEW_EV_THREAD_EXIT) return 0;
    if (ev.type == KMVIEW_EV_SYSCALL_ENTRY) {
      ++*entries;
      reply(fd, &ev, KMVIEW_RUN, 0);
    }
  }
}
static int test_bitmap(void) {
  int nr = SYS_getpid, fd = tracer(&nr, 1, 0), n;
  pid_t p = spawn(&fd, 1, t_mixed, NULL);
  CHECK(drain(fd, &n) == 0 && n == 100);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

static int t_paths(void* a) {
  struct stat st;
  for (int i = 0; i < 50; i++) stat("/etc/passwd", &st);          // outside: no event
  for (int i = 0; i < 20; i++) stat("/view/file", &st);           // inside
  for (int i = 0; i < 10; i++) stat("/viewless", &st);            // outside ("/view" + more)
  for (int i = 0; i < 4; i++) stat("//view/./file", &st);         // inside, once normalized
  for (int i = 0; i < 2; i++) stat("/etc/../view/file", &st);     // "..": reported
  for (int i = 0; i < 6; i++) stat("/etc/./passwd", &st);         // outside
  for (int i = 0; i < 3; i++) stat("/src/file", &st);             // base-only prefix: outside
  TRACEE_CHECK(chdir("/src") == 0);
  for (int i = 0; i < 2; i++) fstatat(AT_FDCWD, "file", &st, 0);  // through the cwd: inside
  TRACEE_CHECK(chdir("/view") == 0);                              // chdir: inside (1)
  for (int i = 0; i < 5; i++) fstatat(AT_FDCWD, "file", &st, 0);  // relative, inside
  for (int i = 0; i < 3; i++) fstatat(AT_FDCWD, "../etc/passwd", &st, 0);  // "..": reported
  int d = open("/etc", O_RDONLY | O_DIRECTORY);                            // outside
  for (int i = 0; i < 7; i++) fstatat(d, "passwd", &st, 0);                // dirfd outside
  return 0;
}
static int test_path_prefilter(void) {
  int nrs[] = {SYS_stat, SYS_newfstatat, SYS_chdir, SYS_openat}, n;
  int fd = tracer(nrs, 4, 0);
  static const char prefixes[] = "/view\0/mnt/x\0=/src";
  struct kmview_prefixes px = {(uintptr_t)prefixes, sizeof prefixes, 0};
  CHECK(ioctl(fd, KMVIEW_IOC_PREFIXES, &px) == 0);
  mkdir("/view", 0755);
  mkdir("/src", 0755);
  close(open("/view/file", O_CREAT | O_WRONLY, 0644));
  close(open("/src/file", O_CREAT | O_WRONLY, 0644));
  pid_t p = spawn(&fd, 1, t_paths, NULL);
  CHECK(drain(fd, &n) == 0);
  snprintf(why, sizeof why, "entries %d, expected 37", n);
  CHECK(n == 20 + 4 + 2 + 2 + 1 + 5 + 3);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// The walk cache (kmv_walk_cached): a directory found free of symlinks is not walked again for
// 50 ms, yet a symlink put on the way by a traced task is seen at once, one the host puts there
// after the cache expired too, and the cached directory does not keep its mount busy. Prefix
// /view; the tracee stats paths under /wc, and a helper outside the view changes the host.
// Events expected: the link's and the three stats after a change (everything else is outside).
static int t_walk_cache(void* a) {
  int* pipes = a;  // [0]: read from the helper, [1]: write to it
  struct stat st;
  char c;
  for (int i = 0; i < 3; i++) TRACEE_CHECK(stat("/wc/d/sub/a", &st) == 0);  // cached: /wc/d/sub
  TRACEE_CHECK(stat("/wc/d/sub/ln", &st) == 0);  // a cache hit, and a link into /view: an event
  TRACEE_CHECK(rename("/wc/d", "/wc/d.old") == 0 && symlink("/view", "/wc/d") == 0);
  TRACEE_CHECK(stat("/wc/d/sub/a", &st) == 0);  // through the link into /view: an event
  TRACEE_CHECK(chdir("/wc") == 0);
  for (int i = 0; i < 3; i++) TRACEE_CHECK(stat("g/sub/a", &st) == 0);  // cached: /wc/g/sub
  TRACEE_CHECK(rename("g", "g.old") == 0 && symlink("/view", "g") == 0);
  TRACEE_CHECK(stat("g/sub/a", &st) == 0);  // an event
  for (int i = 0; i < 3; i++) TRACEE_CHECK(stat("/wc/e/sub/a", &st) == 0);
  TRACEE_CHECK(write(pipes[1], "e", 1) == 1 && read(pipes[0], &c, 1) == 1 && c == 'e');
  usleep(200 * 1000);                           // the helper's change is older than the cache
  TRACEE_CHECK(stat("/wc/e/sub/a", &st) == 0);  // an event
  TRACEE_CHECK(stat("/wc/m/d/f", &st) == 0);    // cached: /wc/m/d, on a tmpfs
  TRACEE_CHECK(write(pipes[1], "m", 1) == 1 && read(pipes[0], &c, 1) == 1);
  TRACEE_CHECK(c == 'm');  // the helper could umount it while we wait
  return 0;
}
static int test_walk_cache(void) {
  int nrs[] = {SYS_stat, SYS_newfstatat}, n, to_helper[2], from_helper[2];
  int fd = tracer(nrs, 2, 0);
  static const char prefixes[] = "/view";
  struct kmview_prefixes px = {(uintptr_t)prefixes, sizeof prefixes, 0};
  CHECK(fd >= 0 && ioctl(fd, KMVIEW_IOC_PREFIXES, &px) == 0);
  const char* dirs[] = {"/view", "/view/sub", "/wc",   "/wc/d",     "/wc/d/sub",
                        "/wc/g", "/wc/g/sub", "/wc/e", "/wc/e/sub", "/wc/m"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) mkdir(dirs[i], 0755);
  const char* files[] = {"/view/sub/a", "/wc/d/sub/a", "/wc/g/sub/a", "/wc/e/sub/a"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    close(open(files[i], O_CREAT | O_WRONLY, 0644));
  CHECK(symlink("/view/sub", "/wc/d/sub/ln") == 0);
  CHECK(mount("tmpfs", "/wc/m", "tmpfs", 0, NULL) == 0);
  CHECK(mkdir("/wc/m/d", 0755) == 0 && close(open("/wc/m/d/f", O_CREAT | O_WRONLY, 0644)) == 0);
  CHECK(pipe(to_helper) == 0 && pipe(from_helper) == 0);
  pid_t helper = fork();
  if (helper == 0) {  // not traced: its changes are the host's
    char c;
    close(fd);
    close(to_helper[1]);
    close(from_helper[0]);
    if (read(to_helper[0], &c, 1) != 1 || c != 'e') _exit(1);
    if (rename("/wc/e", "/wc/e.old") || symlink("/view", "/wc/e")) _exit(2);
    if (write(from_helper[1], "e", 1) != 1 || read(to_helper[0], &c, 1) != 1) _exit(3);
    usleep(300 * 1000);
    int r = umount2("/wc/m", 0) == 0 ? 0 : errno;
    if (write(from_helper[1], r ? "x" : "m", 1) != 1) _exit(4);
    _exit(r ? 5 : 0);
  }
  int pipes[2] = {from_helper[0], to_helper[1]};
  pid_t p = spawn(&fd, 1, t_walk_cache, pipes);
  for (int i = 0; i < 2; i++) close(to_helper[i]), close(from_helper[i]);  // EOF if one dies
  CHECK(drain(fd, &n) == 0);
  int st;
  CHECK(waitpid(helper, &st, 0) == helper);
  snprintf(why, sizeof why, "helper status 0x%x (5: umount failed, the cache kept it busy)", st);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  snprintf(why, sizeof why, "entries %d, expected 4", n);
  CHECK(n == 4);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// The descriptor prefilter (KMVIEW_IOC_FD_PREFILTER) and the empty-path rule, with prefixes
// /view and /mnt/x. Comments: events with the descriptor prefilter / with prefixes only.
static int t_fdcalls(void* a) {
  char buf[4096];
  struct stat st;
  int etc = open("/etc", O_RDONLY | O_DIRECTORY), view = open("/view", O_RDONLY | O_DIRECTORY);
  int root = open("/", O_RDONLY | O_DIRECTORY), mnt = open("/mnt", O_RDONLY | O_DIRECTORY);
  int passwd = open("/etc/passwd", O_RDONLY), pfd[2];
  TRACEE_CHECK(etc >= 0 && view >= 0 && root >= 0 && mnt >= 0 && passwd >= 0 && pipe(pfd) == 0);
  TRACEE_CHECK(syscall(SYS_getdents64, etc, buf, sizeof buf) > 0);            // outside: 0 / 1
  for (int i = 0; i < 2; i++) syscall(SYS_getdents64, etc, buf, sizeof buf);  // 0 / 2
  TRACEE_CHECK(syscall(SYS_getdents64, view, buf, sizeof buf) > 0);           // inside: 1 / 1
  syscall(SYS_getdents64, view, buf, sizeof buf);                             // 1 / 1
  TRACEE_CHECK(syscall(SYS_getdents64, root, buf, sizeof buf) > 0);           // above /view: 1 / 1
  TRACEE_CHECK(syscall(SYS_getdents64, mnt, buf, sizeof buf) > 0);            // above /mnt/x: 1 / 1
  TRACEE_CHECK(syscall(SYS_getdents64, pfd[0], buf, sizeof buf) == -1 && errno == ENOTDIR);  // 1/1
  TRACEE_CHECK(syscall(SYS_getdents64, 999, buf, sizeof buf) == -1 && errno == EBADF);  // 1 / 1
  TRACEE_CHECK(chdir("/") == 0);
  TRACEE_CHECK(syscall(SYS_getcwd, buf, sizeof buf) == 2 && !strcmp(buf, "/"));  // 0 / 1
  TRACEE_CHECK(chdir("/etc") == 0);
  for (int i = 0; i < 2; i++) TRACEE_CHECK(syscall(SYS_getcwd, buf, sizeof buf) == 5);  // 0 / 2
  TRACEE_CHECK(chdir("/view") == 0);
  for (int i = 0; i < 3; i++) TRACEE_CHECK(syscall(SYS_getcwd, buf, sizeof buf) == 6);  // 3 / 3
  // newfstatat with an empty path: decided by the dirfd's (or cwd's) own path, in both modes.
  for (int i = 0; i < 4; i++) {
    TRACEE_CHECK(syscall(SYS_newfstatat, etc, "", &st, AT_EMPTY_PATH) == 0);  // outside: 0 / 0
  }
  TRACEE_CHECK(syscall(SYS_newfstatat, passwd, "", &st, AT_EMPTY_PATH) == 0);  // file: 0 / 0
  TRACEE_CHECK(S_ISREG(st.st_mode));
  for (int i = 0; i < 2; i++) syscall(SYS_newfstatat, view, "", &st, AT_EMPTY_PATH);  // 2 / 2
  TRACEE_CHECK(syscall(SYS_newfstatat, pfd[0], "", &st, AT_EMPTY_PATH) == 0);  // a pipe: 1 / 1
  TRACEE_CHECK(S_ISFIFO(st.st_mode));
  syscall(SYS_newfstatat, AT_FDCWD, "", &st, AT_EMPTY_PATH);  // the cwd, /view: 1 / 1
  return 0;
}
static int fd_prefilter_entries(int with_fd_filter, int* n) {
  int nrs[] = {SYS_getdents64, SYS_getcwd, SYS_newfstatat};
  int fd = tracer(nrs, 3, 0);
  static const char prefixes[] = "/view\0/mnt/x";
  struct kmview_prefixes px = {(uintptr_t)prefixes, sizeof prefixes, 0};
  struct kmview_bitmap f = {{0}};
  if (fd < 0 || ioctl(fd, KMVIEW_IOC_PREFIXES, &px) != 0) return -1;
  if (with_fd_filter) {
    f.bitmap[SYS_getdents64 / 64] |= 1ULL << (SYS_getdents64 % 64);
    f.bitmap[SYS_getcwd / 64] |= 1ULL << (SYS_getcwd % 64);
    if (ioctl(fd, KMVIEW_IOC_FD_PREFILTER, &f) != 0) return -1;
  }
  pid_t p = spawn(&fd, 1, t_fdcalls, NULL);
  int r = drain(fd, n);
  close(fd);
  return r == 0 && reaped_ok(p) ? 0 : -1;
}
static int test_fd_prefilter(void) {
  int with, without;
  mkdir("/view", 0755);
  mkdir("/mnt", 0755);
  mkdir("/mnt/x", 0755);
  CHECK(fd_prefilter_entries(1, &with) == 0);
  CHECK(fd_prefilter_entries(0, &without) == 0);
  snprintf(why, sizeof why,
           "entries %d with the descriptor prefilter (expected 13), %d without "
           "(expected 19)",
           with, without);
  CHECK(with == 13 && without == 19);
  return 0;
}

// The marked bitmap: getppid reports only once the tracer marked the process (at its first
// getpid), then in it and in a child it forks.
static int t_marked(void* a) {
  for (int i = 0; i < 5; i++) syscall(SYS_getppid);  // unmarked: no event
  syscall(SYS_getpid);                               // the tracer marks us here
  for (int i = 0; i < 7; i++) syscall(SYS_getppid);  // 7 events
  pid_t c = fork();
  if (c == 0) {
    for (int i = 0; i < 3; i++) syscall(SYS_getppid);  // inherited: 3 events
    _exit(0);
  }
  int st;
  TRACEE_CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return 0;
}
static int test_marked_bitmap(void) {
  int nr = SYS_getpid, fd = tracer(&nr, 1, 0), getppids = 0, getpids = 0, mark_err = 0;
  struct kmview_bitmap m = {{0}};
  m.bitmap[SYS_getppid / 64] |= 1ULL << (SYS_getppid % 64);
  CHECK(fd >= 0 && ioctl(fd, KMVIEW_IOC_MARKED_BITMAP, &m) == 0);
  CHECK(ioctl(fd, KMVIEW_IOC_MARK, (long)getpid()) == -1 && errno == ESRCH);  // not traced
  pid_t p = spawn(&fd, 1, t_marked, NULL);
  for (;;) {
    struct kmview_event ev = next(fd);
    CHECK(ev.type != 0);
    if (ev.type == KMVIEW_EV_THREAD_EXIT && ev.tid == p) break;
    if (ev.type != KMVIEW_EV_SYSCALL_ENTRY) continue;
    if (ev.nr == SYS_getpid) {
      getpids++;
      if (ioctl(fd, KMVIEW_IOC_MARK, (long)ev.tid) != 0) mark_err = errno;
    } else if (ev.nr == SYS_getppid) {
      getppids++;
    }
    reply(fd, &ev, KMVIEW_RUN, 0);
  }
  snprintf(why, sizeof why,
           "getpid events %d (expected 1), getppid events %d (expected 10), "
           "mark errno %d",
           getpids, getppids, mark_err);
  CHECK(getpids == 1 && getppids == 10 && mark_err == 0);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// The fast path (calls no tracer asks for run without the hook): a bitmap change reaches a
// tracee that was running unhooked calls, and closing the tracer while the tracee runs them (the
// RCU-read list of tracers changing under it) kills it.
static int t_fast_path(void* a) {
  int* pipes = a;  // [0..1]: ready (tracee -> tracer), [2..3]: go (tracer -> tracee)
  char c = 'r';
  for (int i = 0; i < 1000; i++) TRACEE_CHECK(syscall(SYS_getppid) == getppid());
  TRACEE_CHECK(write(pipes[1], &c, 1) == 1);
  TRACEE_CHECK(read(pipes[2], &c, 1) == 1);
  TRACEE_CHECK(syscall(SYS_getppid) == 4242);  // now in the bitmap: skipped with 4242
  for (;;) syscall(SYS_gettid);                // unhooked until the tracer closes
}
static int test_fast_path(void) {
  int fd = tracer(NULL, 0, 0), pipes[4];
  CHECK(fd >= 0 && pipe(pipes) == 0 && pipe(pipes + 2) == 0);
  pid_t p = spawn(&fd, 1, t_fast_path, pipes);
  char c;
  CHECK(read(pipes[0], &c, 1) == 1);
  struct kmview_config cfg = {0};
  cfg.bitmap[SYS_getppid / 64] |= 1ULL << (SYS_getppid % 64);
  CHECK(ioctl(fd, KMVIEW_IOC_CONFIG, &cfg) == 0);
  CHECK(write(pipes[3], &c, 1) == 1);
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getppid && ev.tid == p);
  CHECK(reply(fd, &ev, KMVIEW_SKIP, 4242) == 0);
  usleep(200000);  // the tracee spins on gettid
  close(fd);
  int st;
  CHECK(waitpid(p, &st, 0) == p);
  snprintf(why, sizeof why, "tracee status 0x%x", st);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  for (int i = 0; i < 4; i++) close(pipes[i]);
  return 0;
}

// ---- process events ---------------------------------------------------------------------

static void* thread_fn(void* a) { return (void*)(intptr_t)syscall(SYS_getppid); }
static int t_family(void* a) {
  pthread_t th;
  TRACEE_CHECK(pthread_create(&th, NULL, thread_fn, NULL) == 0);
  pthread_join(th, NULL);
  pid_t c = fork();
  if (c == 0) {
    execl("/bin/true", "true", (char*)NULL);
    _exit(99);
  }
  int st;
  TRACEE_CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return 0;
}
static int test_family_events(void) {
  int fd = tracer(NULL, 0, 0);
  pid_t p = spawn(&fd, 1, t_family, NULL);
  int threads = 0, forks = 0, execs = 0, exits = 0;
  pid_t forked = 0;
  for (;;) {
    struct kmview_event ev = next(fd);
    CHECK(ev.type != 0);
    if (ev.type == KMVIEW_EV_NEW_THREAD) {
      CHECK(ev.a == p);
      if (ev.flags & CLONE_THREAD) {
        threads++;
        CHECK(ev.pid == p && ev.tid != p);
      } else {
        forks++;
        forked = ev.tid;
        CHECK(ev.pid == ev.tid && (ev.flags & 0xff) == SIGCHLD);
      }
    } else if (ev.type == KMVIEW_EV_EXEC) {
      execs++;
      CHECK(ev.tid == forked && ev.a == forked);
    } else if (ev.type == KMVIEW_EV_THREAD_EXIT) {
      exits++;
      if (ev.tid == forked) CHECK(WIFEXITED(ev.status) && WEXITSTATUS(ev.status) == 0);
      if (ev.tid == p) break;
    }
  }
  snprintf(why, sizeof why, "threads %d forks %d execs %d exits %d", threads, forks, execs, exits);
  CHECK(threads == 1 && forks == 1 && execs == 1 && exits == 3);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// ---- nesting ----------------------------------------------------------------------------

static int t_nested(void* a) {
  TRACEE_CHECK(syscall(SYS_getppid) == 555);  // B rewrote to getpid, A set 555 at exit
  TRACEE_CHECK(syscall(SYS_getppid) == 9);    // B skipped: A never saw it
  return 0;
}
static int test_nesting(void) {
  int nrs[] = {SYS_getppid, SYS_getpid};
  int fds[2] = {tracer(nrs, 2, 0), tracer(nrs, 2, 0)};  // A attached first, then B
  int A = fds[0], B = fds[1];
  pid_t p = spawn(fds, 2, t_nested, NULL);
  // Entry: B (attached last) first, sees the original call.
  struct kmview_event ev = next_stop(B);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getppid);
  struct kmview_reply r = {.tid = ev.tid,
                           .seq = ev.seq,
                           .action = KMVIEW_RUN_REPORT_EXIT,
                           .change = KMVIEW_REPLY_NR,
                           .nr = SYS_getpid};
  CHECK(ioctl(B, KMVIEW_IOC_REPLY, &r) == 0);
  // Then A sees what B made of it (A's bitmap applies to the rewritten number).
  ev = next_stop(A);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == SYS_getpid);
  CHECK(reply(A, &ev, KMVIEW_RUN_REPORT_EXIT, 0) == 0);
  // Exit: attach order, A first.
  ev = next_stop(A);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_EXIT && ev.ret == p);
  CHECK(reply(A, &ev, KMVIEW_SET_RETURN, 555) == 0);
  ev = next_stop(B);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_EXIT && ev.ret == 555);
  CHECK(reply(B, &ev, KMVIEW_KEEP_RETURN, 0) == 0);
  // B skips the second call: the walk ends there.
  ev = next_stop(B);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && reply(B, &ev, KMVIEW_SKIP, 9) == 0);
  CHECK(next_stop(B).type == KMVIEW_EV_THREAD_EXIT);
  CHECK(next_stop(A).type == KMVIEW_EV_THREAD_EXIT);  // and no entry before it
  CHECK(reaped_ok(p));
  close(A);
  close(B);
  return 0;
}

// ---- safety -----------------------------------------------------------------------------

static int t_block(void* a) {
  syscall(SYS_getppid);
  return 0;
}
static int test_close_kills(void) {
  int nr = SYS_getppid, fd = tracer(&nr, 1, 0), st;
  pid_t p = spawn(&fd, 1, t_block, NULL);
  CHECK(next_stop(fd).type == KMVIEW_EV_SYSCALL_ENTRY);
  close(fd);  // no reply: the tracee must die, not run unvirtualized
  CHECK(waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  return 0;
}

static int test_sigkill_in_wait(void) {
  int nr = SYS_getppid, fd = tracer(&nr, 1, 0), st;
  pid_t p = spawn(&fd, 1, t_block, NULL);
  CHECK(next_stop(fd).type == KMVIEW_EV_SYSCALL_ENTRY);
  CHECK(kill(p, SIGKILL) == 0);
  CHECK(waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);
  close(fd);
  return 0;
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { got_usr1 = 1; }
static int t_signal(void* a) {
  signal(SIGUSR1, on_usr1);
  TRACEE_CHECK(syscall(SYS_getpid) == 1);  // the signal did not abort the wait
  TRACEE_CHECK(syscall(SYS_getpid) == 2);  // handler ran on the way back: this one is trapped too
  TRACEE_CHECK(got_usr1);
  return 0;
}
static int test_signal_in_wait(void) {
  int nr = SYS_getpid, fd = tracer(&nr, 1, 0);
  pid_t p = spawn(&fd, 1, t_signal, NULL);
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY);
  CHECK(kill(p, SIGUSR1) == 0);
  usleep(100000);
  CHECK(reply(fd, &ev, KMVIEW_SKIP, 1) == 0);
  ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && reply(fd, &ev, KMVIEW_SKIP, 2) == 0);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

static int test_unload_refused(void) {
  int fd = tracer(NULL, 0, 0);
  CHECK(fd >= 0);
  errno = 0;
  CHECK(syscall(SYS_delete_module, "kmview", O_NONBLOCK) != 0);
  CHECK(errno == EWOULDBLOCK || errno == EBUSY);
  close(fd);
  return 0;
}

static int t_nnp(void* a) {
  TRACEE_CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
  return 0;
}
static int test_setuid_dropped(void) {
  int fd = tracer(NULL, 0, 0);
  pid_t p = spawn(&fd, 1, t_nnp, NULL);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

// An unprivileged tracer cannot attach or read a root process.
static int test_permission(void) {
  pid_t victim = fork();
  if (victim == 0) {
    pause();
    _exit(0);
  }
  pid_t p = fork();
  if (p == 0) {
    if (setgid(65534) || setuid(65534)) _exit(10);
    int fd = open(KMVIEW_DEVICE, O_RDWR);
    if (fd < 0) _exit(11);
    if (ioctl(fd, KMVIEW_IOC_ATTACH_PID, victim) == 0 || errno != EPERM) _exit(12);
    char b[8];
    struct kmview_mem m = {KMVIEW_MEM_READ, victim, 0x400000, (uintptr_t)b, 8};
    if (ioctl(fd, KMVIEW_IOC_MEM, &m) == 0 || errno != EPERM) _exit(13);
    _exit(0);
  }
  int ok = reaped_ok(p);
  kill(victim, SIGKILL);
  waitpid(victim, NULL, 0);
  CHECK(ok);
  return 0;
}

// umview's control call lies beyond the syscall table: still reported.
static int t_control(void* a) {
  TRACEE_CHECK(syscall(0x3ff0, 1) == 31337);
  return 0;
}
static int test_out_of_table_call(void) {
  errno = 0;
  CHECK(syscall(0x3ff0, 1) == -1 && errno == ENOSYS);  // untraced: the kernel has no such call
  int fd = tracer(NULL, 0, 0);
  pid_t p = spawn(&fd, 1, t_control, NULL);
  struct kmview_event ev = next_stop(fd);
  CHECK(ev.type == KMVIEW_EV_SYSCALL_ENTRY && ev.nr == 0x3ff0 && ev.args[0] == 1);
  CHECK(reply(fd, &ev, KMVIEW_SKIP, 31337) == 0);
  CHECK(next_stop(fd).type == KMVIEW_EV_THREAD_EXIT);
  CHECK(reaped_ok(p));
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  struct {
    const char* name;
    int (*fn)(void);
  } tests[] = {
      {"sysvm_run_unchanged", test_run_unchanged},
      {"sysvm_skip", test_skip},
      {"sysvm_rewrite_nr_and_exit_value", test_rewrite_nr_and_exit},
      {"sysvm_arg_rewrite_to_scratch", test_arg_rewrite_scratch},
      {"memory_boundaries_and_multi", test_memory_boundaries},
      {"filter_bitmap", test_bitmap},
      {"filter_path_prefix", test_path_prefilter},
      {"filter_fd_prefix", test_fd_prefilter},
      {"filter_walk_cache", test_walk_cache},
      {"filter_marked_bitmap", test_marked_bitmap},
      {"filter_fast_path_bitmap_change_and_close", test_fast_path},
      {"events_thread_fork_exec_exit", test_family_events},
      {"nesting_two_tracers", test_nesting},
      {"safety_close_kills_tracees", test_close_kills},
      {"safety_sigkill_during_wait", test_sigkill_in_wait},
      {"safety_signal_during_wait", test_signal_in_wait},
      {"safety_unload_refused", test_unload_refused},
      {"safety_setuid_no_new_privs", test_setuid_dropped},
      {"safety_attach_permission", test_permission},
      {"control_call_beyond_table", test_out_of_table_call},
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    run(tests[i].name, tests[i].fn);
  }
  return failures ? 1 : 0;
}
