/* One escape attempt against a view, named on the command line; prints one line:
 *   "RESULT NAME blocked DETAIL" or "RESULT NAME escaped DETAIL"   (exit 0 / 1)
 *   "RESULT NAME error DETAIL"                                      (exit 3: could not try)
 *
 *   escape_attempt --list KIND     names of the attempts of KIND (door, write, special, root)
 *   escape_attempt NAME
 *
 * The protected things come from the environment (paths of the view):
 *   ESC_FILE  a protected file whose content starts with "SECRET" (hidden, outside -r root,
 *             or under ro/cow: there "blocked" means the call failed; the test checks the host)
 *   ESC_DIR   its directory (protected too), ESC_TOP a visible directory above ESC_DIR,
 *   ESC_WORK  a writable directory of the view, ESC_PROG a protected program (exit 42),
 *   ESC_OKPROG an allowed program (exit 0), ESC_SOCK a protected listening AF_UNIX socket.
 *   ESC_MODE  "read": any success of a door is an escape (hide, root); "write": only write
 *             doors are tried and a success is an escape (ro); "cow": write doors are tried
 *             and only the host tells (the tracee reports blocked, the test compares trees).
 *
 * Every call goes through syscall(2) so the door named is the door taken. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <linux/stat.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *file_, *dir_, *top_, *work_, *prog_, *okprog_, *sock_, *mode_;
static const char* name_;

static char* P(const char* fmt, ...) {
  static char bufs[8][4096];
  static int n;
  char* b = bufs[n++ % 8];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, 4096, fmt, ap);
  va_end(ap);
  return b;
}

static const char* ErrName(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "E?";
}

static _Noreturn void Verdict(int escaped, const char* fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  printf("RESULT %s %s %s\n", name_, escaped ? "escaped" : "blocked", detail);
  fflush(stdout);
  _exit(escaped ? 1 : 0);
}

static _Noreturn void Error(const char* what) {
  printf("RESULT %s error %s: %s\n", name_, what, ErrName(errno));
  fflush(stdout);
  _exit(3);
}

/* True if fd reads as the protected content. */
static int Secret(int fd) {
  char buf[64] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  return n >= 6 && memcmp(buf, "SECRET", 6) == 0;
}

/* A call that must fail; it is an escape if it succeeds (and, for an fd, says so louder if
 * the fd reads the secret). */
static _Noreturn void MustFail(long rc, const char* what) {
  if (rc < 0) Verdict(0, "%s: %s", what, ErrName(errno));
  if (strcmp(mode_, "cow") == 0) Verdict(0, "%s: ok (the host tree decides)", what);
  Verdict(1, "%s succeeded (%ld)", what, rc);
}

static _Noreturn void MustNotRead(long fd, const char* what) {
  if (fd < 0) Verdict(0, "%s: %s", what, ErrName(errno));
  if (Secret((int)fd)) Verdict(1, "%s read the secret", what);
  Verdict(1, "%s opened it (fd %ld)", what, fd);
}

/* ---- Doors: one system call on the protected path each ------------------------------------ */

struct Door {
  const char* name;
  int writes; /* changes something: tried under ro and cow too */
  long (*fn)(void);
};

