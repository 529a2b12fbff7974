// viewfs hide=PATH: the path and everything under it are absent (ENOENT, not listed) through
// every door a process has: each path syscall, dirfds above it, "..", symlinks, /proc magic
// links, renames and links into and out of it. Hidden content is never read, never changed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsHide : public ::testing::Test {
 protected:
  void SetUp() override {
    v_ = t_ / "v";
    Put(V("secret/x"), "SECRET-x\n");
    Put(V("secret/sub/y"), "SECRET-y\n");
    Put(V("secret/prog"), "#!/bin/sh\necho SECRET-ran\n");
    chmod(V("secret/prog").c_str(), 0755);
    mkdir(V("secret/emptydir").c_str(), 0755);
    Put(V("public/x"), "pub\n");
    symlink(V("secret/x").c_str(), V("public/lnk_abs").c_str());
    symlink("../secret/x", V("public/lnk_rel").c_str());
    symlink(V("secret").c_str(), V("public/lnk_dir").c_str());
    before_ = Snapshot(v_);
  }
  std::string V(const std::string& rel) const { return v_ + "/" + rel; }
  std::vector<std::string> Hide() const { return Viewfs({"hide=" + V("secret")}); }
  void ExpectNoLeak(const DoorResults& d) {
    EXPECT_EQ(d.run.out.find("SECRET"), std::string::npos) << d.run.out;
    ExpectSameTree(before_, Snapshot(v_));
  }

  TempDir t_;
  std::string v_;
  TreeSnapshot before_;
};

TEST_F(VfsHide, ReadDoorsSayENOENT) {
  const std::string s = V("secret"), x = V("secret/x");
  DoorResults d = RunDoors(Hide(), {{"read", x},
                                    {"open", x, "r"},
                                    {"open", s, "r,dir"},
                                    {"open", x, "path"},
                                    {"openat", x, "r"},
                                    {"openat2", x, "r"},
                                    {"stat", s},
                                    {"stat", s + "/"},
                                    {"stat", s + "/."},
                                    {"stat", x},
                                    {"lstat", s},
                                    {"lstat", x},
                                    {"fstatat", x, "0"},
                                    {"fstatat", x, "nofollow"},
                                    {"statx", x, "0"},
                                    {"statx", s, "nofollow"},
                                    {"statfs", x},
                                    {"access", x, "f"},
                                    {"access", s, "rx"},
                                    {"faccessat", x, "r"},
                                    {"faccessat2", x, "r", "eaccess"},
                                    {"readlink", x},
                                    {"readlinkat", s},
                                    {"chdir", s},
                                    {"chdir", V("secret/sub")},
                                    {"fchdir", s},
                                    {"getdents", s},
                                    {"execve", V("secret/prog"), "-"},
                                    {"execveat", V("secret/prog"), "-"},
                                    {"inotify", s},
                                    {"inotify", x},
                                    {"handle", x, "0"},
                                    {"handle", s, "follow"},
                                    {"usock_connect", V("secret/sock")}});
  ExpectAll(d, "ENOENT");
  ExpectNoLeak(d);
}

TEST_F(VfsHide, WriteDoorsSayENOENTAndChangeNothing) {
  const std::string s = V("secret"), x = V("secret/x"), p = V("public/x");
  DoorResults d = RunDoors(Hide(), {{"open", x, "w"},
                                    {"open", x, "r,trunc"},
                                    {"open", V("secret/new"), "w,creat"},
                                    {"open", V("secret/new"), "w,creat,excl"},
                                    {"open", s, "tmpfile"},
                                    {"creat", x},
                                    {"creat", V("secret/new")},
                                    {"append", x, "W"},
                                    {"mkdir", s},
                                    {"mkdir", V("secret/newdir")},
                                    {"mknod", V("secret/fifo")},
                                    {"rmdir", V("secret/emptydir")},
                                    {"unlink", x},
                                    {"rename", x, V("public/moved")},
                                    {"rename", p, V("secret/moved")},
                                    {"rename", s, V("public/moved")},
                                    {"renameat2", x, V("public/moved"), "noreplace"},
                                    {"renameat2", p, x, "exchange"},
                                    {"link", x, V("public/hl")},
                                    {"link", p, V("secret/hl")},
                                    {"linkat", x, V("public/hl"), "follow"},
                                    {"symlink", "t", V("secret/l")},
                                    {"symlinkat", "t", V("secret/l")},
                                    {"chmod", x, "600"},
                                    {"fchmodat", s, "700"},
                                    {"chown", x},
                                    {"lchown", x},
                                    {"fchownat", x, "nofollow"},
                                    {"utime", x},
                                    {"utimes", x},
                                    {"utimensat", x, "0"},
                                    {"futimesat", x},
                                    {"truncate", x, "0"},
                                    {"acct", x},
                                    {"usock_bind", V("secret/sock")}});
  ExpectAll(d, "ENOENT");
  ExpectNoLeak(d);
}

