// Virtual file descriptors: a plugin's file behaves like a real descriptor under the shell's
// redirections, dup, fork, exec and poll, and processes without one pay nothing on read/write.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

class VirtualFd : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = dir_ / "vdev";
    WriteFile(target_, "");  // the host file stays empty: all I/O goes to the plugin
    log_ = dir_ / "release.log";
  }
  std::vector<std::string> Plugin(const std::string& content = "hello") {
    return {"-p",
            TestPluginPath("vfile") + ",path=" + target_ + ",content=" + content + ",log=" + log_};
  }
  RunResult Sh(const std::string& script, const std::vector<std::string>& pre = {}) {
    std::vector<std::string> args = pre;
    auto p = Plugin();
    args.insert(args.end(), p.begin(), p.end());
    args.insert(args.end(), {"--", "sh", "-c", script});
    return RunUmview(args);
  }
  int Releases() {
    std::string s = ReadFile(log_);
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }
  TempDir dir_;
  std::string target_, log_;
};

TEST_F(VirtualFd, ReadThroughOpenRedirectionAndDupToStdin) {
  RunResult r = Sh("cat " + target_ + "; echo; cat < " + target_ + "; echo; exec 3<" + target_ +
                   "; read -r l <&3; echo \"fd3:$l\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\nhello\nfd3:hello\n");
  EXPECT_EQ(ReadFile(target_), "") << "the host file must not change";
  EXPECT_EQ(Releases(), 3) << "one release per open file description, after its last close";
}

TEST_F(VirtualFd, WriteTruncateAndReadBack) {
  RunResult r = Sh("echo world > " + target_ + "; cat " + target_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "world\n");
  EXPECT_EQ(ReadFile(target_), "");
}

TEST_F(VirtualFd, FstatSelectIoctlSeekForkMmapFchdir) {
  std::string py = R"(
import os, select, fcntl, struct, stat, sys, mmap
fd = os.open(sys.argv[1], os.O_RDWR)
st = os.fstat(fd)
print("chr", stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev), st.st_size)
r, w, _ = select.select([fd], [fd], [], 5)
print("select", r == [fd], w == [fd])
buf = bytearray(8)
fcntl.ioctl(fd, 0x7601, buf)
print("ioctl", struct.unpack("Q", bytes(buf))[0])
print("end", os.lseek(fd, 0, os.SEEK_END))
os.lseek(fd, 0, 0)
pid = os.fork()
if pid == 0:
    print("child", os.read(fd, 3).decode()); sys.stdout.flush(); os._exit(0)
os.waitpid(pid, 0)
print("parent", os.read(fd, 10).decode())
print("pread", os.pread(fd, 4, 1).decode())
try:
    mmap.mmap(fd, 4)
except OSError as e:
    print("mmap", e.errno)
try:
    os.fchdir(fd)
except OSError as e:
    print("fchdir", e.errno)
)";
  WriteFile(dir_ / "t.py", py);
  std::vector<std::string> args = Plugin();
  args.insert(args.end(), {"--", "python3", dir_ / "t.py", target_});
  RunResult r = RunUmview(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The child's read moves the shared file position: the parent continues after it.
  EXPECT_EQ(r.out,
            "chr True 240 7 5\nselect True True\nioctl 5\nend 5\nchild hel\nparent lo\n"
            "pread ello\nmmap 19\nfchdir 20\n");
}

TEST_F(VirtualFd, CloseOnExecDropsTheDescriptor) {
  // python opens with O_CLOEXEC; the exec'ed ls must not see fd 3 any more.
  std::string py =
      "import os, sys\n"
      "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CLOEXEC)\n"
      "os.dup2(fd, 7, inheritable=False)\n"
      "os.execvp('sh', ['sh', '-c', 'ls /proc/self/fd/7 2>/dev/null || echo gone'])\n";
  WriteFile(dir_ / "t.py", py);
  std::vector<std::string> args = Plugin();
  args.insert(args.end(), {"--", "python3", dir_ / "t.py", target_});
  RunResult r = RunUmview(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "gone\n");
}

// Processes that never held a virtual descriptor do not stop on read/write; one that opened one
// does (its extra filter), and the calls on real files there still run natively.
TEST_F(VirtualFd, OnlyHoldersPayForDescriptorCalls) {
  RunResult plain = Sh("cat /etc/hostname >/dev/null; cat /etc/hostname >/dev/null", {"--stats"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("\nread "), std::string::npos) << plain.err;

  RunResult holder = Sh("cat " + target_ + " /etc/hostname >/dev/null", {"--stats"});
  ASSERT_EQ(holder.exit_code, 0) << holder.err;
  EXPECT_NE(holder.err.find("\nread "), std::string::npos) << holder.err;
}

TEST_F(VirtualFd, FailedOpenOfTheFifoIsNotLeaked) {
  // With the descriptor table full, the tracee's open of the FIFO fails with EMFILE: the program
  // sees that errno and the plugin's file is released at once.
  std::string py =
      "import os, sys, resource\n"
      "resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))\n"
      "fds = []\n"
      "try:\n"
      "    while True: fds.append(os.open('/dev/null', os.O_RDONLY))\n"
      "except OSError:\n"
      "    pass\n"
      "try:\n"
      "    os.open(sys.argv[1], os.O_RDONLY)\n"
      "except OSError as e:\n"
      "    print('errno', e.errno, flush=True)\n"
      "os.close(fds.pop())\n"
      "print(open(sys.argv[2]).read(), end='')\n";
  WriteFile(dir_ / "t.py", py);
  std::vector<std::string> args = Plugin();
  args.insert(args.end(), {"--", "python3", dir_ / "t.py", target_, log_});
  WriteFile(log_, "");
  RunResult r = RunUmview(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "errno 24\nrelease\n");
}

}  // namespace
}  // namespace umview::test