static long D_open(void) { return syscall(SYS_open, file_, O_RDONLY); }
static long D_openat(void) { return syscall(SYS_openat, AT_FDCWD, file_, O_RDONLY); }
static long D_openat2(void) {
  struct open_how how = {.flags = O_RDONLY};
  return syscall(SYS_openat2, AT_FDCWD, file_, &how, sizeof how);
}
static long D_open_path(void) { return syscall(SYS_open, file_, O_PATH); }
static long D_opendir(void) { return syscall(SYS_open, dir_, O_RDONLY | O_DIRECTORY); }
static long D_stat(void) {
  struct stat st;
  return syscall(SYS_stat, file_, &st);
}
static long D_lstat(void) {
  struct stat st;
  return syscall(SYS_lstat, file_, &st);
}
static long D_newfstatat(void) {
  struct stat st;
  return syscall(SYS_newfstatat, AT_FDCWD, file_, &st, 0);
}
static long D_statx(void) {
  struct statx stx;
  return syscall(SYS_statx, AT_FDCWD, file_, 0, STATX_ALL, &stx);
}
static long D_statfs(void) {
  struct statfs sf;
  return syscall(SYS_statfs, file_, &sf);
}
static long D_access(void) { return syscall(SYS_access, file_, F_OK); }
static long D_faccessat(void) { return syscall(SYS_faccessat, AT_FDCWD, file_, R_OK); }
static long D_faccessat2(void) {
  return syscall(SYS_faccessat2, AT_FDCWD, file_, R_OK, AT_SYMLINK_NOFOLLOW);
}
static long D_readlink(void) {
  char b[256];
  long r = syscall(SYS_readlink, file_, b, sizeof b);
  return r < 0 && errno == EINVAL ? 0 : r; /* EINVAL: it exists and is no symlink */
}
static long D_getxattr(void) {
  char b[64];
  long r = syscall(SYS_getxattr, file_, "user.x", b, sizeof b);
  return r < 0 && errno == ENODATA ? 0 : r; /* ENODATA: the file exists */
}
static long D_lgetxattr(void) {
  char b[64];
  long r = syscall(SYS_lgetxattr, file_, "user.x", b, sizeof b);
  return r < 0 && errno == ENODATA ? 0 : r;
}
static long D_listxattr(void) {
  char b[256];
  return syscall(SYS_listxattr, file_, b, sizeof b);
}
static long D_llistxattr(void) {
  char b[256];
  return syscall(SYS_llistxattr, file_, b, sizeof b);
}
static long D_chdir(void) { return syscall(SYS_chdir, dir_); }
static long D_execve(void) {
  pid_t c = fork();
  if (c == 0) {
    char* argv[] = {(char*)prog_, NULL};
    syscall(SYS_execve, prog_, argv, environ);
    _exit(errno == ENOENT ? 100 : 101);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 100) return errno = ENOENT, -1;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 101) return errno = EACCES, -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
}
static long D_execveat(void) {
  pid_t c = fork();
  if (c == 0) {
    char* argv[] = {(char*)prog_, NULL};
    syscall(SYS_execveat, AT_FDCWD, prog_, argv, environ, 0);
    _exit(errno == ENOENT ? 100 : 101);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) >= 100 && WEXITSTATUS(st) <= 101) return errno = ENOENT, -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
}
static long D_inotify(void) {
  int fd = inotify_init1(IN_CLOEXEC);
  return syscall(SYS_inotify_add_watch, fd, file_, IN_ALL_EVENTS);
}
static long D_name_to_handle(void) {
  struct {
    struct file_handle h;
    unsigned char b[128];
  } fh;
  fh.h.handle_bytes = 128;
  int mnt;
  return syscall(SYS_name_to_handle_at, AT_FDCWD, file_, &fh.h, &mnt, 0);
}
static long D_uconnect(void) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_);
  return syscall(SYS_connect, s, &a, sizeof a);
}
/* Writes. */
static long D_open_wr(void) { return syscall(SYS_open, file_, O_WRONLY); }
static long D_open_rdwr(void) { return syscall(SYS_openat, AT_FDCWD, file_, O_RDWR); }
static long D_open_trunc(void) { return syscall(SYS_open, file_, O_RDONLY | O_TRUNC); }
static long D_open_append(void) {
  long fd = syscall(SYS_open, file_, O_WRONLY | O_APPEND);
  if (fd >= 0 && write((int)fd, "X", 1) != 1) return -1;
  return fd;
}
static long D_openat2_wr(void) {
  struct open_how how = {.flags = O_WRONLY};
  return syscall(SYS_openat2, AT_FDCWD, file_, &how, sizeof how);
}
static long D_creat(void) { return syscall(SYS_creat, file_, 0644); }
static long D_creat_new(void) { return syscall(SYS_creat, P("%s/new", dir_), 0644); }
static long D_open_excl(void) {
  return syscall(SYS_open, P("%s/new", dir_), O_CREAT | O_EXCL | O_WRONLY, 0644);
}
static long D_truncate(void) { return syscall(SYS_truncate, file_, 0); }
static long D_chmod(void) { return syscall(SYS_chmod, file_, 0600); }
static long D_fchmodat(void) { return syscall(SYS_fchmodat, AT_FDCWD, file_, 0600); }
static long D_chown(void) { return syscall(SYS_chown, file_, getuid(), 12345); }
static long D_lchown(void) { return syscall(SYS_lchown, file_, getuid(), 12345); }
static long D_fchownat(void) { return syscall(SYS_fchownat, AT_FDCWD, file_, getuid(), 12345, 0); }
static long D_utimes(void) {
  struct timeval tv[2] = {{1, 0}, {1, 0}};
  return syscall(SYS_utimes, file_, tv);
}
static long D_utimensat(void) {
  struct timespec ts[2] = {{1, 0}, {1, 0}};
  return syscall(SYS_utimensat, AT_FDCWD, file_, ts, 0);
}
static long D_utime(void) { return syscall(SYS_utime, file_, NULL); }
static long D_futimesat(void) { return syscall(SYS_futimesat, AT_FDCWD, file_, NULL); }
static long D_setxattr(void) { return syscall(SYS_setxattr, file_, "user.esc", "1", 1, 0); }
static long D_lsetxattr(void) { return syscall(SYS_lsetxattr, file_, "user.esc", "1", 1, 0); }
static long D_removexattr(void) { return syscall(SYS_removexattr, file_, "user.keep"); }
static long D_rename_out(void) { return syscall(SYS_rename, file_, P("%s/moved", work_)); }
static long D_rename_in(void) {
  int fd = open(P("%s/in", work_), O_CREAT | O_WRONLY, 0644);
  close(fd);
  return syscall(SYS_rename, P("%s/in", work_), file_);
}
static long D_renameat2_exchange(void) {
  int fd = open(P("%s/x", work_), O_CREAT | O_WRONLY, 0644);
  close(fd);
  return syscall(SYS_renameat2, AT_FDCWD, P("%s/x", work_), AT_FDCWD, file_, RENAME_EXCHANGE);
}
static long D_rename_within(void) { return syscall(SYS_rename, file_, P("%s/renamed", dir_)); }
static long D_link_out(void) {
  /* A hard link outside the mount would let later writes reach the protected inode. */
  long r = syscall(SYS_link, file_, P("%s/hl", work_));
  if (r == 0) {
    int fd = open(P("%s/hl", work_), O_WRONLY | O_APPEND);
    if (fd >= 0 && write(fd, "X", 1) != 1) return -1;
  }
  return r;
}
static long D_linkat_follow(void) {
  return syscall(SYS_linkat, AT_FDCWD, file_, AT_FDCWD, P("%s/hl2", work_), AT_SYMLINK_FOLLOW);
}
static long D_link_in(void) {
  int fd = open(P("%s/src", work_), O_CREAT | O_WRONLY, 0644);
  close(fd);
  return syscall(SYS_link, P("%s/src", work_), P("%s/linked", dir_));
}
static long D_unlink(void) { return syscall(SYS_unlink, file_); }
static long D_unlinkat(void) { return syscall(SYS_unlinkat, AT_FDCWD, file_, 0); }
static long D_rmdir(void) { return syscall(SYS_rmdir, P("%s/sub", dir_)); }
static long D_mkdir(void) { return syscall(SYS_mkdir, P("%s/newdir", dir_), 0755); }
static long D_mknod(void) { return syscall(SYS_mknod, P("%s/fifo", dir_), S_IFIFO | 0644, 0); }
static long D_symlink(void) { return syscall(SYS_symlink, "/etc/passwd", P("%s/sl", dir_)); }
static long D_ubind(void) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s/newsock", dir_);
  return syscall(SYS_bind, s, &a, sizeof a);
}
/* Writes through a descriptor opened read-only (the open itself is allowed under ro/cow). */
static long FdOp(int op) {
  int fd = (int)syscall(SYS_open, file_, O_RDONLY);
  if (fd < 0) return -1;
  switch (op) {
    case 0:
      return syscall(SYS_fchmod, fd, 0600);
    case 1:
      return syscall(SYS_fchown, fd, getuid(), 12345);
    case 2:
      return syscall(SYS_fsetxattr, fd, "user.esc", "1", 1, 0);
    case 3:
      return syscall(SYS_fremovexattr, fd, "user.keep");
    case 4: {
      int flags = FS_APPEND_FL;
      return syscall(SYS_ioctl, fd, FS_IOC_SETFLAGS, &flags);
    }
    case 5:
      return syscall(SYS_utimensat, fd, NULL, NULL, 0); /* futimens */
    case 6: {
      /* Reopen the read-only descriptor for writing through /proc/self/fd/N. */
      long w = syscall(SYS_open, P("/proc/self/fd/%d", fd), O_WRONLY);
      if (w >= 0 && write((int)w, "X", 1) != 1) return -1;
      return w;
    }
    case 7: {
      void* m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m == MAP_FAILED) return -1;
      memcpy(m, "X", 1);
      return 0;
    }
    case 8: {
      long w = syscall(SYS_openat, fd, "", O_WRONLY); /* no AT_EMPTY_PATH for openat: ENOENT */
      return w;
    }
    case 9:
      return syscall(SYS_utimensat, fd, "", NULL, AT_EMPTY_PATH);
    case 10:
      return syscall(SYS_fchownat, fd, "", getuid(), 12345, AT_EMPTY_PATH);
  }
  return -1;
}
static long D_fchmod(void) { return FdOp(0); }
static long D_fchown(void) { return FdOp(1); }
static long D_fsetxattr(void) { return FdOp(2); }
static long D_fremovexattr(void) { return FdOp(3); }
static long D_ioctl_setflags(void) { return FdOp(4); }
static long D_futimens(void) { return FdOp(5); }
static long D_reopen_proc_fd(void) { return FdOp(6); }
static long D_mmap_shared(void) { return FdOp(7); }
static long D_openat_empty(void) { return FdOp(8); }
static long D_utimensat_empty(void) { return FdOp(9); }
static long D_fchownat_empty(void) { return FdOp(10); }
static long D_opath_reopen(void) {
  int fd = (int)syscall(SYS_open, file_, O_PATH);
  if (fd < 0) return -1;
  long w = syscall(SYS_open, P("/proc/self/fd/%d", fd), O_RDWR);
  if (w >= 0 && write((int)w, "X", 1) != 1) return -1;
  return w;
}
static long D_dirfd_rel_write(void) {
  int d = (int)syscall(SYS_open, dir_, O_RDONLY | O_DIRECTORY);
  if (d < 0) return -1;
  const char* base = strrchr(file_, '/') + 1;
  return syscall(SYS_openat, d, base, O_WRONLY | O_TRUNC);
}
static long D_dotdot_write(void) {
  return syscall(SYS_open, P("%s/../%s/%s", work_, strrchr(dir_, '/') + 1, strrchr(file_, '/') + 1),
                 O_WRONLY | O_TRUNC);
}
static long D_symlink_write(void) {
  symlink(file_, P("%s/to-file", work_));
  return syscall(SYS_open, P("%s/to-file", work_), O_WRONLY | O_TRUNC);
}
static long D_acct(void) {
  long r = syscall(SYS_acct, file_);
  if (r == 0) syscall(SYS_acct, NULL);
  return r;
}

