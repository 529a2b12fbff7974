#include "tests/support/pty.h"

#include <signal.h>
#include <time.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "tests/support/run.h"

namespace umview::test {

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

pid_t ChildNamed(pid_t parent, const std::string& comm) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile("/proc/" + name + "/stat");
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    int ppid = 0;
    if (sscanf(stat.c_str() + close + 1, " %*c %d", &ppid) != 1) continue;
    if (ppid == parent && stat.substr(open + 1, close - open - 1) == comm) return std::stoi(name);
  }
  return -1;
}

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) signal(s, SIG_DFL);
}

}  // namespace umview::test
