// Reference behaviours of path virtualization (what PRoot-like tools must get right), checked
// under viewfs: PATH_MAX, readlink into a small buffer, 108-byte AF_UNIX paths, posix_spawn,
// bash process substitution, CLONE_FS threads, "#!" chains, a removed or renamed cwd, and
// "." / ".." after a non-directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsReference : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = t_ / "src";
    view_ = t_ / "view";
    dst_ = view_ + "/data";
    Put(src_ + "/x", "X\n");
    Put(src_ + "/sub/y", "Y\n");
    Put(view_ + "/plain", "PLAIN\n");
    Put(src_ + "/bin/.keep", "");
  }
  std::vector<std::string> Bind() const { return Viewfs({"bind=" + src_ + ":" + dst_}); }
  std::string D(const std::string& rel) const { return dst_ + "/" + rel; }
  // `target` padded with leading slashes to exactly `len` bytes.
  static std::string Padded(const std::string& target, size_t len) {
    return std::string(len - target.size(), '/') + target;
  }

  TempDir t_;
  std::string src_, view_, dst_;
};

TEST_F(VfsReference, PathMaxSaysENAMETOOLONG) {
  const std::string ok_plain = Padded(view_ + "/plain", 4095);
  const std::string ok_bound = Padded(D("x"), 4095);
  const std::string long_plain = Padded(view_ + "/plain", 4096);
  const std::string long_bound = Padded(D("x"), 4096);
  const std::string long_name = D(std::string(256, 'n'));
  DoorResults d = RunDoors(Bind(), {{"read", ok_plain},
                                    {"read", ok_bound},
                                    {"read", long_plain},
                                    {"read", long_bound},
                                    {"stat", long_bound},
                                    {"mkdir", long_bound + "d"},
                                    {"open", long_plain, "w,creat"},
                                    {"chdir", long_bound},
                                    {"read", long_name},
                                    {"open", long_name, "w,creat"}});
  ASSERT_EQ(d.results.size(), 10u) << d.run.err;
  EXPECT_EQ(d.results[0], "ok PLAIN\\n") << "4095 bytes and the NUL fit in PATH_MAX";
  EXPECT_EQ(d.results[1], "ok X\\n");
  for (size_t i = 2; i < d.results.size(); ++i) {
    EXPECT_EQ(d.results[i], "ENAMETOOLONG") << d.calls[i].substr(0, 40) << "...";
  }
  EXPECT_EQ(HostList(src_), (std::vector<std::string>{"bin", "sub", "x"}));
}

TEST_F(VfsReference, ReadlinkIntoASmallBufferTruncates) {
  symlink("0123456789", (src_ + "/l").c_str());
  symlink("0123456789", (view_ + "/l").c_str());
  DoorResults d = RunDoors(Bind(), {{"readlinkn", D("l"), "4"},
                                    {"readlinkn", view_ + "/l", "4"},
                                    {"readlinkn", D("l"), "10"},
                                    {"chdir", D("sub")},
                                    {"readlinkn", "/proc/self/cwd", "7"},
                                    {"readlinkn", "/proc/self/cwd", "1"}});
  EXPECT_EQ(d.Of("readlinkn " + D("l") + " 4"), "ok 4 0123#");
  EXPECT_EQ(d.Of("readlinkn " + view_ + "/l 4"), "ok 4 0123#");
  EXPECT_EQ(d.Of("readlinkn " + D("l") + " 10"), "ok 10 0123456789#");
  EXPECT_EQ(d.Of("readlinkn /proc/self/cwd 7"), "ok 7 " + D("sub").substr(0, 7) + "#");
  EXPECT_EQ(d.Of("readlinkn /proc/self/cwd 1"), "ok 1 /#");
}

TEST_F(VfsReference, UnixSocketPathOf107Bytes) {
  std::string path = t_.path() + "/";
  path += std::string(107 - path.size(), 's');
  DoorResults d = RunDoors(Bind(), {{"usock", path}});
  EXPECT_EQ(d.Of("usock " + path), "ok 107 " + path);
}

// sun_path holds 108 bytes; a path that fills it has no NUL and is valid (the kernel takes the
// length from addrlen). Outside every mount viewfs must pass it through; it answers ENAMETOOLONG
// (it rebuilds the address with a NUL that does not fit).
TEST_F(VfsReference, UnixSocketPathOf108BytesOutsideMounts) {
  std::string path = t_.path() + "/";
  path += std::string(108 - path.size(), 's');
  DoorResults native = RunDoors({}, {{"usock", path}});
  ASSERT_EQ(native.Of("usock " + path), "ok 108 " + path) << "the kernel itself refuses";
  unlink(path.c_str());
  DoorResults d = RunDoors(Bind(), {{"usock", path}});
  EXPECT_EQ(d.Of("usock " + path), "ok 108 " + path);
}

