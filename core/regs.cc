// x86-64 register access for the ptrace engine.
#include "core/regs.h"

#include <sys/ptrace.h>

#include <cerrno>

namespace umview {

int Regs::Fetch(pid_t tid) {
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r_) != 0) return -errno;
  return 0;
}

int Regs::Store(pid_t tid) const {
  if (ptrace(PTRACE_SETREGS, tid, nullptr, &r_) != 0) return -errno;
  return 0;
}

uint64_t Regs::arg(int i) const {
  switch (i) {
    case 0:
      return r_.rdi;
    case 1:
      return r_.rsi;
    case 2:
      return r_.rdx;
    case 3:
      return r_.r10;
    case 4:
      return r_.r8;
    case 5:
      return r_.r9;
  }
  return 0;
}

void Regs::set_arg(int i, uint64_t v) {
  switch (i) {
    case 0:
      r_.rdi = v;
      break;
    case 1:
      r_.rsi = v;
      break;
    case 2:
      r_.rdx = v;
      break;
    case 3:
      r_.r10 = v;
      break;
    case 4:
      r_.r8 = v;
      break;
    case 5:
      r_.r9 = v;
      break;
  }
}

void Regs::SetupSyscall(long nr, const uint64_t (&args)[6]) {
  r_.rax = static_cast<uint64_t>(nr);
  r_.orig_rax = static_cast<uint64_t>(nr);
  for (int i = 0; i < 6; ++i) set_arg(i, args[i]);
}

}  // namespace umview
