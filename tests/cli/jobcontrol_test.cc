// Job control through a real pseudo-terminal: an interactive bash under umview, Ctrl-C, Ctrl-Z,
// bg/fg, and Ctrl-C on a non-interactive command.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/pty.h"
#include "tests/support/run.h"

namespace umview::test {
namespace {

// Not something bash echoes back or prints by itself: the prompt is the only source.
constexpr char kPrompt[] = "<umview-test-prompt>";
constexpr double kWaitSeconds = 20;

std::string Comm(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A command running as session leader on a fresh pseudo-terminal, which the test types into.
class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ResetSignals();
      rlimit no_core{0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      setenv("TERM", "dumb", 1);
      setenv("HISTFILE", "/dev/null", 1);
      unsetenv("PROMPT_COMMAND");
      unsetenv("BASH_ENV");
      unsetenv("ENV");
      for (const auto& e : env) putenv(strdup(e.c_str()));
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    if (master_ >= 0) fcntl(master_, F_SETFD, FD_CLOEXEC);
  }

  ~PtySession() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);  // the tracees die with their tracer (PTRACE_O_EXITKILL)
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }

  bool started() const { return pid_ > 0 && master_ >= 0; }
  pid_t pid() const { return pid_; }
  const std::string& transcript() const { return buf_; }

  // Closes the master side: the kernel hangs up the terminal (SIGHUP to the session leader).
  void Hangup() {
    close(master_);
    master_ = -1;
  }

  void Send(std::string_view s) { (void)!write(master_, s.data(), s.size()); }

  // Reads until `needle` shows up in output not consumed yet, and consumes through it.
  // False after kWaitSeconds or at end of output.
  bool Expect(const std::string& needle) {
    double deadline = Now() + kWaitSeconds;
    while (true) {
      size_t at = buf_.find(needle, pos_);
      if (at != std::string::npos) {
        pos_ = at + needle.size();
        return true;
      }
      if (!ReadSome(deadline)) return false;
    }
  }

  // Waits until the terminal's foreground process group is led by a process named `comm`
  // (after exec, so a keyboard signal now reaches that program).
  bool WaitForeground(const std::string& comm) {
    double deadline = Now() + kWaitSeconds;
    while (Now() < deadline) {
      pid_t pgrp = tcgetpgrp(master_);
      if (pgrp > 0 && Comm(pgrp) == comm) return true;
      ReadSome(Now() + 0.02);
    }
    return false;
  }

  // Waits for a child of the session leader named `comm`.
  bool WaitChild(const std::string& comm) {
    double deadline = Now() + kWaitSeconds;
    while (Now() < deadline) {
      if (ChildNamed(pid_, comm) > 0) return true;
      ReadSome(Now() + 0.02);
    }
    return false;
  }

  bool Alive() {
    if (reaped_) return false;
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = st;
      return false;
    }
    return true;
  }

  // Waits for the session leader to end; its wait status, or -1 after kWaitSeconds.
  int WaitExit() {
    double deadline = Now() + kWaitSeconds;
    while (Now() < deadline) {
      if (!Alive()) return status_;
      ReadSome(Now() + 0.02);
    }
    return -1;
  }

 private:
  bool ReadSome(double deadline) {
    if (master_ < 0) {
      usleep(10000);
      return false;
    }
    while (Now() < deadline) {
      int ms = static_cast<int>((deadline - Now()) * 1000);
      pollfd pfd{master_, POLLIN, 0};
      int r = poll(&pfd, 1, ms < 1 ? 1 : (ms > 100 ? 100 : ms));
      if (r <= 0) continue;
      char buf[4096];
      ssize_t n = read(master_, buf, sizeof buf);
      if (n <= 0) return false;  // EIO: the slave side is closed
      buf_.append(buf, n);
      return true;
    }
    return false;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
  std::string buf_;
  size_t pos_ = 0;
};

// Plugins loaded for a run: none, or umtrace so that every call of the shell and its jobs stops.
struct Mode {
  const char* name;
  std::vector<std::string> umview_args;
};

void PrintTo(const Mode& m, std::ostream* os) { *os << m.name; }

class InteractiveBash : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no /bin/bash";
    std::vector<std::string> argv = {UmviewBin()};
    argv.insert(argv.end(), GetParam().umview_args.begin(), GetParam().umview_args.end());
    argv.insert(argv.end(), {"--", "/bin/bash", "--norc", "--noprofile", "-i"});
    session_ =
        std::make_unique<PtySession>(argv, std::vector<std::string>{std::string("PS1=") + kPrompt});
    ASSERT_TRUE(session_->started());
    ASSERT_TRUE(session_->Expect(kPrompt)) << "no prompt; terminal said:\n" << Transcript();
  }

  void TearDown() override {
    if (session_) {
      EXPECT_EQ(session_->transcript().find("no job control"), std::string::npos) << Transcript();
      EXPECT_EQ(session_->transcript().find("cannot set terminal process group"), std::string::npos)
          << Transcript();
    }
  }

  // Types a command line and waits for `output`, then for the next prompt.
  void Command(const std::string& line, const std::string& output) {
    s().Send(line + "\r");
    if (!output.empty()) {
      ASSERT_TRUE(s().Expect(output))
          << "'" << line << "' did not print '" << output << "'; terminal said:\n"
          << Transcript();
    }
    ASSERT_TRUE(s().Expect(kPrompt)) << "no prompt after '" << line << "'; terminal said:\n"
                                     << Transcript();
  }

  // Starts `sleep 100` in the foreground and waits until it runs.
  void StartSleep() {
    s().Send("sleep 100\r");
    ASSERT_TRUE(s().WaitForeground("sleep")) << "sleep never became the foreground job:\n"
                                             << Transcript();
  }

  PtySession& s() { return *session_; }
  std::string Transcript() const { return session_->transcript(); }

  std::unique_ptr<PtySession> session_;
};

