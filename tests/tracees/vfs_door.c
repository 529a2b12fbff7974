/* Tries file-system calls through their raw system-call doors and prints one line per call:
 * "OP ARGS = ok [DATA]" or "OP ARGS = ERRNO_NAME". Used by the viewfs tests to see, per door,
 * what a process inside a view observes.
 *
 *   vfs_door OP ARGS... [OP ARGS...]
 *
 * `at DIR` opens DIR and makes it the dirfd of the following *at calls (`at -`: AT_FDCWD);
 * `keep PATH FLAGS` opens PATH and keeps the descriptor, `at_kept` makes it the dirfd. In any
 * argument, {fd} is replaced by the current dirfd, {k} by the kept descriptor and {pid} by the
 * process id. Each call uses syscall(2) directly, so the door named is the door taken. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Newer than the Debian 12 headers. */
#define NR_fchmodat2 452
#define NR_setxattrat 463
#define NR_getxattrat 464
#define NR_listxattrat 465
#define NR_removexattrat 466
#define NR_file_getattr 468
#define NR_file_setattr 469

struct xattr_args_v0 {
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};

struct file_attr_v0 {
  uint64_t fa_xflags;
  uint32_t fa_extsize;
  uint32_t fa_nextents;
  uint32_t fa_projid;
  uint32_t fa_cowextsize;
};

static int dirfd_ = AT_FDCWD;
static int kept_ = -1;

