// viewfs except=PATH: a path under a hide= or ro= mount that falls through to what lies below
// (the host), while the rest of the mount stays hidden or read-only.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsExcept : public ::testing::Test {
 protected:
  void SetUp() override {
    v_ = t_ / "v";
    Put(V("d/secret"), "SECRET\n");
    Put(V("d/keep/f"), "KEPT\n");
    Put(V("d/keep/deeper/g"), "G\n");
    Put(V("public/x"), "pub\n");
  }
  std::string V(const std::string& rel) const { return v_ + "/" + rel; }

  TempDir t_;
  std::string v_;
};

TEST_F(VfsExcept, UnderHide) {
  DoorResults d = RunDoors(Viewfs({"hide=" + V("d"), "except=" + V("d/keep")}),
                           {{"read", V("d/keep/f")},
                            {"read", V("d/keep/deeper/g")},
                            {"getdents", V("d/keep")},
                            {"open", V("d/keep/new"), "w,creat"},
                            {"read", V("d/secret")},
                            {"stat", V("d")},
                            {"getdents", V("d")},
                            {"getdents", v_},
                            {"read", V("d/keep/../secret")},
                            {"chdir", V("d/keep")},
                            {"read", "f"},
                            {"read", "../secret"},
                            {"stat", ".."},
                            {"at", V("d/keep")},
                            {"read", "/proc/self/fd/{fd}/../secret"}});
  EXPECT_EQ(d.Of("read " + V("d/keep/f")), "ok KEPT\\n");
  EXPECT_EQ(d.Of("read " + V("d/keep/deeper/g")), "ok G\\n");
  EXPECT_EQ(d.Of("getdents " + V("d/keep")), "ok deeper f");
  EXPECT_EQ(d.Of("open " + V("d/keep/new") + " w,creat"), "ok");
  EXPECT_EQ(d.Of("read " + V("d/secret")), "ENOENT");
  EXPECT_EQ(d.Of("stat " + V("d")), "ENOENT");
  EXPECT_EQ(d.Of("getdents " + V("d")), "ENOENT");
  EXPECT_EQ(d.Of("getdents " + v_), "ok public");
  EXPECT_EQ(d.Of("read " + V("d/keep/../secret")), "ENOENT");
  EXPECT_EQ(d.Of("read f"), "ok KEPT\\n");
  EXPECT_EQ(d.Of("read ../secret"), "ENOENT");
  EXPECT_EQ(d.Of("stat .."), "ENOENT");
  EXPECT_EQ(d.Of("read /proc/self/fd/{fd}/../secret"), "ENOENT");
  EXPECT_EQ(d.run.out.find("SECRET"), std::string::npos);
  EXPECT_TRUE(Exists(V("d/keep/new")));
}

TEST_F(VfsExcept, UnderReadOnly) {
  TreeSnapshot before = Snapshot(V("d/keep/deeper"));
  DoorResults d = RunDoors(Viewfs({"ro=" + V("d"), "except=" + V("d/keep")}),
                           {{"append", V("d/keep/f"), "+"},
                            {"open", V("d/keep/new"), "w,creat"},
                            {"mkdir", V("d/keep/dir")},
                            {"append", V("d/secret"), "+"},
                            {"open", V("d/new"), "w,creat"},
                            {"rename", V("d/keep/f"), V("d/f")},
                            {"rename", V("d/secret"), V("d/keep/secret")},
                            {"link", V("d/secret"), V("d/keep/hl")},
                            {"chdir", V("d/keep")},
                            {"open", "../secret", "w"},
                            {"creat", "fromcwd"}});
  EXPECT_EQ(d.Of("append " + V("d/keep/f") + " +"), "ok");
  EXPECT_EQ(d.Of("open " + V("d/keep/new") + " w,creat"), "ok");
  EXPECT_EQ(d.Of("mkdir " + V("d/keep/dir")), "ok");
  EXPECT_EQ(d.Of("creat fromcwd"), "ok");
  EXPECT_EQ(d.Of("append " + V("d/secret") + " +"), "EROFS");
  EXPECT_EQ(d.Of("open " + V("d/new") + " w,creat"), "EROFS");
  EXPECT_EQ(d.Of("rename " + V("d/keep/f") + " " + V("d/f")), "EROFS");
  EXPECT_EQ(d.Of("rename " + V("d/secret") + " " + V("d/keep/secret")), "EROFS");
  EXPECT_EQ(d.Of("link " + V("d/secret") + " " + V("d/keep/hl")), "EROFS");
  EXPECT_EQ(d.Of("open ../secret w"), "EROFS");
  EXPECT_EQ(ReadFile(V("d/keep/f")), "KEPT\n+");
  EXPECT_EQ(ReadFile(V("d/secret")), "SECRET\n");
  EXPECT_FALSE(Exists(V("d/new")));
  EXPECT_TRUE(Exists(V("d/keep/fromcwd")));
  ExpectSameTree(before, Snapshot(V("d/keep/deeper")));
}

TEST_F(VfsExcept, OrderOfOptionsDoesNotMatter) {
  DoorResults d = RunDoors(Viewfs({"except=" + V("d/keep"), "hide=" + V("d")}),
                           {{"read", V("d/keep/f")}, {"read", V("d/secret")}});
  EXPECT_EQ(d.Of("read " + V("d/keep/f")), "ok KEPT\\n");
  EXPECT_EQ(d.Of("read " + V("d/secret")), "ENOENT");
}

// The except directory's own name is an entry of the read-only directory above it: removing or
// renaming it changes that directory, so it must fail (EROFS; a real mount point would say EBUSY).
TEST_F(VfsExcept, ExceptRootUnderReadOnlyCannotBeRemovedOrRenamed) {
  mkdir(V("d/empty").c_str(), 0755);
  TreeSnapshot before = Snapshot(V("d"));
  DoorResults d =
      RunDoors(Viewfs({"ro=" + V("d"), "except=" + V("d/empty")}), {{"rmdir", V("d/empty")}});
  EXPECT_NE(d.Of("rmdir " + V("d/empty")), "ok");
  DoorResults e = RunDoors(Viewfs({"ro=" + V("d"), "except=" + V("d/keep")}),
                           {{"rename", V("d/keep"), V("public/keep")}});
  EXPECT_NE(e.Of("rename " + V("d/keep") + " " + V("public/keep")), "ok");
  ExpectSameTree(before, Snapshot(V("d")));
}

}  // namespace
}  // namespace umview::test
