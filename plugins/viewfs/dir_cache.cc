// viewfs directory-descriptor cache; see dir_cache.h.
#include "plugins/viewfs/dir_cache.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

namespace umview::viewfs {
namespace {

// Held duplicates are bounded: a descriptor-hungry tracee must not make umview hold (and keep
// open) many of its directories. Overflow empties the cache.
constexpr size_t kMaxEntries = 64;
constexpr size_t kMaxPidFds = 64;
// pidfds_ value for a process umview may not take descriptors from (pidfd_getfd says EPERM,
// e.g. a process that made itself non-dumpable): it is served from /proc, as before.
constexpr int kRefused = -2;

long Kcmp(pid_t tid, int fd, int mine) {
  static const pid_t self = getpid();  // umview does not fork after start-up
  return syscall(SYS_kcmp, tid, self, KCMP_FILE, fd, mine);
}

}  // namespace

DirFdCache::~DirFdCache() {
  Clear();
  for (auto& [pid, pidfd] : pidfds_) {
    if (pidfd >= 0) close(pidfd);
  }
}

void DirFdCache::Clear() {
  for (auto& [key, e] : entries_) close(e.mine);
  entries_.clear();
}

void DirFdCache::ProcessExit(pid_t pid) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (static_cast<pid_t>(it->first >> 32) == pid) {
      close(it->second.mine);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  if (auto it = pidfds_.find(pid); it != pidfds_.end()) {
    if (it->second >= 0) close(it->second);
    pidfds_.erase(it);
  }
}

int DirFdCache::Get(pid_t pid, pid_t tid, int fd, std::string* host) {
  if (!usable_ || fd < 0) return -1;
  auto it = entries_.find(Key(pid, fd));
  if (it != entries_.end()) {
    if (Kcmp(tid, fd, it->second.mine) == 0) {
      *host = it->second.host;
      return it->second.mine;
    }
    close(it->second.mine);  // the number now names another file (or none)
    entries_.erase(it);
  }
  return Fill(pid, tid, fd, host);
}

int DirFdCache::PidFd(pid_t pid) {
  if (auto it = pidfds_.find(pid); it != pidfds_.end()) return it->second;
  if (pidfds_.size() >= kMaxPidFds) {
    for (auto& [p, pidfd] : pidfds_) {
      if (pidfd >= 0) close(pidfd);
    }
    pidfds_.clear();
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    if (errno == ENOSYS) usable_ = false;
    return -1;
  }
  pidfds_[pid] = pidfd;
  return pidfd;
}

int DirFdCache::Fill(pid_t pid, pid_t tid, int fd, std::string* host) {
  int pidfd = PidFd(pid);
  if (pidfd < 0) return -1;
  int mine = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  if (mine < 0) {
    if (errno == ENOSYS) usable_ = false;
    if (errno == EPERM) {
      close(pidfd);
      pidfds_[pid] = kRefused;
    }
    return -1;  // EBADF and the like: the caller's own read reports it
  }
  // pidfd_getfd takes the descriptor table of the process's leader; another thread may have
  // its own (clone without CLONE_FILES): kcmp says whether this is that thread's file.
  struct stat st;
  char self[64], buf[PATH_MAX];
  snprintf(self, sizeof self, "/proc/self/fd/%d", mine);
  ssize_t n = -1;
  if (fstat(mine, &st) == 0 && S_ISDIR(st.st_mode)) {
    long same = tid == pid ? 0 : Kcmp(tid, fd, mine);
    if (same < 0 && errno == ENOSYS) usable_ = false;
    if (same == 0) n = readlink(self, buf, sizeof buf);
  }
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf) || buf[0] != '/') {
    close(mine);
    return -1;
  }
  if (entries_.size() >= kMaxEntries) Clear();
  host->assign(buf, n);
  entries_[Key(pid, fd)] = Entry{mine, *host};
  return mine;
}

}  // namespace umview::viewfs
