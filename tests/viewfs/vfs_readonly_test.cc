// viewfs ro=DST: everything under DST reads as usual and every write fails with EROFS, through
// each door (path calls, descriptors opened read-only, dirfds, "..", symlinks, /proc magic
// links, renames and links into and out of it); the host files stay byte-for-byte unchanged.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsReadOnly : public ::testing::Test {
 protected:
  void SetUp() override {
    v_ = t_ / "v";
    Put(V("locked/f"), "ORIGINAL\n");
    Put(V("locked/sub/g"), "G\n");
    Put(V("locked/prog"), "#!/bin/sh\necho ran \"$@\"\n");
    chmod(V("locked/prog").c_str(), 0755);
    mkdir(V("locked/emptydir").c_str(), 0755);
    Put(V("public/x"), "pub\n");
    symlink(V("public/x").c_str(), V("locked/lnk").c_str());
    symlink(V("locked/f").c_str(), V("public/into").c_str());
    symlink("../locked/f", V("public/into_rel").c_str());
    before_ = Snapshot(v_);
  }
  std::string V(const std::string& rel) const { return v_ + "/" + rel; }
  std::vector<std::string> Ro() const { return Viewfs({"ro=" + V("locked")}); }
  void ExpectUnchanged() { ExpectSameTree(before_, Snapshot(v_)); }

  TempDir t_;
  std::string v_;
  TreeSnapshot before_;
};

TEST_F(VfsReadOnly, ReadsWork) {
  DoorResults d = RunDoors(Ro(), {{"read", V("locked/f")},
                                  {"open", V("locked/f"), "r"},
                                  {"stat", V("locked/f")},
                                  {"access", V("locked/f"), "r"},
                                  {"readlink", V("locked/lnk")},
                                  {"getdents", V("locked/sub")},
                                  {"chdir", V("locked/sub")},
                                  {"read", "g"},
                                  {"execve", V("locked/prog"), "arg"},
                                  {"inotify", V("locked/f")}});
  EXPECT_EQ(d.Of("read " + V("locked/f")), "ok ORIGINAL\\n");
  EXPECT_EQ(d.Of("open " + V("locked/f") + " r"), "ok ORIGINAL\\n");
  EXPECT_EQ(d.Of("stat " + V("locked/f")), "ok file size=9");
  EXPECT_EQ(d.Of("access " + V("locked/f") + " r"), "ok");
  EXPECT_EQ(d.Of("readlink " + V("locked/lnk")), "ok " + V("public/x"));
  EXPECT_EQ(d.Of("getdents " + V("locked/sub")), "ok g");
  EXPECT_EQ(d.Of("read g"), "ok G\\n");
  EXPECT_EQ(d.Of("execve " + V("locked/prog") + " arg"), "ok status=0 out=ran arg\\n");
  EXPECT_EQ(d.Of("inotify " + V("locked/f")), "ok");
  ExpectUnchanged();
}