static const struct Door kDoors[] = {
    {"open", 0, D_open},
    {"openat", 0, D_openat},
    {"openat2", 0, D_openat2},
    {"open_path", 0, D_open_path},
    {"opendir", 0, D_opendir},
    {"stat", 0, D_stat},
    {"lstat", 0, D_lstat},
    {"newfstatat", 0, D_newfstatat},
    {"statx", 0, D_statx},
    {"statfs", 0, D_statfs},
    {"access", 0, D_access},
    {"faccessat", 0, D_faccessat},
    {"faccessat2", 0, D_faccessat2},
    {"readlink", 0, D_readlink},
    {"getxattr", 0, D_getxattr},
    {"lgetxattr", 0, D_lgetxattr},
    {"listxattr", 0, D_listxattr},
    {"llistxattr", 0, D_llistxattr},
    {"chdir", 0, D_chdir},
    {"execve", 0, D_execve},
    {"execveat", 0, D_execveat},
    {"inotify_add_watch", 0, D_inotify},
    {"name_to_handle_at", 0, D_name_to_handle},
    {"unix_connect", 0, D_uconnect},
    {"open_wronly", 1, D_open_wr},
    {"open_rdwr", 1, D_open_rdwr},
    {"open_trunc", 1, D_open_trunc},
    {"open_append", 1, D_open_append},
    {"openat2_wronly", 1, D_openat2_wr},
    {"creat", 1, D_creat},
    {"creat_new", 1, D_creat_new},
    {"open_excl_new", 1, D_open_excl},
    {"truncate", 1, D_truncate},
    {"chmod", 1, D_chmod},
    {"fchmodat", 1, D_fchmodat},
    {"chown", 1, D_chown},
    {"lchown", 1, D_lchown},
    {"fchownat", 1, D_fchownat},
    {"utimes", 1, D_utimes},
    {"utimensat", 1, D_utimensat},
    {"utime", 1, D_utime},
    {"futimesat", 1, D_futimesat},
    {"setxattr", 1, D_setxattr},
    {"lsetxattr", 1, D_lsetxattr},
    {"removexattr", 1, D_removexattr},
    {"rename_out", 1, D_rename_out},
    {"rename_in", 1, D_rename_in},
    {"rename_within", 1, D_rename_within},
    {"renameat2_exchange", 1, D_renameat2_exchange},
    {"link_out_and_write", 1, D_link_out},
    {"linkat_follow", 1, D_linkat_follow},
    {"link_in", 1, D_link_in},
    {"unlink", 1, D_unlink},
    {"unlinkat", 1, D_unlinkat},
    {"rmdir", 1, D_rmdir},
    {"mkdir", 1, D_mkdir},
    {"mknod", 1, D_mknod},
    {"symlink", 1, D_symlink},
    {"unix_bind", 1, D_ubind},
    {"fchmod", 1, D_fchmod},
    {"fchown", 1, D_fchown},
    {"fsetxattr", 1, D_fsetxattr},
    {"fremovexattr", 1, D_fremovexattr},
    {"ioctl_setflags", 1, D_ioctl_setflags},
    {"futimens", 1, D_futimens},
    {"utimensat_empty_path", 1, D_utimensat_empty},
    {"fchownat_empty_path", 1, D_fchownat_empty},
    {"reopen_proc_fd_for_write", 1, D_reopen_proc_fd},
    {"reopen_o_path_for_write", 1, D_opath_reopen},
    {"mmap_shared_write", 1, D_mmap_shared},
    {"openat_empty_write", 1, D_openat_empty},
    {"dirfd_relative_write", 1, D_dirfd_rel_write},
    {"dotdot_write", 1, D_dotdot_write},
    {"symlink_write", 1, D_symlink_write},
    {"acct", 1, D_acct},
};

/* ---- Special attempts: indirect routes, races, refused doors ------------------------------- */

static const char* Base(const char* p) { return strrchr(p, '/') + 1; }
/* ESC_FILE relative to ESC_TOP ("h/key"); ESC_TOP may be "/". */
static const char* Rel(const char* path) {
  return path + (strcmp(top_, "/") == 0 ? 1 : strlen(top_) + 1);
}
static const char* FromTop(void) { return Rel(file_); }
/* ESC_FILE from any directory: enough ".." to reach "/" (or to be clamped there), then down. */
static const char* Climb(void) { return P("../../../../../../../../../../../..%s", file_); }

