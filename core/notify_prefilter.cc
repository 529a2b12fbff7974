#include "core/notify_prefilter.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
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
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "umview/paths.h"

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

bool PrefilterCallMayRead(long nr) {
  switch (nr) {
    case SYS_stat:
    case SYS_lstat:
    case SYS_newfstatat:
    case SYS_statx:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_getxattr:
    case SYS_lgetxattr:
    case SYS_listxattr:
    case SYS_llistxattr:
    case SYS_statfs:
    case SYS_chdir:
    case SYS_name_to_handle_at:
    case SYS_execve:
    case SYS_getdents64:
    case SYS_getcwd:
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_open:
    case SYS_openat:
      return true;
    default:
      return false;
  }
}

bool PrefilterWriteFlags(long nr, int* arg, uint64_t* mask) {
  // What an open may do to the file: write it, create it, empty it (O_TRUNC, even with
  // O_RDONLY where permitted), make an unnamed one (O_TMPFILE's own bit).
  constexpr uint64_t kOpenWrites =
      O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY);
  switch (nr) {
    case SYS_access:
      *arg = 1, *mask = W_OK;
      return true;
    case SYS_faccessat:
    case SYS_faccessat2:
      *arg = 2, *mask = W_OK;
      return true;
    case SYS_open:
      *arg = 1, *mask = kOpenWrites;
      return true;
    case SYS_openat:
      *arg = 2, *mask = kOpenWrites;
      return true;
    default:
      return false;
  }
}

bool PrefilterCallWrites(long nr, const uint64_t args[6]) {
  int arg;
  uint64_t mask;
  if (PrefilterWriteFlags(nr, &arg, &mask)) return (args[arg] & mask) != 0;
  return !PrefilterCallMayRead(nr);
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

// Calls that may put a symlink where a directory was (or take one away): each notification of
// one bumps this, whatever is decided, before the call can run; WalkCache entries older than
// the last bump are not used.
std::atomic<uint64_t> g_tree_changes{1};

bool ChangesTree(long nr) {
  switch (nr) {
    case SYS_rename:
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_unlink:
    case SYS_unlinkat:
    case SYS_rmdir:
    case SYS_symlink:
    case SYS_symlinkat:
      return true;
    default:
      return false;
  }
}

// The directory (absolute, normal form) whose walk from "/" a thread last found free of
// symlinks: ls -lR's and git's stats of the names in one directory check it once. Changes
// made inside the view are seen (g_tree_changes); changes the host makes meanwhile, within
// kWalkCacheNs — the window a check made before the kernel's walk always has, made longer.
constexpr uint64_t kWalkCacheNs = 50 * 1000 * 1000;
struct WalkCache {
  WalkCache() = default;
  WalkCache(const WalkCache&) = delete;
  WalkCache& operator=(const WalkCache&) = delete;
  ~WalkCache() { Reset(); }
  void Reset() {
    if (fd >= 0) close(fd);
    fd = -1;
    dir.clear();
  }
  std::string dir;
  int fd = -1;  // O_PATH, of dir
  uint64_t generation = 0;
  uint64_t at_ns = 0;
};

uint64_t CoarseNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Descriptors of /proc/TID directories, so that reading a thread's cwd or descriptor link
// looks up one name instead of three (4.0 against 7.7 us per readlink measured here under load).
// A directory of a thread that has gone stays dead even if its number is reused (its lookups
// fail): such an entry is dropped and opened anew. Each prefilter thread has its own.
class ProcDirs {
 public:
  explicit ProcDirs(size_t max = 256) : max_(max) {}
  ~ProcDirs() { Clear(); }
  WalkCache walk;  // the thread's other cache (WalkStaysOutside)
  // openat(/proc/TID, name, flags): with O_PATH, cwd or fd/N is the thread's very directory or
  // file.
  int Open(pid_t tid, const char* name, int flags) {
    Entry* e = Get(tid);
    return e == nullptr ? -1 : openat(e->fd, name, flags | O_CLOEXEC);
  }
  // readlinkat(/proc/TID, name) into buf (PATH_MAX - 1 bytes at most), as readlink.
  ssize_t ReadLink(pid_t tid, const char* name, char* buf) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      Entry* e = Get(tid);
      if (e == nullptr) return -1;
      ssize_t n = readlinkat(e->fd, name, buf, PATH_MAX - 1);
      if (n >= 0 || (errno != ENOENT && errno != ESRCH)) return n;
      // The thread may be gone, or only the descriptor: try once with a fresh directory.
      Drop(tid);
    }
    return -1;
  }
  // The mark SameIdentity keeps with the directory of the live thread tid (a fresh directory
  // for a new thread that reuses the number starts at 0), or null.
  uint64_t* Mark(pid_t tid) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      Entry* e = Get(tid);
      if (e == nullptr) return nullptr;
      // A lookup through the directory of a thread that has gone fails.
      if (faccessat(e->fd, "ns", F_OK, AT_SYMLINK_NOFOLLOW) == 0) return &e->mark;
      Drop(tid);
    }
    return nullptr;
  }

 private:
  struct Entry {
    int fd;
    uint64_t mark;
  };
  Entry* Get(pid_t tid) {
    auto it = dirs_.find(tid);
    if (it != dirs_.end()) return &it->second;
    if (dirs_.size() >= max_) Clear();
    char path[32];
    snprintf(path, sizeof path, "/proc/%d", tid);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    return &(dirs_[tid] = Entry{fd, 0});
  }
  void Drop(pid_t tid) {
    auto it = dirs_.find(tid);
    if (it == dirs_.end()) return;
    close(it->second.fd);
    dirs_.erase(it);
  }
  void Clear() {
    for (const auto& [tid, e] : dirs_) close(e.fd);
    dirs_.clear();
  }
  size_t max_;
  std::unordered_map<pid_t, Entry> dirs_;
};

