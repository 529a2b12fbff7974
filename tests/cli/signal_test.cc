// Signals sent to umview with kill() reach the command; umview's exit status reports them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ostream>
#include <string>
#include <vector>

#include "tests/support/pty.h"
#include "tests/support/run.h"

namespace umview::test {
namespace {

// `umview ARGS...` in its own process group with stdout on a pipe we read; killed if still
// running when the test ends.
class Spawned {
 public:
  explicit Spawned(const std::vector<std::string>& args) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      ResetSignals();
      dup2(p[1], 1);
      int devnull = open("/dev/null", O_RDONLY);
      dup2(devnull, 0);
      std::vector<std::string> argv = {UmviewBin()};
      argv.insert(argv.end(), args.begin(), args.end());
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    close(p[1]);
    out_ = p[0];
  }
  ~Spawned() {
    if (pid_ > 0 && !reaped_) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  pid_t pid() const { return pid_; }
  const std::string& out() const { return output_; }

  // Reads stdout until it contains `marker` (true) or EOF / 20 s (false).
  bool ReadUntil(const std::string& marker) {
    double deadline = Now() + 20;
    while (output_.find(marker) == std::string::npos) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }
  // Reads to EOF and waits for umview: its exit code, or -1 on a timeout or a signal.
  int Finish() {
    double deadline = Now() + 20;
    while (ReadSome(deadline)) {
    }
    while (Now() < deadline) {
      int st;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      usleep(10000);
    }
    return -1;
  }

 private:
  bool ReadSome(double deadline) {
    while (Now() < deadline) {
      pollfd pfd{out_, POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) return false;
      output_.append(buf, n);
      return true;
    }
    return false;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string output_;
};

struct ForwardCase {
  int sig;
  const char* name;
};

void PrintTo(const ForwardCase& c, std::ostream* os) { *os << "SIG" << c.name; }

class SignalForwardTest : public ::testing::TestWithParam<ForwardCase> {};

// The command catches the signal and reports it: umview forwarded it and did not die itself.
TEST_P(SignalForwardTest, CommandReceivesSignalSentToUmview) {
  Spawned u({"--", Tracee("cli_sigwait")});
  ASSERT_TRUE(u.ReadUntil("ready\n")) << "command did not start: " << u.out();
  ASSERT_EQ(kill(u.pid(), GetParam().sig), 0);
  EXPECT_EQ(u.Finish(), 0) << u.out();
  EXPECT_EQ(u.out(), std::string("ready\ngot ") + GetParam().name + "\n");
}

// The same with every call trapped, so the signal may arrive while the command sits in a stop.
TEST_P(SignalForwardTest, CommandReceivesSignalWithEveryCallTrapped) {
  Spawned u({"-p", "umtrace,output=/dev/null", "--", Tracee("cli_sigwait")});
  ASSERT_TRUE(u.ReadUntil("ready\n")) << "command did not start: " << u.out();
  ASSERT_EQ(kill(u.pid(), GetParam().sig), 0);
  EXPECT_EQ(u.Finish(), 0) << u.out();
  EXPECT_EQ(u.out(), std::string("ready\ngot ") + GetParam().name + "\n");
}

// A command with default dispositions dies of the forwarded signal: umview exits 128+N.
TEST_P(SignalForwardTest, UncaughtSignalGives128PlusN) {
  Spawned u({"--", "sh", "-c", "echo ready; exec sleep 100"});
  ASSERT_TRUE(u.ReadUntil("ready\n"));
  ASSERT_EQ(kill(u.pid(), GetParam().sig), 0);
  EXPECT_EQ(u.Finish(), 128 + GetParam().sig);
}

// Instantiated as "cli/..." so that `ctest -R cli` selects it.
INSTANTIATE_TEST_SUITE_P(cli, SignalForwardTest,
                         ::testing::Values(ForwardCase{SIGTERM, "TERM"}, ForwardCase{SIGHUP, "HUP"},
                                           ForwardCase{SIGUSR1, "USR1"},
                                           ForwardCase{SIGUSR2, "USR2"}, ForwardCase{SIGINT, "INT"},
                                           ForwardCase{SIGQUIT, "QUIT"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SignalTest, TermKillsLongRunningCommand) {
  Spawned u({"sleep", "100"});
  // No output to wait for: wait until sleep runs as umview's child.
  double deadline = Now() + 20;
  bool running = false;
  while (!running && Now() < deadline) {
    running = ChildNamed(u.pid(), "sleep") > 0;
    if (!running) usleep(20000);
  }
  ASSERT_TRUE(running) << "sleep never started under umview";
  ASSERT_EQ(kill(u.pid(), SIGTERM), 0);
  EXPECT_EQ(u.Finish(), 143);
}

// A command that ignores SIGTERM survives the forwarded signal, and so does umview.
TEST(SignalTest, IgnoredSignalLeavesBothRunning) {
  Spawned u({"sh", "-c", "trap '' TERM; echo ready; sleep 0.5; echo still-here; exit 4"});
  ASSERT_TRUE(u.ReadUntil("ready\n"));
  ASSERT_EQ(kill(u.pid(), SIGTERM), 0);
  EXPECT_EQ(u.Finish(), 4);
  EXPECT_EQ(u.out(), "ready\nstill-here\n");
}

// `nohup umview CMD` protects CMD from SIGHUP as `nohup CMD` does: the command starts with the
// signal dispositions and mask umview inherited.
TEST(SignalTest, NohupProtectsTheCommand) {
  RunResult native = test::Run({"nohup", "sh", "-c", "kill -HUP $$; echo survived"});
  ASSERT_EQ(native.exit_code, 0) << native.err;
  ASSERT_EQ(native.out, "survived\n");
  RunResult viewed =
      test::Run({"nohup", UmviewBin(), "--", "sh", "-c", "kill -HUP $$; echo survived"});
  EXPECT_EQ(viewed.exit_code, 0) << viewed.err;
  EXPECT_EQ(viewed.out, "survived\n");
}

// If umview itself is killed, no tracee is left behind (stopped forever or running untraced).
TEST(SignalTest, KillingUmviewKillsTheView) {
  Spawned u({"sh", "-c", "echo $$; exec sleep 100"});
  ASSERT_TRUE(u.ReadUntil("\n"));
  pid_t cmd = std::stoi(u.out());
  ASSERT_EQ(kill(u.pid(), SIGKILL), 0);
  u.Finish();
  double deadline = Now() + 20;
  bool gone = false;
  while (!gone && Now() < deadline) {
    // The command is a child of umview: once umview is gone it is reparented and reaped by init
    // (or a subreaper); a zombie or missing /proc entry both mean it has died.
    std::string stat = ReadFile("/proc/" + std::to_string(cmd) + "/stat");
    size_t close = stat.rfind(')');
    gone = close == std::string::npos || stat.compare(close, 4, ") Z ") == 0;
    if (!gone) usleep(20000);
  }
  EXPECT_TRUE(gone) << "pid " << cmd << " outlived umview";
}

}  // namespace
}  // namespace umview::test