TEST_F(VfsReadOnly, PathWriteDoorsSayEROFS) {
  const std::string f = V("locked/f"), p = V("public/x"), n = V("locked/new");
  DoorResults d = RunDoors(Ro(), {{"open", f, "w"},
                                  {"open", f, "rw"},
                                  {"open", f, "r,trunc"},
                                  {"open", f, "w,append"},
                                  {"open", f, "w,creat"},
                                  {"open", n, "w,creat"},
                                  {"open", n, "r,creat"},
                                  {"open", n, "w,creat,excl"},
                                  {"open", V("locked"), "tmpfile"},
                                  {"openat", f, "rw"},
                                  {"creat", f},
                                  {"creat", n},
                                  {"append", f, "W"},
                                  {"mkdir", V("locked/newdir")},
                                  {"mkdirat", V("locked/newdir")},
                                  {"mknod", V("locked/fifo")},
                                  {"mknodat", V("locked/fifo")},
                                  {"rmdir", V("locked/emptydir")},
                                  {"unlink", f},
                                  {"unlinkat", f, "0"},
                                  {"unlinkat", V("locked/emptydir"), "removedir"},
                                  {"rename", f, V("locked/g2")},
                                  {"rename", f, V("public/moved")},
                                  {"rename", p, V("locked/in")},
                                  {"rename", V("locked/sub"), V("public/sub")},
                                  {"renameat", f, V("public/moved")},
                                  {"renameat2", p, V("locked/in"), "noreplace"},
                                  {"renameat2", p, f, "exchange"},
                                  {"renameat2", f, p, "exchange"},
                                  {"link", f, V("public/hl")},
                                  {"link", p, V("locked/hl")},
                                  {"linkat", f, V("public/hl"), "0"},
                                  {"symlink", "t", V("locked/l")},
                                  {"symlinkat", "t", V("locked/l")},
                                  {"chmod", f, "600"},
                                  {"fchmodat", f, "600"},
                                  {"chmod", V("locked"), "700"},
                                  {"chown", f},
                                  {"lchown", V("locked/lnk")},
                                  {"fchownat", f, "0"},
                                  {"fchownat", V("locked/lnk"), "nofollow"},
                                  {"utime", f},
                                  {"utimes", f},
                                  {"utimensat", f, "0"},
                                  {"utimensat", V("locked/lnk"), "nofollow"},
                                  {"futimesat", f},
                                  {"truncate", f, "0"},
                                  {"truncate", f, "100"},
                                  {"usock_bind", V("locked/sock")}});
  ExpectAll(d, "EROFS");
  ExpectUnchanged();
}

// A descriptor opened read-only under ro= must not change metadata either.
TEST_F(VfsReadOnly, DescriptorWriteDoorsSayEROFS) {
  const std::string f = V("locked/f");
  DoorResults d = RunDoors(Ro(), {{"fchmod", f, "600"}, {"fchown", f}});
  ExpectAll(d, "EROFS");
  ExpectUnchanged();
}

TEST_F(VfsReadOnly, XattrDoorsSayEROFS) {
  if (!SupportsUserXattr(t_.path())) GTEST_SKIP() << t_.path() << " does not store user.* xattrs";
  const std::string f = V("locked/f");
  ASSERT_EQ(
      test::Run({"python3", "-c", "import os,sys; os.setxattr(sys.argv[1], 'user.k', b'v')", f})
          .exit_code,
      0);
  before_ = Snapshot(v_);
  DoorResults d = RunDoors(Ro(), {{"setxattr", f, "user.n", "v"},
                                  {"lsetxattr", f, "user.n", "v"},
                                  {"fsetxattr", f, "user.n", "v"},
                                  {"removexattr", f, "user.k"},
                                  {"lremovexattr", f, "user.k"},
                                  {"fremovexattr", f, "user.k"}});
  ExpectAll(d, "EROFS");
  DoorResults r = RunDoors(Ro(), {{"getxattr", f, "user.k"}});
  EXPECT_EQ(r.Of("getxattr " + f + " user.k"), "ok v");
  ExpectUnchanged();
}