TEST_F(VfsHide, XattrDoorsSayENOENT) {
  if (!SupportsUserXattr(t_.path())) GTEST_SKIP() << t_.path() << " does not store user.* xattrs";
  const std::string x = V("secret/x");
  ASSERT_EQ(test::Run({"python3", "-c",
                       "import os,sys; os.setxattr(sys.argv[1], 'user.k', b'SECRET-xa')", x})
                .exit_code,
            0);
  before_ = Snapshot(v_);
  DoorResults d = RunDoors(Hide(), {{"getxattr", x, "user.k"},
                                    {"lgetxattr", x, "user.k"},
                                    {"listxattr", x},
                                    {"setxattr", x, "user.n", "v"},
                                    {"lsetxattr", x, "user.n", "v"},
                                    {"removexattr", x, "user.k"},
                                    {"lremovexattr", x, "user.k"}});
  ExpectAll(d, "ENOENT");
  ExpectNoLeak(d);
}

// Ways around the path: a dirfd or cwd above it, "..", /proc magic links, symlinks.
TEST_F(VfsHide, IndirectRoutesSayENOENT) {
  DoorResults d = RunDoors(Hide(), {{"at", v_},
                                    {"openat", "secret/x", "r"},
                                    {"openat", "./secret/sub/../x", "r"},
                                    {"openat2", "secret/x", "r"},
                                    {"fstatat", "secret", "0"},
                                    {"statx", "secret/x", "0"},
                                    {"faccessat", "secret/x", "r"},
                                    {"readlinkat", "secret/x"},
                                    {"mkdirat", "secret/d"},
                                    {"mknodat", "secret/f"},
                                    {"unlinkat", "secret/x", "0"},
                                    {"unlinkat", "secret/emptydir", "removedir"},
                                    {"renameat", "secret/x", "public/y"},
                                    {"renameat", "public/x", "secret/y"},
                                    {"linkat", "secret/x", "public/y", "0"},
                                    {"symlinkat", "t", "secret/l"},
                                    {"fchownat", "secret/x", "0"},
                                    {"utimensat", "secret/x", "0"},
                                    {"handle", "secret/x", "0"},
                                    {"read", "/proc/self/fd/{fd}/secret/x"},
                                    {"read", "/proc/{pid}/fd/{fd}/secret/x"},
                                    {"read", "/proc/thread-self/fd/{fd}/secret/x"},
                                    {"stat", "/proc/self/fd/{fd}/secret"},
                                    {"read", V("public/../secret/x")},
                                    {"read", V("secret/../secret/x")},
                                    {"read", V("public/./../secret/sub/../x")},
                                    {"read", v_ + "//secret///x"},
                                    {"read", "/proc/self/root" + V("secret/x")},
                                    {"read", V("public/lnk_abs")},
                                    {"read", V("public/lnk_rel")},
                                    {"read", V("public/lnk_dir/x")},
                                    {"stat", V("public/lnk_dir")},
                                    {"open", V("public/lnk_abs"), "w,trunc"},
                                    {"chmod", V("public/lnk_abs"), "600"},
                                    {"truncate", V("public/lnk_rel"), "0"},
                                    {"chdir", v_},
                                    {"read", "secret/x"},
                                    {"read", "/proc/self/cwd/secret/x"},
                                    {"read", "/proc/thread-self/cwd/secret/x"},
                                    {"chdir", V("public")},
                                    {"read", "../secret/x"},
                                    {"read", "lnk_rel"},
                                    {"open", "../secret/new", "w,creat"}});
  for (size_t i = 0; i < d.calls.size(); ++i) {
    bool setup = d.calls[i].rfind("at ", 0) == 0 || d.calls[i].rfind("chdir ", 0) == 0;
    EXPECT_EQ(d.results[i], setup ? "ok" : "ENOENT") << d.calls[i];
  }
  ExpectNoLeak(d);
}

