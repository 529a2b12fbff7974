// viewfs tmp=DST: a private, empty, writable directory for the life of the view, under
// $TMPDIR on the host, removed when the view ends (however the command ends).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsTmp : public ::testing::Test {
 protected:
  void SetUp() override {
    tmpdir_ = t_ / "tmpdir";  // the view's $TMPDIR: where tmp= keeps its directories
    mkdir(tmpdir_.c_str(), 0755);
    view_ = t_ / "view";
    mkdir(view_.c_str(), 0755);
    dst_ = view_ + "/scratch";  // does not exist on the host
    opts_.extra_env = {"TMPDIR=" + tmpdir_};
  }
  std::vector<std::string> Tmp() const { return Viewfs({"tmp=" + dst_}); }

  TempDir t_;
  std::string tmpdir_, view_, dst_;
  RunOptions opts_;
};

TEST_F(VfsTmp, EmptyWritableAndRemovedAtExit) {
  DoorResults d = RunDoors(Tmp(),
                           {{"getdents", dst_},
                            {"stat", dst_},
                            {"getdents", view_},
                            {"open", dst_ + "/f", "w,creat"},
                            {"append", dst_ + "/f", "data"},
                            {"read", dst_ + "/f"},
                            {"mkdir", dst_ + "/d"},
                            {"mknod", dst_ + "/d/fifo"},
                            {"symlink", dst_ + "/f", dst_ + "/l"},
                            {"read", dst_ + "/l"},
                            {"rename", dst_ + "/f", dst_ + "/d/g"},
                            {"chdir", dst_ + "/d"},
                            {"getcwd"},
                            {"read", "g"},
                            {"read", "../l"},
                            {"getdents", dst_}},
                           opts_);
  EXPECT_EQ(d.results[0], "ok");  // empty at the start
  EXPECT_EQ(d.Of("stat " + dst_), "ok dir size=0");
  EXPECT_EQ(d.Of("getdents " + view_), "ok scratch");
  EXPECT_EQ(d.Of("open " + dst_ + "/f w,creat"), "ok");
  EXPECT_EQ(d.Of("append " + dst_ + "/f data"), "ok");
  EXPECT_EQ(d.Of("read " + dst_ + "/l"), "ok data");
  EXPECT_EQ(d.Of("mkdir " + dst_ + "/d"), "ok");
  EXPECT_EQ(d.Of("mknod " + dst_ + "/d/fifo"), "ok");
  EXPECT_EQ(d.Of("getcwd"), "ok " + dst_ + "/d");
  EXPECT_EQ(d.Of("read g"), "ok data");
  EXPECT_EQ(d.Of("read ../l"), "ENOENT") << "l pointed at the old name";
  EXPECT_EQ(d.results[15], "ok d l");
  EXPECT_FALSE(Exists(dst_)) << "nothing is created at DST on the host";
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{}) << "the tmp directory is removed";
}

TEST_F(VfsTmp, KeptUnderTmpdirWhileTheViewRuns) {
  RunResult r = ShIn(
      Tmp(), "echo x > " + dst_ + "/f; ls " + tmpdir_ + " | wc -l; ls " + tmpdir_ + "/*/", opts_);
  EXPECT_EQ(r.out, "1\nf\n") << r.err;
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

TEST_F(VfsTmp, OverAnExistingHostDirectoryShowsItEmptyAndLeavesItAlone) {
  Put(dst_ + "/hostfile", "HOST\n");
  TreeSnapshot before = Snapshot(view_);
  RunResult r = ShIn(Tmp(),
                     "ls -A " + dst_ + "; echo new > " + dst_ + "/hostfile; cat " + dst_ +
                         "/hostfile; rm " + dst_ + "/hostfile; ls -A " + dst_,
                     opts_);
  EXPECT_EQ(r.out, "new\n") << r.err;
  ExpectSameTree(before, Snapshot(view_));
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

TEST_F(VfsTmp, RemovedWhenTheCommandIsKilled) {
  RunResult r =
      ShIn(Tmp(), "mkdir -p " + dst_ + "/a/b && echo x > " + dst_ + "/a/b/f && kill -9 $$", opts_);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

TEST_F(VfsTmp, RemovedWhenItsContentIsReadOnly) {
  RunResult r = ShIn(Tmp(),
                     "mkdir -p " + dst_ + "/a/b && echo x > " + dst_ + "/a/b/f && chmod 0 " + dst_ +
                         "/a/b/f && chmod 0 " + dst_ + "/a/b",
                     opts_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

// Two views with tmp= at the same DST run at the same time: each sees only its own files.
TEST_F(VfsTmp, PrivateToEachView) {
  const std::string flags = t_ / "flags";
  mkdir(flags.c_str(), 0755);
  auto view = [&](const std::string& me, const std::string& other, RunResult* out) {
    // Write, say so, wait until the other view has written too, then list.
    *out = ShIn(Tmp(),
                "echo " + me + " > " + dst_ + "/" + me + "; touch " + flags + "/" + me +
                    "; i=0; while [ ! -e " + flags + "/" + other +
                    " ] && [ $i -lt 400 ]; do sleep 0.01; i=$((i+1)); done; ls " + dst_,
                opts_);
  };
  RunResult a, b;
  std::thread ta(view, "a", "b", &a), tb(view, "b", "a", &b);
  ta.join();
  tb.join();
  EXPECT_EQ(a.out, "a\n") << a.err;
  EXPECT_EQ(b.out, "b\n") << b.err;
  EXPECT_TRUE(Exists(flags + "/a") && Exists(flags + "/b"));
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

TEST_F(VfsTmp, ChildrenOutlivingTheCommandStillSeeIt) {
  // The view lasts while any process of it runs: a background child keeps the directory.
  const std::string out = t_ / "out";
  RunResult r =
      ShIn(Tmp(), "echo x > " + dst_ + "/f; (sleep 0.3; cat " + dst_ + "/f > " + out + ") & exit 0",
           opts_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(out), "x\n");
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

TEST_F(VfsTmp, SeveralTmpMounts) {
  const std::string other = view_ + "/other";
  RunResult r = ShIn(
      Viewfs({"tmp=" + dst_, "tmp=" + other}),
      "echo 1 > " + dst_ + "/f; ls " + other + "; ls " + view_ + "; cat " + dst_ + "/f", opts_);
  EXPECT_EQ(r.out, "other\nscratch\n1\n") << r.err;
  EXPECT_EQ(HostList(tmpdir_), std::vector<std::string>{});
}

}  // namespace
}  // namespace umview::test
