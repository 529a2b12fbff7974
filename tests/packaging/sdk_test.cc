// The plugin SDK: examples/hostname is configured with find_package(umview) against an SDK
// installed into a temporary prefix, built, installed into that prefix's plugin directory, and
// run under the installed umview; the traced programs see the view's host name.
#include <gtest/gtest.h>

#include <string>

#include "tests/packaging/packaging_util.h"

namespace umview::test {
namespace {

class Sdk : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InstallInto(prefix_.path()));
    opts_.extra_env = IsolatedEnv(home_.path());
    opts_.timeout_seconds = 600;
  }

  // Configures and builds examples/hostname against the installed SDK only: CMAKE_PREFIX_PATH
  // is the temporary prefix and the source tree's headers are not on any include path.
  bool BuildExample(const std::string& build) {
    RunResult c = ::umview::test::Run(
        {UMVIEW_CMAKE, "-S", std::string(UMVIEW_SOURCE_DIR) + "/examples/hostname", "-B", build,
         "-DCMAKE_PREFIX_PATH=" + prefix_.path(), "-DCMAKE_INSTALL_PREFIX=" + prefix_.path(),
         "-DCMAKE_BUILD_TYPE=Release"},
        opts_);
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    if (c.exit_code != 0) return false;
    RunResult b = ::umview::test::Run({UMVIEW_CMAKE, "--build", build, "-j2", "--verbose"}, opts_);
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    // The compiler took the umview headers from the installed SDK.
    EXPECT_NE(b.out.find(prefix_.path() + "/include"), std::string::npos) << b.out;
    EXPECT_EQ(b.out.find(std::string(UMVIEW_SOURCE_DIR) + "/modules"), std::string::npos) << b.out;
    return b.exit_code == 0;
  }

  std::string Umview() const { return prefix_.path() + "/bin/umview"; }

  TempDir prefix_, home_, work_;
  RunOptions opts_;
};

// Opening for writing (append, writing nothing: harmless should the plugin fail) is refused.
const char* kProbe =
    "cat /etc/hostname; uname -n; hostname; "
    "if true >> /etc/hostname; then echo write=allowed; else echo write=refused; fi";

TEST_F(Sdk, ExamplePluginBuiltAgainstTheInstalledSdkGivesTheViewItsHostName) {
  std::string build = work_ / "build";
  ASSERT_TRUE(BuildExample(build));
  std::string plugin = build + "/hostname.so";
  ASSERT_TRUE(IsFile(plugin));
  std::string host_file = ReadFile("/etc/hostname");

  RunResult r = ::umview::test::Run(
      {Umview(), "-p", plugin + ",name=inside-view", "--", "sh", "-c", kProbe}, opts_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "inside-view\ninside-view\ninside-view\nwrite=refused\n") << r.err;
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile("/etc/hostname"), host_file) << "the host's /etc/hostname changed";

  // Outside the view nothing changed.
  RunResult outside = ::umview::test::Run({"uname", "-n"});
  EXPECT_NE(outside.out, "inside-view\n");
}

// `cmake --install` of the example puts it in the versioned plugin directory of the installed
// umview (UMVIEW_PLUGIN_INSTALL_DIR from the CMake package), where -p finds it by name.
TEST_F(Sdk, InstalledExampleIsFoundByName) {
  std::string build = work_ / "build";
  ASSERT_TRUE(BuildExample(build));
  RunResult i = ::umview::test::Run({UMVIEW_CMAKE, "--install", build}, opts_);
  ASSERT_EQ(i.exit_code, 0) << i.out << i.err;
  EXPECT_TRUE(IsFile(PluginDirUnder(prefix_.path()) + "/hostname.so"));

  RunResult r =
      ::umview::test::Run({Umview(), "-p", "hostname,name=by-name", "--", "uname", "-n"}, opts_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "by-name\n");
}

TEST_F(Sdk, ExamplePluginRefusesBadOptionsInOneLine) {
  std::string build = work_ / "build";
  ASSERT_TRUE(BuildExample(build));
  std::string plugin = build + "/hostname.so";
  for (const std::string& opts :
       {std::string(",colour=red"), std::string(""), ",name=" + std::string(70, 'x')}) {
    RunResult r = ::umview::test::Run({Umview(), "-p", plugin + opts, "--", "true"}, opts_);
    EXPECT_EQ(r.exit_code, 2) << opts;
    EXPECT_EQ(SplitLines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("umview: hostname: ", 0), 0u) << r.err;
  }
}

// The package version file refuses a request for a newer SDK.
TEST_F(Sdk, FindPackageChecksTheVersion) {
  std::string src = work_ / "src";
  ASSERT_EQ(::umview::test::Run({"mkdir", "-p", src}).exit_code, 0);
  WriteFile(src + "/CMakeLists.txt",
            "cmake_minimum_required(VERSION 3.25)\nproject(v LANGUAGES CXX)\n"
            "find_package(umview 99 REQUIRED)\n");
  RunResult c = ::umview::test::Run(
      {UMVIEW_CMAKE, "-S", src, "-B", work_ / "b", "-DCMAKE_PREFIX_PATH=" + prefix_.path()}, opts_);
  EXPECT_NE(c.exit_code, 0);
  EXPECT_NE((c.out + c.err).find("umview"), std::string::npos);
}

}  // namespace
}  // namespace umview::test
