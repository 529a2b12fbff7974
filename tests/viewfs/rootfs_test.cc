// viewfs root=DIR (-r): a directory as the view's root, with its own loader, libraries and
// "#!" interpreters; `..` cannot climb out; host directories bound in on top.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

// A minimal root assembled from host files: sh, coreutils used below, dpkg-query, their
// libraries and loader, and the dpkg database.
class RootFs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    root_ = dir_->path() + "/root";
    std::string script =
        "set -e; r='" + root_ +
        "'; mkdir -p $r/bin $r/etc $r/proc $r/tmp $r/var/lib $r/usr/bin;"
        " for p in /bin/sh /bin/ls /bin/cat /bin/readlink /bin/pwd /usr/bin/dpkg-query; do cp -L "
        "$p $r/bin/; "
        " for l in $(ldd $p | grep -o '/[^ ]*' ); do mkdir -p $r$(dirname $l); cp -L $l $r$l; "
        " done; done;"
        " cp -a /var/lib/dpkg $r/var/lib/ 2>/dev/null || true;"
        " echo 'NAME=\"umview test root\"' > $r/etc/os-release;"
        " printf '#!/bin/sh\\necho script \"$0\" \"$@\"\\n' > $r/bin/script; chmod +x "
        "$r/bin/script;"
        " ln -s /etc/os-release $r/etc/abs-link";
    ok_ = test::Run({"sh", "-c", script}).exit_code == 0;
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << "could not assemble a root from host files";
  }
  RunResult InRoot(const std::string& script) {
    return RunUmview({"-r", root_, "-b", "/proc:/proc", "--", "/bin/sh", "-c", script});
  }
  static TempDir* dir_;
  static std::string root_;
  static bool ok_;
};
TempDir* RootFs::dir_ = nullptr;
std::string RootFs::root_;
bool RootFs::ok_ = false;

TEST_F(RootFs, ProgramsRunWithTheRootsLoaderAndFiles) {
  RunResult r = InRoot("ls / && cat /etc/os-release && pwd");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bin\netc\nlib\nlib64\nproc\ntmp\nusr\nvar\nNAME=\"umview test root\"\n/\n");
}

TEST_F(RootFs, DotDotCannotClimbOut) {
  RunResult r = InRoot("cd /../../.. && pwd && ls && cat /../etc/os-release");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/\nbin\netc\nlib\nlib64\nproc\ntmp\nusr\nvar\nNAME=\"umview test root\"\n");
}

TEST_F(RootFs, AbsoluteSymlinksResolveInside) {
  RunResult r = InRoot("cat /etc/abs-link");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "NAME=\"umview test root\"\n");
}

TEST_F(RootFs, ScriptsUseTheRootsInterpreter) {
  RunResult r = InRoot("/bin/script a b");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "script /bin/script a b\n");
}

TEST_F(RootFs, ProcSelfExeIsTheProgram) {
  RunResult r = InRoot("readlink /proc/self/exe; readlink /proc/self/cwd");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/bin/readlink\n/\n");
}

TEST_F(RootFs, DpkgQueryReadsTheRootsDatabase) {
  RunResult native = test::Run({"dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "bash"});
  if (native.exit_code != 0) GTEST_SKIP() << "no dpkg database on this machine";
  RunResult r = InRoot("dpkg-query -W -f '${Package} ${Version}\\n' bash");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, native.out);
}

TEST_F(RootFs, HostFilesOutsideTheRootAreAbsent) {
  RunResult r = InRoot("ls /usr/bin; cat /etc/hostname 2>/dev/null || echo absent");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "absent\n");
}

}  // namespace
}  // namespace umview::test