static const char* ErrName(int e) {
  const char* n = strerrorname_np(e);
  static char buf[32];
  if (n != NULL) return n;
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

/* Replaces {fd}, {k} and {pid}; returns a static buffer. */
static const char* Subst(const char* in, char* out, size_t cap) {
  size_t o = 0;
  for (const char* p = in; *p && o + 16 < cap;) {
    if (strncmp(p, "{fd}", 4) == 0) {
      o += snprintf(out + o, cap - o, "%d", dirfd_);
      p += 4;
    } else if (strncmp(p, "{k}", 3) == 0) {
      o += snprintf(out + o, cap - o, "%d", kept_);
      p += 3;
    } else if (strncmp(p, "{pid}", 5) == 0) {
      o += snprintf(out + o, cap - o, "%d", (int)getpid());
      p += 5;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = 0;
  return out;
}

static int Flags(const char* s) {
  int f = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  for (char* t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
    if (!strcmp(t, "r"))
      f |= O_RDONLY;
    else if (!strcmp(t, "w"))
      f |= O_WRONLY;
    else if (!strcmp(t, "rw"))
      f |= O_RDWR;
    else if (!strcmp(t, "creat"))
      f |= O_CREAT;
    else if (!strcmp(t, "excl"))
      f |= O_EXCL;
    else if (!strcmp(t, "trunc"))
      f |= O_TRUNC;
    else if (!strcmp(t, "append"))
      f |= O_APPEND;
    else if (!strcmp(t, "dir"))
      f |= O_DIRECTORY;
    else if (!strcmp(t, "path"))
      f |= O_PATH;
    else if (!strcmp(t, "nofollow"))
      f |= O_NOFOLLOW;
    else if (!strcmp(t, "tmpfile"))
      f |= O_TMPFILE | O_RDWR;
  }
  return f;
}

static int AtFlags(const char* s) {
  int f = 0;
  if (strstr(s, "nofollow")) f |= AT_SYMLINK_NOFOLLOW;
  if (strstr(s, "follow") && !strstr(s, "nofollow")) f |= AT_SYMLINK_FOLLOW;
  if (strstr(s, "empty")) f |= AT_EMPTY_PATH;
  if (strstr(s, "removedir")) f |= AT_REMOVEDIR;
  if (strstr(s, "eaccess")) f |= AT_EACCESS;
  return f;
}

static int Mode(const char* s) {
  int m = 0;
  if (strchr(s, 'r')) m |= R_OK;
  if (strchr(s, 'w')) m |= W_OK;
  if (strchr(s, 'x')) m |= X_OK;
  return m;
}

/* Prints DATA with newlines and non-printables escaped, so one call stays one line. */
static void PrintData(const char* d, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)d[i];
    if (c == '\n')
      fputs("\\n", stdout);
    else if (c == '\\')
      fputs("\\\\", stdout);
    else if (c < 32 || c >= 127)
      printf("\\x%02x", c);
    else
      putchar(c);
  }
}

static int CompareNames(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

static long Result(long r) { return r < 0 ? -errno : r; }

static int Report(long r) {
  if (r < 0) {
    printf("%s\n", ErrName((int)-r));
    return 0;
  }
  printf("ok\n");
  return 0;
}

static long ReadAll(int fd, char* buf, size_t cap) {
  size_t n = 0;
  while (n < cap) {
    ssize_t k = read(fd, buf + n, cap - n);
    if (k < 0) return -errno;
    if (k == 0) break;
    n += (size_t)k;
  }
  return (long)n;
}

/* fork + the given exec door. Prints how the child ended and what it wrote to stdout, or the
 * exec errno. */
static void Exec(int use_at, const char* path, const char* arg) {
  int p[2], out[2];
  if (pipe2(p, O_CLOEXEC) != 0 || pipe(out) != 0) {
    printf("%s\n", ErrName(errno));
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {(char*)path, (char*)arg, NULL};
    extern char** environ;
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    if (use_at) {
      syscall(SYS_execveat, dirfd_, path, argv, environ, 0);
    } else {
      syscall(SYS_execve, path, argv, environ);
    }
    int e = errno;
    (void)!write(p[1], &e, sizeof e);
    _exit(127);
  }
  close(p[1]);
  close(out[1]);
  char data[4096];
  long n = ReadAll(out[0], data, sizeof data);
  close(out[0]);
  int e = 0;
  ssize_t k = read(p[0], &e, sizeof e);
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (k == (ssize_t)sizeof e) {
    printf("%s\n", ErrName(e));
  } else {
    printf("ok status=%d out=", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    PrintData(data, n > 0 ? (size_t)n : 0);
    printf("\n");
  }
}

static void UnixSocket(const char* path, int mode /* 0 bind+connect, 1 bind, 2 connect */) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len > sizeof a.sun_path) {
    printf("too long\n");
    return;
  }
  memcpy(a.sun_path, path, len); /* a 108-byte path has no terminating NUL */
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (mode != 2) {
    if (bind(s, (struct sockaddr*)&a, alen) != 0 || listen(s, 1) != 0) {
      printf("%s\n", ErrName(errno));
      return;
    }
    if (mode == 1) {
      printf("ok\n");
      return;
    }
  }
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(c, (struct sockaddr*)&a, alen) != 0) {
    printf("%s\n", ErrName(errno));
    return;
  }
  if (mode == 2) {
    printf("ok\n");
    return;
  }
  struct sockaddr_un got;
  socklen_t glen = sizeof got;
  memset(&got, 0, sizeof got);
  getsockname(s, (struct sockaddr*)&got, &glen);
  size_t n = glen - offsetof(struct sockaddr_un, sun_path);
  while (n > 0 && got.sun_path[n - 1] == 0) --n;
  printf("ok %zu ", n);
  PrintData(got.sun_path, n);
  printf("\n");
  close(c);
  close(s);
}

/* `race A B N FLAGS`: a second thread keeps rewriting the path buffer between A and B while
 * this thread opens the buffer N times; prints how many opens read something starting with
 * "SECRET" (a hidden file's content) and how many opened for writing succeeded. */
static char race_buf[4096];
static const char* race_a;
static const char* race_b;
static volatile int race_stop;

static void* Flipper(void* arg) {
  (void)arg;
  size_t la = strlen(race_a) + 1, lb = strlen(race_b) + 1;
  while (!race_stop) {
    memcpy(race_buf, race_a, la);
    for (volatile int i = 0; i < 50; ++i) {
    }
    memcpy(race_buf, race_b, lb);
    for (volatile int i = 0; i < 50; ++i) {
    }
  }
  return NULL;
}

static void Race(const char* a, const char* b, int n, int flags) {
  race_a = a;
  race_b = b;
  snprintf(race_buf, sizeof race_buf, "%s", a);
  pthread_t t;
  pthread_create(&t, NULL, Flipper, NULL);
  int leaks = 0, opened = 0;
  for (int i = 0; i < n; ++i) {
    int fd = (int)syscall(SYS_open, race_buf, flags, 0644);
    if (fd < 0) continue;
    ++opened;
    if ((flags & O_ACCMODE) == O_RDONLY) {
      char d[64];
      ssize_t k = read(fd, d, sizeof d);
      if (k >= 6 && memcmp(d, "SECRET", 6) == 0) ++leaks;
    } else {
      (void)!write(fd, "W", 1);
    }
    close(fd);
  }
  race_stop = 1;
  pthread_join(t, NULL);
  printf("ok opened=%d secret_reads=%d\n", opened, leaks);
}

