// viewfs: the host path of a tracee's directory descriptor without reading /proc/TID/fd/N on
// every call (the largest part of viewfs's own work in a view where nothing is rewritten).
#pragma once

#include <sys/types.h>

#include <string>
#include <unordered_map>

namespace umview::viewfs {

// Entries are keyed by (process, descriptor number) and hold a duplicate of the tracee's open
// file (pidfd_getfd). A hit is confirmed by kcmp(KCMP_FILE) against that duplicate: equal means
// the descriptor is still the very open file the path was read from (the duplicate keeps the
// file alive, so its identity cannot be reused), whatever the tracee did to its descriptor
// table meanwhile (close, dup2, fcntl F_DUPFD, exec, a table shared with other processes).
// What kcmp cannot see is a rename of the directory: the owner invalidates on renames it sees.
// Only directories are held (see ARCHITECTURE.md on what holding one implies).
class DirFdCache {
 public:
  DirFdCache() = default;
  ~DirFdCache();
  DirFdCache(const DirFdCache&) = delete;
  DirFdCache& operator=(const DirFdCache&) = delete;

  // The host path of directory descriptor `fd` of thread `tid` of process `pid`, and umview's
  // duplicate of that directory (valid until the next call of this cache); -1 if it is not a
  // directory with a path, or the kernel lacks pidfd_getfd/kcmp (then the caller reads
  // /proc/TID/fd/N as before).
  int Get(pid_t pid, pid_t tid, int fd, std::string* host);
  // Drops every entry (a directory may have moved).
  void Clear();
  // Process `pid` is gone: its entries and its pidfd go.
  void ProcessExit(pid_t pid);
  bool usable() const { return usable_; }

 private:
  struct Entry {
    int mine = -1;  // our duplicate of the tracee's open file
    std::string host;
  };
  static uint64_t Key(pid_t pid, int fd) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 32) | static_cast<uint32_t>(fd);
  }
  int Fill(pid_t pid, pid_t tid, int fd, std::string* host);
  int PidFd(pid_t pid);

  std::unordered_map<uint64_t, Entry> entries_;
  std::unordered_map<pid_t, int> pidfds_;
  bool usable_ = true;
};

}  // namespace umview::viewfs