TEST_F(VfsHide, SymlinksToItStillReadAsLinks) {
  // The link itself is not hidden: its text is what the host has.
  DoorResults d = RunDoors(Hide(), {{"readlink", V("public/lnk_abs")},
                                    {"lstat", V("public/lnk_rel")},
                                    {"stat", V("public/lnk_rel")}});
  EXPECT_EQ(d.Of("readlink " + V("public/lnk_abs")), "ok " + V("secret/x"));
  EXPECT_EQ(d.Of("lstat " + V("public/lnk_rel")), "ok link size=11");
  EXPECT_EQ(d.Of("stat " + V("public/lnk_rel")), "ENOENT");
}

TEST_F(VfsHide, ParentListingOmitsIt) {
  DoorResults d = RunDoors(Hide(), {{"getdents", v_}});
  EXPECT_EQ(d.Of("getdents " + v_), "ok public");
  RunResult r = ShIn(Hide(), "ls -a " + v_ + "; find " + v_ + " | sort");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ".\n..\npublic\n" + v_ + "\n" + V("public") + "\n" + V("public/lnk_abs") + "\n" +
                       V("public/lnk_dir") + "\n" + V("public/lnk_rel") + "\n" + V("public/x") +
                       "\n");
}

// Hidden names are removed from each batch the kernel returns, wherever they fall in it.
TEST_F(VfsHide, ListingOfALargeDirectoryOmitsHiddenNames) {
  // 1200 names take several getdents64 calls (vfs_door reads 8 KiB at a time, ls 32 KiB).
  std::string big = t_ / "big";
  mkdir(big.c_str(), 0755);
  for (int i = 0; i < 1200; ++i) WriteFile(big + "/f" + std::to_string(i), "");
  auto view = Viewfs({"hide=" + big + "/f7", "hide=" + big + "/f600", "hide=" + big + "/f1199"});
  RunResult r = ShIn(view, "ls " + big + " | wc -l; ls " + big + " | grep -cx 'f7\\|f600\\|f1199'");
  EXPECT_EQ(r.out, "1197\n0\n") << r.err;
  DoorResults d = RunDoors(view, {{"getdents", big}});
  std::string names = d.Of("getdents " + big) + " ";
  EXPECT_EQ(std::count(names.begin(), names.end(), ' '), 1198) << "ok and 1197 names";
  for (const char* hidden : {" f7 ", " f600 ", " f1199 "}) {
    EXPECT_EQ(names.find(hidden), std::string::npos) << hidden;
  }
}

// A getdents64 buffer that holds one entry: a batch made only of a hidden name must not reach
// the program. viewfs cannot make the kernel read on, so such a batch ends with EINVAL (the
// kernel's "buffer too small"): the visible names before it are listed, the hidden one never.
TEST_F(VfsHide, SmallGetdentsBufferNeverShowsHiddenName) {
  for (int size : {32, 40, 64}) {
    DoorResults d = RunDoors(Hide(), {{"getdentsn", v_, std::to_string(size)}});
    std::string got = d.Of("getdentsn " + v_ + " " + std::to_string(size));
    EXPECT_EQ(got.find("secret"), std::string::npos) << size << ": " << got;
    EXPECT_EQ(got.rfind("ok public", 0), 0u) << size << ": " << got;
  }
}

TEST_F(VfsHide, HiddenFileIsAbsentAndCannotBeCreatedAgain) {
  DoorResults d =
      RunDoors(Viewfs({"hide=" + V("public/x")}), {{"read", V("public/x")},
                                                   {"stat", V("public/x")},
                                                   {"open", V("public/x"), "w,creat"},
                                                   {"mkdir", V("public/x")},
                                                   {"symlink", "t", V("public/x")},
                                                   {"rename", V("public/lnk_abs"), V("public/x")},
                                                   {"link", V("public/lnk_abs"), V("public/x")},
                                                   {"getdents", V("public")}});
  for (size_t i = 0; i + 1 < d.calls.size(); ++i) EXPECT_EQ(d.results[i], "ENOENT") << d.calls[i];
  EXPECT_EQ(d.Of("getdents " + V("public")).find(" x"), std::string::npos);
  ExpectSameTree(before_, Snapshot(v_));
}

TEST_F(VfsHide, HiddenPathInsideABind) {
  TempDir src;
  Put(src / "data/secret", "SECRET-in-bind\n");
  Put(src / "data/ok", "fine\n");
  const std::string dst = V("bound");
  DoorResults d = RunDoors(Viewfs({"bind=" + src / "data" + ":" + dst, "hide=" + dst + "/secret"}),
                           {{"read", dst + "/ok"},
                            {"read", dst + "/secret"},
                            {"stat", dst + "/secret"},
                            {"chdir", dst},
                            {"read", "secret"},
                            {"getdents", dst}});
  EXPECT_EQ(d.Of("read " + dst + "/ok"), "ok fine\\n");
  EXPECT_EQ(d.Of("read " + dst + "/secret"), "ENOENT");
  EXPECT_EQ(d.Of("stat " + dst + "/secret"), "ENOENT");
  EXPECT_EQ(d.Of("read secret"), "ENOENT");
  EXPECT_EQ(d.Of("getdents " + dst), "ok ok");
  EXPECT_EQ(d.run.out.find("SECRET"), std::string::npos);
}

