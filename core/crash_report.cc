// See crash_report.h. The handler only reads a pointer and calls write(2), sigaction(2) and
// raise(3): all async-signal-safe.
#include "core/crash_report.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

namespace umview {
namespace {

std::atomic<const char*> g_running{nullptr};

void Put(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
  }
  return "a fatal signal";
}

void OnFatal(int sig) {
  const char* name = g_running.load(std::memory_order_relaxed);
  if (name != nullptr) {
    Put("umview: plugin '");
    Put(name);
    Put("' crashed (");
    Put(SignalName(sig));
    Put("); umview and the processes of the view end here\n");
  } else {
    Put("umview: crashed (");
    Put(SignalName(sig));
    Put("); the processes of the view end here\n");
  }
  signal(sig, SIG_DFL);  // the default action (core dump) with the original signal
  raise(sig);
}

}  // namespace

void InstallCrashReporter() {
  struct sigaction sa {};
  sa.sa_handler = OnFatal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &sa, nullptr);
}

RunningPlugin::RunningPlugin(const std::string& name)
    : previous_(g_running.exchange(name.c_str(), std::memory_order_relaxed)) {}

RunningPlugin::~RunningPlugin() { g_running.store(previous_, std::memory_order_relaxed); }

}  // namespace umview
