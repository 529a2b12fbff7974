// Engine behaviour: each SYSVM outcome (skip, run with exit report, run changed), tracee memory
// reads, plugin exceptions, the control channel and scratch memory, seen by real tracees.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/engine/engine_test_util.h"
#include "tests/support/run.h"
#include "umview/control.h"

namespace umview::test {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Every test runs on every engine; an engine this machine or build lacks is skipped.
class EngineTest : public EngineFixture {};

std::string UmviewPidOf(const std::string& out) {
  size_t p = out.find("umview_pid=");
  if (p == std::string::npos) return "";
  return out.substr(p + 11, out.find_first_not_of("0123456789", p + 11) - (p + 11));
}

// (a) A skipped call: the tracee gets the plugin's value, and it costs exactly one stop.
TEST_P(EngineTest, SkipReturnsValueInOneStop) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:4242"), "--stats", "--", Tracee("eng_getppid"), "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("ppid=4242 errno=0"), std::string::npos) << r.out;
  std::optional<Stops> s = StatsFor(r.err, "getppid");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->skipped, 1u);
  EXPECT_EQ(s->entry, 0u);
  EXPECT_EQ(s->entry_exit, 0u);
  EXPECT_EQ(s->stops, 1u);
}

// Without the plugin the same program sees its real parent: umview.
TEST_P(EngineTest, UnclaimedCallRunsNatively) {
  RunResult r = Um({"--stats", "--", Tracee("eng_getppid")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string upid = UmviewPidOf(r.out);
  ASSERT_FALSE(upid.empty()) << r.out;
  EXPECT_NE(r.out.find("ppid=" + upid + " "), std::string::npos) << r.out;
  EXPECT_FALSE(StatsFor(r.err, "getppid")) << "getppid was trapped with no plugin:\n" << r.err;
}

// (d) A negative value is an errno: the libc wrapper returns -1 and sets errno.
TEST_P(EngineTest, SkipWithNegativeErrno) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:-13"), "--", Tracee("eng_getppid")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ppid=-1 errno=" + std::to_string(EACCES) + " "), std::string::npos)
      << r.out;
}

// (b) The exit outcome: the call runs and its result is replaced; two stops.
TEST_P(EngineTest, ExitSetReplacesResult) {
  RunResult r = Um({"-p", Sysvm("exitset=getppid:77"), "--stats", "--", Tracee("eng_getppid")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ppid=77 errno=0"), std::string::npos) << r.out;
  std::optional<Stops> s = StatsFor(r.err, "getppid");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->entry_exit, 1u);
  EXPECT_EQ(s->skipped, 0u);
  EXPECT_EQ(s->entry, 0u);
  EXPECT_EQ(s->stops, 2u);
}

// (b) The plugin sees the real result at exit (the parent is umview) and adds to it.
TEST_P(EngineTest, ExitAddSeesRealResult) {
  RunResult r = Um({"-p", Sysvm("exitadd=getppid:1000"), "--stats", "--", Tracee("eng_getppid")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string upid = UmviewPidOf(r.out);
  ASSERT_FALSE(upid.empty()) << r.out;
  EXPECT_NE(r.out.find("ppid=" + std::to_string(std::stol(upid) + 1000) + " errno=0"),
            std::string::npos)
      << r.out;
  std::optional<Stops> s = StatsFor(r.err, "getppid");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->entry_exit, 1u);
  EXPECT_EQ(s->stops, 2u);
}

// (c) Changed arguments reach the kernel: write(1, ...) becomes write(2, ...); one stop.
TEST_P(EngineTest, SetArgMovesWriteToStderr) {
  RunResult r = Um({"-p", Sysvm("setarg=write:0:2"), "--stats", "--", Tracee("eng_write")});
  EXPECT_EQ(r.exit_code, 0) << "the write was not complete: " << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("written-to-fd-1\n"), std::string::npos) << r.err;
  std::optional<Stops> s = StatsFor(r.err, "write");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->entry, 1u);
  EXPECT_EQ(s->entry_exit, 0u);
  EXPECT_EQ(s->skipped, 0u);
  EXPECT_EQ(s->stops, 1u);
}

// Stacked plugins: the outer one asked for the exit, the inner one completed the call. The outer
// sees the inner's value at exit; the call still costs one stop.
TEST_P(EngineTest, OuterPluginSeesExitOfCallInnerSkipped) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:100"), "-p", Sysvm("exitadd=getppid:5"), "--stats",
                    "--", Tracee("eng_getppid")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ppid=105 errno=0"), std::string::npos) << r.out;
  std::optional<Stops> s = StatsFor(r.err, "getppid");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->skipped, 1u);
  EXPECT_EQ(s->stops, 1u);
}