TEST_P(InteractiveBash, PromptAndMarker) {
  // The typed line holds `U=$UMVIEW`, only the output holds `U=1`.
  Command("echo \"U=$UMVIEW\"", "U=1");
  Command("[ \"$UMVIEW_PID\" = \"$PPID\" ] && echo pid\"\"-ok", "pid-ok");
}

TEST_P(InteractiveBash, CtrlCInterruptsTheJobNotUmview) {
  StartSleep();
  s().Send("\x03");
  ASSERT_TRUE(s().Expect(kPrompt)) << "no prompt after Ctrl-C:\n" << Transcript();
  Command("echo \"st=$?\"", "st=130");
  EXPECT_TRUE(s().Alive()) << "umview ended on Ctrl-C";
  Command("echo ali\"\"ve", "alive");
  // A second round: the terminal still goes back and forth.
  StartSleep();
  s().Send("\x03");
  ASSERT_TRUE(s().Expect(kPrompt)) << Transcript();
  Command("echo ali\"\"ve", "alive");
}

TEST_P(InteractiveBash, CtrlZStopsBgResumesFgForegrounds) {
  StartSleep();
  s().Send("\x1a");
  ASSERT_TRUE(s().Expect("Stopped")) << "bash did not report the stopped job:\n" << Transcript();
  ASSERT_TRUE(s().Expect(kPrompt)) << Transcript();
  EXPECT_TRUE(s().Alive());
  Command("jobs", "Stopped");
  Command("bg", "sleep 100 &");
  Command("jobs", "Running");
  s().Send("fg\r");
  ASSERT_TRUE(s().Expect("sleep 100")) << Transcript();
  ASSERT_TRUE(s().WaitForeground("sleep")) << "fg did not give the terminal to sleep:\n"
                                           << Transcript();
  s().Send("\x03");
  ASSERT_TRUE(s().Expect(kPrompt)) << "no prompt after Ctrl-C of the resumed job:\n"
                                   << Transcript();
  Command("echo \"st=$?\"", "st=130");
  EXPECT_TRUE(s().Alive());
}

TEST_P(InteractiveBash, ExitStatusOfTheShell) {
  Command("true", "");
  s().Send("exit 7\r");
  int st = s().WaitExit();
  ASSERT_NE(st, -1) << "umview did not end after 'exit 7':\n" << Transcript();
  ASSERT_TRUE(WIFEXITED(st)) << "umview died of signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 7);
}

// Instantiated as "cli/..." so that `ctest -R cli` selects it.
INSTANTIATE_TEST_SUITE_P(cli, InteractiveBash,
                         ::testing::Values(Mode{"NoPlugin", {}},
                                           Mode{"UmtraceEveryCall",
                                                {"-p", "umtrace,output=/dev/null"}}),
                         [](const auto& info) { return std::string(info.param.name); });

// Non-interactive: the command shares umview's foreground process group, so the keyboard's
// signal reaches both; umview ignores it and reports the command's death.
TEST(NonInteractivePty, CtrlCKillsCommandUmviewExits130) {
  PtySession s({UmviewBin(), "--", "sleep", "100"}, {});
  ASSERT_TRUE(s.started());
  ASSERT_TRUE(s.WaitChild("sleep")) << "sleep never started:\n" << s.transcript();
  s.Send("\x03");
  int st = s.WaitExit();
  ASSERT_NE(st, -1) << "umview still running after Ctrl-C:\n" << s.transcript();
  ASSERT_TRUE(WIFEXITED(st)) << "umview itself died of signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 130);
}

TEST(NonInteractivePty, CtrlBackslashKillsCommandUmviewExits131) {
  PtySession s({UmviewBin(), "--", "sleep", "100"}, {});
  ASSERT_TRUE(s.started());
  ASSERT_TRUE(s.WaitChild("sleep")) << "sleep never started:\n" << s.transcript();
  s.Send("\x1c");
  int st = s.WaitExit();
  ASSERT_NE(st, -1) << "umview still running after Ctrl-\\:\n" << s.transcript();
  ASSERT_TRUE(WIFEXITED(st)) << "umview itself died of signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 131);
}

// A hangup (SIGHUP from the kernel, not a keyboard signal) is passed on to the command.
TEST(NonInteractivePty, HangupEndsTheCommand) {
  PtySession s({UmviewBin(), "--", "sleep", "100"}, {});
  ASSERT_TRUE(s.started());
  ASSERT_TRUE(s.WaitChild("sleep")) << "sleep never started:\n" << s.transcript();
  s.Hangup();
  int st = s.WaitExit();
  ASSERT_NE(st, -1) << "umview still running after the terminal hung up";
  ASSERT_TRUE(WIFEXITED(st)) << "umview itself died of signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 128 + SIGHUP);
}

TEST(NonInteractivePty, CommandThatCatchesCtrlCKeepsUmviewRunning) {
  PtySession s({UmviewBin(), "--", Tracee("cli_sigwait")}, {});
  ASSERT_TRUE(s.started());
  ASSERT_TRUE(s.Expect("ready")) << s.transcript();
  s.Send("\x03");
  ASSERT_TRUE(s.Expect("got INT")) << s.transcript();
  int st = s.WaitExit();
  ASSERT_NE(st, -1) << s.transcript();
  ASSERT_TRUE(WIFEXITED(st)) << "umview itself died of signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace umview::test