static void S_dirfd_above(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  if (d < 0) Error("open top");
  MustNotRead(syscall(SYS_openat, d, FromTop(), O_RDONLY), "openat(dirfd above, relative)");
}
static void S_dirfd_above_stat(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  struct stat st;
  MustFail(syscall(SYS_newfstatat, d, FromTop(), &st, 0), "newfstatat(dirfd above, relative)");
}
static void S_dotdot_chain(void) {
  MustNotRead(syscall(SYS_open, P("%s/../%s/%s", work_, Base(work_), Climb()), O_RDONLY),
              "open(work/../work/../../..PATH)");
}
static void S_dotdot_deep(void) {
  MustNotRead(
      syscall(SYS_open, P("/../../../..%s/./%s/..//%s/%s", dir_, ".", Base(dir_), Base(file_)),
              O_RDONLY),
      "open(/../../..DIR/././/..//DIR/FILE)");
}
static void S_dotdot_relative(void) {
  if (chdir(work_) != 0) Error("chdir work");
  MustNotRead(syscall(SYS_open, Climb(), O_RDONLY), "open(../../..PATH) from work");
}
static void S_abs_symlink(void) {
  if (symlink(file_, P("%s/abs", work_)) != 0) Error("symlink");
  MustNotRead(syscall(SYS_open, P("%s/abs", work_), O_RDONLY), "open(absolute symlink)");
}
static void S_rel_symlink(void) {
  if (symlink(Climb(), P("%s/rel", work_)) != 0) Error("symlink");
  MustNotRead(syscall(SYS_open, P("%s/rel", work_), O_RDONLY), "open(relative symlink)");
}
static void S_dir_symlink(void) {
  if (symlink(dir_, P("%s/d", work_)) != 0) Error("symlink");
  MustNotRead(syscall(SYS_open, P("%s/d/%s", work_, Base(file_)), O_RDONLY),
              "open(symlink to the directory/FILE)");
}
static void S_symlink_chain(void) {
  if (symlink(P("%s/c2", work_), P("%s/c1", work_)) != 0 || symlink("c3", P("%s/c2", work_)) != 0 ||
      symlink(Climb(), P("%s/c3", work_)) != 0) {
    Error("symlink");
  }
  MustNotRead(syscall(SYS_open, P("%s/c1", work_), O_RDONLY), "open(chain of symlinks)");
}
static void S_symlink_dotdot(void) {
  /* work/up -> work/.. ; then work/up/../TOP... climbs from the link's target. */
  if (symlink(work_, P("%s/self", work_)) != 0) Error("symlink");
  MustNotRead(syscall(SYS_open, P("%s/self/%s", work_, Climb()), O_RDONLY),
              "open(symlink/../../..PATH)");
}
static void S_symlink_to_root(void) {
  if (symlink("/", P("%s/root", work_)) != 0) Error("symlink");
  MustNotRead(syscall(SYS_open, P("%s/root%s", work_, file_), O_RDONLY),
              "open(link to /, then path)");
}
static void S_proc_self_fd_dir(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  MustNotRead(syscall(SYS_open, P("/proc/self/fd/%d/%s", d, FromTop()), O_RDONLY),
              "open(/proc/self/fd/N/rel)");
}
static void S_proc_self_cwd(void) {
  if (chdir(top_) != 0) Error("chdir");
  MustNotRead(syscall(SYS_open, P("/proc/self/cwd/%s", FromTop()), O_RDONLY),
              "open(/proc/self/cwd/rel)");
}
static void S_proc_1_root(void) {
  MustNotRead(syscall(SYS_open, P("/proc/1/root%s", file_), O_RDONLY), "open(/proc/1/root/..)");
}
static void S_proc_umview_cwd(void) {
  const char* u = getenv("UMVIEW_PID");
  if (!u) Error("UMVIEW_PID");
  MustNotRead(syscall(SYS_open, P("/proc/%s/cwd/%s", u, Climb()), O_RDONLY),
              "open(/proc/UMVIEW/cwd/../..PATH)");
}
static void S_proc_self_root(void) {
  MustNotRead(syscall(SYS_open, P("/proc/self/root%s", file_), O_RDONLY),
              "open(/proc/self/root/..)");
}
static void S_proc_thread_self(void) {
  if (chdir(top_) != 0) Error("chdir");
  MustNotRead(syscall(SYS_open, P("/proc/thread-self/cwd/%s", FromTop()), O_RDONLY),
              "open(/proc/thread-self/cwd/rel)");
}
static void S_proc_pid_root_sibling(void) {
  int p[2];
  if (pipe(p) != 0) Error("pipe");
  pid_t c = fork();
  if (c == 0) {
    close(p[1]);
    if (chdir(top_) != 0) _exit(1);
    char b;
    read(p[0], &b, 1);
    _exit(0);
  }
  usleep(100000);
  long fd = syscall(SYS_open, P("/proc/%d/root%s", c, file_), O_RDONLY);
  long fd2 = syscall(SYS_open, P("/proc/%d/cwd/%s", c, FromTop()), O_RDONLY);
  close(p[1]);
  waitpid(c, NULL, 0);
  if (fd2 >= 0) MustNotRead(fd2, "open(/proc/SIBLING/cwd/rel)");
  MustNotRead(fd, "open(/proc/SIBLING/root/..)");
}
static void S_proc_umview_fd(void) {
  /* umview holds O_PATH descriptors on directories it checked: try to walk from them. */
  const char* u = getenv("UMVIEW_PID");
  if (!u) Error("UMVIEW_PID");
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  for (int round = 0; round < 200; ++round) {
    struct stat st;
    syscall(SYS_newfstatat, d, "x", &st, 0); /* makes umview pin TOP */
    for (int n = 0; n < 64; ++n) {
      long fd = syscall(SYS_open, P("/proc/%s/fd/%d/%s", u, n, FromTop()), O_RDONLY);
      if (fd >= 0) MustNotRead(fd, "open(/proc/UMVIEW/fd/N/rel)");
    }
  }
  Verdict(0, "no /proc/UMVIEW/fd/N/rel opened");
}
static void S_list_parent(void) {
  int d = open(dir_, O_RDONLY | O_DIRECTORY);
  if (d >= 0) Verdict(1, "the protected directory opened");
  d = open(top_, O_RDONLY | O_DIRECTORY);
  if (d < 0) Error("open parent");
  char buf[8192];
  for (;;) {
    long n = syscall(SYS_getdents64, d, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct dirent64* e = (struct dirent64*)(buf + off);
      if (strcmp(e->d_name, Base(dir_)) == 0 || strcmp(e->d_name, Base(file_)) == 0) {
        Verdict(1, "listing shows %s", e->d_name);
      }
      off += e->d_reclen;
    }
  }
  Verdict(0, "listing of the parent omits it");
}
static void S_hardlink(void) {
  MustFail(syscall(SYS_linkat, AT_FDCWD, file_, AT_FDCWD, P("%s/hard", work_), 0),
           "linkat(protected, work/hard)");
}
static void S_inherited_fd(void) {
  /* fd 3: the protected directory, opened by the test before umview started. */
  struct stat st;
  if (fstat(3, &st) != 0) Error("fd 3");
  long fd = syscall(SYS_openat, 3, Base(file_), O_RDONLY);
  if (fd >= 0) MustNotRead(fd, "openat(inherited fd, FILE)");
  if (fchdir(3) == 0) {
    fd = syscall(SYS_open, Base(file_), O_RDONLY);
    if (fd >= 0) MustNotRead(fd, "open(FILE) after fchdir(inherited fd)");
  }
  MustNotRead(syscall(SYS_open, P("/proc/self/fd/3/%s", Base(file_)), O_RDONLY),
              "open(/proc/self/fd/3/FILE)");
}

