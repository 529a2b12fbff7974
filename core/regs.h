// Tracee registers behind arch-neutral operations. Only x86-64 is implemented; a port adds one
// file pair here and nothing elsewhere.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>

namespace umview {

#if !defined(__x86_64__)
#error "umview supports x86-64 only for now: add an arch implementation of Regs"
#endif

class Regs {
 public:
  // PTRACE_GETREGS / PTRACE_SETREGS. Return 0 or -errno (-ESRCH: the tracee vanished).
  int Fetch(pid_t tid);
  int Store(pid_t tid) const;

  // Valid at a syscall-entry (seccomp) stop.
  long nr() const { return static_cast<long>(r_.orig_rax); }
  uint64_t arg(int i) const;
  void set_nr(long nr) { r_.orig_rax = static_cast<uint64_t>(nr); }
  void set_arg(int i, uint64_t v);
  // Make the kernel skip the call and return `value` to the tracee (one stop).
  void SkipSyscall(int64_t value) {
    r_.orig_rax = static_cast<uint64_t>(-1);
    r_.rax = static_cast<uint64_t>(value);
  }

  // Valid at a syscall-exit stop.
  int64_t ret() const { return static_cast<int64_t>(r_.rax); }
  void set_ret(int64_t v) { r_.rax = static_cast<uint64_t>(v); }

  uint64_t ip() const { return r_.rip; }
  void set_ip(uint64_t v) { r_.rip = v; }
  uint64_t sp() const { return r_.rsp; }
  // Prepare a syscall to be executed at ip by a tracee stopped in user mode or at a syscall exit.
  void SetupSyscall(long nr, const uint64_t (&args)[6]);

  // Bytes of the instruction that enters the kernel, and its length.
  static constexpr unsigned char kSyscallInsn[2] = {0x0f, 0x05};
  static constexpr int kSyscallInsnLen = 2;

 private:
  user_regs_struct r_{};
};

}  // namespace umview