// Ways around the path: a dirfd or cwd above or inside it, "..", /proc magic links (to a
// directory above, to the cwd, to a descriptor of the file itself), symlinks into it.
TEST_F(VfsReadOnly, IndirectRoutesSayEROFS) {
  DoorResults d = RunDoors(Ro(), {{"at", v_},
                                  {"openat", "locked/f", "w"},
                                  {"openat2", "locked/f", "r"},
                                  {"mkdirat", "locked/d"},
                                  {"unlinkat", "locked/f", "0"},
                                  {"renameat", "locked/f", "public/y"},
                                  {"renameat", "public/x", "locked/y"},
                                  {"linkat", "public/x", "locked/y", "0"},
                                  {"symlinkat", "t", "locked/l"},
                                  {"fchmodat", "locked/f", "600"},
                                  {"fchownat", "locked/f", "0"},
                                  {"utimensat", "locked/f", "0"},
                                  {"open", "/proc/self/fd/{fd}/locked/f", "w"},
                                  {"creat", "/proc/{pid}/fd/{fd}/locked/new"},
                                  {"truncate", "/proc/thread-self/fd/{fd}/locked/f", "0"},
                                  {"open", V("public/../locked/f"), "w"},
                                  {"open", V("locked/sub/../f"), "w"},
                                  {"mkdir", V("public/../locked/./d")},
                                  {"open", V("public/into"), "w"},
                                  {"open", V("public/into_rel"), "w,trunc"},
                                  {"truncate", V("public/into"), "0"},
                                  {"chmod", V("public/into"), "600"},
                                  {"utimensat", V("public/into"), "0"},
                                  {"keep", V("locked/f"), "r"},
                                  {"open", "/proc/self/fd/{k}", "w"},
                                  {"open", "/proc/self/fd/{k}", "rw"},
                                  {"truncate", "/proc/self/fd/{k}", "0"},
                                  {"chmod", "/proc/self/fd/{k}", "600"},
                                  {"linkat", "/proc/self/fd/{k}", V("public/hl"), "follow"},
                                  {"chdir", V("locked")},
                                  {"open", "f", "w"},
                                  {"creat", "new"},
                                  {"mkdir", "d"},
                                  {"unlink", "f"},
                                  {"rename", "f", "../public/f"},
                                  {"open", "/proc/self/cwd/f", "w"},
                                  {"chdir", V("locked/sub")},
                                  {"open", "../f", "w"},
                                  {"unlink", "g"}});
  for (size_t i = 0; i < d.calls.size(); ++i) {
    const std::string& c = d.calls[i];
    bool setup = c.rfind("at ", 0) == 0 || c.rfind("chdir ", 0) == 0 || c.rfind("keep ", 0) == 0;
    // openat2 with O_RDONLY is a read: it must work.
    if (c.rfind("openat2 ", 0) == 0) {
      EXPECT_EQ(d.results[i], "ok ORIGINAL\\n") << c;
      continue;
    }
    EXPECT_EQ(d.results[i], setup ? "ok" : "EROFS") << c;
  }
  ExpectUnchanged();
}

// ro= protects where a file is: a symlink under it that leads out can be written through, but
// the link itself is part of the protected tree.
TEST_F(VfsReadOnly, SymlinkUnderItLeadingOutIsWritableThrough) {
  DoorResults d = RunDoors(Ro(), {{"append", V("locked/lnk"), "more"},
                                  {"lchown", V("locked/lnk")},
                                  {"unlink", V("locked/lnk")}});
  EXPECT_EQ(d.Of("append " + V("locked/lnk") + " more"), "ok");
  EXPECT_EQ(d.Of("lchown " + V("locked/lnk")), "EROFS");
  EXPECT_EQ(d.Of("unlink " + V("locked/lnk")), "EROFS");
  EXPECT_EQ(ReadFile(V("public/x")), "pub\nmore");
  EXPECT_EQ(ReadFile(V("locked/f")), "ORIGINAL\n");
}

TEST_F(VfsReadOnly, ShellAndCoreutilsSeeAReadOnlyTree) {
  RunResult r =
      ShIn(Ro(), "cd " + V("locked") +
                     "; (echo x > f) 2>/dev/null || echo redir-failed; touch new 2>/dev/null;"
                     " echo \"touch=$?\"; rm -f f 2>/dev/null; echo \"rm=$?\";"
                     " mv sub ../public/ 2>/dev/null; echo \"mv=$?\"; cat f;"
                     " cp f ../public/copy && cat ../public/copy");
  EXPECT_EQ(r.out, "redir-failed\ntouch=1\nrm=1\nmv=1\nORIGINAL\nORIGINAL\n") << r.err;
  EXPECT_EQ(ReadFile(V("locked/f")), "ORIGINAL\n");
  EXPECT_FALSE(Exists(V("locked/new")));
  EXPECT_TRUE(Exists(V("locked/sub/g")));
}