// An outer skip hides the call from inner plugins.
TEST_P(EngineTest, OuterSkipHidesCallFromInnerPlugin) {
  RunResult r = Um({"-p", Sysvm("exitadd=getppid:5"), "-p", Sysvm("skip=getppid:100"), "--",
                    Tracee("eng_getppid")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ppid=100 errno=0"), std::string::npos) << r.out;
}

// (e) ReadString stops at the NUL: a string whose NUL is the last byte before an unmapped page
// is read, the call runs, and the tracee gets the kernel's answer (ENOENT), not EFAULT. The
// lengths cover the first short read, a read across its 256-byte chunk, and a full page.
TEST_P(EngineTest, ReadStringStopsAtNulBeforeHole) {
  TempDir cwd;
  for (const char* len : {"2", "20", "300", "4095"}) {
    SCOPED_TRACE(std::string("string length with its NUL: ") + len);
    RunResult r =
        Um({"-p", Sysvm("readstr=chdir:0"), "--stats", "--", Tracee("eng_strpage"), "nul", len},
           InDir(cwd.path()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("r=-1 errno=" + std::to_string(ENOENT) + "\n"), std::string::npos)
        << r.out;
    std::optional<Stops> s = StatsFor(r.err, "chdir");
    ASSERT_TRUE(s) << r.err;
    EXPECT_EQ(s->entry, 1u) << "the plugin failed the call instead of letting it run";
    EXPECT_EQ(s->skipped, 0u);
  }
}

// (e) No NUL before the unmapped page: ReadString reports EFAULT and the plugin fails the call
// with it (a skip, so it was the plugin and not the kernel).
TEST_P(EngineTest, ReadStringWithoutNulBeforeHoleIsEfault) {
  RunResult r =
      Um({"-p", Sysvm("readstr=chdir:0"), "--stats", "--", Tracee("eng_strpage"), "nonul", "100"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("r=-1 errno=" + std::to_string(EFAULT) + "\n"), std::string::npos) << r.out;
  std::optional<Stops> s = StatsFor(r.err, "chdir");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->skipped, 1u);
}

// ReadString's limit: a full page with no NUL is too long for the default 4096-byte maximum.
TEST_P(EngineTest, ReadStringWithoutNulWithinMaxIsNameTooLong) {
  RunResult r =
      Um({"-p", Sysvm("readstr=chdir:0"), "--stats", "--", Tracee("eng_strpage"), "nonul", "4096"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("r=-1 errno=" + std::to_string(ENAMETOOLONG) + "\n"), std::string::npos)
      << r.out;
  std::optional<Stops> s = StatsFor(r.err, "chdir");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->skipped, 1u);
}

// (f) A plugin that throws: that call fails with EIO, one log line names the plugin, and the view
// (including the same plugin) goes on.
TEST_P(EngineTest, ThrowingPluginFailsCallWithEio) {
  RunResult r = Um({"-p", Sysvm("throw=getppid,skip=getpid:4242"), "--", Tracee("eng_throw")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("first=-1 errno=" + std::to_string(EIO) + " second=4242 errno=0"),
            std::string::npos)
      << r.out;
  std::vector<std::string> log = Lines(r.err);
  ASSERT_EQ(log.size(), 1u) << r.err;
  EXPECT_NE(log[0].find("sysvm"), std::string::npos) << r.err;
  EXPECT_NE(log[0].find("EIO"), std::string::npos) << r.err;
}

// Bad plugin options: one line naming the plugin, exit status 2, nothing started.
TEST_P(EngineTest, BadSysvmOptionsAreRefused) {
  for (const char* opts : {"skip=nosuchcall:1", "skip=getppid", "skip=getppid:x", "frob=getppid",
                           "setarg=write:9:1", "readstr=chdir"}) {
    SCOPED_TRACE(opts);
    RunResult r = Um({"-p", Sysvm(opts), "--", Tracee("eng_write")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "") << "the command ran";
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("umview: sysvm: ", 0), 0u) << r.err;
  }
}

// (n) The control channel is ENOSYS outside a view, and also in a view where no plugin claims
// anything: then umview installs no filter at all, so programs run at native speed.
TEST_P(EngineTest, ControlChannelAbsentWithoutFilter) {
  RunResult out = test::Run({Tracee("eng_control")});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "r=-1 errno=" + std::to_string(ENOSYS) + "\n");
  RunResult idle = Um({"--", Tracee("eng_control")});
  EXPECT_EQ(idle.exit_code, 0) << idle.err;
  EXPECT_EQ(idle.out, "r=-1 errno=" + std::to_string(ENOSYS) + "\n");
  RunResult status = test::Run({"sh", "-c", "grep ^Seccomp: /proc/self/status"});
  RunResult idle_status = Um({"--", "sh", "-c", "grep ^Seccomp: /proc/self/status"});
  EXPECT_EQ(idle_status.out, status.out) << "no filter in an idle view";
}

// The control channel answers in a view whose plugins trap calls.
TEST_P(EngineTest, ControlChannelPing) {
  RunResult in = Um({"-p", Sysvm("skip=getppid:1"), "--", Tracee("eng_control")});
  EXPECT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(in.out, "r=" + std::to_string(kControlMagic) + " errno=0\n");
}

// (m) Scratch memory and SetPath, through the "rewrite" test plugin.
class ScratchTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    struct stat st;
    if (stat(TestPluginPath("rewrite").c_str(), &st) != 0) {
      GTEST_SKIP() << "test plugin 'rewrite' not built (" << TestPluginPath("rewrite") << ")";
    }
    ASSERT_FALSE(dir_.path().empty());
    mkdir((dir_ / "real").c_str(), 0755);
    WriteFile(dir_ / "real/f", "hello");
  }
  // -p rewrite: DIR/virt -> DIR/real
  std::string Rewrite() {
    return TestPluginPath("rewrite") + ",from=" + (dir_ / "virt") + ",to=" + (dir_ / "real");
  }
  TempDir dir_;
};

// The root command's own paths are rewritten (its scratch is set up after its execve).
TEST_P(ScratchTest, PathOfRootCommandIsRewritten) {
  RunResult r = Um({"-p", Rewrite(), "--", "cat", "virt/f"}, InDir(dir_.path()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello");
}

// Every thread has its own scratch slot: 8 threads rewriting paths at the same time.
TEST_P(ScratchTest, ThreadsRewriteConcurrently) {
  RunResult r = Um({"-p", Rewrite(), "--", Tracee("eng_open_threads"), "virt/f", "hello"},
                   InDir(dir_.path()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "opens=1600 bad=0\n");
}

// A forked child (no exec) inherits the scratch area; an exec'd program gets a new one.
TEST_P(ScratchTest, ForkedAndExecdChildrenRewrite) {
  RunResult r = Um({"-p", Rewrite(), "--", "sh", "-c",
                    "(read x < virt/f; echo \"sub:$x\"); cat virt/f; echo; read y < virt/f; "
                    "echo \"sh:$y\""},
                   InDir(dir_.path()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "sub:hello\nhello\nsh:hello\n");
}

// posix_spawn's CLONE_VM|CLONE_VFORK child shares its parent's scratch area and execs a
// rewritten path; the new program is traced (its getppid is skipped).
TEST_P(ScratchTest, VforkChildExecsRewrittenPath) {
  std::string rewrite_bin = TestPluginPath("rewrite") + ",from=" + (dir_ / "virt") + ",to=" +
                            Tracee("eng_getppid").substr(0, Tracee("eng_getppid").rfind('/'));
  RunResult r = Um({"-p", rewrite_bin, "-p", Sysvm("skip=getppid:4242"), "--", Tracee("eng_spawn"),
                    dir_ / "virt/eng_getppid", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ppid=4242 errno=0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("spawned exited=1 status=5"), std::string::npos) << r.out;
}

// An exit report on execve itself comes before the scratch set-up of the new program; both work.
TEST_P(ScratchTest, ExecveExitReportAndScratchSetUp) {
  RunResult r = Um(
      {"-p", Rewrite(), "-p", Sysvm("exitadd=execve:0"), "--stats", "--", "sh", "-c", "cat virt/f"},
      InDir(dir_.path()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello");
  std::optional<Stops> s = StatsFor(r.err, "execve");
  ASSERT_TRUE(s) << r.err;
  EXPECT_GE(s->entry_exit, 2u);  // sh and cat
  EXPECT_EQ(s->entry, 0u);
}

// The root command's own execve is rewritten too: it runs before any execve could set up a
// scratch area, so the engine's child maps one itself before the filter goes in.
TEST_P(ScratchTest, RootCommandPathItselfIsRewritten) {
  std::string bin_dir = Tracee("eng_getppid").substr(0, Tracee("eng_getppid").rfind('/'));
  std::string rewrite_bin =
      TestPluginPath("rewrite") + ",from=" + (dir_ / "virt") + ",to=" + bin_dir;
  RunResult r = Um({"-p", rewrite_bin, "--", dir_ / "virt/eng_getppid", "5"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.out.find("ppid="), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(engine, EngineTest, ::testing::Values("ptrace", "kmview"), EngineName);
INSTANTIATE_TEST_SUITE_P(engine, ScratchTest, ::testing::Values("ptrace", "kmview"), EngineName);

}  // namespace
}  // namespace umview::test
