// Engine behaviour with many tasks: threads, fork/vfork/clone3 children, execve from threads,
// signals in and out of trapped calls, and the fate of tracees when umview itself is killed.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/engine/engine_test_util.h"
#include "tests/support/run.h"

namespace umview::test {
namespace {

// The value every test skips getppid(2) with.
const std::string kPpid = "4242";

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void Nap() {
  struct timespec ts = {0, 10 * 1000 * 1000};
  nanosleep(&ts, nullptr);
}

// Every test runs on every engine; an engine this machine or build lacks is skipped.
class TasksTest : public EngineFixture {
 protected:
  // Starts `umview -e ENGINE ARGS...` in the background; its stdout is *out_fd.
  pid_t Start(const std::vector<std::string>& args, int* out_fd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    std::vector<std::string> argv = UmArgs(args);
    std::vector<char*> cargv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(p[1], 1);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
  }
};

// Reads fd until `text` has been seen, EOF, or 10 s (a failure bound, not a timing assertion).
bool ReadUntil(int fd, const std::string& text) {
  std::string got;
  double end = Now() + 10;
  while (got.find(text) == std::string::npos && Now() < end) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    got.append(buf, n);
  }
  return got.find(text) != std::string::npos;
}

// Waits for `pid` (our child) for up to 10 s; SIGKILLs and reaps it after that.
std::optional<int> WaitBounded(pid_t pid) {
  double end = Now() + 10;
  while (Now() < end) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    if (r < 0 && errno != EINTR) return std::nullopt;
    Nap();
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return std::nullopt;
}

// (g) 8 threads x 1000 skipped calls: every one sees the skipped value, every one is counted.
TEST_P(TasksTest, ThreadsAllSeeSkippedValue) {
  RunResult r =
      Um({"-p", Sysvm("skip=getppid:" + kPpid), "--stats", "--", Tracee("eng_threads"), kPpid});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "calls=8000 mismatches=0\n");
  std::optional<Stops> s = StatsFor(r.err, "getppid");
  ASSERT_TRUE(s) << r.err;
  EXPECT_EQ(s->skipped, 8000u);
  EXPECT_EQ(s->stops, 8000u);
}

// The main thread leaves first (pthread_exit); the last thread's exit status is the process's.
TEST_P(TasksTest, LeaderExitsBeforeOtherThread) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:" + kPpid), "--", Tracee("eng_leader_exit"), kPpid});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

// (h) Children of every kind of clone are traced.
class ChildTest : public TasksTest {
 protected:
  // A child created by `mode` (see eng_fork.c) is traced: its getppid is skipped, and the
  // parent gets its exit status.
  void ExpectTracedChild(const std::string& mode) {
    RunResult r = Um(
        {"-p", Sysvm("skip=getppid:" + kPpid), "--stats", "--", Tracee("eng_fork"), mode, kPpid});
    if (r.out.find("cannot create the child: errno=" + std::to_string(ENOSYS)) !=
        std::string::npos) {
      GTEST_SKIP() << mode << " is not available here (ENOSYS)";
    }
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, mode + ": child exited=1 status=7\n")
        << "status 1: the child's getppid was not skipped";
    std::optional<Stops> s = StatsFor(r.err, "getppid");
    ASSERT_TRUE(s) << r.err;
    EXPECT_EQ(s->skipped, 1u);
  }
};

TEST_P(ChildTest, Fork) { ExpectTracedChild("fork"); }
TEST_P(ChildTest, Vfork) { ExpectTracedChild("vfork"); }
TEST_P(ChildTest, Clone3) { ExpectTracedChild("clone3"); }
TEST_P(ChildTest, Clone3Vm) { ExpectTracedChild("clone3_vm"); }
TEST_P(ChildTest, Clone3VmVfork) { ExpectTracedChild("clone3_vfork"); }

// CLONE_UNTRACED would keep the child from being attached: it would leave the view, its trapped
// calls failing with ENOSYS. The engine drops the flag, so the child's getppid is skipped too.
TEST_P(ChildTest, Clone3Untraced) { ExpectTracedChild("clone3_untraced"); }

// (i) execve from a non-leader thread: the new program is traced and its status is umview's.
// (PtraceEngine::HandleExec once read the freed leader record here and umview died of SIGSEGV.)
TEST_P(TasksTest, ExecFromNonLeaderThread) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:" + kPpid), "--", Tracee("eng_exec_thread"),
                    Tracee("eng_getppid"), "33"});
  EXPECT_EQ(r.exit_code, 33) << r.err;
  EXPECT_NE(r.out.find("ppid=" + kPpid + " errno=0"), std::string::npos) << r.out;
}

// execve from the leader while another thread exists: that thread goes, the new program runs.
TEST_P(TasksTest, ExecFromLeaderWithOtherThread) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:" + kPpid), "--", Tracee("eng_exec_thread"),
                    "--from-main", Tracee("eng_getppid"), "33"});
  EXPECT_EQ(r.exit_code, 33) << r.err;
  EXPECT_NE(r.out.find("ppid=" + kPpid + " errno=0"), std::string::npos) << r.out;
}

