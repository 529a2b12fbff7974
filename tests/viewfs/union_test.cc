// viewfs union mounts: cow=DST:UPPER keeps the host original byte-for-byte unchanged whatever
// the view does to it; merge=DST:A+B shows the layers as one, first layer wins, writes to A.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/support/run.h"
#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

// A fingerprint of a tree on the host: every path with type, mode, size and content.
std::string Fingerprint(const std::string& dir) {
  RunResult r = test::Run({"sh", "-c",
                           "cd '" + dir +
                               "' && find . -printf '%p %y %m %s %T@\\n' | sort && "
                               "find . -type f -print0 | sort -z | xargs -0 -r md5sum"});
  return r.out;
}

class Cow : public ::testing::Test {
 protected:
  void SetUp() override {
    orig_ = dir_ / "orig";
    upper_ = dir_ / "upper";
    ASSERT_EQ(test::Run({"sh", "-c",
                         "mkdir -p '" + orig_ + "/d/e' '" + upper_ + "' && printf one > '" + orig_ +
                             "/a' && printf two > '" + orig_ + "/d/b' && printf three > '" + orig_ +
                             "/d/e/c' && chmod 644 '" + orig_ + "/a'"})
                  .exit_code,
              0);
    before_ = Fingerprint(orig_);
  }
  RunResult Sh(const std::string& script) {
    return RunUmview({"-p", "viewfs,cow=" + orig_ + ":" + upper_, "--", "sh", "-c",
                      "cd '" + orig_ + "' && " + script});
  }
  void ExpectOriginalUnchanged() { EXPECT_EQ(Fingerprint(orig_), before_); }

  TempDir dir_;
  std::string orig_, upper_, before_;
};

TEST_F(Cow, WritesTruncatesChmodsGoToTheUpperLayer) {
  RunResult r =
      Sh("printf more >> a && cat a && echo && : > d/b && wc -c < d/b && chmod 600 a && "
         "stat -c %a a && touch -d '2001-01-01' d/e/c && stat -c %Y d/e/c");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "onemore\n0\n600\n978307200\n");
  ExpectOriginalUnchanged();
  // The view shows the upper copies' metadata, and a second view sees the same.
  RunResult again = Sh("cat a; echo; stat -c '%a %s' a");
  EXPECT_EQ(again.out, "onemore\n600 7\n");
}

TEST_F(Cow, DeletionsStayDeletedAcrossViews) {
  RunResult r = Sh("rm a && rm d/b && rm -r d/e && ls -A && ls -A d");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "d\n");
  ExpectOriginalUnchanged();
  RunResult again = Sh("ls -A; ls -A d; cat a 2>/dev/null || echo gone");
  EXPECT_EQ(again.out, "d\ngone\n");
  // Recreating a deleted directory gives an empty one, not the old contents.
  RunResult re = Sh(
      "mkdir d/e && ls -A d/e | wc -l && { cat d/e/c 2>/dev/null || echo no-c; } && echo new > a "
      "&& cat a");
  ASSERT_EQ(re.exit_code, 0) << re.err;
  EXPECT_EQ(re.out, "0\nno-c\nnew\n");
  RunResult later =
      Sh("cat d/e/c 2>/dev/null || echo no-c; cat d/e/../../d/e/c 2>/dev/null || echo no-c");
  EXPECT_EQ(later.out, "no-c\nno-c\n");
  ExpectOriginalUnchanged();
}

TEST_F(Cow, RenamesAndNewFiles) {
  RunResult r =
      Sh("mv a a2 && mkdir n && echo x > n/f && mv d/b n/b && mv d dd && ls -A && ls -A n && "
         "cat dd/e/c");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // mv of a directory from the original gets EXDEV and falls back to copy + delete, as on
  // overlayfs.
  EXPECT_EQ(r.out, "a2\ndd\nn\nb\nf\nthree");
  ExpectOriginalUnchanged();
}

TEST_F(Cow, ListingShowsEachNameOnce) {
  RunResult r = Sh("echo x >> a && echo y >> d/b && ls -A && ls -A d && find . | sort");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a\nd\nb\ne\n.\n./a\n./d\n./d/b\n./d/e\n./d/e/c\n");
  ExpectOriginalUnchanged();
}

// A directory only the lower layer has is listed as the kernel lists it: no exit stop to filter
// or extend the listing. Once the view deleted a name in it, the listing is filtered.
TEST_F(Cow, ListingOnlyTheLowerLayerHasTakesNoExitStop) {
  RunResult r = RunUmview({"--stats", "-p", "viewfs,cow=" + orig_ + ":" + upper_, "--", "sh", "-c",
                           "cd '" + orig_ + "' && ls -A d/e"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "c\n");
  EXPECT_GT(StatsColumn(r.err, "getdents64", 1), 0) << r.err;
  EXPECT_EQ(StatsColumn(r.err, "getdents64", 3), 0) << r.err;

  RunResult changed = RunUmview({"--stats", "-p", "viewfs,cow=" + orig_ + ":" + upper_, "--", "sh",
                                 "-c", "cd '" + orig_ + "' && rm d/e/c && ls -A d/e && ls -A d"});
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.out, "b\ne\n");
  EXPECT_GT(StatsColumn(changed.err, "getdents64", 3), 0) << changed.err;
  ExpectOriginalUnchanged();
}

