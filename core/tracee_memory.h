// Fast access to tracee memory: process_vm_readv/writev, /proc/PID/mem as the fallback for pages
// the tracee cannot write, a string mode that never faults past the NUL, and batches.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace umview {

struct Transfer {
  uint64_t remote;
  void* local;
  size_t len;
};

class TraceeMemory {
 public:
  explicit TraceeMemory(pid_t pid) : pid_(pid) {}
  // Virtual: the kmview engine reads and writes through its module instead (kmview_engine.cc).
  virtual ~TraceeMemory();
  TraceeMemory(const TraceeMemory&) = delete;
  TraceeMemory& operator=(const TraceeMemory&) = delete;

  pid_t pid() const { return pid_; }
  // The address space changed (execve): drop the cached /proc/PID/mem descriptor.
  virtual void Reset(pid_t pid);

  // All-or-nothing; 0 or -errno (-EFAULT when part of the range is unmapped).
  virtual int Read(uint64_t addr, void* buf, size_t len);
  // Writes even to pages mapped read-only for the tracee (through /proc/PID/mem, FOLL_FORCE).
  virtual int Write(uint64_t addr, const void* buf, size_t len);
  // Writes through /proc/PID/mem only: for memory known to be read-only for the tracee.
  virtual int WriteForce(uint64_t addr, const void* buf, size_t len);
  // Up to the NUL or max bytes; length, -ENAMETOOLONG (no NUL within max) or -EFAULT.
  virtual int64_t ReadString(uint64_t addr, std::string* out, size_t max);
  // Several reads (or writes) in one kernel crossing; all-or-nothing.
  virtual int ReadMulti(const Transfer* t, size_t n);
  virtual int WriteMulti(const Transfer* t, size_t n);

 private:
  int MemFd();
  pid_t pid_;
  int mem_fd_ = -1;
};

}  // namespace umview
