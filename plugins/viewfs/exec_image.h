// What the kernel would look up on the host when it runs a file: the ELF program interpreter
// (PT_INTERP) and the "#!" interpreter line. viewfs resolves them in the view instead.
#pragma once

#include <string>

namespace umview::viewfs {

struct ExecImage {
  enum Kind { kOther, kElf, kScript } kind = kOther;
  std::string interp;      // PT_INTERP path, or the "#!" interpreter
  std::string interp_arg;  // the optional "#!" argument
  bool has_interp_arg = false;
};

// Reads the head of host file `path`; kOther for anything else or an unreadable file (the
// kernel then reports the error itself).
ExecImage ReadExecImage(const std::string& path);

}  // namespace umview::viewfs