TEST_F(VfsReadOnly, ReadOnlyBind) {
  TempDir src;
  Put(src / "f", "SRC\n");
  TreeSnapshot src_before = Snapshot(src.path());
  const std::string dst = V("mnt");
  RunResult r = ShIn(Viewfs({"bind=" + src.path() + ":" + dst, "ro=" + dst}),
                     "cat " + dst + "/f; (echo x >> " + dst + "/f) || echo append-failed; touch " +
                         dst + "/new; echo \"touch=$?\"; ls " + dst);
  EXPECT_EQ(r.out, "SRC\nappend-failed\ntouch=1\nf\n") << r.err;
  ExpectSameTree(src_before, Snapshot(src.path()));
  EXPECT_FALSE(Exists(dst));
}

TEST_F(VfsReadOnly, PathRewrittenByAnotherThreadDuringTheCall) {
  DoorResults d = RunDoors(Ro(), {{"race", V("public/x"), V("locked/f"), "1500", "w,append"}});
  ASSERT_EQ(d.results.size(), 1u);
  EXPECT_EQ(d.results[0].find("opened=0 "), std::string::npos) << "the race never ran";
  EXPECT_EQ(ReadFile(V("locked/f")), "ORIGINAL\n");
}

// Another thread swaps a directory on the way with a symlink into the ro= tree while the
// first opens DIR/x for appending: when the swap lands between viewfs's check and the
// kernel's own lookup, the kernel would follow the new symlink and write the protected file.
// The ro file must never be written (see the same race under hide).
TEST_F(VfsReadOnly, SymlinkSwappedInDuringTheCall) {
  mkdir(V("public/sw").c_str(), 0755);
  Put(V("public/sw/x"), "pub\n");
  Put(V("locked/x"), "LOCKED\n");
  DoorResults d = RunDoors(Ro(), {{"swaprace", V("public/sw"), V("locked"), "2000", "w,append"}});
  ASSERT_EQ(d.results.size(), 1u);
  EXPECT_EQ(d.results[0].find("opened=0 "), std::string::npos) << "the race never ran";
  std::string got = ReadFile(V("locked/x"));
  EXPECT_EQ(got.size(), 7u) << "the ro file was appended to " << got.size() - 7 << " times";
}

// ro= names a view path; renaming a directory above it moves the protected files to a name that is
// not read-only. The protection must follow (or the rename be refused).
TEST_F(VfsReadOnly, RenamingADirectoryAboveItKeepsItReadOnly) {
  DoorResults d = RunDoors(Ro(), {{"rename", v_, t_ / "moved"},
                                  {"append", t_ / "moved/locked/f", "W"},
                                  {"rename", t_ / "moved", v_}});
  EXPECT_NE(d.Of("append " + t_ / "moved/locked/f W"), "ok");
  EXPECT_EQ(ReadFile(Exists(v_) ? V("locked/f") : t_ / "moved/locked/f"), "ORIGINAL\n");
}

// openat2 carries its flags in struct open_how, not in an argument: O_WRONLY, O_TRUNC and O_CREAT
// through it are writes like through openat: EROFS, and no change on the host.
TEST_F(VfsReadOnly, Openat2WritesSayEROFS) {
  DoorResults d = RunDoors(Ro(), {{"openat2", V("locked/f"), "w,trunc"},
                                  {"openat2", V("locked/f"), "r,trunc"},
                                  {"openat2", V("locked/new"), "w,creat"},
                                  {"openat2", V("locked"), "tmpfile"}});
  ExpectAll(d, "EROFS");
  ExpectUnchanged();
}

// On a read-only mount the kernel answers access(W_OK) with EROFS, so `test -w` and programs that
// check before writing see the truth.
TEST_F(VfsReadOnly, AccessForWritingSaysEROFS) {
  DoorResults d = RunDoors(Ro(), {{"access", V("locked/f"), "w"},
                                  {"faccessat", V("locked/f"), "rw"},
                                  {"faccessat2", V("locked/f"), "w", "eaccess"},
                                  {"access", V("locked/sub"), "w"}});
  ExpectAll(d, "EROFS");
  RunResult r = ShIn(Ro(), "test -w " + V("locked/f") + " && echo writable || echo read-only");
  EXPECT_EQ(r.out, "read-only\n");
}

