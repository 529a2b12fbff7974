// viewfs remembers the host path of the directory descriptors a process uses as dirfds (and
// lists) in views that protect nothing. A descriptor number the process closes and opens again on
// another directory must be resolved at the new directory, symlinks under a remembered
// directory must still be followed in the view, and a listing through a reused number must still
// show the mount points the view adds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

// Host layout:  T/out/{f, lnk -> T/p/mnt}  T/p/mnt/ (empty)  T/p/g  T/src/file
// View:         T/p/mnt -> T/src (a bind over an empty host directory), T/p/new -> T/src (a
//               mount point missing on the host)
class VfsDirCache : public ::testing::Test {
 protected:
  void SetUp() override {
    Put(t_ / "out/f", "F\n");
    Put(t_ / "src/file", "S\n");
    Put(t_ / "p/g", "G\n");
    ASSERT_EQ(mkdir((t_ / "p/mnt").c_str(), 0755), 0);
    ASSERT_EQ(symlink((t_ / "p/mnt").c_str(), (t_ / "out/lnk").c_str()), 0);
  }
  std::vector<std::string> View() const {
    return Viewfs(
        {"bind=" + t_ / "src" + ":" + t_ / "p/mnt", "bind=" + t_ / "src" + ":" + t_ / "p/new"});
  }

  TempDir t_;
};

TEST_F(VfsDirCache, AReusedDescriptorNumberIsResolvedAtItsNewDirectory) {
  // "at -" closes the dirfd; the next "at" gets the same number on another directory.
  DoorResults d = RunDoors(View(), {{"at", t_ / "out"},
                                    {"fstatat", "f", "nofollow"},
                                    {"fstatat", "lnk/file", "nofollow"},
                                    {"at", "-"},
                                    {"at", t_ / "p"},
                                    {"fstatat", "mnt/file", "nofollow"},
                                    {"fstatat", "g", "nofollow"},
                                    {"fstatat", "f", "nofollow"}});
  ASSERT_EQ(d.run.exit_code, 0) << d.run.err;
  // lnk is a symlink to T/p/mnt: followed in the view, it reaches the bind's file.
  EXPECT_EQ(d.Of("fstatat lnk/file nofollow"), "ok file size=2");
  // The descriptor number now names T/p: mnt/file is the bind's, g is T/p's own, and f (a name
  // of T/out only) is not there.
  EXPECT_EQ(d.Of("fstatat mnt/file nofollow"), "ok file size=2");
  EXPECT_EQ(d.Of("fstatat g nofollow"), "ok file size=2");
  ASSERT_EQ(d.results.size(), 8u);
  EXPECT_EQ(d.results[1], "ok file size=2");
  EXPECT_EQ(d.results[7], "ENOENT");
}

TEST_F(VfsDirCache, AListingThroughAReusedDescriptorNumberShowsTheViewsMountPoints) {
  // Each getdents opens the directory, lists it and closes it: both listings use one number.
  DoorResults d = RunDoors(View(), {{"getdents", t_ / "out"}, {"getdents", t_ / "p"}});
  ASSERT_EQ(d.run.exit_code, 0) << d.run.err;
  EXPECT_EQ(d.Of("getdents " + t_ / "out"), "ok f lnk");
  EXPECT_EQ(d.Of("getdents " + t_ / "p"), "ok g mnt new");
}

}  // namespace
}  // namespace umview::test