/* `swaprace DIR TARGET N FLAGS`: a second thread keeps exchanging DIR (a directory holding a
 * file x) with a symlink DIR.alt -> TARGET (renameat2 RENAME_EXCHANGE) while this thread opens
 * DIR/x N times; prints how many opens succeeded and how many read "SECRET...". */
static const char* swap_a;
static char swap_b[4096];

static void* Swapper(void* arg) {
  (void)arg;
  while (!race_stop) syscall(SYS_renameat2, AT_FDCWD, swap_a, AT_FDCWD, swap_b, RENAME_EXCHANGE);
  return NULL;
}

static void SwapRace(const char* dir, const char* target, int n, int flags) {
  swap_a = dir;
  snprintf(swap_b, sizeof swap_b, "%s.alt", dir);
  if (syscall(SYS_symlink, target, swap_b) != 0) {
    printf("symlink %s\n", ErrName(errno));
    return;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/x", dir);
  race_stop = 0;
  pthread_t t;
  pthread_create(&t, NULL, Swapper, NULL);
  int leaks = 0, opened = 0;
  for (int i = 0; i < n; ++i) {
    int fd = (int)syscall(SYS_open, path, flags, 0644);
    if (fd < 0) continue;
    ++opened;
    if ((flags & O_ACCMODE) == O_RDONLY) {
      char d[64];
      ssize_t k = read(fd, d, sizeof d);
      if (k >= 6 && memcmp(d, "SECRET", 6) == 0) ++leaks;
    } else {
      (void)!write(fd, "W", 1);
    }
    close(fd);
  }
  race_stop = 1;
  pthread_join(t, NULL);
  printf("ok opened=%d secret_reads=%d\n", opened, leaks);
}

int main(int argc, char** argv) {
  static char b1[8192], b2[8192], b3[8192], b4[8192];
  int i = 1;
#define ARG(n, buf) (i + (n) < argc ? Subst(argv[i + (n)], buf, sizeof buf) : "")
  while (i < argc) {
    const char* op = argv[i];
    struct {
      const char* name;
      int arity;
    } const kOps[] = {
        {"at", 1},           {"keep", 2},           {"read", 1},
        {"open", 2},         {"openat", 2},         {"openat2", 2},
        {"creat", 1},        {"append", 2},         {"stat", 1},
        {"lstat", 1},        {"fstatat", 2},        {"statx", 2},
        {"statfs", 1},       {"access", 2},         {"faccessat", 2},
        {"faccessat2", 3},   {"readlink", 1},       {"readlinkat", 1},
        {"readlinkn", 2},    {"chdir", 1},          {"fchdir", 1},
        {"getcwd", 0},       {"mkdir", 1},          {"mkdirat", 1},
        {"mknod", 1},        {"mknodat", 1},        {"rmdir", 1},
        {"unlink", 1},       {"unlinkat", 2},       {"rename", 2},
        {"renameat", 2},     {"renameat2", 3},      {"link", 2},
        {"linkat", 3},       {"symlink", 2},        {"symlinkat", 2},
        {"chmod", 2},        {"fchmodat", 2},       {"fchmodat2", 2},
        {"fchmod", 2},       {"chown", 1},          {"lchown", 1},
        {"fchownat", 2},     {"fchown", 1},         {"utime", 1},
        {"utimes", 1},       {"utimensat", 2},      {"futimesat", 1},
        {"futimens", 1},     {"truncate", 2},       {"setxattr", 3},
        {"lsetxattr", 3},    {"fsetxattr", 3},      {"getxattr", 2},
        {"lgetxattr", 2},    {"listxattr", 1},      {"removexattr", 2},
        {"lremovexattr", 2}, {"fremovexattr", 2},   {"setxattrat", 3},
        {"getxattrat", 2},   {"listxattrat", 1},    {"removexattrat", 2},
        {"file_getattr", 1}, {"file_setattr", 1},   {"execve", 2},
        {"execveat", 2},     {"inotify", 1},        {"handle", 2},
        {"fanotify", 1},     {"getdents", 1},       {"mount", 1},
        {"umount", 1},       {"chroot", 1},         {"pivot_root", 2},
        {"io_uring", 0},     {"open_by_handle", 0}, {"usock", 1},
        {"usock_bind", 1},   {"usock_connect", 1},  {"race", 4},
        {"setflags", 1},     {"at_kept", 0},        {"swaprace", 4},
        {"acct", 1},         {"print", 1},          {"getdentsn", 2},
    };
    int arity = -1;
    for (size_t k = 0; k < sizeof kOps / sizeof kOps[0]; ++k) {
      if (!strcmp(kOps[k].name, op)) arity = kOps[k].arity;
    }
    if (arity < 0 || i + arity >= argc) {
      fprintf(stderr, "vfs_door: bad op '%s'\n", op);
      return 2;
    }
    const char* a = ARG(1, b1);
    const char* b = ARG(2, b2);
    const char* c = ARG(3, b3);
    const char* d = ARG(4, b4);
    (void)c;
    (void)d;
    /* Echo the call, then its result. */
    if (strcmp(op, "print") != 0) {
      printf("%s", op);
      for (int k = 1; k <= arity; ++k) printf(" %s", argv[i + k]);
      printf(" = ");
    }
    fflush(stdout);
    errno = 0;
    uid_t uid = getuid();
    gid_t gid = getgid();
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    char buf[8192];
    if (!strcmp(op, "print")) {
      printf("%s\n", a);
    } else if (!strcmp(op, "at")) {
      if (!strcmp(a, "-")) {
        if (dirfd_ >= 0) close(dirfd_);
        dirfd_ = AT_FDCWD;
        printf("ok\n");
      } else {
        long fd = Result(syscall(SYS_openat, AT_FDCWD, a, O_RDONLY | O_DIRECTORY));
        if (fd >= 0) dirfd_ = (int)fd;
        Report(fd);
      }
    } else if (!strcmp(op, "at_kept")) {
      dirfd_ = kept_;
      printf("ok\n");
    } else if (!strcmp(op, "keep")) {
      long fd = Result(syscall(SYS_openat, AT_FDCWD, a, Flags(b), 0644));
      if (fd >= 0) kept_ = (int)fd;
      Report(fd);
    } else if (!strcmp(op, "read")) {
      long fd = Result(syscall(SYS_open, a, O_RDONLY));
      if (fd < 0) {
        Report(fd);
      } else {
        long n = ReadAll((int)fd, buf, sizeof buf);
        close((int)fd);
        if (n < 0) {
          Report(n);
        } else {
          printf("ok ");
          PrintData(buf, (size_t)n);
          printf("\n");
        }
      }
    } else if (!strcmp(op, "open") || !strcmp(op, "openat") || !strcmp(op, "creat") ||
               !strcmp(op, "openat2")) {
      long fd;
      if (!strcmp(op, "open")) {
        fd = Result(syscall(SYS_open, a, Flags(b), 0644));
      } else if (!strcmp(op, "openat")) {
        fd = Result(syscall(SYS_openat, dirfd_, a, Flags(b), 0644));
      } else if (!strcmp(op, "creat")) {
        fd = Result(syscall(SYS_creat, a, 0644));
      } else {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)Flags(b);
        if (how.flags & (O_CREAT | O_TMPFILE)) how.mode = 0644;
        fd = Result(syscall(SYS_openat2, dirfd_, a, &how, sizeof how));
      }
      if (fd >= 0) {
        /* Whatever is readable is printed, so a leak shows. */
        int fl = fcntl((int)fd, F_GETFL);
        if ((fl & O_ACCMODE) != O_WRONLY && !(fl & O_PATH)) {
          long n = read((int)fd, buf, sizeof buf);
          if (n > 0) {
            printf("ok ");
            PrintData(buf, (size_t)n);
            printf("\n");
            close((int)fd);
            goto next;
          }
        }
        close((int)fd);
      }
      Report(fd);
    } else if (!strcmp(op, "append")) {
      long fd = Result(syscall(SYS_open, a, O_WRONLY | O_APPEND));
      if (fd >= 0) {
        long w = Result(write((int)fd, b, strlen(b)));
        close((int)fd);
        Report(w);
      } else {
        Report(fd);
      }
    } else if (!strcmp(op, "stat") || !strcmp(op, "lstat") || !strcmp(op, "fstatat")) {
      struct stat st;
      long r = !strcmp(op, "stat")    ? Result(syscall(SYS_stat, a, &st))
               : !strcmp(op, "lstat") ? Result(syscall(SYS_lstat, a, &st))
                                      : Result(syscall(SYS_newfstatat, dirfd_, a, &st, AtFlags(b)));
      if (r < 0) {
        Report(r);
      } else {
        printf("ok %s size=%lld\n",
               S_ISDIR(st.st_mode)    ? "dir"
               : S_ISLNK(st.st_mode)  ? "link"
               : S_ISREG(st.st_mode)  ? "file"
               : S_ISFIFO(st.st_mode) ? "fifo"
                                      : "other",
               S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? (long long)st.st_size : 0LL);
      }
    } else if (!strcmp(op, "statx")) {
      struct statx sx;
      long r = Result(syscall(SYS_statx, dirfd_, a, AtFlags(b), STATX_BASIC_STATS, &sx));
      if (r < 0) {
        Report(r);
      } else {
        printf("ok %s size=%llu\n",
               S_ISDIR(sx.stx_mode)   ? "dir"
               : S_ISLNK(sx.stx_mode) ? "link"
                                      : "file",
               S_ISDIR(sx.stx_mode) ? 0ULL : (unsigned long long)sx.stx_size);
      }
    } else if (!strcmp(op, "statfs")) {
      Report(Result(syscall(SYS_statfs, a, buf)));
    } else if (!strcmp(op, "access")) {
      Report(Result(syscall(SYS_access, a, Mode(b))));
    } else if (!strcmp(op, "faccessat")) {
      Report(Result(syscall(SYS_faccessat, dirfd_, a, Mode(b))));
    } else if (!strcmp(op, "faccessat2")) {
      Report(Result(syscall(SYS_faccessat2, dirfd_, a, Mode(b), AtFlags(c))));
    } else if (!strcmp(op, "readlink") || !strcmp(op, "readlinkat") || !strcmp(op, "readlinkn")) {
      size_t cap = !strcmp(op, "readlinkn") ? (size_t)atoi(b) : sizeof buf;
      memset(buf, '#', sizeof buf);
      long n = !strcmp(op, "readlinkat") ? Result(syscall(SYS_readlinkat, dirfd_, a, buf, cap))
                                         : Result(syscall(SYS_readlink, a, buf, cap));
      if (n < 0) {
        Report(n);
      } else {
        /* readlinkn also shows the byte after the answer: it must be untouched ('#'). */
        printf("ok ");
        if (!strcmp(op, "readlinkn")) printf("%ld ", n);
        PrintData(buf, (size_t)n + (!strcmp(op, "readlinkn") ? 1 : 0));
        printf("\n");
      }
    } else if (!strcmp(op, "chdir")) {
      Report(Result(syscall(SYS_chdir, a)));
    } else if (!strcmp(op, "fchdir")) {
      long fd = Result(syscall(SYS_open, a, O_RDONLY | O_DIRECTORY));
      if (fd >= 0) {
        long r = Result(syscall(SYS_fchdir, fd));
        close((int)fd);
        Report(r);
      } else {
        Report(fd);
      }
    } else if (!strcmp(op, "getcwd")) {
      long n = Result(syscall(SYS_getcwd, buf, sizeof buf));
      if (n < 0) {
        Report(n);
      } else {
        printf("ok %s\n", buf);
      }
    } else if (!strcmp(op, "mkdir")) {
      Report(Result(syscall(SYS_mkdir, a, 0755)));
    } else if (!strcmp(op, "mkdirat")) {
      Report(Result(syscall(SYS_mkdirat, dirfd_, a, 0755)));
    } else if (!strcmp(op, "mknod")) {
      Report(Result(syscall(SYS_mknod, a, S_IFIFO | 0644, 0)));
    } else if (!strcmp(op, "mknodat")) {
      Report(Result(syscall(SYS_mknodat, dirfd_, a, S_IFIFO | 0644, 0)));
    } else if (!strcmp(op, "rmdir")) {
      Report(Result(syscall(SYS_rmdir, a)));
    } else if (!strcmp(op, "unlink")) {
      Report(Result(syscall(SYS_unlink, a)));
    } else if (!strcmp(op, "unlinkat")) {
      Report(Result(syscall(SYS_unlinkat, dirfd_, a, AtFlags(b))));
    } else if (!strcmp(op, "rename")) {
      Report(Result(syscall(SYS_rename, a, b)));
    } else if (!strcmp(op, "renameat")) {
      Report(Result(syscall(SYS_renameat, dirfd_, a, dirfd_, b)));
    } else if (!strcmp(op, "renameat2")) {
      unsigned f = strstr(c, "noreplace")  ? RENAME_NOREPLACE
                   : strstr(c, "exchange") ? RENAME_EXCHANGE
                                           : 0;
      Report(Result(syscall(SYS_renameat2, dirfd_, a, dirfd_, b, f)));
    } else if (!strcmp(op, "link")) {
      Report(Result(syscall(SYS_link, a, b)));
    } else if (!strcmp(op, "linkat")) {
      Report(Result(syscall(SYS_linkat, dirfd_, a, dirfd_, b, AtFlags(c))));
    } else if (!strcmp(op, "symlink")) {
      Report(Result(syscall(SYS_symlink, a, b)));
    } else if (!strcmp(op, "symlinkat")) {
      Report(Result(syscall(SYS_symlinkat, a, dirfd_, b)));
    } else if (!strcmp(op, "chmod")) {
      Report(Result(syscall(SYS_chmod, a, strtol(b, NULL, 8))));
    } else if (!strcmp(op, "fchmodat")) {
      Report(Result(syscall(SYS_fchmodat, dirfd_, a, strtol(b, NULL, 8))));
    } else if (!strcmp(op, "fchmodat2")) {
      Report(Result(syscall(NR_fchmodat2, dirfd_, a, strtol(b, NULL, 8), 0)));
    } else if (!strcmp(op, "fchmod") || !strcmp(op, "fchown") || !strcmp(op, "futimens") ||
               !strcmp(op, "fsetxattr") || !strcmp(op, "fremovexattr")) {
      /* The descriptor is opened read-only: only the metadata call may write. */
      long fd = Result(syscall(SYS_open, a, O_RDONLY));
      if (fd < 0) {
        Report(fd);
      } else {
        long r;
        if (!strcmp(op, "fchmod")) {
          r = Result(syscall(SYS_fchmod, fd, strtol(b, NULL, 8)));
        } else if (!strcmp(op, "fchown")) {
          r = Result(syscall(SYS_fchown, fd, uid, gid));
        } else if (!strcmp(op, "futimens")) {
          r = Result(syscall(SYS_utimensat, fd, NULL, ts, 0));
        } else if (!strcmp(op, "fsetxattr")) {
          r = Result(syscall(SYS_fsetxattr, fd, b, c, strlen(c), 0));
        } else {
          r = Result(syscall(SYS_fremovexattr, fd, b));
        }
        close((int)fd);
        Report(r);
      }
    } else if (!strcmp(op, "chown")) {
      Report(Result(syscall(SYS_chown, a, uid, gid)));
    } else if (!strcmp(op, "lchown")) {
      Report(Result(syscall(SYS_lchown, a, uid, gid)));
    } else if (!strcmp(op, "fchownat")) {
      Report(Result(syscall(SYS_fchownat, dirfd_, a, uid, gid, AtFlags(b))));
    } else if (!strcmp(op, "utime")) {
      struct {
        long actime, modtime;
      } ub = {1000000000, 1000000000};
      Report(Result(syscall(SYS_utime, a, &ub)));
    } else if (!strcmp(op, "utimes")) {
      Report(Result(syscall(SYS_utimes, a, tv)));
    } else if (!strcmp(op, "utimensat")) {
      Report(Result(syscall(SYS_utimensat, dirfd_, a, ts, AtFlags(b))));
    } else if (!strcmp(op, "futimesat")) {
      Report(Result(syscall(SYS_futimesat, dirfd_, a, tv)));
    } else if (!strcmp(op, "truncate")) {
      Report(Result(syscall(SYS_truncate, a, atol(b))));
    } else if (!strcmp(op, "setxattr")) {
      Report(Result(syscall(SYS_setxattr, a, b, c, strlen(c), 0)));
    } else if (!strcmp(op, "lsetxattr")) {
      Report(Result(syscall(SYS_lsetxattr, a, b, c, strlen(c), 0)));
    } else if (!strcmp(op, "getxattr") || !strcmp(op, "lgetxattr") || !strcmp(op, "getxattrat")) {
      long n;
      if (!strcmp(op, "getxattrat")) {
        struct xattr_args_v0 xa = {(uint64_t)(uintptr_t)buf, sizeof buf, 0};
        n = Result(syscall(NR_getxattrat, dirfd_, a, 0, b, &xa, sizeof xa));
      } else {
        n = Result(
            syscall(!strcmp(op, "getxattr") ? SYS_getxattr : SYS_lgetxattr, a, b, buf, sizeof buf));
      }
      if (n < 0) {
        Report(n);
      } else {
        printf("ok ");
        PrintData(buf, (size_t)n);
        printf("\n");
      }
    } else if (!strcmp(op, "listxattr") || !strcmp(op, "listxattrat")) {
      long n = !strcmp(op, "listxattr")
                   ? Result(syscall(SYS_listxattr, a, buf, sizeof buf))
                   : Result(syscall(NR_listxattrat, dirfd_, a, 0, buf, sizeof buf));
      if (n < 0) {
        Report(n);
      } else {
        printf("ok ");
        PrintData(buf, (size_t)n);
        printf("\n");
      }
    } else if (!strcmp(op, "removexattr")) {
      Report(Result(syscall(SYS_removexattr, a, b)));
    } else if (!strcmp(op, "lremovexattr")) {
      Report(Result(syscall(SYS_lremovexattr, a, b)));
    } else if (!strcmp(op, "setxattrat")) {
      struct xattr_args_v0 xa = {(uint64_t)(uintptr_t)c, (uint32_t)strlen(c), 0};
      Report(Result(syscall(NR_setxattrat, dirfd_, a, 0, b, &xa, sizeof xa)));
    } else if (!strcmp(op, "removexattrat")) {
      Report(Result(syscall(NR_removexattrat, dirfd_, a, 0, b)));
    } else if (!strcmp(op, "file_getattr") || !strcmp(op, "file_setattr")) {
      struct file_attr_v0 fa;
      memset(&fa, 0, sizeof fa);
      long r = Result(syscall(NR_file_getattr, dirfd_, a, &fa, sizeof fa, 0));
      /* file_setattr writes back what file_getattr read: a no-op on a writable file. */
      if (r >= 0 && !strcmp(op, "file_setattr")) {
        r = Result(syscall(NR_file_setattr, dirfd_, a, &fa, sizeof fa, 0));
      }
      Report(r);
    } else if (!strcmp(op, "execve")) {
      Exec(0, a, b);
    } else if (!strcmp(op, "execveat")) {
      Exec(1, a, b);
    } else if (!strcmp(op, "inotify")) {
      int in = inotify_init1(IN_CLOEXEC);
      Report(Result(syscall(SYS_inotify_add_watch, in, a, IN_ALL_EVENTS)));
      close(in);
    } else if (!strcmp(op, "handle")) {
      struct {
        struct file_handle h;
        unsigned char data[128];
      } fh;
      fh.h.handle_bytes = 128;
      int mnt;
      Report(Result(syscall(SYS_name_to_handle_at, dirfd_, a, &fh.h, &mnt, AtFlags(b))));
    } else if (!strcmp(op, "fanotify")) {
      int fan = (int)syscall(SYS_fanotify_init, 0 /* FAN_CLASS_NOTIF */, O_RDONLY);
      if (fan < 0) {
        printf("unsupported %s\n", ErrName(errno));
      } else {
        Report(Result(
            syscall(SYS_fanotify_mark, fan, 1 /* FAN_MARK_ADD */, 0x20 /* FAN_OPEN */, dirfd_, a)));
        close(fan);
      }
    } else if (!strcmp(op, "getdents")) {
      long fd = Result(syscall(SYS_open, a, O_RDONLY | O_DIRECTORY));
      if (fd < 0) {
        Report(fd);
      } else {
        /* Names sorted, without . and .. */
        static char names[1 << 16];
        static char* list[4096];
        size_t used = 0, count = 0;
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
          for (long off = 0; off < n;) {
            struct {
              uint64_t ino;
              int64_t off;
              unsigned short reclen;
              unsigned char type;
              char name[];
            }* e = (void*)(buf + off);
            size_t len = strlen(e->name) + 1;
            if (strcmp(e->name, ".") && strcmp(e->name, "..") && count < 4096 &&
                used + len <= sizeof names) {
              list[count++] = memcpy(names + used, e->name, len);
              used += len;
            }
            off += e->reclen;
          }
        }
        qsort(list, count, sizeof list[0], CompareNames);
        printf("ok");
        for (size_t k = 0; k < count; ++k) printf(" %s", list[k]);
        if (n < 0) printf(" %s", ErrName(errno));
        printf("\n");
        close((int)fd);
      }
    } else if (!strcmp(op, "mount")) {
      Report(Result(syscall(SYS_mount, "none", a, "tmpfs", 0, NULL)));
    } else if (!strcmp(op, "umount")) {
      Report(Result(syscall(SYS_umount2, a, 0)));
    } else if (!strcmp(op, "chroot")) {
      Report(Result(syscall(SYS_chroot, a)));
    } else if (!strcmp(op, "pivot_root")) {
      Report(Result(syscall(SYS_pivot_root, a, b)));
    } else if (!strcmp(op, "io_uring")) {
      unsigned char params[120];
      memset(params, 0, sizeof params);
      long fd = Result(syscall(SYS_io_uring_setup, 4, params));
      if (fd >= 0) close((int)fd);
      Report(fd);
    } else if (!strcmp(op, "open_by_handle")) {
      struct {
        struct file_handle h;
        unsigned char data[8];
      } fh;
      memset(&fh, 0, sizeof fh);
      fh.h.handle_bytes = 8;
      fh.h.handle_type = 1;
      Report(Result(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh.h, O_RDONLY)));
    } else if (!strcmp(op, "usock")) {
      UnixSocket(a, 0);
    } else if (!strcmp(op, "usock_bind")) {
      UnixSocket(a, 1);
    } else if (!strcmp(op, "usock_connect")) {
      UnixSocket(a, 2);
    } else if (!strcmp(op, "setflags")) {
      /* chattr through a read-only descriptor: FS_IOC_SETFLAGS with the flags it has. */
      long fd = Result(syscall(SYS_open, a, O_RDONLY));
      if (fd < 0) {
        Report(fd);
      } else {
        int fl = 0;
        long r = Result(ioctl((int)fd, FS_IOC_GETFLAGS, &fl));
        if (r >= 0) r = Result(ioctl((int)fd, FS_IOC_SETFLAGS, &fl));
        close((int)fd);
        Report(r);
      }
    } else if (!strcmp(op, "getdentsn")) {
      /* getdents64 with an N-byte buffer; names in the order returned, . and .. left out. */
      long fd = Result(syscall(SYS_open, a, O_RDONLY | O_DIRECTORY));
      size_t cap = (size_t)atoi(b);
      if (fd < 0 || cap > sizeof buf) {
        Report(fd < 0 ? fd : -EINVAL);
      } else {
        printf("ok");
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, cap)) > 0) {
          for (long off = 0; off < n;) {
            struct {
              uint64_t ino;
              int64_t off;
              unsigned short reclen;
              unsigned char type;
              char name[];
            }* e = (void*)(buf + off);
            if (strcmp(e->name, ".") && strcmp(e->name, "..")) printf(" %s", e->name);
            off += e->reclen;
          }
        }
        if (n < 0) printf(" %s", ErrName(errno));
        printf("\n");
        close((int)fd);
      }
    } else if (!strcmp(op, "acct")) {
      /* BSD process accounting appends a record to the file at each process exit: a write.
       * Switched off again at once if it was switched on. */
      long r = Result(syscall(SYS_acct, a));
      if (r >= 0) syscall(SYS_acct, NULL);
      Report(r);
    } else if (!strcmp(op, "swaprace")) {
      SwapRace(a, b, atoi(c), Flags(d));
    } else if (!strcmp(op, "race")) {
      Race(a, b, atoi(c), Flags(d));
    }
  next:
    fflush(stdout);
    i += arity + 1;
  }
  return 0;
}