/* Races. */
static char race_buf[4096];
static const char *race_a, *race_b;
static atomic_int race_stop;
static void* Flipper(void* arg) {
  (void)arg;
  size_t la = strlen(race_a) + 1, lb = strlen(race_b) + 1;
  while (!atomic_load(&race_stop)) {
    memcpy(race_buf, race_b, lb);
    memcpy(race_buf, race_a, la);
  }
  return NULL;
}
static void StartFlipper(pthread_t* t, const char* a, const char* b) {
  race_a = a;
  race_b = b;
  memcpy(race_buf, a, strlen(a) + 1);
  pthread_create(t, NULL, Flipper, NULL);
}
static void StopThread(pthread_t t) {
  atomic_store(&race_stop, 1);
  pthread_join(t, NULL);
}
static void PutFile(const char* path, const char* data) {
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0755);
  if (fd < 0 || write(fd, data, strlen(data)) < 0) Error(path);
  close(fd);
}
static void S_toctou_open(void) {
  PutFile(P("%s/public", work_), "PUBLIC\n");
  pthread_t t;
  StartFlipper(&t, P("%s/public", work_), file_);
  int leaked = 0;
  for (int i = 0; i < 3000; ++i) {
    int fd = (int)syscall(SYS_open, race_buf, O_RDONLY);
    if (fd < 0) continue;
    leaked += Secret(fd);
    close(fd);
  }
  StopThread(t);
  if (leaked) Verdict(1, "%d of 3000 opens read the secret", leaked);
  Verdict(0, "3000 opens, none read the secret");
}
static void S_toctou_stat(void) {
  PutFile(P("%s/public", work_), "PUBLIC\n");
  struct stat hidden;
  pthread_t t;
  StartFlipper(&t, P("%s/public", work_), file_);
  struct stat pub;
  stat(P("%s/public", work_), &pub);
  int leaked = 0;
  for (int i = 0; i < 3000; ++i) {
    if (syscall(SYS_newfstatat, AT_FDCWD, race_buf, &hidden, 0) == 0 && hidden.st_ino != pub.st_ino)
      ++leaked;
  }
  StopThread(t);
  if (leaked) Verdict(1, "%d of 3000 stats saw another inode", leaked);
  Verdict(0, "3000 stats, only the public file");
}
static void S_toctou_write(void) {
  /* Under ro/cow: flip between a writable file and the protected one while truncating. */
  PutFile(P("%s/public", work_), "PUBLIC\n");
  pthread_t t;
  StartFlipper(&t, P("%s/public", work_), file_);
  for (int i = 0; i < 3000; ++i) {
    int fd = (int)syscall(SYS_open, race_buf, O_WRONLY | O_APPEND);
    if (fd < 0) continue;
    if (write(fd, "X", 1) < 0) break;
    close(fd);
  }
  StopThread(t);
  Verdict(0, "3000 appends done (the host tree decides)");
}
static void S_rename_race(void) {
  /* work/a flips between a real directory holding "key"="PUBLIC" and a symlink to the
   * protected directory while the main thread opens work/a/FILE. */
  const char* a = P("%s/a", work_);
  const char* real = P("%s/real", work_);
  const char* link = P("%s/link", work_);
  mkdir(real, 0755);
  PutFile(P("%s/%s", real, Base(file_)), "PUBLIC\n");
  if (symlink(dir_, link) != 0) Error("symlink");
  if (rename(real, a) != 0) Error("rename");
  pid_t c = fork();
  if (c == 0) {
    /* Another process of the view swaps the names as fast as it can. */
    for (;;) {
      syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, link, RENAME_EXCHANGE);
    }
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", a, Base(file_));
  int leaked = 0, opened = 0;
  for (int i = 0; i < 3000; ++i) {
    int fd = (int)syscall(SYS_open, path, O_RDONLY);
    if (fd < 0) continue;
    ++opened;
    leaked += Secret(fd);
    close(fd);
  }
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  if (leaked) Verdict(1, "%d of 3000 opens read the secret (%d opened)", leaked, opened);
  Verdict(0, "3000 opens during renames, %d opened the public file, none the secret", opened);
}
static void S_vfork_exec_race(void) {
  pthread_t t;
  StartFlipper(&t, okprog_, prog_);
  int escaped = 0;
  for (int i = 0; i < 200; ++i) {
    pid_t c = vfork();
    if (c == 0) {
      char* argv[] = {race_buf, NULL};
      syscall(SYS_execve, race_buf, argv, environ);
      _exit(127);
    }
    int st;
    waitpid(c, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 42) ++escaped;
  }
  StopThread(t);
  if (escaped) Verdict(1, "%d of 200 vfork+execve ran the protected program", escaped);
  Verdict(0, "200 vfork+execve, the protected program never ran");
}
static void S_process_vm_writev(void) {
  /* A sibling process rewrites this process's path buffer with process_vm_writev. */
  PutFile(P("%s/public", work_), "PUBLIC\n");
  static char buf[4096];
  const char* pub = P("%s/public", work_);
  memcpy(buf, pub, strlen(pub) + 1);
  pid_t me = getpid();
  pid_t c = fork();
  if (c == 0) {
    struct iovec l1 = {(void*)file_, strlen(file_) + 1}, l2 = {(void*)pub, strlen(pub) + 1};
    struct iovec r = {buf, 4096};
    for (;;) {
      r.iov_len = l1.iov_len;
      if (syscall(SYS_process_vm_writev, me, &l1, 1, &r, 1, 0) < 0) _exit(errno == EPERM ? 5 : 6);
      r.iov_len = l2.iov_len;
      syscall(SYS_process_vm_writev, me, &l2, 1, &r, 1, 0);
    }
  }
  int leaked = 0;
  for (int i = 0; i < 3000; ++i) {
    int fd = (int)syscall(SYS_open, buf, O_RDONLY);
    if (fd < 0) continue;
    leaked += Secret(fd);
    close(fd);
  }
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  if (leaked) Verdict(1, "%d of 3000 opens read the secret", leaked);
  Verdict(0, "3000 opens while a sibling rewrote the buffer, none read the secret");
}