// Names deep below directories the upper layer does not have are found in the lower layer; a
// deletion deep down hides only that name, also from a view started later.
TEST_F(Cow, DeepNamesAndDeepDeletions) {
  ASSERT_EQ(test::Run({"sh", "-c",
                       "mkdir -p '" + orig_ + "/p/q/r' && printf deep > '" + orig_ +
                           "/p/q/r/f' && printf keep > '" + orig_ + "/p/q/r/g'"})
                .exit_code,
            0);
  before_ = Fingerprint(orig_);
  RunResult r = Sh("cat p/q/r/f && echo && rm p/q/r/f && ls -A p/q/r && cd p/q && cat r/g");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deep\ng\nkeep");
  RunResult again = Sh("cat p/q/r/f 2>/dev/null || echo gone; find p | sort");
  EXPECT_EQ(again.out, "gone\np\np/q\np/q/r\np/q/r/g\n");
  ExpectOriginalUnchanged();
}

TEST_F(Cow, GitInACowTree) {
  if (test::Run({"git", "--version"}).exit_code != 0) GTEST_SKIP() << "git is not installed";
  ASSERT_EQ(test::Run({"sh", "-c",
                       "cd '" + orig_ +
                           "' && git init -q && git add -A && git -c user.name=t "
                           "-c user.email=t@t commit -qm one"})
                .exit_code,
            0);
  before_ = Fingerprint(orig_);
  RunResult r =
      Sh("printf changed > a && git status --short && git -c user.name=t -c user.email=t@t "
         "commit -qam two && git log --oneline | wc -l && git status --short | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, " M a\n2\n0\n");
  ExpectOriginalUnchanged();
}

TEST_F(Cow, KilledDuringCopyUpLeavesBothLayersConsistent) {
  // A large file copied up on the first write; umview is killed at some point of it. Whatever
  // the moment, the original is intact and the upper layer has no copy or a whole one.
  ASSERT_EQ(test::Run({"sh", "-c", "head -c 64000000 /dev/zero > '" + orig_ + "/big'"}).exit_code,
            0);
  before_ = Fingerprint(orig_);
  pid_t pid = fork();
  if (pid == 0) {
    execl(UmviewBin().c_str(), "umview", "-p", ("viewfs,cow=" + orig_ + ":" + upper_).c_str(), "--",
          "sh", "-c", ("echo x >> '" + orig_ + "/big'").c_str(), nullptr);
    _exit(127);
  }
  usleep(50 * 1000);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ExpectOriginalUnchanged();
  struct stat st;
  if (stat((upper_ + "/big").c_str(), &st) == 0) {
    EXPECT_TRUE(st.st_size == 64000000 || st.st_size == 64000002) << st.st_size;
  }
  // Whatever temporary file was left is not part of the view.
  RunResult ls = Sh("ls -A");
  EXPECT_EQ(ls.out, "a\nbig\nd\n");
}

TEST_F(Cow, UpperInsideDstIsRefused) {
  RunResult r = RunUmview({"-p", "viewfs,cow=" + orig_ + ":" + orig_ + "/d", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("UPPER must not be inside DST"), std::string::npos) << r.err;
}

TEST(Merge, FirstLayerWinsWritesGoToIt) {
  TempDir dir;
  ASSERT_EQ(
      test::Run({"sh", "-c",
                 "cd '" + dir.path() +
                     "' && mkdir -p A B/sub C && echo a > A/x && echo b > B/x && echo by > B/y "
                     "&& echo s > B/sub/z && echo c > C/w"})
          .exit_code,
      0);
  std::string b_before = Fingerprint(dir / "B"), c_before = Fingerprint(dir / "C");
  RunResult r =
      RunUmview({"-p", "viewfs,merge=/m:" + (dir / "A") + "+" + (dir / "B") + "+" + (dir / "C"),
                 "--", "sh", "-c",
                 "ls -A /m && cat /m/x /m/y /m/w /m/sub/z && echo more >> /m/y && "
                 "echo n > /m/n && rm /m/w && ls -A /m && ls / | grep -cx m"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "sub\nw\nx\ny\na\nby\nc\ns\nn\nsub\nx\ny\n1\n");
  EXPECT_EQ(Fingerprint(dir / "B"), b_before);
  EXPECT_EQ(Fingerprint(dir / "C"), c_before);
  EXPECT_EQ(ReadFile(dir / "A/y"), "by\nmore\n");
  EXPECT_EQ(ReadFile(dir / "A/n"), "n\n");
}

}  // namespace
}  // namespace umview::test