// futimens(fd) is utimensat(fd, NULL, ...): a descriptor opened read-only under ro= must not change
// the file's times (EROFS on a read-only mount).
TEST_F(VfsReadOnly, FutimensOnReadOnlyDescriptorSaysEROFS) {
  DoorResults d = RunDoors(Ro(), {{"futimens", V("locked/f")}});
  ExpectAll(d, "EROFS");
  ExpectUnchanged();
}

// AT_EMPTY_PATH makes the call act on the descriptor: fchownat/utimensat(fd, "", ...,
// AT_EMPTY_PATH) on a file under ro= are writes (EROFS).
TEST_F(VfsReadOnly, EmptyPathOnDescriptorSaysEROFS) {
  DoorResults d = RunDoors(Ro(), {{"keep", V("locked/f"), "r"},
                                  {"at_kept"},
                                  {"fchownat", "", "empty"},
                                  {"utimensat", "", "empty"},
                                  {"linkat", "", V("public/hl"), "empty"}});
  EXPECT_EQ(d.Of("fchownat  empty"), "EROFS");
  EXPECT_EQ(d.Of("utimensat  empty"), "EROFS");
  // linkat(AT_EMPTY_PATH) may also be refused by the kernel (EPERM without
  // CAP_DAC_READ_SEARCH); it must never succeed: the new name would be a writable way in.
  EXPECT_NE(d.Of("linkat  " + V("public/hl") + " empty"), "ok");
  ExpectUnchanged();
  // Through such a link the protected file would be writable from outside ro=.
  if (Exists(V("public/hl"))) {
    RunDoors(Ro(), {{"append", V("public/hl"), "WRITTEN"}});
    EXPECT_EQ(ReadFile(V("locked/f")), "ORIGINAL\n");
  }
}

// chattr through a read-only descriptor (FS_IOC_SETFLAGS) changes the inode: EROFS on a
// read-only mount (only these ioctls stop: the filter tests the request number).
TEST_F(VfsReadOnly, SetFlagsIoctlSaysEROFS) {
  DoorResults d = RunDoors(Ro(), {{"setflags", V("locked/f")}});
  if (d.results.size() == 1 && d.results[0] == "ENOTTY") GTEST_SKIP() << "no FS_IOC_SETFLAGS here";
  ExpectAll(d, "EROFS");
  ExpectUnchanged();
}

// acct(2) (root only) makes the kernel append a record to the file at every process exit: a write,
// EROFS on a read-only mount.
TEST_F(VfsReadOnly, ProcessAccountingIntoItSaysEROFS) {
  DoorResults d = RunDoors(Ro(), {{"acct", V("locked/f")}});
  if (d.results.size() == 1 && d.results[0] == "EPERM") GTEST_SKIP() << "acct needs CAP_SYS_PACCT";
  ExpectAll(d, "EROFS");
  ExpectUnchanged();
}

// Calls newer than umview's syscall table (Linux 6.6 fchmodat2, 6.13 setxattrat and removexattrat,
// 6.17 file_setattr) write through a path: EROFS under ro=.
TEST_F(VfsReadOnly, NewerPathSyscallsSayEROFS) {
  const std::string f = V("locked/f");
  DoorResults d = RunDoors(Ro(), {{"fchmodat2", f, "600"},
                                  {"setxattrat", f, "user.n", "v"},
                                  {"removexattrat", f, "user.k"},
                                  {"file_setattr", f}});
  for (size_t i = 0; i < d.calls.size(); ++i) {
    if (d.results[i] == "ENOSYS") continue;  // an older kernel
    EXPECT_EQ(d.results[i], "EROFS") << d.calls[i];
  }
  ExpectUnchanged();
}

}  // namespace
}  // namespace umview::test
