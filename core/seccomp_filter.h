// The seccomp-bpf filter that makes only the calls the plugin stack can claim stop the tracee.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/engine.h"

struct sock_fprog;

namespace umview {

class SeccompFilter {
 public:
  // trap_all: every native call traps. deny_foreign_arch: calls through another ABI (int 0x80,
  // x32) fail with ENOSYS, so a path call cannot bypass the view that way; set it whenever a
  // plugin claims anything (with nothing claimed, 32-bit programs keep working).
  SeccompFilter(const std::vector<int>& trapped, bool trap_all, bool deny_foreign_arch,
                const std::vector<ArgRule>& conditional = {});

  // These numbers among `trapped` send a user notification (SECCOMP_RET_USER_NOTIF) instead of
  // stopping the tracee for its tracer: the notification prefilter (notify_prefilter.h).
  void NotifyFor(const std::vector<int>& nrs) { notify_ = nrs; }
  // With NotifyFor: these numbers, where not trapped, send a notification too (the prefilter
  // only watches them: NotifyPrefilter's identity calls).
  void WatchFor(const std::vector<int>& nrs) { watch_ = nrs; }
  // With NotifyFor: number nr notifies only while argument `arg` has none of the bits of
  // `mask`; with any of them it stops the tracee (the prefilter's reads-only mode).
  void NotifyOnlyWhenClear(int nr, int arg, uint64_t mask) {
    notify_when_clear_.push_back({nr, arg, mask});
  }
  ~SeccompFilter();
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;

  // Also trap the memory calls that could unmap, move, replace or unprotect anything below `end`
  // (the engine's scratch area lies just below it): munmap, mprotect, pkey_mprotect, madvise and
  // mremap with an address below `end`, mmap and mremap with a fixed target below it, shmat with
  // SHM_REMAP below it, and every userfaultfd(). Other memory calls keep running without a stop.
  void GuardBelow(uint64_t end) { guard_end_ = end; }
  // Builds the program; false with *error on failure.
  bool Build(std::string* error);
  // Installs it in the calling process (the child, before execve). Returns 0 or -errno; with
  // NotifyFor, the listener descriptor (close-on-exec) or -errno (EINVAL: a kernel before 5.19,
  // without SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV). Async-signal-safe enough for use after
  // fork: no allocation.
  int Install() const;
  // The program as struct sock_filter records, for installing it from inside a tracee.
  const std::vector<char>& program() const { return prog_; }
  bool empty() const { return prog_.empty(); }

 private:
  std::vector<int> trapped_;
  std::vector<ArgRule> conditional_;
  std::vector<int> notify_;
  std::vector<int> watch_;
  struct ClearRule {
    int nr;
    int arg;
    uint64_t mask;
  };
  std::vector<ClearRule> notify_when_clear_;
  bool trap_all_;
  std::vector<char> prog_;  // struct sock_filter array
  bool deny_foreign_arch_;
  bool nnp_ = true;
  uint64_t guard_end_ = 0;
};

}  // namespace umview
