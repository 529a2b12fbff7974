// Naming the plugin that crashed umview: the dispatcher marks which plugin's code runs, and a
// fatal-signal handler prints that name before umview dies (its tracees die with it: EXITKILL).
#pragma once

#include <string>

namespace umview {

// Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT that write one line
// ("umview: plugin 'NAME' crashed (SIGSEGV)...") and then die of the same signal.
void InstallCrashReporter();

// While alive, the crash handler blames plugin `name` (which must outlive the guard).
class RunningPlugin {
 public:
  explicit RunningPlugin(const std::string& name);
  ~RunningPlugin();
  RunningPlugin(const RunningPlugin&) = delete;
  RunningPlugin& operator=(const RunningPlugin&) = delete;

 private:
  const char* previous_;
};

}  // namespace umview
