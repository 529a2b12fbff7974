// Helpers of the packaging tests; see packaging_util.h.
#include "tests/packaging/packaging_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

namespace umview::test {

bool InstallInto(const std::string& prefix) {
  RunResult r = Run({UMVIEW_CMAKE, "--install", UMVIEW_BUILD_DIR, "--prefix", prefix},
                    {.timeout_seconds = 600});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return r.exit_code == 0;
}

std::string PluginDirUnder(const std::string& prefix) {
  return prefix + "/" + UMVIEW_LIBDIR + "/umview/abi" + UMVIEW_ABI + "/plugins";
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> IsolatedEnv(const std::string& home) {
  // Run() adds to the environment with putenv; an empty value is as good as unset here, since
  // umview skips empty directories and UMVIEW_SYSTEM_VIEWS="" means /etc/umview/views.
  return {"HOME=" + home, "XDG_DATA_HOME=" + home + "/.local/share",
          "XDG_CONFIG_HOME=" + home + "/.config",
          "UMVIEW_PLUGIN_PATH=", "UMVIEW_SYSTEM_VIEWS=" + home + "/no-system-views"};
}

}  // namespace umview::test
