// Virtual file descriptors: the table of plugin files the tracees hold, each backed by a FIFO
// umview made. The tracee opens /proc/<umview>/fd/<N> for it, so it holds a real descriptor the
// kernel numbers, dups, inherits and closes; umview recognises it by the FIFO's inode.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine.h"
#include "umview/plugin.h"

namespace umview {

class VirtualFdTable {
 public:
  VirtualFdTable();
  ~VirtualFdTable();
  VirtualFdTable(const VirtualFdTable&) = delete;
  VirtualFdTable& operator=(const VirtualFdTable&) = delete;

  // Makes the FIFO for `file` owned by plugin `slot`; returns the path the tracee must open
  // (with O_RDWR), or "" with errno-style *err.
  std::string Create(std::shared_ptr<VirtualFile> file, size_t slot, int* err);
  // The tracee's open of the FIFO failed: forget the newest entry for this path.
  void Abandon(const std::string& fifo_path);

  struct Entry {
    std::shared_ptr<VirtualFile> file;
    size_t slot;
    int rfd = -1;
    int wfd = -1;
    int wd = -1;
    std::string path;
  };
  // The entry behind descriptor `fd` of thread `tid`, or nullptr (a real file, or no such fd).
  Entry* Lookup(pid_t tid, int fd);
  bool empty() const { return by_ino_.empty(); }
  // True if plugin `slot` made a file some tracee may still hold.
  bool Owns(size_t slot) const {
    for (const auto& [ino, e] : by_ino_) {
      if (e.slot == slot) return true;
    }
    return false;
  }

  // Drains close notifications and releases files no tracee holds any more. `tgids` are the
  // processes to look in before releasing (a close event only says one description went away).
  void ReapClosed(const std::vector<pid_t>& tgids);
  // Releases everything (the view is over).
  void ReleaseAll();

  // Performs fd call `stop` on entry `e`, found in argument `fd_arg`; returns the value the
  // tracee gets.
  int64_t Perform(Entry& e, SyscallStop& stop, Call& call, int fd_arg);

 private:
  void Release(uint64_t ino);
  std::unordered_map<uint64_t, Entry> by_ino_;
  std::unordered_map<int, uint64_t> by_wd_;
  int inotify_fd_ = -1;
};

}  // namespace umview
