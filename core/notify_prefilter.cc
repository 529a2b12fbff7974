#include "core/notify_prefilter.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <thread>
#include <unordered_map>

#include "core/log.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace umview {

bool PrefilterPathCall(long nr, PrefilterPathArgs* pa) {
  pa->dirfd[0] = pa->dirfd[1] = -1;
  pa->path[0] = 0;
  pa->path[1] = -1;
  switch (nr) {
    case SYS_open:
    case SYS_stat:
    case SYS_lstat:
    case SYS_access:
    case SYS_truncate:
    case SYS_chdir:
    case SYS_mkdir:
    case SYS_rmdir:
    case SYS_creat:
    case SYS_unlink:
    case SYS_readlink:
    case SYS_chmod:
    case SYS_chown:
    case SYS_lchown:
    case SYS_utime:
    case SYS_mknod:
    case SYS_statfs:
    case SYS_chroot:
    case SYS_setxattr:
    case SYS_lsetxattr:
    case SYS_getxattr:
    case SYS_lgetxattr:
    case SYS_listxattr:
    case SYS_llistxattr:
    case SYS_removexattr:
    case SYS_lremovexattr:
    case SYS_utimes:
      return true;
    case SYS_rename:
    case SYS_link:
      pa->path[1] = 1;
      return true;
    case SYS_symlink:  // the target is only text
      pa->path[0] = 1;
      return true;
    case SYS_openat:
    case SYS_mkdirat:
    case SYS_mknodat:
    case SYS_fchownat:
    case SYS_futimesat:
    case SYS_newfstatat:
    case SYS_unlinkat:
    case SYS_readlinkat:
    case SYS_fchmodat:
    case SYS_faccessat:
    case SYS_utimensat:
    case SYS_statx:
    case SYS_openat2:
    case SYS_faccessat2:
    case SYS_name_to_handle_at:
      pa->dirfd[0] = 0;
      pa->path[0] = 1;
      return true;
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_linkat:
      pa->dirfd[0] = 0;
      pa->path[0] = 1;
      pa->dirfd[1] = 2;
      pa->path[1] = 3;
      return true;
    case SYS_symlinkat:
      pa->dirfd[0] = 1;
      pa->path[0] = 2;
      return true;
    default:
      return false;
  }
}

namespace {

// The NUL-terminated string at `addr` of tid's memory into buf (PATH_MAX): its length, or -1 if
// it cannot be read or does not fit. Reads up to each page end, so a short path near the end of
// a mapping is read without touching the next page.
long ReadPath(pid_t tid, uint64_t addr, char* buf) {
  size_t got = 0;
  while (got < PATH_MAX) {
    uint64_t at = addr + got;
    size_t chunk = 4096 - (at & 4095);
    if (chunk > PATH_MAX - got) chunk = PATH_MAX - got;
    struct iovec local = {buf + got, chunk};
    struct iovec remote = {reinterpret_cast<void*>(at), chunk};
    ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
    if (n <= 0) return -1;
    const char* nul = static_cast<const char*>(memchr(buf + got, 0, static_cast<size_t>(n)));
    if (nul != nullptr) return nul - buf;
    got += static_cast<size_t>(n);
  }
  return -1;
}

// Descriptors of /proc/TID directories, so that reading a thread's cwd or descriptor link
// looks up one name instead of three (4.0 against 7.7 us per readlink measured here under load).
// A directory of a thread that has gone stays dead even if its number is reused (its lookups
// fail): such an entry is dropped and opened anew. Each prefilter thread has its own.
class ProcDirs {
 public:
  explicit ProcDirs(size_t max = 256) : max_(max) {}
  ~ProcDirs() { Clear(); }
  // readlinkat(/proc/TID, name) into buf (PATH_MAX - 1 bytes at most), as readlink.
  ssize_t ReadLink(pid_t tid, const char* name, char* buf) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      int dir = Dir(tid);
      if (dir < 0) return -1;
      ssize_t n = readlinkat(dir, name, buf, PATH_MAX - 1);
      if (n >= 0 || (errno != ENOENT && errno != ESRCH)) return n;
      // The thread may be gone, or only the descriptor: try once with a fresh directory.
      close(dir);
      dirs_.erase(tid);
    }
    return -1;
  }

 private:
  int Dir(pid_t tid) {
    auto it = dirs_.find(tid);
    if (it != dirs_.end()) return it->second;
    if (dirs_.size() >= max_) Clear();
    char path[32];
    snprintf(path, sizeof path, "/proc/%d", tid);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) dirs_[tid] = fd;
    return fd;
  }
  void Clear() {
    for (const auto& [tid, fd] : dirs_) close(fd);
    dirs_.clear();
  }
  size_t max_;
  std::unordered_map<pid_t, int> dirs_;
};

