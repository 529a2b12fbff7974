// The .deb: CPack builds it from this build; dpkg-deb shows its control fields (declared
// Depends) and contents; as root, apt-get installs it, the installed umview runs a view, and
// apt-get removes it, leaving the machine as it was.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/packaging/packaging_util.h"

namespace umview::test {
namespace {

bool Have(const std::string& tool) {
  return ::umview::test::Run({"sh", "-c", "command -v " + tool}).exit_code == 0;
}

class Deb : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"dpkg-deb", "dpkg-shlibdeps"})
      if (!Have(tool)) GTEST_SKIP() << "no " << tool << " (package dpkg-dev)";
    // CPack writes its staging tree and the package under -B, not into the build directory.
    RunResult r = ::umview::test::Run(
        {UMVIEW_CPACK, "-G", "DEB", "--config",
         std::string(UMVIEW_BUILD_DIR) + "/CPackConfig.cmake", "-B", out_.path()},
        {.timeout_seconds = 600});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    RunResult ls = ::umview::test::Run({"sh", "-c", "ls \"$0\"/umview_*.deb", out_.path()});
    ASSERT_EQ(ls.exit_code, 0) << ls.err;
    deb_ = SplitLines(ls.out).at(0);
  }

  TempDir out_;
  std::string deb_;
};

TEST_F(Deb, ControlFieldsDeclareTheDependencies) {
  RunResult info = ::umview::test::Run({"dpkg-deb", "-I", deb_});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find(" Package: umview\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find(" Version: " UMVIEW_PROJECT_VERSION "\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find(" Architecture: amd64\n"), std::string::npos) << info.out;
  size_t at = info.out.find(" Depends: ");
  ASSERT_NE(at, std::string::npos) << info.out;
  std::string depends = info.out.substr(at, info.out.find('\n', at) - at);
  // What the binaries and plugins link: found by dpkg-shlibdeps, with versions.
  for (const char* lib : {"libc6 (>=", "libstdc++6 (>=", "libgcc-s1 (>="})
    EXPECT_NE(depends.find(lib), std::string::npos) << lib << " not in" << depends;
  // Linked statically for umview's start-up time (core/CMakeLists.txt), so not needed installed.
  for (const char* lib : {"libseccomp", "libyaml-cpp", "libboost"})
    EXPECT_EQ(depends.find(lib), std::string::npos) << lib << " in" << depends;
}

TEST_F(Deb, ContentsAreTheInstallTreeUnderUsr) {
  RunResult c = ::umview::test::Run({"dpkg-deb", "-c", deb_});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const std::string plugins = "./usr/" UMVIEW_LIBDIR "/umview/abi" UMVIEW_ABI "/plugins/";
  for (const std::string& f :
       {std::string("./usr/bin/umview"), std::string("./usr/bin/umctl"), plugins + "viewfs.so",
        plugins + "umnet.so", plugins + "umdev.so", plugins + "umtrace.so",
        std::string("./usr/include/umview/plugin.h"),
        std::string("./usr/" UMVIEW_LIBDIR "/cmake/umview/umviewConfig.cmake"),
        std::string("./usr/share/umview/views/dev-sandbox.yaml"),
        std::string("./usr/share/man/man1/umview.1.gz"),
        std::string("./usr/share/man/man7/umview-plugins.7.gz"),
        std::string("./usr/share/bash-completion/completions/umctl"),
        std::string("./usr/share/doc/umview/WRITING_PLUGINS.md")}) {
    EXPECT_NE(c.out.find(" " + f + "\n"), std::string::npos) << "not in the package: " << f;
  }
  EXPECT_EQ(c.out.find("./etc/"), std::string::npos) << "the package must not own /etc files";
  EXPECT_EQ(c.out.find("/usr/local"), std::string::npos);
}

// Removes the package again whatever happens in the test.
struct RemoveOnExit {
  ~RemoveOnExit() {
    ::umview::test::Run(
        {"apt-get", "-o", "DPkg::Lock::Timeout=600", "purge", "-y", "-qq", "umview"},
        {.extra_env = {"DEBIAN_FRONTEND=noninteractive"}, .timeout_seconds = 900});
  }
};

TEST_F(Deb, InstallsRunsAndRemovesCleanly) {
  if (geteuid() != 0) GTEST_SKIP() << "installing a package needs root";
  if (!Have("apt-get")) GTEST_SKIP() << "no apt-get";
  if (::umview::test::Run({"dpkg-query", "-W", "-f=${Status}", "umview"}).out.find("installed") !=
      std::string::npos) {
    GTEST_SKIP() << "a umview package is installed already: leaving it alone";
  }
  if (std::string(UMVIEW_CONFIGURED_PREFIX) == "/usr") {
    GTEST_SKIP() << "this build is configured for /usr: the package would replace the plugins "
                    "its own tests load";
  }
  ASSERT_FALSE(IsFile("/usr/bin/umview")) << "/usr/bin/umview exists outside any package";
  const RunOptions apt{.extra_env = {"DEBIAN_FRONTEND=noninteractive"}, .timeout_seconds = 900};
  {
    RemoveOnExit cleanup;
    RunResult in = ::umview::test::Run({"apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
                                        "-qq", "--no-install-recommends", deb_},
                                       apt);
    ASSERT_EQ(in.exit_code, 0) << in.out << in.err;
    EXPECT_TRUE(IsFile("/usr/bin/umview"));

    TempDir home;
    RunOptions opts;
    opts.extra_env = IsolatedEnv(home.path());
    std::string trace = home / "trace";
    RunResult r =
        ::umview::test::Run({"/usr/bin/umview", "-v", "-p",
                             "umtrace,output=" + trace + ",filter=uname", "--", "uname", "-s"},
                            opts);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "Linux\n");
    EXPECT_NE(r.err.find("loaded from /usr/" UMVIEW_LIBDIR "/umview/abi" UMVIEW_ABI "/plugins/"),
              std::string::npos)
        << r.err;
    EXPECT_NE(ReadFile(trace).find("uname("), std::string::npos) << ReadFile(trace);
    RunResult view = ::umview::test::Run({"/usr/bin/umview", "--show=dev-sandbox"}, opts);
    EXPECT_EQ(view.exit_code, 0) << view.err;
    if (Have("man")) {
      RunResult man = ::umview::test::Run({"man", "-w", "umview-plugins"});
      EXPECT_NE(man.out.find("/usr/share/man/man7/umview-plugins.7.gz"), std::string::npos)
          << man.out << man.err;
    }
  }
  // After a purge dpkg knows nothing of the package (or lists it "not-installed").
  EXPECT_EQ(
      ::umview::test::Run({"dpkg-query", "-W", "-f=${Status}", "umview"}).out.find("ok installed"),
      std::string::npos);
  EXPECT_FALSE(IsFile("/usr/bin/umview"));
  EXPECT_FALSE(IsDir("/usr/" UMVIEW_LIBDIR "/umview"));
  EXPECT_FALSE(IsDir("/usr/include/umview"));
}

}  // namespace
}  // namespace umview::test