TEST_F(VfsHide, FanotifyMarkSaysENOENT) {
  DoorResults d = RunDoors(Hide(), {{"fanotify", V("secret/x")}, {"fanotify", V("public/x")}});
  if (d.Of("fanotify " + V("public/x")).rfind("unsupported", 0) == 0) {
    GTEST_SKIP() << "fanotify_init: " << d.Of("fanotify " + V("public/x"));
  }
  EXPECT_EQ(d.Of("fanotify " + V("public/x")), "ok");
  EXPECT_EQ(d.Of("fanotify " + V("secret/x")), "ENOENT");
}

// A second thread rewrites the path buffer between a visible name and the hidden one while
// the first opens it: the kernel must act on the path viewfs checked.
TEST_F(VfsHide, PathRewrittenByAnotherThreadDuringTheCall) {
  DoorResults d = RunDoors(Hide(), {{"race", V("public/x"), V("secret/x"), "1500", "r"}});
  ASSERT_EQ(d.results.size(), 1u);
  EXPECT_NE(d.results[0].find("secret_reads=0"), std::string::npos) << d.results[0];
  EXPECT_EQ(d.results[0].find("opened=0 "), std::string::npos) << "the race never ran";
}

// Another thread of the view swaps a directory on the way with a symlink to the hidden path
// (renameat2 RENAME_EXCHANGE, all of it allowed in the view) while the first opens a file
// through it. viewfs checks the path, then the kernel resolves it again: when the swap lands
// between the two, the kernel would follow the new symlink into the hidden directory. No open
// may ever read hidden content: viewfs hands the kernel the checked directory itself (an O_PATH
// descriptor of umview's, through /proc) and only the last name is looked up again.
TEST_F(VfsHide, SymlinkSwappedInDuringTheCall) {
  mkdir(V("public/sw").c_str(), 0755);
  Put(V("public/sw/x"), "pub\n");
  DoorResults d = RunDoors(Hide(), {{"swaprace", V("public/sw"), V("secret"), "2000", "r"}});
  ASSERT_EQ(d.results.size(), 1u);
  EXPECT_EQ(d.results[0].find("opened=0 "), std::string::npos) << "the race never ran";
  EXPECT_NE(d.results[0].find("secret_reads=0"), std::string::npos) << d.results[0];
}

// hide= names a view path; renaming a directory above it moves the host content to a name that is
// not hidden. A mount follows its directory when the directory is renamed, so the content must stay
// hidden under the new name (or the rename must be refused).
TEST_F(VfsHide, RenamingADirectoryAboveItKeepsItHidden) {
  Put(V("top/secret/x"), "SECRET-top\n");
  DoorResults d = RunDoors(Viewfs({"hide=" + V("top/secret")}),
                           {{"rename", V("top"), V("moved")},
                            {"read", V("moved/secret/x")},
                            {"renameat2", V("public"), V("top"), "exchange"},
                            {"read", V("public/secret/x")}});
  EXPECT_EQ(d.run.out.find("SECRET"), std::string::npos) << d.run.out;
}

// Calls newer than umview's syscall table (Linux 6.6 fchmodat2, 6.13 *xattrat, 6.17
// file_getattr/file_setattr) take paths too; a hidden path must be absent through them.
TEST_F(VfsHide, NewerPathSyscallsSayENOENT) {
  const std::string x = V("secret/x");
  DoorResults d = RunDoors(Hide(), {{"fchmodat2", x, "600"},
                                    {"getxattrat", x, "user.k"},
                                    {"listxattrat", x},
                                    {"setxattrat", x, "user.n", "v"},
                                    {"removexattrat", x, "user.k"},
                                    {"file_getattr", x},
                                    {"file_setattr", x}});
  for (size_t i = 0; i < d.calls.size(); ++i) {
    if (d.results[i] == "ENOSYS") continue;  // an older kernel
    EXPECT_EQ(d.results[i], "ENOENT") << d.calls[i];
  }
  ExpectNoLeak(d);
}

}  // namespace
}  // namespace umview::test
