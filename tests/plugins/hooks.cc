// Test plugin "hooks": a per-syscall hook on getppid that answers the caller's umask (read with
// Call::GetProcessState); OnEntry must never see getppid. Claims getpgrp through OnEntry, which
// answers 4242, to show both paths side by side.
#include <sys/syscall.h>

#include <string>

#include "umview/plugin.h"

namespace {

class HooksPlugin : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    if (!options.empty()) {
      *error = "takes no options";
      return false;
    }
    host.HandleSyscall(SYS_getppid, [](umview::Call& call) {
      umview::Call::ProcessState st;
      int r = call.GetProcessState(&st);
      call.Return(r < 0 ? r : static_cast<int64_t>(st.umask));
    });
    host.ClaimSyscall(SYS_getpgrp);
    return true;
  }
  void OnEntry(umview::Call& call) override {
    call.Return(call.nr() == SYS_getpgrp ? 4242 : -99);  // -99: the hook was bypassed
  }
};

}  // namespace

UMVIEW_PLUGIN(HooksPlugin, "hooks", "test: per-syscall hooks and process state")