// The host path of thread tid's cwd (fd < 0) or descriptor fd into buf (PATH_MAX): its length,
// or -1 unless it is a plain path — pipes, sockets and anonymous files read "pipe:[...]" and
// the like (umview's virtual descriptors are pipes), removed files end in " (deleted)".
void BaseName(int fd, char (&name)[32]) {
  if (fd < 0) {
    snprintf(name, sizeof name, "cwd");
  } else {
    snprintf(name, sizeof name, "fd/%d", fd);
  }
}

long BasePath(ProcDirs& dirs, pid_t tid, int fd, char* buf) {
  char name[32];
  BaseName(fd, name);
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

// Whether path is at or below one of prefixes.
bool AtOrBelowAny(const std::vector<std::string>& prefixes, const char* path) {
  for (const std::string& p : prefixes) {
    if (p == "/") return true;
    if (strncmp(path, p.data(), p.size()) == 0 && (path[p.size()] == 0 || path[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool InPrefixes(const PrefilterRules& rules, const char* path) {
  return AtOrBelowAny(rules.prefixes, path);
}

// InPrefixes for a path the call names absolutely (or reached from one by a symlink's walk):
// a plain bind's host path is not a prefix there (PrefilterRules::absolute_prefixes).
bool InAbsolutePrefixes(const PrefilterRules& rules, const char* path) {
  return AtOrBelowAny(rules.absolute_prefixes_set ? rules.absolute_prefixes : rules.prefixes, path);
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

// A path argument as read, and for a relative one where it starts.
struct Relative {
  char path[PATH_MAX];
  char base[PATH_MAX];  // the host path of the cwd or dirfd (relative paths)
  int dirfd = AT_FDCWD;
  bool read = false;      // path is filled in (and base, for a relative one)
  bool relative = false;  // path is relative
};

// The path argument as the kernel starts resolving it: relative ones joined to the host path of
// the cwd or dirfd, then normalized lexically, into out (PATH_MAX). False if that cannot be told.
// With rel, the path as read (and a relative one's start) is kept there.
bool LexicalPath(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
                 const uint64_t args[6], int dirfd_arg, int path_arg, char* out,
                 Relative* rel = nullptr) {
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
  if (rel != nullptr && out[0] == '/') {
    memcpy(rel->path, out, static_cast<size_t>(n) + 1);
    rel->read = true;
  }
  if (out[0] != '/') {
    int dfd = dirfd_arg >= 0 ? static_cast<int>(args[dirfd_arg]) : AT_FDCWD;
    if (dfd != AT_FDCWD && dfd < 0) return false;
    // An empty path (AT_EMPTY_PATH) names the descriptor's own file: a plain path for
    // directories and files, never for a virtual descriptor (a pipe).
    long blen = BasePath(dirs, tid, dfd == AT_FDCWD ? -1 : dfd, base);
    if (blen < 0) return false;
    if (rel != nullptr) {
      memcpy(rel->path, out, static_cast<size_t>(n) + 1);
      memcpy(rel->base, base, static_cast<size_t>(blen) + 1);
      rel->dirfd = dfd;
      rel->read = rel->relative = true;
    }
    if (blen + 1 + n >= PATH_MAX) return false;
    base[blen] = '/';
    memcpy(base + blen + 1, out, static_cast<size_t>(n) + 1);
    memcpy(out, base, static_cast<size_t>(blen + 1 + n + 1));
    if (blen == 1 || n == 0) scan = 1;
  }
  return !(dotdot || scan) || Normalize(rules, out);
}

// Plain binds (PrefilterRules::binds). The host path the view shows at view path v, into
// *host: the deepest mount covering v decides, lexically. False unless that is a plain bind,
// or no mount at all (v itself).
bool ViewShows(const PrefilterRules& rules, std::string_view v, std::string* host) {
  size_t depth = 0;
  bool covered = false, other = false;
  const PrefilterBind* bind = nullptr;
  for (const std::string& m : rules.mounts) {
    if (!PathUnder(v, m) || (covered && m.size() < depth)) continue;
    covered = other = true;
    depth = m.size();
  }
  for (const PrefilterBind& b : rules.binds) {
    if (!PathUnder(v, b.view) || (covered && b.view.size() < depth)) continue;
    if (covered && b.view.size() == depth) {
      other |= bind == nullptr || bind->host != b.host;  // a tie that only the plugin can settle
      continue;
    }
    covered = true;
    other = false;
    depth = b.view.size();
    bind = &b;
  }
  if (other) return false;
  if (bind == nullptr) {
    host->assign(v);
    return true;
  }
  std::string_view rest = v.substr(bind->view == "/" ? 0 : bind->view.size());
  if (bind->host == "/") {
    host->assign(rest.empty() ? std::string_view("/") : rest);
  } else {
    host->assign(bind->host).append(rest);
  }
  return true;
}

// Does some mount lie strictly below view path v?
bool MountBelow(const PrefilterRules& rules, std::string_view v) {
  auto below = [&](const std::string& m) { return m.size() > v.size() && PathUnder(m, v); };
  for (const std::string& m : rules.mounts) {
    if (below(m)) return true;
  }
  for (const PrefilterBind& b : rules.binds) {
    if (below(b.view)) return true;
  }
  return false;
}

// Whether the view shows host directory `host` as the host does wherever a plugin may take it
// to be — at its own path, and under each bind's view whose host path holds it — with no mount
// below: then a walk below it in the view meets what the host's walk meets.
bool MirroredDir(const PrefilterRules& rules, std::string_view host) {
  std::string shown;
  if (!ViewShows(rules, host, &shown) || shown != host || MountBelow(rules, host)) return false;
  for (const PrefilterBind& b : rules.binds) {
    if (!PathUnder(host, b.host)) continue;
    std::string_view rest = host.substr(b.host == "/" ? 0 : b.host.size());
    std::string v =
        b.view == "/" ? (rest.empty() ? "/" : std::string(rest)) : b.view + std::string(rest);
    if (!ViewShows(rules, v, &shown) || shown != host || MountBelow(rules, v)) return false;
  }
  return true;
}

// Whether call nr leaves a symlink named by the last component of path argument i unfollowed.
bool LastNotFollowed(long nr, const uint64_t args[6], int i) {
  auto flag = [&](int arg, uint64_t bit) { return (args[arg] & bit) != 0; };
  auto open_nofollow = [](uint64_t f) {
    return (f & O_NOFOLLOW) || (f & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
  };
  switch (nr) {
    case SYS_lstat:
    case SYS_lgetxattr:
    case SYS_llistxattr:
    case SYS_lsetxattr:
    case SYS_lremovexattr:
    case SYS_lchown:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_unlink:
    case SYS_unlinkat:
    case SYS_rmdir:
    case SYS_mkdir:
    case SYS_mkdirat:
    case SYS_mknod:
    case SYS_mknodat:
    case SYS_symlink:
    case SYS_symlinkat:
    case SYS_link:
      return true;
    case SYS_linkat:
      return i == 1 || !flag(4, AT_SYMLINK_FOLLOW);
    case SYS_newfstatat:
    case SYS_utimensat:
    case SYS_faccessat2:
      return flag(3, AT_SYMLINK_NOFOLLOW);
    case SYS_statx:
      return flag(2, AT_SYMLINK_NOFOLLOW);
    case SYS_fchownat:
      return flag(4, AT_SYMLINK_NOFOLLOW);
    case SYS_name_to_handle_at:
      return !flag(4, AT_SYMLINK_FOLLOW);
    case SYS_open:
      return open_nofollow(args[1]);
    case SYS_openat:
      return open_nofollow(args[2]);
    default:
      return false;  // followed, or not known without reading more of the tracee (openat2)
  }
}

// Whether the host resolves relative path `path` from thread tid's cwd (dirfd AT_FDCWD) or
// descriptor without leaving that directory — no ".." above it, no absolute symlink or one that
// leads out (RESOLVE_BENEATH), no /proc magic link — the last name followed unless `nofollow`.
// A name missing on the way counts: the view misses it at the same place.
bool ResolvesBeneath(ProcDirs& dirs, pid_t tid, int dirfd, const char* path, bool nofollow) {
  char name[32];
  BaseName(dirfd == AT_FDCWD ? -1 : dirfd, name);
  int base = dirs.Open(tid, name, O_PATH);
  if (base < 0) return false;
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, base, path, &how, sizeof how));
  const int err = errno;
  close(base);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  return err == ENOENT || err == ENOTDIR;
}

// Symbolic links on the way. A path that lies lexically outside every prefix may still reach
// one through a host symlink (T/out/link -> the view path of a bind): the kernel would follow
// it to the host's file where the view follows it into the mount. So the host's own walk of the
// path as the call passes it (rel: from its base, else from "/") must stay outside the prefixes.
// A single name not followed, from a base that /proc gave as a canonical path, meets no
// symlink: no check. A path in normal form: its directory is checked with one
// openat2(RESOLVE_NO_SYMLINKS) (or found in the cache), and a followed last name with one
// readlink; other paths with one openat2 of the whole. A name missing or not a directory on the
// way ends the walk there, as it ends the view's. Where a symlink is met (merged /usr: /lib,
// /bin), the walk is redone here name by name, expanding each link, and every directory it
// passes must lie outside. Anything else (no permission, too many links) is left to the
// plugins.
bool WalkStaysOutside(const PrefilterRules& rules, const Relative& rel, bool nofollow,
                      WalkCache* cache) {
  if (!rel.read) return false;
  const char* path = rel.path;
  if (rel.relative && (path[0] == 0 || (nofollow && strchr(path, '/') == nullptr))) return true;
  std::string start;
  if (rel.relative) {
    start = rel.base;
    if (start != "/") start += '/';
    start += path;
  }
  const char* walk = rel.relative ? start.c_str() : path;
  // The descriptor of p opened without following any symlink, or -errno.
  auto no_symlinks = [](const char* p, int flags) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(O_PATH | O_CLOEXEC | flags);
    how.resolve = RESOLVE_NO_SYMLINKS;
    int fd = static_cast<int>(syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof how));
    return fd >= 0 ? fd : -errno;
  };
  const char* last = strrchr(walk, '/');
  if (walk[0] == '/' && ScanPath(walk) == 0 && last[1] != 0) {
    const std::string dir(walk, last == walk ? 1 : static_cast<size_t>(last - walk));
    const uint64_t generation = g_tree_changes.load(std::memory_order_acquire);
    const uint64_t now = CoarseNs();
    WalkCache local;
    WalkCache* c = cache != nullptr ? cache : &local;
    bool slow = false;
    if (c->fd < 0 || c->dir != dir || c->generation != generation ||
        now - c->at_ns > kWalkCacheNs) {
      c->Reset();
      const int fd = no_symlinks(dir.c_str(), O_DIRECTORY);
      if (fd == -ENOENT || fd == -ENOTDIR) return true;
      if (fd < 0 && fd != -ELOOP) return false;
      slow = fd < 0;
      if (!slow) {
        c->dir = dir;
        c->fd = fd;
        c->generation = generation;
        c->at_ns = now;
      }
    }
    if (!slow) {
      if (nofollow) return true;
      char target[PATH_MAX];
      if (readlinkat(c->fd, last + 1, target, sizeof target) >= 0) {
        slow = true;  // the last name is a symlink
      } else if (errno == EINVAL || errno == ENOENT || errno == ENOTDIR) {
        return true;
      } else {
        return false;
      }
    }
  } else if (walk[0] == '/' && walk[1] == 0) {
    return true;
  } else {
    const int fd = no_symlinks(walk, nofollow ? O_NOFOLLOW : 0);
    if (fd >= 0) close(fd);
    if (fd >= 0 || fd == -ENOENT || fd == -ENOTDIR) return true;
    if (fd != -ELOOP) return false;
  }
  // Names still to walk, the next one last; and the directory reached, a canonical host path.
  std::vector<std::string> todo;
  auto push_names = [&todo](std::string_view p) {
    std::vector<std::string> names;
    for (size_t at = 0; at < p.size();) {
      size_t end = p.find('/', at);
      if (end == std::string_view::npos) end = p.size();
      if (end > at) names.emplace_back(p.substr(at, end - at));
      at = end + 1;
    }
    todo.insert(todo.end(), names.rbegin(), names.rend());
  };
  // A trailing "/" makes the last name followed, and a directory.
  const size_t len = strlen(walk);
  if (len > 1 && walk[len - 1] == '/') nofollow = false;
  push_names(walk);
  std::string cur = "/";
  char target[PATH_MAX];
  for (int links = 0; !todo.empty();) {
    std::string name = std::move(todo.back());
    todo.pop_back();
    if (name == ".") continue;
    if (name == "..") {
      size_t slash = cur.rfind('/');
      cur.resize(slash == 0 ? 1 : slash);
      continue;
    }
    std::string next = cur == "/" ? "/" + name : cur + "/" + name;
    if (InAbsolutePrefixes(rules, next.c_str())) return false;
    if (todo.empty() && nofollow) return true;
    ssize_t n = readlink(next.c_str(), target, sizeof target - 1);
    if (n < 0) {
      if (errno == EINVAL) {
        cur = std::move(next);
        continue;
      }
      return errno == ENOENT || errno == ENOTDIR;  // the kernel's walk ends there too
    }
    if (++links > 40) return false;
    target[n] = 0;
    if (target[0] == '/') cur = "/";
    push_names(target);
  }
  return !InAbsolutePrefixes(rules, cur.c_str());
}

bool PathInside(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
                const uint64_t args[6], int dirfd_arg, int path_arg, int i) {
  char full[PATH_MAX];
  Relative rel;
  if (LexicalPath(dirs, rules, tid, nr, args, dirfd_arg, path_arg, full, &rel) &&
      !(rel.relative ? InPrefixes(rules, full) : InAbsolutePrefixes(rules, full))) {
    return !WalkStaysOutside(rules, rel, LastNotFollowed(nr, args, i), &dirs.walk);
  }
  // Inside a prefix lexically, but starting in a directory the view shows as the host does and
  // staying below it on the host: the view would name the same file. Renames are left to the
  // plugins (viewfs keeps the host paths of directory descriptors and must see them move).
  if (!rel.relative || rules.binds.empty() || nr == SYS_rename || nr == SYS_renameat ||
      nr == SYS_renameat2 || !MirroredDir(rules, rel.base)) {
    return true;
  }
  // A single name the call does not follow cannot leave the directory: no walk to check.
  const bool nofollow = LastNotFollowed(nr, args, i);
  if (nofollow && strchr(rel.path, '/') == nullptr && strcmp(rel.path, "..") != 0) return false;
  return rel.path[0] != 0 && !ResolvesBeneath(dirs, tid, rel.dirfd, rel.path, nofollow);
}

// An interpreter the kernel will open by this name (absolute): outside if neither the name nor
// the file it resolves to on the host lies at or under a prefix. The resolved name catches the
// common case the lexical rule would miss: /lib64/ld-linux-x86-64.so.2 is a symlink into
// /lib/x86_64-linux-gnu, which a view may well bind.
bool InterpreterOutside(const PrefilterRules& rules, char* name) {
  if (name[0] != '/' || !Normalize(rules, name) || InAbsolutePrefixes(rules, name)) return false;
  char real[PATH_MAX];
  return realpath(name, real) != nullptr && !InAbsolutePrefixes(rules, real);
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

// What decides a thread's file access besides its paths: the status lines with its user and
// group ids, supplementary groups and effective capabilities, its LSM label, its mount
// namespace and root. Empty if they cannot be read.
std::string AccessIdentity(ProcDirs* dirs, pid_t tid) {
  int fd = dirs ? dirs->Open(tid, "status", O_RDONLY)
                : open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return "";
  buf[n] = 0;
  std::string out;
  for (const char* key : {"\nUid:", "\nGid:", "\nGroups:", "\nCapEff:"}) {
    const char* at = strstr(buf, key);
    if (at == nullptr) return "";
    out.append(at, strchrnul(at + 1, '\n'));
  }
  // The LSM label (AppArmor, SELinux: absent without one).
  int attr = dirs ? dirs->Open(tid, "attr/current", O_RDONLY)
                  : open("/proc/thread-self/attr/current", O_RDONLY | O_CLOEXEC);
  if (attr >= 0) {
    n = read(attr, buf, sizeof buf - 1);
    close(attr);
    out.append("\nlsm:");
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  char link[PATH_MAX];
  for (const char* name : {"ns/mnt", "root"}) {
    ssize_t len =
        dirs ? dirs->ReadLink(tid, name, link)
             : readlink((std::string("/proc/thread-self/") + name).c_str(), link, sizeof link - 1);
    if (len <= 0) return "";
    out.push_back('\n');
    out.append(link, static_cast<size_t>(len));
  }
  return out;
}

// Whether thread tid decides file access as umview does (AccessIdentity equal to `self`),
// checked once per thread while `stable` and the exec count `execs` is what it was then (an
// exec may change ids; IdentityCall clears `stable` for good).
bool SameIdentity(ProcDirs& dirs, pid_t tid, const std::string& self, bool stable, uint64_t execs) {
  uint64_t* mark = stable ? dirs.Mark(tid) : nullptr;
  if (mark != nullptr && *mark == execs + 1) return true;
  if (AccessIdentity(&dirs, tid) != self) return false;
  if (mark != nullptr) *mark = execs + 1;
  return true;
}

// The plain bind whose view path holds absolute, normalized view path v as its deepest mount,
// if the view's walk to v is the host's walk to the corresponding path (PrepareBinds); else
// null.
const PrefilterBind* PlainBindAt(const PrefilterRules& rules, std::string_view v, int* dir) {
  const PrefilterBind* best = nullptr;
  size_t i_best = 0;
  for (size_t i = 0; i < rules.binds.size(); ++i) {
    const PrefilterBind& b = rules.binds[i];
    if (!PathUnder(v, b.view) || (best != nullptr && b.view.size() <= best->view.size())) continue;
    best = &b;
    i_best = i;
  }
  if (best == nullptr || i_best >= rules.plain_walk.size() || !rules.plain_walk[i_best]) {
    return nullptr;
  }
  std::string host;
  if (!ViewShows(rules, v, &host) || host == v) return nullptr;
  *dir = rules.host_dirs[i_best];
  return best;
}

// Calls the prefilter answers itself (Answer): reads of a file's attributes.
struct AnswerSpec {
  int path = -1;       // the path argument
  bool follow = true;  // follows a symlink named by the last component
};

bool AnswerSpecFor(long nr, const uint64_t a[6], AnswerSpec* s) {
  const uint64_t kStatFlags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH;
  switch (nr) {
    case SYS_stat:
    case SYS_access:
    case SYS_getxattr:
      s->path = 0;
      return true;
    case SYS_lstat:
    case SYS_readlink:
    case SYS_lgetxattr:
      s->path = 0;
      s->follow = false;
      return true;
    case SYS_faccessat:
      s->path = 1;
      return true;
    case SYS_readlinkat:
      s->path = 1;
      s->follow = false;
      return true;
    case SYS_newfstatat:
      if (a[3] & ~kStatFlags) return false;
      s->path = 1;
      s->follow = !(a[3] & AT_SYMLINK_NOFOLLOW);
      return true;
    case SYS_statx:
      if (a[2] & ~(kStatFlags | AT_STATX_SYNC_TYPE)) return false;
      s->path = 1;
      s->follow = !(a[2] & AT_SYMLINK_NOFOLLOW);
      return true;
    case SYS_open:
    case SYS_openat: {
      // Opens of what exists: a creation depends on the umask, O_TMPFILE makes a file.
      const uint64_t flags = a[nr == SYS_open ? 1 : 2];
      if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) return false;
      s->path = nr == SYS_open ? 0 : 1;
      s->follow = !(flags & O_NOFOLLOW);
      return true;
    }
    case SYS_faccessat2:
      if (a[3] & ~static_cast<uint64_t>(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
        return false;
      }
      s->path = 1;
      s->follow = !(a[3] & AT_SYMLINK_NOFOLLOW);
      return true;
    default:
      return false;
  }
}

bool WriteTracee(pid_t tid, uint64_t addr, const void* data, size_t len) {
  if (len == 0) return true;
  struct iovec local = {const_cast<void*>(data), len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  return process_vm_writev(tid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

// AnswerOn's result for a call the plugins must see after all.
constexpr int64_t kLeave = INT64_MIN;

// open/openat of an existing regular file or directory, `file` its O_PATH descriptor: opened
// again here with the call's flags, as the thread would open it (same identity), and installed
// in the thread's descriptor table as the call's result (SECCOMP_IOCTL_NOTIF_ADDFD with
// FLAG_SEND: lowest free number, O_CLOEXEC as asked, the notification answered). *sent: done.
int64_t AnswerOpen(int file, int listener, uint64_t id, uint64_t flags, bool* sent) {
  struct stat st;
  if (listener < 0 || fstat(file, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
    return kLeave;  // a device, FIFO or socket may block or act on open: the kernel's, unseen
  }
  char proc[40];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", file);
  // Not O_NOFOLLOW: the magic link is one (and `file` is no symlink). O_NONBLOCK: a lease
  // break would block this thread; EWOULDBLOCK then leaves the call to the plugins.
  const bool path_only = flags & O_PATH;
  const int open_flags = static_cast<int>(flags & ~static_cast<uint64_t>(O_NOFOLLOW)) | O_CLOEXEC |
                         O_NOCTTY | (path_only ? 0 : O_NONBLOCK);
  int f = open(proc, open_flags);
  if (f < 0) return errno == EWOULDBLOCK ? kLeave : -static_cast<int64_t>(errno);
  if (!path_only && !(flags & O_NONBLOCK)) {
    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK);
  }
  struct seccomp_notif_addfd add = {};
  add.id = id;
  add.flags = SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = static_cast<uint32_t>(f);
  add.newfd_flags = static_cast<uint32_t>(flags & O_CLOEXEC);
  int r = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  const int err = errno;
  close(f);
  if (r < 0) return -static_cast<int64_t>(err);  // EMFILE: the thread's limit
  *sent = true;
  return r;
}

// The call itself on `file`, the O_PATH descriptor of what its path names (the last name
// followed as the call follows it), results into the tracee's memory: the return value, or
// -errno; kLeave if it is not one to answer here.
int64_t AnswerOn(int file, int listener, uint64_t id, pid_t tid, long nr, const uint64_t a[6],
                 bool* sent) {
  auto ret = [](long rc) { return rc < 0 ? -static_cast<int64_t>(errno) : rc; };
  switch (nr) {
    case SYS_open:
      return AnswerOpen(file, listener, id, a[1], sent);
    case SYS_openat:
      return AnswerOpen(file, listener, id, a[2], sent);
    case SYS_stat:
    case SYS_lstat:
    case SYS_newfstatat: {
      struct stat st;
      if (fstatat(file, "", &st, AT_EMPTY_PATH) != 0) return -errno;
      return WriteTracee(tid, nr == SYS_newfstatat ? a[2] : a[1], &st, sizeof st) ? 0 : -EFAULT;
    }
    case SYS_statx: {
      struct statx stx;
      const int sync = static_cast<int>(a[2]) & AT_STATX_SYNC_TYPE;
      if (statx(file, "", AT_EMPTY_PATH | sync, static_cast<unsigned>(a[3]), &stx) != 0) {
        return -errno;
      }
      return WriteTracee(tid, a[4], &stx, sizeof stx) ? 0 : -EFAULT;
    }
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2: {
      const int mode = static_cast<int>(nr == SYS_access ? a[1] : a[2]);
      const int eaccess = nr == SYS_faccessat2 ? static_cast<int>(a[3]) & AT_EACCESS : 0;
      return ret(syscall(SYS_faccessat2, file, "", mode, AT_EMPTY_PATH | eaccess));
    }
    case SYS_readlink:
    case SYS_readlinkat: {
      const uint64_t buf = nr == SYS_readlink ? a[1] : a[2];
      const int size = static_cast<int>(nr == SYS_readlink ? a[2] : a[3]);
      if (size <= 0) return -EINVAL;
      char target[PATH_MAX];
      ssize_t n =
          readlinkat(file, "", target, std::min<size_t>(static_cast<size_t>(size), sizeof target));
      // An empty name reads the descriptor's own symlink; ENOENT: it is not one.
      if (n < 0) return errno == ENOENT ? -EINVAL : -errno;
      return WriteTracee(tid, buf, target, static_cast<size_t>(n)) ? n : -EFAULT;
    }
    case SYS_getxattr:
    case SYS_lgetxattr: {
      char name[PATH_MAX];
      long len = ReadPath(tid, a[1], name);
      if (len < 0) return -EFAULT;
      if (len == 0 || len > XATTR_NAME_MAX) return -ERANGE;
      const size_t size = std::min<uint64_t>(a[3], XATTR_SIZE_MAX);
      std::vector<char> value(size);
      // Through /proc: the file itself, even a symlink opened O_NOFOLLOW (O_PATH descriptors
      // take no fgetxattr).
      char proc[40];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", file);
      ssize_t n = getxattr(proc, name, value.data(), size);
      if (n < 0) return -errno;
      if (size == 0) return n;
      return WriteTracee(tid, a[2], value.data(), static_cast<size_t>(n)) ? n : -EFAULT;
    }
    default:
      return -ENOSYS;
  }
}

// A read of a file's attributes (stat family, access, readlink, getxattr) at an absolute path
// inside a plain bind: the plugin would only put the host path in its place, so umview makes
// the call itself, as the thread would make it — same credentials, mount namespace and root
// (SameIdentity) — on the file the host resolves below the bind's host path as the view would
// (RESOLVE_BENEATH), and writes the results into the thread's memory. *result: the call's
// return value or -errno. False: the plugins must see the call.
struct Identity {
  const std::string& self;  // umview's AccessIdentity
  bool stable;              // no IdentityCall seen
  uint64_t execs;           // execs seen, read before the check
};

// getcwd in a directory under a plain bind's host path: the view's path of it, as the plugin
// gives it (the bind with the longest host path holding it, if its view path shows it).
bool AnswerGetcwd(ProcDirs& dirs, const PrefilterRules& rules, int listener, uint64_t id, pid_t tid,
                  const uint64_t a[6], int64_t* result) {
  char cwd[PATH_MAX];
  long n = BasePath(dirs, tid, -1, cwd);
  if (n < 0) return false;
  const std::string_view host(cwd, static_cast<size_t>(n));
  const PrefilterBind* best = nullptr;
  for (const PrefilterBind& b : rules.binds) {
    if (!PathUnder(host, b.host)) continue;
    if (best != nullptr && b.host.size() == best->host.size() && b.view != best->view) {
      return false;  // which one the plugin takes is its business
    }
    if (best == nullptr || b.host.size() > best->host.size()) best = &b;
  }
  if (best == nullptr) return false;
  const std::string_view rest = host.substr(best->host == "/" ? 0 : best->host.size());
  std::string view =
      best->view == "/" ? std::string(rest.empty() ? "/" : rest) : best->view + std::string(rest);
  std::string shown;
  if (!ViewShows(rules, view, &shown) || shown != host) return false;
  if (listener >= 0 && ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return false;
  if (view.size() + 1 > a[1]) {
    *result = -ERANGE;
  } else {
    *result = WriteTracee(tid, a[0], view.c_str(), view.size() + 1)
                  ? static_cast<int64_t>(view.size() + 1)
                  : -EFAULT;
  }
  return true;
}

bool Answer(ProcDirs& dirs, const PrefilterRules& rules, const Identity& id_of, int listener,
            uint64_t id, pid_t tid, long nr, const uint64_t a[6], int64_t* result, bool* sent) {
  if (rules.reads_only && PrefilterCallWrites(nr, a)) return false;
  if (nr == SYS_getcwd && !rules.binds.empty()) {
    return AnswerGetcwd(dirs, rules, listener, id, tid, a, result);
  }
  AnswerSpec spec;
  if (rules.binds.empty() || id_of.self.empty() || !AnswerSpecFor(nr, a, &spec)) return false;
  char path[PATH_MAX];
  long n = ReadPath(tid, a[spec.path], path);
  // Only a path already in normal form: "x/." or "x/" after a file, ".." anywhere, are the
  // view's to resolve (ENOTDIR, a mount's parent); a trailing "/" also asks for a directory.
  if (n <= 1 || path[0] != '/' || path[n - 1] == '/' || ScanPath(path) != 0) return false;
  int base = -1;  // the bind's host path, kept open with the rules
  const PrefilterBind* bind = PlainBindAt(rules, path, &base);
  if (bind == nullptr) return false;
  const std::string_view rest = std::string_view(path).substr(bind->view.size());  // "" or "/..."
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC | (spec.follow ? 0 : O_NOFOLLOW);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(
      syscall(SYS_openat2, base, rest.empty() ? "." : rest.data() + 1, &how, sizeof how));
  const int err = errno;
  // A missing name, a file on the way, a directory it may not search: the answer, as the
  // kernel would give it for the host path. EXDEV: a symlink the view resolves its own way.
  if (fd < 0 && err != ENOENT && err != ENOTDIR && err != EACCES) return false;
  // Still the call received (the thread was not killed, its number not reused) before writing
  // into its memory.
  if (!SameIdentity(dirs, tid, id_of.self, id_of.stable, id_of.execs) ||
      (listener >= 0 && ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)) {
    if (fd >= 0) close(fd);
    return false;
  }
  *result = fd < 0 ? -static_cast<int64_t>(err) : AnswerOn(fd, listener, id, tid, nr, a, sent);
  if (fd >= 0) close(fd);
  return *result != kLeave;
}

bool FdWanted(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
              const uint64_t args[6]) {
  const bool cwd = nr == SYS_getcwd;
  char buf[PATH_MAX];
  int fd = cwd ? -1 : static_cast<int>(args[0]);
  if (!cwd && fd < 0) return true;
  if (BasePath(dirs, tid, fd, buf) < 0) return true;
  if (!InPrefixes(rules, buf) && (cwd || !AbovePrefix(rules, buf))) return false;
  // A directory or file the view shows as the host does: its listing is the host's. getcwd
  // answers the host path only where no bind could show it under another name.
  if (cwd) {
    for (const PrefilterBind& b : rules.binds) {
      if (PathUnder(buf, b.host)) return true;
    }
  }
  return rules.binds.empty() || !MirroredDir(rules, buf);
}

bool Outside(ProcDirs& dirs, const PrefilterRules& rules, pid_t tid, long nr,
             const uint64_t args[6]) {
  if (!rules.active || nr < 0) return false;
  if (rules.reads_only && PrefilterCallWrites(nr, args)) return false;
  if (nr < 512 && rules.fd_calls.test(static_cast<size_t>(nr))) {
    return !FdWanted(dirs, rules, tid, nr, args);
  }
  if (nr == SYS_execve) {
    char path[PATH_MAX];
    Relative rel;
    return rules.exec && LexicalPath(dirs, rules, tid, nr, args, -1, 0, path, &rel) &&
           !(rel.relative ? InPrefixes(rules, path) : InAbsolutePrefixes(rules, path)) &&
           WalkStaysOutside(rules, rel, false, &dirs.walk) && ExecOutside(rules, path);
  }
  PrefilterPathArgs pa;
  if (!PrefilterPathCall(nr, &pa)) return false;
  for (int i = 0; i < 2 && pa.path[i] >= 0; ++i) {
    if (PathInside(dirs, rules, tid, nr, args, pa.dirfd[i], pa.path[i], i)) return false;
  }
  return true;
}

}  // namespace

bool PrefilterOutside(const PrefilterRules& rules, pid_t tid, long nr, const uint64_t args[6]) {
  ProcDirs dirs;
  return Outside(dirs, rules, tid, nr, args);
}

bool PrefilterAnswer(const PrefilterRules& rules, int listener, uint64_t id, pid_t tid, long nr,
                     const uint64_t args[6], int64_t* result) {
  ProcDirs dirs;
  const std::string self = AccessIdentity(nullptr, 0);
  bool sent = false;
  return Answer(dirs, rules, Identity{self, false, 0}, listener, id, tid, nr, args, result, &sent);
}

bool IdentityCall(long nr) {
  switch (nr) {
    case SYS_setuid:
    case SYS_setgid:
    case SYS_setreuid:
    case SYS_setregid:
    case SYS_setresuid:
    case SYS_setresgid:
    case SYS_setfsuid:
    case SYS_setfsgid:
    case SYS_setgroups:
    case SYS_capset:
    case SYS_unshare:
    case SYS_setns:
    case SYS_chroot:
    case SYS_pivot_root:
      return true;
    default:
      return false;
  }
}

PrefilterRules::~PrefilterRules() {
  for (int fd : host_dirs) {
    if (fd >= 0) close(fd);
  }
}

void PreparePrefilterBinds(PrefilterRules* rules) {
  for (int fd : rules->host_dirs) {
    if (fd >= 0) close(fd);
  }
  rules->host_dirs.assign(rules->binds.size(), -1);
  rules->plain_walk.assign(rules->binds.size(), false);
  auto plain_dir = [](const std::string& host) {
    struct stat st;
    return lstat(host.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  for (size_t i = 0; i < rules->binds.size(); ++i) {
    const PrefilterBind& b = rules->binds[i];
    bool ok = b.view != "/" && !MountBelow(*rules, b.view) && plain_dir(b.host);
    // Every directory above the mount point: a directory where the view takes it from (a
    // symlink there would be followed in the view), under no other kind of mount.
    for (size_t slash = b.view.find('/', 1); ok && slash != std::string::npos;
         slash = b.view.find('/', slash + 1)) {
      std::string host;
      ok = ViewShows(*rules, std::string_view(b.view).substr(0, slash), &host) && plain_dir(host);
    }
    if (ok) rules->host_dirs[i] = open(b.host.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    rules->plain_walk[i] = ok && rules->host_dirs[i] >= 0;
  }
  rules->absolute_prefixes.clear();
  for (const std::string& p : rules->prefixes) {
    if (!BaseOnlyPrefix(p, rules->binds, rules->mounts)) rules->absolute_prefixes.push_back(p);
  }
  rules->absolute_prefixes_set = true;
}

bool BaseOnlyPrefix(const std::string& p, const std::vector<PrefilterBind>& binds,
                    const std::vector<std::string>& mounts) {
  bool host = false;
  for (const PrefilterBind& b : binds) {
    if (p == b.view) return false;
    host |= p == b.host;
  }
  return host && std::find(mounts.begin(), mounts.end(), p) == mounts.end();
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
  // For answers (Answer): no identity call seen yet (IdentityMayChange), execs seen (Execed).
  std::atomic<bool> identity_stable{true};
  std::atomic<uint64_t> execs{0};

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
  void Serve(ProcDirs& dirs, const std::string& self, const struct seccomp_notif& req) {
    const long nr = req.data.nr;
    uint64_t args[6];
    for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
    const pid_t tid = static_cast<pid_t>(req.pid);
    if (ChangesTree(nr)) g_tree_changes.fetch_add(1, std::memory_order_acq_rel);
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
    if (IdentityCall(nr)) {  // only watched: it runs
      identity_stable.store(false, std::memory_order_relaxed);
      go = true;
    }
    int64_t result = 0;
    const Identity id_of{self, identity_stable.load(std::memory_order_relaxed),
                         execs.load(std::memory_order_acquire)};
    bool sent = false;
    if (!go && r && Answer(dirs, *r, id_of, listener, req.id, tid, nr, args, &result, &sent)) {
      if (nr >= 0 && nr < 512) passed[nr].fetch_add(1, std::memory_order_relaxed);
      if (sent) return;  // an open, answered with the descriptor
      struct seccomp_notif_resp resp = {};
      resp.id = req.id;
      resp.val = result < 0 ? 0 : result;
      resp.error = result < 0 ? static_cast<int32_t>(result) : 0;
      ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
      return;
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
    ProcDirs dirs(dirs_per_thread);                       // the thread's own
    const std::string self = AccessIdentity(nullptr, 0);  // umview's, for Answer
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
      Serve(dirs, self, req);
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

void NotifyPrefilter::IdentityMayChange() {
  s_->identity_stable.store(false, std::memory_order_relaxed);
}

void NotifyPrefilter::Execed() { s_->execs.fetch_add(1, std::memory_order_release); }

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