// The host path of thread tid's cwd (fd < 0) or descriptor fd into buf (PATH_MAX): its length,
// or -1 unless it is a plain path — pipes, sockets and anonymous files read "pipe:[...]" and
// the like (umview's virtual descriptors are pipes), removed files end in " (deleted)".
long BasePath(ProcDirs& dirs, pid_t tid, int fd, char* buf) {
  char name[32];
  if (fd < 0) {
    snprintf(name, sizeof name, "cwd");
  } else {
    snprintf(name, sizeof name, "fd/%d", fd);
  }
  ssize_t n = dirs.ReadLink(tid, name, buf);
  if (n <= 0 || buf[0] != '/') return -1;
  buf[n] = 0;
  if (n >= 10 && memcmp(buf + n - 10, " (deleted)", 10) == 0) return -1;
  return n;
}

// -1 if path has a ".." component, 1 if Normalize would change it otherwise, else 0
// (kmv_scan_path).
int ScanPath(const char* p) {
  int norm = 0;
  if (*p == '/') ++p;
  while (*p) {
    if (*p == '/') {
      norm = 1;
      ++p;
      continue;
    }
    if (p[0] == '.' && (p[1] == '/' || p[1] == 0)) {
      norm = 1;
    } else if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == 0)) {
      return -1;
    }
    p = strchrnul(p, '/');
    if (*p == '/' && *++p == 0) norm = 1;
  }
  return norm;
}

bool InPrefixes(const PrefilterRules& rules, const char* path);

// Lexical normalization in place of an absolute path: "//" and "/./" collapse, a trailing "/"
// or "/." goes ("/" stays). A ".." (kmview's module leaves those to its tracer) is taken
// lexically only where the directory it leaves lies outside every prefix: leaving a mount's
// directory (or its host path, the kernel's cwd inside a bind) must reach the view's parent,
// which only the plugins know — false then. Outside the mounts the kernel's walk is the
// lexical one but for symlinks, the documented limit of the prefilter.
bool Normalize(const PrefilterRules& rules, char* path) {
  char *r = path, *w = path;
  while (*r) {
    while (*r == '/') ++r;
    if (r[0] == '.' && (r[1] == '/' || r[1] == 0)) {
      ++r;
      continue;
    }
    if (r[0] == '.' && r[1] == '.' && (r[2] == '/' || r[2] == 0)) {
      r += 2;
      if (w == path) continue;  // "/.." is "/"
      char saved = *w;
      *w = 0;
      const bool inside = InPrefixes(rules, path);
      *w = saved;
      if (inside) return false;
      while (w > path && *--w != '/') {
      }
      continue;
    }
    if (*r == 0) break;
    *w++ = '/';
    while (*r && *r != '/') *w++ = *r++;
  }
  if (w == path) *w++ = '/';
  *w = 0;
  return true;
}

