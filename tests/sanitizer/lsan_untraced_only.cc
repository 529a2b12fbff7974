// Linked into umview and umctl in sanitizer builds only (-DUMVIEW_SANITIZE=ON).
//
// LeakSanitizer stops the world by ptrace-attaching to the process's threads, which fails when
// the process is already ptraced: it then prints "LeakSanitizer does not work under ptrace" and
// exits with an error. umctl runs inside views (that is what it is for, and tests do it), and
// umview may itself run under a tracer (strace, gdb, another umview). This hook, which
// LeakSanitizer calls before its check at exit, turns the check off only in a traced process;
// runs outside a view keep it.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool BeingTraced() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return false;
  char line[256];
  bool traced = false;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "TracerPid:", 10) == 0) {
      traced = std::atoi(line + 10) != 0;
      break;
    }
  }
  std::fclose(f);
  return traced;
}

}  // namespace

extern "C" int __lsan_is_turned_off() { return BeingTraced() ? 1 : 0; }