/* The scratch area: the 32 MiB read-only anonymous mapping umview writes checked paths into. */
static int FindScratch(uintptr_t* lo, uintptr_t* hi) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long a, b;
    char perms[8];
    int n = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &a, &b, perms, &n) < 3) continue;
    while (line[n] == ' ') ++n;
    if (b - a == 32ul << 20 && strcmp(perms, "r--p") == 0 && line[n] == '\n') {
      *lo = a;
      *hi = b;
      found = 1;
    }
  }
  if (f) fclose(f);
  return found;
}
static uintptr_t scratch_lo;
static int mem_fd = -1;
static void* ScratchWriter(void* arg) {
  int via_mem = (int)(intptr_t)arg;
  size_t len = strlen(file_) + 1;
  while (!atomic_load(&race_stop)) {
    for (int slot = 0; slot < 4; ++slot) {
      uintptr_t at = scratch_lo + (uintptr_t)slot * 16384;
      if (via_mem) {
        if (pwrite(mem_fd, file_, len, (off_t)at) < 0) return NULL;
      } else {
        memcpy((void*)at, file_, len);
      }
    }
  }
  return NULL;
}
static void ScratchRace(int via_mem) {
  PutFile(P("%s/public", work_), "PUBLIC\n");
  uintptr_t hi;
  if (!FindScratch(&scratch_lo, &hi)) Verdict(0, "no scratch area found (nothing to rewrite)");
  if (via_mem) {
    mem_fd = (int)syscall(SYS_open, "/proc/self/mem", O_RDWR);
    if (mem_fd < 0) Verdict(0, "open(/proc/self/mem, O_RDWR): %s", ErrName(errno));
  } else if (mprotect((void*)scratch_lo, hi - scratch_lo, PROT_READ | PROT_WRITE) != 0) {
    Verdict(0, "mprotect(scratch, RW): %s", ErrName(errno));
  }
  pthread_t t;
  pthread_create(&t, NULL, ScratchWriter, (void*)(intptr_t)via_mem);
  const char* pub = P("%s/public", work_);
  int leaked = 0;
  for (int i = 0; i < 20000 && !leaked; ++i) {
    int fd = (int)syscall(SYS_open, pub, O_RDONLY);
    if (fd < 0) continue;
    leaked += Secret(fd);
    close(fd);
  }
  StopThread(t);
  if (leaked) Verdict(1, "the scratch area was rewritten: an open read the secret");
  Verdict(1, "the scratch area became writable (%s), no leak seen in 20000 opens",
          via_mem ? "/proc/self/mem" : "mprotect");
}
static void S_scratch_mprotect(void) { ScratchRace(0); }
// Replace the scratch area by a writable mapping at the same address, then race as above.
static void ScratchReplace(int how) {
  uintptr_t hi;
  if (!FindScratch(&scratch_lo, &hi)) Verdict(0, "no scratch area found (nothing to replace)");
  size_t len = hi - scratch_lo;
  void* p = MAP_FAILED;
  if (how == 0) {
    p = mmap((void*)scratch_lo, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  } else if (how == 1) {
    void* fresh = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh != MAP_FAILED) {
      p = mremap(fresh, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void*)scratch_lo);
    }
  } else {
    // One munmap that starts far below the area and covers it, then a fresh mapping there.
    uintptr_t from = scratch_lo - (1ul << 20);
    if (munmap((void*)from, hi - from) == 0) {
      p = mmap((void*)scratch_lo, len, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    }
  }
  if (p == MAP_FAILED) Verdict(0, "replacing the scratch area: %s", ErrName(errno));
  PutFile(P("%s/public", work_), "PUBLIC\n");
  pthread_t t;
  pthread_create(&t, NULL, ScratchWriter, (void*)(intptr_t)0);
  const char* pub = P("%s/public", work_);
  int leaked = 0;
  for (int i = 0; i < 20000 && !leaked; ++i) {
    int fd = (int)syscall(SYS_open, pub, O_RDONLY);
    if (fd < 0) continue;
    leaked += Secret(fd);
    close(fd);
  }
  StopThread(t);
  Verdict(1, "the scratch area was replaced by a writable mapping (%d leaks)", leaked);
}
static void S_scratch_mmap_fixed(void) { ScratchReplace(0); }
static void S_scratch_mremap(void) { ScratchReplace(1); }
static void S_scratch_munmap_below(void) { ScratchReplace(2); }
static void S_scratch_proc_mem(void) { ScratchRace(1); }