bool InPrefixes(const PrefilterRules& rules, const char* path) {
  for (const std::string& p : rules.prefixes) {
    if (p == "/") return true;
    if (strncmp(path, p.data(), p.size()) == 0 && (path[p.size()] == 0 || path[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

// Is path a proper ancestor of a prefix?
bool AbovePrefix(const PrefilterRules& rules, const char* path) {
  size_t len = strlen(path);
  if (len == 1 && path[0] == '/') return true;
  for (const std::string& p : rules.prefixes) {
    if (p.size() > len && p.compare(0, len, path) == 0 && p[len] == '/') return true;
  }
  return false;
}

// The path argument as the kernel starts resolving it: relative ones joined to the host path of
// the cwd or dirfd, then normalized lexically, into out (PATH_MAX). False if that cannot be told.
bool LexicalPath(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
                 const uint64_t args[6], int dirfd_arg, int path_arg, char* out) {
  char base[PATH_MAX];
  // utimensat(fd, NULL, ...) is futimens(fd): the descriptor's own file, as an empty path.
  long n = 0;
  if (args[path_arg] == 0 && nr == SYS_utimensat) {
    out[0] = 0;
  } else {
    n = ReadPath(tid, args[path_arg], out);
  }
  if (n < 0) return false;
  int scan = ScanPath(out);
  const bool dotdot = scan < 0;
  if (out[0] != '/') {
    int dfd = dirfd_arg >= 0 ? static_cast<int>(args[dirfd_arg]) : AT_FDCWD;
    if (dfd != AT_FDCWD && dfd < 0) return false;
    // An empty path (AT_EMPTY_PATH) names the descriptor's own file: a plain path for
    // directories and files, never for a virtual descriptor (a pipe).
    long blen = BasePath(dirs, tid, dfd == AT_FDCWD ? -1 : dfd, base);
    if (blen < 0 || blen + 1 + n >= PATH_MAX) return false;
    base[blen] = '/';
    memcpy(base + blen + 1, out, static_cast<size_t>(n) + 1);
    memcpy(out, base, static_cast<size_t>(blen + 1 + n + 1));
    if (blen == 1 || n == 0) scan = 1;
  }
  return !(dotdot || scan) || Normalize(rules, out);
}

bool PathInside(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
                const uint64_t args[6], int dirfd_arg, int path_arg) {
  char full[PATH_MAX];
  return !LexicalPath(dirs, rules, tid, nr, args, dirfd_arg, path_arg, full) ||
         InPrefixes(rules, full);
}

// An interpreter the kernel will open by this name (absolute): outside if neither the name nor
// the file it resolves to on the host lies at or under a prefix. The resolved name catches the
// common case the lexical rule would miss: /lib64/ld-linux-x86-64.so.2 is a symlink into
// /lib/x86_64-linux-gnu, which a view may well bind.
bool InterpreterOutside(const PrefilterRules& rules, char* name) {
  if (name[0] != '/' || !Normalize(rules, name) || InPrefixes(rules, name)) return false;
  char real[PATH_MAX];
  return realpath(name, real) != nullptr && !InPrefixes(rules, real);
}

// execve of a program at `path` (absolute, normalized, outside every prefix): whether the kernel
// would reach no file inside a prefix through its interpreters either (a script's "#!" line, an
// ELF's PT_INTERP, up to the kernel's 4 levels of scripts) — then the call may run unseen. A
// program that does not exist runs unseen too: the kernel fails it as the view would. Anything
// else (a file umview cannot read, a device, another format, 32-bit ELF) is left to the plugins.
bool ExecOutside(const PrefilterRules& rules, char* path) {
  for (int depth = 0; depth < 5; ++depth) {
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT || errno == ENOTDIR;
    if (!S_ISREG(st.st_mode)) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return false;
    char head[1024];
    ssize_t n = pread(fd, head, sizeof head, 0);
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
      close(fd);
      // binfmt_script: the name follows "#!" and blanks, up to a blank or the end of the line,
      // within the kernel's 256-byte buffer.
      const size_t len = std::min<size_t>(static_cast<size_t>(n), 256);
      const char* eol = static_cast<const char*>(memchr(head, '\n', len));
      if (eol == nullptr) return false;
      const char* p = head + 2;
      while (p < eol && (*p == ' ' || *p == '\t')) ++p;
      const char* e = p;
      while (e < eol && *e != ' ' && *e != '\t' && *e != 0) ++e;
      if (e == p) return false;
      memcpy(path, p, static_cast<size_t>(e - p));
      path[e - p] = 0;
      if (!InterpreterOutside(rules, path)) return false;
      continue;  // the interpreter is a program too
    }
    Elf64_Ehdr eh;
    bool ok = n >= static_cast<ssize_t>(sizeof eh);
    if (ok) memcpy(&eh, head, sizeof eh);
    ok = ok && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
         eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0 && eh.e_phnum < 256;
    bool outside = false;
    if (ok) {
      // The program headers and the interpreter's name, from the first KiB where they usually
      // are, else read.
      Elf64_Phdr ph[256];
      const size_t table = eh.e_phnum * sizeof(Elf64_Phdr);
      // (Offsets come from the file: compared so that a huge one cannot wrap around.)
      if (eh.e_phoff <= static_cast<size_t>(n) && table <= static_cast<size_t>(n) - eh.e_phoff) {
        memcpy(ph, head + eh.e_phoff, table);
      } else if (pread(fd, ph, table, static_cast<off_t>(eh.e_phoff)) !=
                 static_cast<ssize_t>(table)) {
        ok = false;
      }
      outside = ok;  // no PT_INTERP: a static program
      for (int i = 0; ok && i < eh.e_phnum; ++i) {
        if (ph[i].p_type != PT_INTERP) continue;
        const size_t len = ph[i].p_filesz, at = ph[i].p_offset;
        if (len < 2 || len >= PATH_MAX) {
          outside = false;
        } else if (at <= static_cast<size_t>(n) && len <= static_cast<size_t>(n) - at) {
          memcpy(path, head + at, len);
        } else if (pread(fd, path, len, static_cast<off_t>(at)) != static_cast<ssize_t>(len)) {
          outside = false;
        }
        outside = outside && path[len - 1] == 0 && InterpreterOutside(rules, path);
        break;
      }
    }
    close(fd);
    return outside;
  }
  return false;
}

bool FdWanted(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
              const uint64_t args[6]) {
  const bool cwd = nr == SYS_getcwd;
  char buf[PATH_MAX];
  int fd = cwd ? -1 : static_cast<int>(args[0]);
  if (!cwd && fd < 0) return true;
  if (BasePath(dirs, tid, fd, buf) < 0) return true;
  return InPrefixes(rules, buf) || (!cwd && AbovePrefix(rules, buf));
}

bool Outside(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
             const uint64_t args[6]) {
  if (!rules.active || nr < 0) return false;
  if (nr < 512 && rules.fd_calls.test(static_cast<size_t>(nr))) {
    return !FdWanted(dirs, rules, tid, nr, args);
  }
  if (nr == SYS_execve) {
    char path[PATH_MAX];
    return rules.exec && LexicalPath(dirs, rules, tid, nr, args, -1, 0, path) &&
           !InPrefixes(rules, path) && ExecOutside(rules, path);
  }
  PrefilterPathArgs pa;
  if (!PrefilterPathCall(nr, &pa)) return false;
  for (int i = 0; i < 2 && pa.path[i] >= 0; ++i) {
    if (PathInside(dirs, rules, tid, nr, args, pa.dirfd[i], pa.path[i])) return false;
  }
  return true;
}

}  // namespace

bool PrefilterOutside(const PrefilterRules& rules, pid_t tid, long nr, const uint64_t args[6]) {
  ProcDirs dirs;
  return Outside(dirs, rules, tid, nr, args);
}

struct NotifyPrefilter::State {
  int listener = -1;
  int wake = -1;
  std::mutex mu;
  std::shared_ptr<const PrefilterRules> rules;  // under mu
  std::vector<Escalation> escalations;          // under mu
  struct Allowed {
    long nr;
    uint64_t args[6];
  };
  std::unordered_map<pid_t, Allowed> allowed;  // under mu
  std::atomic<bool> pending{false};
  std::array<std::atomic<uint64_t>, 512> passed{};
  size_t dirs_per_thread = 256;
  // The serving threads' CPUs (-1: unpinned), and the CPUs umview may use.
  std::vector<int> cpus;
  cpu_set_t all_cpus;
  // The synchronous wake-up, switched by load (Adapt). `adaptive`: the kernel took the flag and
  // there are several threads. While it is on, only thread 0 serves, unpinned, and the others
  // wait on park_cv; while it is off, all serve, each on its CPU.
  bool adaptive = false;
  std::atomic<bool> sync_wake{false};
  std::mutex park_mu;
  std::condition_variable park_cv;
  std::atomic<int> serving{0};     // threads between receiving a notification and answering it
  std::atomic<int> overlap{0};     // the score Adapt keeps
  std::atomic<pid_t> last_pid{0};  // the thread of the notification received last

  ~State() {
    if (listener >= 0) close(listener);
    if (wake >= 0) close(wake);
  }

  // The synchronous wake-up (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6+) hands the CPU
  // straight from the tracee to the thread that receives its notification, and back: the best
  // a single busy tracee can have (7.8 against 17 us a call, PERFORMANCE.md). With several busy
  // tracees it backfires: the answer moves the tracee to the CPU the serving thread is on, the
  // busy tracees pile up on one CPU while the other idles (make -j2 on 2 CPUs: 8.0 s with it,
  // 6.3 s without, one thread). Several busy tracees show as notifications that overlap: one
  // received while another thread serves, or waiting when the lone thread has answered one.
  // Each overlap raises a score by kOverlapWeight, each lone notification lowers it by one; the
  // flag goes off above kOffAbove and on again at zero.
  static constexpr int kOverlapWeight = 32;
  static constexpr int kOffAbove = 2048;
  static constexpr int kScoreMax = 4096;
  void Adapt(bool overlapped) {
    int s = overlap.load(std::memory_order_relaxed);
    s = overlapped ? std::min(s + kOverlapWeight, kScoreMax) : std::max(s - 1, 0);
    overlap.store(s, std::memory_order_relaxed);  // racy on purpose: a score, not a count
    const bool on = sync_wake.load(std::memory_order_relaxed);
    if (on && s > kOffAbove) {
      if (sync_wake.exchange(false)) {
        SetSyncWake(false);
        std::lock_guard<std::mutex> lock(park_mu);
        park_cv.notify_all();
      }
    } else if (!on && s == 0) {
      if (!sync_wake.exchange(true)) SetSyncWake(true);
    }
  }
  // Whether a notification waits to be received.
  bool Waiting() const {
    struct pollfd p = {listener, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
  }
  void Pin(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, cpu >= 0 ? &one : &all_cpus);  // best effort
  }
  bool SetSyncWake(bool on) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                 on ? SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP : 0, 0) == 0;
  }

  // One notification: let it through or hand it to the tracer.
  void Serve(ProcDirs& dirs, const struct seccomp_notif& req) {
    const long nr = req.data.nr;
    uint64_t args[6];
    for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
    const pid_t tid = static_cast<pid_t>(req.pid);
    std::shared_ptr<const PrefilterRules> r;
    bool go = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = allowed.find(tid);
      if (it != allowed.end() && it->second.nr == nr &&
          memcmp(it->second.args, args, sizeof args) == 0) {
        allowed.erase(it);
        go = true;
      } else {
        r = rules;
      }
    }
    if (!go && r && Outside(dirs, *r, tid, nr, args)) {
      go = true;
      if (nr >= 0 && nr < 512) passed[nr].fetch_add(1, std::memory_order_relaxed);
    }
    if (go) {
      struct seccomp_notif_resp resp = {};
      resp.id = req.id;
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: killed meanwhile
      return;
    }
    Escalation e{tid, req.id, nr, {}};
    memcpy(e.args, args, sizeof args);
    {
      std::lock_guard<std::mutex> lock(mu);
      escalations.push_back(e);
      pending.store(true, std::memory_order_release);
    }
    uint64_t one = 1;
    (void)!write(wake, &one, sizeof one);
  }

  void Loop(size_t i) {
    ProcDirs dirs(dirs_per_thread);  // the thread's own
    bool pinned = false;
    bool waiting = false;  // a notification was waiting when this thread answered its last
    unsigned answers = 0;
    if (cpus[i] >= 0 && !adaptive) {
      Pin(cpus[i]);
      pinned = true;
    }
    while (true) {
      if (adaptive) {
        const bool sync = sync_wake.load(std::memory_order_relaxed);
        if (i > 0 && sync) {
          std::unique_lock<std::mutex> lock(park_mu);
          park_cv.wait(lock, [&] { return !sync_wake.load(std::memory_order_relaxed); });
          if (!pinned && cpus[i] >= 0) Pin(cpus[i]);
          pinned = cpus[i] >= 0;
        } else if (i == 0 && cpus[0] >= 0 && pinned == sync) {
          Pin(sync ? -1 : cpus[0]);
          pinned = !sync;
        }
      }
      struct seccomp_notif req;
      memset(&req, 0, sizeof req);  // the kernel insists
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
        if (errno == EINTR || errno == ENOENT) continue;  // ENOENT: the caller was killed
        return;
      }
      // An overlap: another thread was serving, or (alone) one more was waiting when the last
      // answer went; and from another thread than the last one received (a thread that calls
      // again at once on another CPU is one busy tracee, not two).
      const bool busy = serving.fetch_add(1, std::memory_order_relaxed) > 0 || waiting;
      const pid_t prev = last_pid.exchange(static_cast<pid_t>(req.pid), std::memory_order_relaxed);
      const bool overlapped = busy && prev != static_cast<pid_t>(req.pid);
      Serve(dirs, req);
      serving.fetch_sub(1, std::memory_order_relaxed);
      waiting = false;
      if (adaptive) {
        Adapt(overlapped);
        // Alone, the thread looks every fourth answer (a poll costs ~0.4 us here).
        waiting = i == 0 && (++answers & 3) == 0 && sync_wake.load(std::memory_order_relaxed) &&
                  Waiting();
      }
    }
  }
};

