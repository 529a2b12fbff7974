// FUSE in a view: unmodified FUSE programs mount inside a view (no root mount, no kernel FUSE)
// and the view's programs use the files they serve.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

bool Have(const std::string& prog) {
  return Run({"sh", "-c", "command -v " + prog}).exit_code == 0;
}

std::string Memfs() { return Tracee("memfs"); }

class Fuse : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(Memfs().c_str(), X_OK) != 0) GTEST_SKIP() << "memfs not built (no libfuse3-dev)";
    mnt_ = dir_ / "mnt";
    Run({"mkdir", "-p", mnt_});
  }
  RunResult Sh(const std::string& script) {
    RunOptions o;
    o.cwd = dir_.path();
    o.extra_env = {"M=" + mnt_, "MEMFS=" + Memfs(), "MEMFS_LOG=" + (dir_ / "ops.log")};
    return RunUmview({"-p", "viewfs", "--", "sh", "-c", script}, o);
  }
  TempDir dir_;
  std::string mnt_;
};

TEST_F(Fuse, MemfsMountReadAndUnmount) {
  RunResult r = Sh("$MEMFS $M && cat $M/hello && ls $M && umount $M && ls $M | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from memfs\nhello\n0\n");
}

}  // namespace
}  // namespace umview::test
