// The control channel: a reserved syscall number that umview traps and the kernel does not have.
// Outside a view the call fails with ENOSYS, so a tool can tell whether it runs in a view.
// Calls: syscall(kControlNr, OP, IN, IN_LEN, OUT, OUT_LEN) -> length of the whole reply (it is
// truncated to OUT_LEN; call again with a bigger buffer), or -1 with errno.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>

namespace umview {

inline constexpr long kControlNr = 0x3ff0;

enum ControlOp : long {
  kControlPing = 0,           // returns kControlMagic
  kControlInfo = 1,           // reply: the view as text (name, engine, plugins, mounts)
  kControlPluginCommand = 2,  // IN: "PLUGIN\0COMMAND"; reply: the plugin's answer
  kControlViewYaml = 3,       // reply: the running view as a view file (YAML)
  kControlLoad = 4,           // IN: "PLUGIN[,OPT...]" as for -p; pushed on top of the stack
  kControlUnload = 5,         // IN: plugin name; refused while it owns mounts or open files
};

inline constexpr long kControlMagic = 0x554d56;  // "UMV"

// Returns kControlMagic inside a view, -1 with errno ENOSYS outside.
inline long ControlPing() { return syscall(kControlNr, kControlPing); }

// One request; false with errno set on failure (the reply may then hold a message).
inline bool ControlCall(long op, const std::string& in, std::string* reply) {
  std::string buf(4096, '\0');
  for (int tries = 0; tries < 8; ++tries) {
    long n = syscall(kControlNr, op, in.data(), in.size(), buf.data(), buf.size());
    if (n < 0) {
      int e = errno;
      reply->assign(buf.c_str());  // a plugin's error message, if it gave one
      errno = e;
      return false;
    }
    if (static_cast<size_t>(n) <= buf.size()) {
      reply->assign(buf.data(), static_cast<size_t>(n));
      return true;
    }
    buf.resize(static_cast<size_t>(n));
  }
  return false;
}

}  // namespace umview