NotifyPrefilter::NotifyPrefilter(int listener) : s_(std::make_shared<State>()) {
  s_->listener = listener;
  s_->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

// The threads are left blocked in their receive calls: they hold the state, and end with umview.
NotifyPrefilter::~NotifyPrefilter() = default;

// How many threads serve, and on which CPUs (-1: not pinned): one per CPU umview may use, up to
// 4 CPUs, each pinned to its CPU when it serves alongside the others (State::Loop); 2 unpinned
// ones on larger machines. Every thread waiting in its receive call is woken for each
// notification (the kernel's wait is not exclusive), hence few, and only thread 0 waits while
// the synchronous wake-up is on. UMVIEW_PREFILTER_THREADS=N sets the number (unpinned unless it
// is that of the CPUs), for comparisons; 1 is one thread with the synchronous wake-up always on.
static std::vector<int> PrefilterThreadCpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  size_t want = cpus.size() <= 4 ? cpus.size() : 2;
  if (const char* e = getenv("UMVIEW_PREFILTER_THREADS")) {
    long n = strtol(e, nullptr, 10);
    if (n >= 1 && n <= 64) want = static_cast<size_t>(n);
  }
  if (want == 0) want = 1;
  if (want != cpus.size() || cpus.size() > 4 || want == 1) return std::vector<int>(want, -1);
  return cpus;
}

