// The seccomp-bpf filter that makes only the calls the plugin stack can claim stop the tracee.
#pragma once

#include <string>
#include <vector>

struct sock_fprog;

namespace umview {

class SeccompFilter {
 public:
  // trap_all: every native call traps. Foreign-arch calls (int 0x80, x32) fail with ENOSYS when
  // anything is trapped, so a path call cannot bypass the view through another ABI.
  SeccompFilter(const std::vector<int>& trapped, bool trap_all);
  ~SeccompFilter();
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;

  // Builds the program; false with *error on failure.
  bool Build(std::string* error);
  // Installs it in the calling process (the child, before execve). Returns 0 or -errno.
  // Async-signal-safe enough for use after fork: no allocation.
  int Install() const;

 private:
  std::vector<int> trapped_;
  bool trap_all_;
  std::vector<char> prog_;  // struct sock_filter array
  bool nnp_ = true;
};

}  // namespace umview
