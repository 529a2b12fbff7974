// viewfs options and umview's short forms: -b SRC:DST and -w DIR work like bind= and a chdir
// in the view; bad options get one line on stderr and exit status 2, and nothing starts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsShortForms : public ::testing::Test {
 protected:
  void SetUp() override {
    Put(t_ / "src/sub/y", "Y\n");
    Put(t_ / "src/x", "X\n");
    Put(t_ / "other/o", "O\n");
    mkdir((t_ / "view").c_str(), 0755);
  }
  TempDir t_;
};

TEST_F(VfsShortForms, BindAndCwd) {
  const std::string dst = t_ / "view/data";
  RunResult r = RunUmview({"-b", t_ / "src" + ":" + dst, "-b", t_ / "other" + ":" + t_ / "view/o",
                           "-w", dst + "/sub", "--", "sh", "-c",
                           "/bin/pwd; cat y ../x; cat ../../o/o; ls ..; ls " + t_ / "view"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, dst + "/sub\nY\nX\nO\nsub\nx\ndata\no\n");
  EXPECT_EQ(HostList(t_ / "view"), std::vector<std::string>{});
}

TEST_F(VfsShortForms, LongNames) {
  const std::string dst = t_ / "view/data";
  RunResult r = RunUmview({"--bind", t_ / "src" + ":" + dst, "--cwd", dst, "--", "cat", "x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\n");
}

TEST_F(VfsShortForms, RelativeSourceAndUnnormalizedDst) {
  RunOptions o;
  o.cwd = t_.path();
  RunResult r = RunUmview({"-b", "src/../src:" + t_ / "view//./data/", "--", "cat",
                           t_ / "view/data/x", t_ / "view/data/sub/y"},
                          o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\nY\n");
}

TEST_F(VfsShortForms, CwdWithoutBind) {
  RunResult r = RunUmview({"-w", t_ / "src", "--", "cat", "x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\n");
}

TEST_F(VfsShortForms, ShortBindStacksWithPluginOptions) {
  const std::string dst = t_ / "view/data";
  RunResult r = RunUmview({"-b", t_ / "src" + ":" + dst, "-p", "viewfs,ro=" + dst, "--", "sh", "-c",
                           "cat " + dst + "/x; (echo no > " + dst +
                               "/x) 2>/dev/null ||"
                               " echo refused"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\nrefused\n");
  EXPECT_EQ(ReadFile(t_ / "src/x"), "X\n");
}

// Each bad invocation: exit 2, one line on stderr, nothing on stdout, the command never ran,
// no tmp= directory left behind.
class VfsBadOptions : public ::testing::Test {
 protected:
  void ExpectRefused(const std::vector<std::string>& args, const std::string& mention) {
    const std::string marker = t_ / "ran";
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--", "touch", marker});
    RunOptions o;
    o.extra_env = {"TMPDIR=" + tmpdir_};
    o.timeout_seconds = 10;
    RunResult r = RunUmview(a, o);
    std::string line;
    for (const auto& s : a) line += s + " ";
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << line << "\n" << r.err;
    EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << r.err;
    EXPECT_NE(r.err.find(mention), std::string::npos) << line << "\n" << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(Exists(marker)) << line << ": the command ran";
    EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{}) << line;
  }
  void SetUp() override {
    tmpdir_ = t_ / "tmpdir";
    mkdir(tmpdir_.c_str(), 0755);
  }
  TempDir t_;
  std::string tmpdir_;
};

TEST_F(VfsBadOptions, BindWithMissingSource) {
  ExpectRefused(Viewfs({"bind=" + t_ / "nonexistent" + ":/x"}), t_ / "nonexistent");
  ExpectRefused({"-b", t_ / "nonexistent" + ":/x"}, t_ / "nonexistent");
}

TEST_F(VfsBadOptions, BindWithRelativeDst) {
  ExpectRefused(Viewfs({"bind=" + t_.path() + ":relative/dst"}), "relative/dst");
  ExpectRefused({"-b", t_.path() + ":relative"}, "relative");
}

TEST_F(VfsBadOptions, BindWithoutColon) {
  ExpectRefused(Viewfs({"bind=" + t_.path()}), "SRC:DST");
  ExpectRefused({"-b", t_.path()}, "SRC:DST");
  ExpectRefused({"-b", ":/x"}, "SRC:DST");
  ExpectRefused({"-b", t_.path() + ":"}, "SRC:DST");
}

TEST_F(VfsBadOptions, UnknownOption) { ExpectRefused(Viewfs({"bogus=1"}), "bogus"); }

TEST_F(VfsBadOptions, OptionsWithoutValue) {
  ExpectRefused(Viewfs({"tmp"}), "tmp");
  ExpectRefused(Viewfs({"tmp="}), "tmp");
  ExpectRefused(Viewfs({"hide"}), "hide");
  ExpectRefused(Viewfs({"ro="}), "ro");
  ExpectRefused(Viewfs({"except"}), "except");
  ExpectRefused(Viewfs({"bind"}), "bind");
}

TEST_F(VfsBadOptions, RelativePaths) {
  ExpectRefused(Viewfs({"hide=rel"}), "rel");
  ExpectRefused(Viewfs({"ro=rel"}), "rel");
  ExpectRefused(Viewfs({"except=rel"}), "rel");
  ExpectRefused(Viewfs({"tmp=rel"}), "rel");
}

TEST_F(VfsBadOptions, LaterBadOptionRemovesEarlierTmp) {
  ExpectRefused(Viewfs({"tmp=/scratch", "tmp=/scratch2", "bogus=1"}), "bogus");
}

TEST_F(VfsBadOptions, MissingCwd) {
  ExpectRefused({"-w", t_ / "nonexistent"}, t_ / "nonexistent");
  ExpectRefused({"-b", t_.path() + ":" + t_ / "view", "-w", t_ / "view/nonexistent"},
                t_ / "view/nonexistent");
}

}  // namespace
}  // namespace umview::test
