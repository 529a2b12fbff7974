// Installed directories relative to the binary; see install_dirs.h.
#include "core/install_dirs.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace umview {

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string s(buf, n);
  return s.substr(0, s.rfind('/'));
}

std::string InstalledDirNextToSelf(const char* relative) {
  std::string self = SelfDir();
  if (self.empty()) return "";
  char real[PATH_MAX];
  if (realpath((self + "/" + relative).c_str(), real) == nullptr) return "";
  struct stat st;
  if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  return real;
}

}  // namespace umview