static void S_openat2_in_root(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_IN_ROOT};
  MustNotRead(syscall(SYS_openat2, d, P("/%s", FromTop()), &how, sizeof how),
              "openat2(top, /rel, RESOLVE_IN_ROOT)");
}
static void S_openat2_beneath(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_BENEATH};
  MustNotRead(syscall(SYS_openat2, d, FromTop(), &how, sizeof how),
              "openat2(top, rel, RESOLVE_BENEATH)");
}
static void S_openat2_no_magic(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
  MustNotRead(
      syscall(SYS_openat2, AT_FDCWD, P("/proc/self/fd/%d/%s", d, FromTop()), &how, sizeof how),
      "openat2(/proc/self/fd/N/rel, NO_MAGICLINKS)");
}
static void S_io_uring(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  long fd = syscall(SYS_io_uring_setup, 4, &p);
  if (fd < 0) Verdict(0, "io_uring_setup: %s", ErrName(errno));
  /* Set up: submit IORING_OP_OPENAT on the protected path. */
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char* sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, IORING_OFF_SQ_RING);
  char* cq = mmap(0, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, IORING_OFF_CQ_RING);
  struct io_uring_sqe* sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe),
                                   PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
    Verdict(1, "io_uring_setup succeeded (fd %ld)", fd);
  memset(&sqes[0], 0, sizeof sqes[0]);
  sqes[0].opcode = IORING_OP_OPENAT;
  sqes[0].fd = AT_FDCWD;
  sqes[0].addr = (uintptr_t)file_;
  sqes[0].open_flags = O_RDONLY;
  unsigned* tail = (unsigned*)(sq + p.sq_off.tail);
  unsigned* array = (unsigned*)(sq + p.sq_off.array);
  array[*tail & *(unsigned*)(sq + p.sq_off.ring_mask)] = 0;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  syscall(SYS_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
  struct io_uring_cqe* cqe = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
  if (cqe[0].res >= 0) MustNotRead(cqe[0].res, "io_uring IORING_OP_OPENAT");
  Verdict(1, "io_uring_setup succeeded; OPENAT said %d", cqe[0].res);
}
static void S_execveat_empty_path(void) {
  /* An O_PATH descriptor on a symlink (O_NOFOLLOW) that points at the protected program. */
  if (symlink(prog_, P("%s/plink", work_)) != 0) Error("symlink");
  int fd = open(P("%s/plink", work_), O_PATH | O_NOFOLLOW);
  if (fd < 0) Error("open O_PATH|O_NOFOLLOW");
  pid_t c = fork();
  if (c == 0) {
    char* argv[] = {"p", NULL};
    syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
    syscall(SYS_execve, P("/proc/self/fd/%d", fd), argv, environ);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 42) Verdict(1, "the protected program ran");
  Verdict(0, "execveat(O_PATH symlink fd, \"\", AT_EMPTY_PATH) and /proc/self/fd/N: not run");
}
static void S_execveat_dirfd(void) {
  int d = open(top_, O_RDONLY | O_DIRECTORY);
  pid_t c = fork();
  if (c == 0) {
    char* argv[] = {"p", NULL};
    syscall(SYS_execveat, d, Rel(prog_), argv, environ, 0);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 42) Verdict(1, "the protected program ran");
  Verdict(0, "execveat(dirfd above, rel) did not run it");
}
static void S_shebang_interp(void) {
  PutFile(P("%s/script", work_), P("#!%s\n", prog_));
  chmod(P("%s/script", work_), 0755);
  pid_t c = fork();
  if (c == 0) {
    char* argv[] = {"script", NULL};
    execve(P("%s/script", work_), argv, environ);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 42) Verdict(1, "the protected interpreter ran");
  Verdict(0, "a script naming it as interpreter did not run it");
}
static void S_open_by_handle(void) {
  PutFile(P("%s/visible", work_), "PUBLIC\n");
  struct {
    struct file_handle h;
    unsigned char b[128];
  } fh;
  fh.h.handle_bytes = 128;
  int mnt;
  if (syscall(SYS_name_to_handle_at, AT_FDCWD, P("%s/visible", work_), &fh.h, &mnt, 0) != 0)
    Verdict(0, "name_to_handle_at(visible): %s", ErrName(errno));
  int mfd = open(work_, O_RDONLY | O_DIRECTORY);
  MustFail(syscall(SYS_open_by_handle_at, mfd, &fh.h, O_RDONLY), "open_by_handle_at");
}
static void UnixTo(const char* path, const char* what) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  MustFail(connect(s, (struct sockaddr*)&a, sizeof a), what);
}
static void S_unix_via_symlink(void) {
  if (symlink(sock_, P("%s/sl", work_)) != 0) Error("symlink");
  UnixTo(P("%s/sl", work_), "connect(symlink to the socket)");
}
static void S_unix_relative(void) {
  if (chdir(top_) != 0) Error("chdir");
  UnixTo(Rel(sock_), "connect(relative path)");
}
static void S_unix_proc_cwd(void) {
  if (chdir(top_) != 0) Error("chdir");
  UnixTo(P("/proc/self/cwd/%s", Rel(sock_)), "connect(/proc/self/cwd/rel)");
}
static void S_unix_sendto(void) {
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_);
  MustFail(sendto(s, "x", 1, 0, (struct sockaddr*)&a, sizeof a), "sendto(the socket)");
}
static void S_mount(void) {
  MustFail(syscall(SYS_mount, top_, P("%s", work_), NULL, MS_BIND | MS_REC, NULL),
           "mount(bind top)");
}
static void S_umount(void) {
  MustFail(syscall(SYS_umount2, "/proc", 2 /* MNT_DETACH */), "umount2(/proc)");
}
static void S_chroot(void) {
  if (syscall(SYS_chroot, work_) == 0) {
    MustNotRead(syscall(SYS_open, P("/..%s", file_), O_RDONLY), "open after chroot");
  }
  Verdict(0, "chroot: %s", ErrName(errno));
}
static void S_pivot_root(void) { MustFail(syscall(SYS_pivot_root, work_, work_), "pivot_root"); }
static void S_new_mount_api(void) {
  /* A private mount namespace (a user namespace first when not root), then open_tree +
   * move_mount: a bind of TOP at WORK/mnt, through which the protected name has another path. */
  if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    Verdict(0, "unshare(CLONE_NEWNS): %s", ErrName(errno));
  }
  syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  long t = syscall(SYS_open_tree, AT_FDCWD, top_, OPEN_TREE_CLONE | AT_RECURSIVE);
  if (t < 0) Verdict(0, "open_tree(top, CLONE): %s", ErrName(errno));
  mkdir(P("%s/mnt", work_), 0755);
  if (syscall(SYS_move_mount, t, "", AT_FDCWD, P("%s/mnt", work_), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    Verdict(0, "move_mount: %s", ErrName(errno));
  MustNotRead(syscall(SYS_open, P("%s/mnt/%s", work_, FromTop()), O_RDONLY),
              "open through an open_tree/move_mount bind");
}
static void S_fsopen(void) {
  if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    Verdict(0, "unshare(CLONE_NEWNS): %s", ErrName(errno));
  }
  long fs = syscall(SYS_fsopen, "tmpfs", 0);
  if (fs < 0) Verdict(0, "fsopen: %s", ErrName(errno));
  syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
  long m = syscall(SYS_fsmount, fs, 0, 0);
  if (m < 0) Verdict(0, "fsmount: %s", ErrName(errno));
  /* A tmpfs over the protected directory would not leak it, but mounted over ESC_WORK it makes
   * a host mount in a namespace umview does not see: refused like mount. */
  MustFail(syscall(SYS_move_mount, m, "", AT_FDCWD, work_, MOVE_MOUNT_F_EMPTY_PATH),
           "move_mount(fsmount tmpfs)");
}
static void SiblingSleeper(pid_t* c) {
  *c = fork();
  if (*c == 0) {
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
    for (;;) pause();
  }
  usleep(50000);
}
static void S_ptrace_attach(void) {
  pid_t c;
  SiblingSleeper(&c);
  long r = ptrace(PTRACE_ATTACH, c, 0, 0);
  int e = errno;
  if (r == 0) ptrace(PTRACE_DETACH, c, 0, 0);
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  errno = e;
  MustFail(r, "PTRACE_ATTACH of a sibling");
}
static void S_ptrace_seize(void) {
  pid_t c;
  SiblingSleeper(&c);
  long r = ptrace(PTRACE_SEIZE, c, 0, 0);
  int e = errno;
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  errno = e;
  MustFail(r, "PTRACE_SEIZE of a sibling");
}
static void S_ptrace_traceme(void) {
  pid_t c = fork();
  if (c == 0) _exit(ptrace(PTRACE_TRACEME, 0, 0, 0) == 0 ? 0 : 1);
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) Verdict(1, "PTRACE_TRACEME succeeded");
  Verdict(0, "PTRACE_TRACEME refused");
}
/* A seccomp filter of the tracee's own: whatever it returns, the view must still see (or the
 * call must not run). USER_NOTIF + CONTINUE would run the call without umview. */
static int InstallFilter(unsigned ret, unsigned flags) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, ret),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {4, f};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}
static void* Notifier(void* arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof req);
    if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return NULL;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
}
static void S_seccomp_user_notif(void) {
  int lfd = InstallFilter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
  if (lfd < 0) Verdict(0, "seccomp(NEW_LISTENER): %s", ErrName(errno));
  pthread_t t;
  pthread_create(&t, NULL, Notifier, (void*)(intptr_t)lfd);
  MustNotRead(syscall(SYS_openat, AT_FDCWD, file_, O_RDONLY), "openat under a USER_NOTIF filter");
}
static void S_seccomp_trace(void) {
  if (InstallFilter(SECCOMP_RET_TRACE | 7, 0) != 0) Verdict(0, "seccomp: %s", ErrName(errno));
  MustNotRead(syscall(SYS_openat, AT_FDCWD, file_, O_RDONLY), "openat under a RET_TRACE filter");
}
static void S_seccomp_errno(void) {
  if (InstallFilter(SECCOMP_RET_ERRNO | 0, 0) != 0) Verdict(0, "seccomp: %s", ErrName(errno));
  /* RET_ERRNO|0: "success" without the call: must not turn into an fd that reads the secret. */
  long r = syscall(SYS_openat, AT_FDCWD, file_, O_RDONLY);
  if (r > 0) MustNotRead(r, "openat under RET_ERRNO(0)");
  Verdict(0, "openat under RET_ERRNO(0) returned %ld", r);
}
static void S_seccomp_allow_prctl(void) {
  struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {1, f};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    Verdict(0, "prctl: %s", ErrName(errno));
  MustNotRead(syscall(SYS_open, file_, O_RDONLY), "open under an ALLOW filter");
}
static void S_int80(void) {
  /* The 32-bit door: open through int 0x80 (ia32 __NR_open = 5). A kernel built or booted
     without ia32 emulation has no such door: int 0x80 then faults (SIGSEGV), which a child
     making a harmless ia32 getpid (20) shows first. */
  pid_t probe = fork();
  if (probe == 0) {
    long pid;
    __asm__ volatile("int $0x80" : "=a"(pid) : "a"(20) : "memory");
    _exit(pid > 0 ? 0 : 1);
  }
  int status = 0;
  if (probe > 0 && waitpid(probe, &status, 0) == probe && WIFSIGNALED(status) &&
      WTERMSIG(status) == SIGSEGV) {
    Verdict(0, "int 0x80: no ia32 emulation in this kernel");
  }
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(5), "b"(file_), "c"(O_RDONLY) : "memory");
  if (r >= 0) MustNotRead(r, "int 0x80 open");
  errno = (int)-r;
  Verdict(0, "int 0x80 open: %s", ErrName(errno));
}
static void S_x32(void) {
  long r = syscall(SYS_openat | 0x40000000, AT_FDCWD, file_, O_RDONLY);
  if (r >= 0) MustNotRead(r, "x32 openat");
  Verdict(0, "x32 openat: %s", ErrName(errno));
}
static void S_userfaultfd(void) {
  long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
  if (fd < 0) Verdict(0, "userfaultfd: %s", ErrName(errno));
  Verdict(1, "userfaultfd allowed: it could serve the scratch area's pages");
}