// (j) A handled signal reaches its handler, also when raised by a call with an exit report.
TEST_P(TasksTest, HandledSignal) {
  for (std::string rule : {"skip=getppid:1", "exitadd=tgkill:0", "exitadd=rt_sigreturn:0"}) {
    SCOPED_TRACE(rule);
    RunResult r = Um({"-p", Sysvm(rule), "--", Tracee("eng_sigusr1")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "handled=1\n");
  }
}

// (j) SIGTERM sent to umview from outside goes to the command; umview exits 128+15.
TEST_P(TasksTest, SigtermToUmviewIsForwarded) {
  int out = -1;
  pid_t pid = Start({"--", Tracee("eng_ready")}, &out);
  ASSERT_GT(pid, 0);
  bool ready = ReadUntil(out, "ready\n");
  close(out);
  if (!ready) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "the command never said ready";
  }
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::optional<int> st = WaitBounded(pid);
  ASSERT_TRUE(st) << "umview did not exit after SIGTERM";
  ASSERT_TRUE(WIFEXITED(*st)) << "umview itself died of signal " << WTERMSIG(*st);
  EXPECT_EQ(WEXITSTATUS(*st), 143);
}

// (j) Death by signal: 128+N.
TEST_P(TasksTest, KilledBySigkill) {
  RunResult r = Um({"--", Tracee("eng_raise"), std::to_string(SIGKILL)});
  EXPECT_EQ(r.exit_code, 137) << r.err;
}

TEST_P(TasksTest, ShellKilledBySigsegv) {
  TempDir dir;  // in case a core file is written
  RunResult r = Um({"--", "sh", "-c", "kill -SEGV $$"}, InDir(dir.path()));
  EXPECT_EQ(r.exit_code, 139) << r.err;
}

// (k) SIGKILL while one thread is blocked inside a trapped call whose exit umview awaits and
// another makes skipped calls: umview must notice every death and exit 137, not hang.
TEST_P(TasksTest, SigkillDuringTrappedCallsDoesNotHang) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:" + kPpid + ",exitadd=read:0"), "--",
                    Tracee("eng_killmid"), kPpid});
  EXPECT_EQ(r.signal, 0) << "umview hung and was killed by the test";
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_NE(r.err.find("reader-blocked=1 mismatches=0"), std::string::npos) << r.err;
}

// A stopped child (SIGSTOP) is seen stopped by its real parent, continues on SIGCONT and exits.
TEST_P(TasksTest, JobControlStopAndContinue) {
  RunResult r = Um({"-p", Sysvm("skip=getppid:1"), "--", Tracee("eng_stop")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "stopped=1 exited=1 status=3\n");
}

// A read with an exit report interrupted by a SA_RESTART signal stops at its exit with the
// kernel's internal -ERESTARTSYS. Plugins may see it but not change it (exitadd=read:100 would
// make it -412 and the read would fail): the restarted read's exit gets the +100.
TEST_P(TasksTest, RestartedCallExitSeenOnce) {
  RunResult r = Um({"-p", Sysvm("exitadd=read:100"), "--", Tracee("eng_restart")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "read=101 errno=0 handled=1\n");
}

// The same program without a changed result: the restart is transparent.
TEST_P(TasksTest, RestartedCallWithExitReport) {
  RunResult r = Um({"-p", Sysvm("exitadd=read:0"), "--", Tracee("eng_restart")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "read=1 errno=0 handled=1\n");
}

// The pid of a process whose parent is `ppid` and whose name is `comm`, or -1.
pid_t FindChild(pid_t ppid, const std::string& comm) {
  DIR* d = opendir("/proc");
  if (d == nullptr) return -1;
  pid_t found = -1;
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(f, stat);
    size_t close_paren = stat.rfind(')');
    size_t open_paren = stat.find('(');
    if (close_paren == std::string::npos || open_paren == std::string::npos) continue;
    std::string name = stat.substr(open_paren + 1, close_paren - open_paren - 1);
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string state;
    pid_t parent = 0;
    rest >> state >> parent;
    if (parent == ppid && name == comm) {
      found = pid;
      break;
    }
  }
  closedir(d);
  return found;
}

// (l) umview SIGKILLed: no tracee survives it (PTRACE_O_EXITKILL). We are the sleep's subreaper,
// so we can reap it and see what killed it.
TEST_P(TasksTest, TraceesDieWithUmview) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct Unsubreap {
    ~Unsubreap() { prctl(PR_SET_CHILD_SUBREAPER, 0); }
  } unsubreap;
  int out = -1;
  pid_t um = Start({"--", "sleep", "1000"}, &out);
  ASSERT_GT(um, 0);
  close(out);
  pid_t sleeper = -1;
  for (double end = Now() + 10; sleeper < 0 && Now() < end; Nap()) sleeper = FindChild(um, "sleep");
  if (sleeper < 0) {
    kill(um, SIGKILL);
    waitpid(um, nullptr, 0);
    FAIL() << "no sleep process appeared under umview";
  }
  ASSERT_EQ(kill(um, SIGKILL), 0);
  std::optional<int> ust = WaitBounded(um);
  ASSERT_TRUE(ust);
  EXPECT_TRUE(WIFSIGNALED(*ust) && WTERMSIG(*ust) == SIGKILL);
  // The orphan comes to us once umview is gone; wait for it (ECHILD until it is reparented).
  std::optional<int> sst;
  for (double end = Now() + 10; !sst && Now() < end; Nap()) {
    int st;
    if (waitpid(sleeper, &st, WNOHANG) == sleeper) sst = st;
  }
  if (!sst) {
    kill(sleeper, SIGKILL);
    waitpid(sleeper, nullptr, 0);
    FAIL() << "sleep (pid " << sleeper << ") survived umview's death";
  }
  EXPECT_TRUE(WIFSIGNALED(*sst) && WTERMSIG(*sst) == SIGKILL) << "status " << *sst;
}

INSTANTIATE_TEST_SUITE_P(engine, TasksTest, ::testing::Values("ptrace", "kmview"), EngineName);
INSTANTIATE_TEST_SUITE_P(engine, ChildTest, ::testing::Values("ptrace", "kmview"), EngineName);

}  // namespace
}  // namespace umview::test
