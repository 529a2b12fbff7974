// `cmake --install` into a temporary prefix: everything lands where the docs say, and the
// installed umview finds its own plugins and views there, wherever the prefix is.
#include <gtest/gtest.h>

#include <string>

#include "tests/packaging/packaging_util.h"

namespace umview::test {
namespace {

TEST(InstallTree, LaysOutBinariesPluginsHeadersViewsDocsAndTheSdk) {
  TempDir prefix;
  ASSERT_TRUE(InstallInto(prefix.path()));
  const std::string p = prefix.path();
  std::string plugins = PluginDirUnder(p);
  EXPECT_NE(plugins.find("/umview/abi" UMVIEW_ABI "/plugins"), std::string::npos);
  for (const std::string& f : {p + "/bin/umview",
                               p + "/bin/umctl",
                               plugins + "/viewfs.so",
                               plugins + "/umnet.so",
                               plugins + "/umdev.so",
                               plugins + "/umtrace.so",
                               p + "/include/umview/plugin.h",
                               p + "/include/umview/syscalls.h",
                               p + "/include/umview/remote_ptr.h",
                               p + "/include/umview/syscall_table.inc",
                               p + "/include/umview/device.h",
                               p + "/include/umview/control.h",
                               p + "/include/umview/paths.h",
                               p + "/" UMVIEW_LIBDIR "/cmake/umview/umviewConfig.cmake",
                               p + "/" UMVIEW_LIBDIR "/cmake/umview/umviewConfigVersion.cmake",
                               p + "/" UMVIEW_LIBDIR "/cmake/umview/umviewTargets.cmake",
                               p + "/share/umview/views/default.yaml",
                               p + "/share/umview/views/dev-sandbox.yaml",
                               p + "/share/umview/views/clean-home.yaml",
                               p + "/share/umview/views/rootfs.yaml",
                               p + "/share/umview/views/view.schema.json",
                               p + "/share/man/man1/umview.1.gz",
                               p + "/share/man/man1/umctl.1.gz",
                               p + "/share/man/man5/umview-views.5.gz",
                               p + "/share/man/man7/umview-plugins.7.gz",
                               p + "/share/bash-completion/completions/umview",
                               p + "/share/bash-completion/completions/umctl",
                               p + "/share/doc/umview/README.md",
                               p + "/share/doc/umview/WRITING_PLUGINS.md",
                               p + "/share/doc/umview/examples/hostname/CMakeLists.txt",
                               p + "/share/doc/umview/examples/hostname/hostname.cc"}) {
    EXPECT_TRUE(IsFile(f)) << "not installed: " << f;
  }
  EXPECT_EQ(access((p + "/bin/umview").c_str(), X_OK), 0);
  // Nothing of the build tree or the tests is installed.
  EXPECT_FALSE(IsDir(p + "/bin/plugins"));
  EXPECT_FALSE(IsDir(p + "/" UMVIEW_LIBDIR "/umview/plugins")) << "unversioned plugin dir";
  RunResult ls = ::umview::test::Run({"find", p, "-mindepth", "1", "-name", "*test*"});
  EXPECT_EQ(ls.out, "") << "test files installed";
}

// The installed umview, run from a prefix it was not configured for, loads the plugins that
// were installed with it by name (not the build tree's) and finds the shipped views.
TEST(InstallTree, InstalledUmviewFindsItsPluginsAndViewsInAnyPrefix) {
  TempDir prefix, home;
  ASSERT_TRUE(InstallInto(prefix.path()));
  ASSERT_NE(prefix.path(), UMVIEW_CONFIGURED_PREFIX);
  const std::string umview = prefix.path() + "/bin/umview";
  RunOptions opts;
  opts.extra_env = IsolatedEnv(home.path());

  RunResult v = ::umview::test::Run({umview, "--version"}, opts);
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out, "umview " UMVIEW_PROJECT_VERSION " (plugin ABI " UMVIEW_ABI ")\n");

  std::string trace = home / "trace.log";
  RunResult r =
      ::umview::test::Run({umview, "-v", "-p", "umtrace,output=" + trace + ",filter=getppid", "--",
                           "sh", "-c", "echo in-view; cat /proc/self/status >/dev/null"},
                          opts);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "in-view\n");
  EXPECT_NE(
      r.err.find("plugin umtrace loaded from " + PluginDirUnder(prefix.path()) + "/umtrace.so"),
      std::string::npos)
      << r.err;

  // A viewfs view from the installed tree: the command sees the bind.
  TempDir data;
  WriteFile(data / "f", "bound\n");
  RunResult b = ::umview::test::Run(
      {umview, "-b", data.path() + ":/umview-install-test", "--", "cat", "/umview-install-test/f"},
      opts);
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, "bound\n");

  // --view finds the shipped example views; with no view at all, the shipped default runs.
  RunResult s = ::umview::test::Run({umview, "--show=dev-sandbox"}, opts);
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("target: /src"), std::string::npos) << s.out;
  RunResult d = ::umview::test::Run({umview, "--", "sh", "-c", "echo $UMVIEW_VIEW"}, opts);
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out, "default\n");
}

}  // namespace
}  // namespace umview::test