struct Special {
  const char* name;
  const char* kind; /* special (hide view), root (-r view), both */
  void (*fn)(void);
};
static const struct Special kSpecial[] = {
    {"dirfd_above", "both", S_dirfd_above},
    {"dirfd_above_stat", "both", S_dirfd_above_stat},
    {"dotdot_chain", "special", S_dotdot_chain},
    {"dotdot_deep", "both", S_dotdot_deep},
    {"dotdot_relative", "both", S_dotdot_relative},
    {"abs_symlink", "both", S_abs_symlink},
    {"rel_symlink", "both", S_rel_symlink},
    {"dir_symlink", "both", S_dir_symlink},
    {"symlink_chain", "both", S_symlink_chain},
    {"symlink_dotdot", "both", S_symlink_dotdot},
    {"symlink_to_root", "both", S_symlink_to_root},
    {"proc_self_fd_dir", "both", S_proc_self_fd_dir},
    {"proc_self_cwd", "both", S_proc_self_cwd},
    {"proc_self_root", "both", S_proc_self_root},
    {"proc_1_root", "both", S_proc_1_root},
    {"proc_umview_cwd", "both", S_proc_umview_cwd},
    {"proc_thread_self", "both", S_proc_thread_self},
    {"proc_pid_root_sibling", "both", S_proc_pid_root_sibling},
    {"proc_umview_fd", "both", S_proc_umview_fd},
    {"list_parent", "special", S_list_parent},
    {"hardlink", "both", S_hardlink},
    {"inherited_fd", "inherit", S_inherited_fd},
    {"toctou_open", "both", S_toctou_open},
    {"toctou_stat", "special", S_toctou_stat},
    {"toctou_write", "write", S_toctou_write},
    {"rename_race", "both", S_rename_race},
    {"vfork_exec_race", "both", S_vfork_exec_race},
    {"process_vm_writev", "both", S_process_vm_writev},
    {"scratch_mprotect", "both", S_scratch_mprotect},
    {"scratch_proc_mem", "both", S_scratch_proc_mem},
    {"openat2_in_root", "both", S_openat2_in_root},
    {"openat2_beneath", "both", S_openat2_beneath},
    {"openat2_no_magiclinks", "both", S_openat2_no_magic},
    {"io_uring", "both", S_io_uring},
    {"execveat_empty_path", "both", S_execveat_empty_path},
    {"execveat_dirfd", "both", S_execveat_dirfd},
    {"shebang_interp", "both", S_shebang_interp},
    {"open_by_handle_at", "both", S_open_by_handle},
    {"unix_via_symlink", "both", S_unix_via_symlink},
    {"unix_relative", "both", S_unix_relative},
    {"unix_proc_cwd", "both", S_unix_proc_cwd},
    {"unix_sendto", "both", S_unix_sendto},
    {"mount", "both", S_mount},
    {"umount2", "both", S_umount},
    {"chroot", "both", S_chroot},
    {"pivot_root", "both", S_pivot_root},
    {"new_mount_api", "both", S_new_mount_api},
    {"fsopen_fsmount", "both", S_fsopen},
    {"ptrace_attach_sibling", "both", S_ptrace_attach},
    {"ptrace_seize_sibling", "both", S_ptrace_seize},
    {"ptrace_traceme", "both", S_ptrace_traceme},
    {"seccomp_user_notif", "both", S_seccomp_user_notif},
    {"seccomp_ret_trace", "both", S_seccomp_trace},
    {"seccomp_ret_errno", "both", S_seccomp_errno},
    {"seccomp_allow_prctl", "both", S_seccomp_allow_prctl},
    {"int80", "both", S_int80},
    {"x32", "both", S_x32},
    {"userfaultfd", "both", S_userfaultfd},
    {"scratch_mmap_fixed", "both", S_scratch_mmap_fixed},
    {"scratch_mremap", "both", S_scratch_mremap},
    {"scratch_munmap_below", "both", S_scratch_munmap_below},
};

static const char* Env(const char* n) {
  const char* v = getenv(n);
  return v ? v : "";
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--list") == 0) {
    const char* kind = argv[2];
    if (strcmp(kind, "door") == 0 || strcmp(kind, "write") == 0) {
      for (size_t i = 0; i < sizeof kDoors / sizeof kDoors[0]; ++i) {
        if (strcmp(kind, "door") == 0 || kDoors[i].writes) printf("door.%s\n", kDoors[i].name);
      }
    }
    for (size_t i = 0; i < sizeof kSpecial / sizeof kSpecial[0]; ++i) {
      const char* k = kSpecial[i].kind;
      int in =
          strcmp(k, kind) == 0 ||
          (strcmp(k, "both") == 0 && (strcmp(kind, "special") == 0 || strcmp(kind, "root") == 0));
      if (in) printf("%s\n", kSpecial[i].name);
    }
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: escape_attempt --list KIND | NAME\n");
    return 2;
  }
  name_ = argv[1];
  file_ = Env("ESC_FILE");
  dir_ = Env("ESC_DIR");
  top_ = Env("ESC_TOP");
  work_ = Env("ESC_WORK");
  prog_ = Env("ESC_PROG");
  okprog_ = Env("ESC_OKPROG");
  sock_ = Env("ESC_SOCK");
  mode_ = Env("ESC_MODE");
  if (strncmp(name_, "door.", 5) == 0) {
    for (size_t i = 0; i < sizeof kDoors / sizeof kDoors[0]; ++i) {
      if (strcmp(kDoors[i].name, name_ + 5) != 0) continue;
      long r = kDoors[i].fn();
      if (r >= 0 && strcmp(mode_, "read") == 0 && !kDoors[i].writes && r > 2 &&
          (strcmp(kDoors[i].name, "open") == 0 || strcmp(kDoors[i].name, "openat") == 0 ||
           strcmp(kDoors[i].name, "openat2") == 0)) {
        MustNotRead(r, kDoors[i].name);
      }
      MustFail(r, kDoors[i].name);
    }
  }
  for (size_t i = 0; i < sizeof kSpecial / sizeof kSpecial[0]; ++i) {
    if (strcmp(kSpecial[i].name, name_) == 0) {
      kSpecial[i].fn();
      Verdict(0, "(no verdict)");
    }
  }
  fprintf(stderr, "escape_attempt: unknown attempt '%s'\n", name_);
  return 2;
}