TEST_F(VfsReference, PosixSpawnThroughTheBind) {
  ASSERT_EQ(test::Run({"cp", Tracee("vfs_door"), src_ + "/bin/door"}).exit_code, 0);
  ASSERT_EQ(test::Run({"cp", Tracee("vfs_spawn"), src_ + "/bin/spawn"}).exit_code, 0);
  RunResult r = RunUmview({"-p", "viewfs,bind=" + src_ + ":" + dst_, "-w", D("sub"), "--",
                           D("bin/spawn"), D("bin/door"), "readlink", "/proc/self/exe", "getcwd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "readlink /proc/self/exe = ok " + D("bin/door") + "\ngetcwd = ok " + D("sub") +
                       "\nspawned status=0\n");
  RunResult missing = RunUmview(
      {"-p", "viewfs,bind=" + src_ + ":" + dst_, "--", Tracee("vfs_spawn"), D("bin/none")});
  EXPECT_EQ(missing.out, "spawn: ENOENT\n") << missing.err;
}

TEST_F(VfsReference, BashProcessSubstitution) {
  if (test::Run({"bash", "-c", "true"}).exit_code != 0) GTEST_SKIP() << "no bash";
  RunResult r = RunUmview({"-p", "viewfs,bind=" + src_ + ":" + dst_, "--", "bash", "-c",
                           "cat <(echo hi); diff <(ls " + dst_ + ") <(ls " + src_ +
                               ") && echo same;"
                               " while read -r l; do echo \"got $l\"; done < <(cat " +
                               D("x") +
                               ");"
                               " paste <(echo a) <(echo b); echo data > >(cat > " +
                               D("out") + "); wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\nsame\ngot X\na\tb\n") << r.err;
  EXPECT_EQ(ReadFile(src_ + "/out"), "data\n");
}

TEST_F(VfsReference, CloneFsThreadsShareTheCwd) {
  RunResult r = RunUmview({"-p", "viewfs,bind=" + src_ + ":" + dst_, "--", Tracee("vfs_clonefs"),
                           D("sub"), "y", dst_, "x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "main cwd=" + D("sub") + " y=Y\nthread cwd=" + dst_ + " x=X\n");
}

TEST_F(VfsReference, RemovedAndRenamedCwd) {
  DoorResults d = RunDoors(Bind(), {{"mkdir", D("gone")},
                                    {"chdir", D("gone")},
                                    {"rmdir", D("gone")},
                                    {"getcwd"},
                                    {"mkdir", D("old")},
                                    {"chdir", D("old")},
                                    {"rename", D("old"), D("new")},
                                    {"readlink", "/proc/self/cwd"},
                                    {"open", "f", "w,creat"}});
  EXPECT_EQ(d.results[3], "ENOENT") << "getcwd of a removed directory";
  EXPECT_EQ(d.Of("readlink /proc/self/cwd"), "ok " + D("new"));
  EXPECT_EQ(d.Of("open f w,creat"), "ok");
  EXPECT_TRUE(Exists(src_ + "/new/f"));
  RunResult r = ShIn(Bind(), "mkdir " + D("old") + "2 && cd " + D("old") +
                                 "2 && mv ../old2 ../new2"
                                 " && /bin/pwd");
  EXPECT_EQ(r.out, D("new2") + "\n") << r.err;
}

// A script whose "#!" interpreter is itself a script: the kernel runs [sh, interp, -x, script,
// args...]. Run the same files natively and in the view.
TEST_F(VfsReference, ShebangChainKeepsEveryArgument) {
  Put(src_ + "/bin/interp", "#!/bin/sh\necho \"interp: $*\"\n");
  Put(src_ + "/bin/hello", "#!" + src_ + "/bin/interp -x\necho body\n");
  chmod((src_ + "/bin/interp").c_str(), 0755);
  chmod((src_ + "/bin/hello").c_str(), 0755);
  RunResult native = test::Run({src_ + "/bin/hello", "a", "b"});
  ASSERT_EQ(native.out, "interp: -x " + src_ + "/bin/hello a b\n") << native.err;
  RunResult r =
      RunUmview({"-p", "viewfs,bind=" + src_ + ":" + dst_, "--", src_ + "/bin/hello", "a", "b"});
  EXPECT_EQ(r.out, native.out) << r.err;
}

TEST_F(VfsReference, ShebangThroughTheBind) {
  // direct: a script in the bind run by a host interpreter; via: a script whose interpreter
  // exists only in the view (an ELF program inside the bind).
  Put(src_ + "/bin/direct", "#!/bin/sh -e\necho \"direct: $0 $*\"\n");
  Put(src_ + "/bin/via", "#!" + D("bin/echo") + " hi\n");
  ASSERT_EQ(test::Run({"cp", "/bin/echo", src_ + "/bin/echo"}).exit_code, 0);
  chmod((src_ + "/bin/direct").c_str(), 0755);
  chmod((src_ + "/bin/via").c_str(), 0755);
  RunResult r = ShIn(Bind(), D("bin/direct") + " a b; cd " + D("bin") + " && ./direct c && " +
                                 D("bin/via") + " d && ./via e");
  EXPECT_EQ(r.out, "direct: " + D("bin/direct") + " a b\ndirect: ./direct c\nhi " + D("bin/via") +
                       " d\nhi ./via e\n")
      << r.err;
}

// "." and ".." after a name that is not a directory: the kernel says ENOTDIR (or ENOENT if the name
// does not exist) before it looks further. Inside a bind viewfs folds them away lexically and
// answers for the path that remains.
TEST_F(VfsReference, DotAndDotDotAfterANonDirectoryInsideABind) {
  DoorResults d = RunDoors(Bind(), {{"stat", D("x/..")},
                                    {"read", D("x/.")},
                                    {"stat", D("x/../x")},
                                    {"stat", D("nonexistent/../x")},
                                    {"stat", view_ + "/plain/.."}});
  EXPECT_EQ(d.Of("stat " + D("x/..")), "ENOTDIR");
  EXPECT_EQ(d.Of("read " + D("x/.")), "ENOTDIR");
  EXPECT_EQ(d.Of("stat " + D("x/../x")), "ENOTDIR");
  EXPECT_EQ(d.Of("stat " + D("nonexistent/../x")), "ENOENT");
  EXPECT_EQ(d.Of("stat " + view_ + "/plain/.."), "ENOTDIR");
}

}  // namespace
}  // namespace umview::test
