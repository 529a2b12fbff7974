// The control channel: a reserved syscall number that umview traps and the kernel does not have.
// Outside a view the call fails with ENOSYS, so a tool can tell whether it runs in a view.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace umview {

inline constexpr long kControlNr = 0x3ff0;

enum ControlOp : long {
  kControlPing = 0,      // returns kControlMagic
  kControlDescribe = 1,  // (buf, len): writes a text description of the view; returns its length
};

inline constexpr long kControlMagic = 0x554d56;  // "UMV"

// Returns kControlMagic inside a view, -1 with errno ENOSYS outside.
inline long ControlPing() { return syscall(kControlNr, kControlPing); }

}  // namespace umview