bool NotifyPrefilter::Start(std::string* error) {
  if (s_->wake < 0) {
    *error = std::string("eventfd: ") + strerror(errno);
    return false;
  }
  s_->cpus = PrefilterThreadCpus();
  if (sched_getaffinity(0, sizeof s_->all_cpus, &s_->all_cpus) != 0) CPU_ZERO(&s_->all_cpus);
  const bool sync = s_->SetSyncWake(true);  // ENOTTY/EINVAL before Linux 6.6
  s_->sync_wake = sync;
  s_->adaptive = sync && s_->cpus.size() > 1;
  s_->dirs_per_thread = std::max<size_t>(32, 256 / s_->cpus.size());
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    for (size_t i = 0; i < s_->cpus.size(); ++i) {
      std::thread([s = s_, i] { s->Loop(i); }).detach();
    }
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    *error = std::string("cannot start the prefilter thread: ") + e.what();
    return false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return true;
}

void NotifyPrefilter::SetRules(std::shared_ptr<const PrefilterRules> rules) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->rules = std::move(rules);
}

int NotifyPrefilter::wake_fd() const { return s_->wake; }

bool NotifyPrefilter::pending() const { return s_->pending.load(std::memory_order_acquire); }

std::vector<Escalation> NotifyPrefilter::TakeEscalations() {
  uint64_t n;
  (void)!read(s_->wake, &n, sizeof n);
  std::lock_guard<std::mutex> lock(s_->mu);
  std::vector<Escalation> out;
  out.swap(s_->escalations);
  s_->pending.store(false, std::memory_order_relaxed);
  return out;
}

bool NotifyPrefilter::Reply(uint64_t id, int64_t error) {
  struct seccomp_notif_resp resp = {};
  resp.id = id;
  resp.error = static_cast<int32_t>(error);
  return ioctl(s_->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0;
}

void NotifyPrefilter::AllowOnce(pid_t tid, long nr, const uint64_t args[6]) {
  State::Allowed a{nr, {}};
  memcpy(a.args, args, sizeof a.args);
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->allowed[tid] = a;
}

void NotifyPrefilter::Forget(pid_t tid) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->allowed.erase(tid);
}

uint64_t NotifyPrefilter::passed(long nr) const {
  return nr >= 0 && nr < 512 ? s_->passed[nr].load(std::memory_order_relaxed) : 0;
}

}  // namespace umview
