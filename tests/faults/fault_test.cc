// Faults: what umview does when a plugin misbehaves, when umview itself is killed, when the
// view's processes die or outlive the command, and when the upper layer's disk is full.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

int CountLines(const std::string& s, const std::string& needle) {
  int n = 0;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

bool Alive(pid_t pid) {
  // A zombie is dead: only its exit status waits for a parent.
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
  if (all.empty()) return false;
  size_t paren = all.rfind(')');
  return paren != std::string::npos && paren + 2 < all.size() && all[paren + 2] != 'Z' &&
         all[paren + 2] != 'X';
}

std::vector<std::string> Faulty(const std::string& mode) {
  return {"-p", TestPluginPath("faulty") + ",mode=" + mode};
}

TEST(PluginFaults, ThrowingHookFailsTheCallWithEIOAndOneLogLine) {
  RunResult r = RunUmview([] {
    auto a = Faulty("throw");
    a.insert(a.end(), {"--", Tracee("fault_getppid"), "3"});
    return a;
  }());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "EIO 3\n");
  EXPECT_EQ(CountLines(r.err, "faulty"), 3) << r.err;  // one line per failed call
  EXPECT_EQ(CountLines(r.err, "threw"), 3) << r.err;
}

TEST(PluginFaults, GarbageResultBecomesEIOAndOneLogLine) {
  auto a = Faulty("garbage");
  a.insert(a.end(), {"--", Tracee("fault_getppid"), "2"});
  RunResult r = RunUmview(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "EIO 2\n");
  EXPECT_EQ(CountLines(r.err, "neither a result nor -errno"), 2) << r.err;
}

// A plugin that leaks a descriptor per call runs umview out of descriptors: its own calls then
// fail with EMFILE, and umview goes on serving the view (viewfs included) to the end.
TEST(PluginFaults, LeakingPluginRunsOutOfDescriptorsAndTheViewGoesOn) {
  TempDir t;
  Put(t / "dir/file", "content\n");
  auto a = Viewfs({"ro=" + t / "dir"});
  auto f = Faulty("leakfd");
  a.insert(a.end(), f.begin(), f.end());
  a.insert(a.end(), {"--", "sh", "-c",
                     Tracee("fault_getppid") + " 5000; cat " + t / "dir/file" + "; echo x > " +
                         t / "dir/file" + " 2>/dev/null || echo refused"});
  // A soft limit well below 5000 so the test does not depend on the machine's. Under
  // AddressSanitizer no leak check for this run: LeakSanitizer needs a descriptor of its own at
  // exit (/proc/self/task), and umview ends it with none left.
  std::vector<std::string> cmd = {
      "sh", "-c",
      "ulimit -n 1024 && ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" exec "
      "\"$0\" "
      "\"$@\"",
      UmviewBin()};
  cmd.insert(cmd.end(), a.begin(), a.end());
  RunResult r = test::Run(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("EMFILE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("content\nrefused\n"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(ReadFile(t / "dir/file"), "content\n");
}

TEST(PluginFaults, CrashingPluginIsNamedAndNoTraceeSurvives) {
  TempDir t;
  auto a = Faulty("segv");
  a.insert(a.end(), {"--", Tracee("fault_getppid"), "1", t / "pid", t / "bg"});
  RunResult r = RunUmview(a);
  EXPECT_EQ(r.signal, SIGSEGV) << r.err;
  EXPECT_NE(r.err.find("umview: plugin 'faulty' crashed (SIGSEGV)"), std::string::npos) << r.err;
  // EXITKILL: every tracee died with umview, none runs on unvirtualized.
  for (const char* f : {"bg", "pid"}) {
    pid_t p = atoi(ReadFile(t / f).c_str());
    ASSERT_GT(p, 0) << f;
    for (int i = 0; i < 100 && Alive(p); ++i) usleep(20000);
    EXPECT_FALSE(Alive(p)) << f << " pid " << p << " survived umview";
  }
}

// umview SIGKILLed at random points of a cow workload: no tracee survives, the lower layer is
// untouched, and every name in the upper layer is a whole copy (copy-up is temp file + rename)
// or the copy with the workload's append.
TEST(UmviewKilled, MidCowWorkloadLeavesNoTraceeAndAConsistentUpperLayer) {
  std::mt19937 rng(std::random_device{}());
  const std::string big(256 * 1024, 'A');
  for (int round = 0; round < 5; ++round) {
    TempDir t;
    for (int i = 0; i < 40; ++i) Put(t / ("lower/f" + std::to_string(i)), big);
    mkdir((t / "upper").c_str(), 0755);
    TreeSnapshot lower = Snapshot(t / "lower");
    std::string script = "echo $$ > " + t / "pid" + "; for i in $(seq 0 39); do echo B >> " +
                         t / "lower" + "/f$i; done; sleep 1000";
    std::vector<std::string> argv = {
        UmviewBin(), "-p",  "viewfs,cow=" + t / "lower" + ":" + t / "upper", "--", "sh",
        "-c",        script};
    pid_t u = fork();
    if (u == 0) {
      std::vector<char*> av;
      for (auto& s : argv) av.push_back(s.data());
      av.push_back(nullptr);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execv(av[0], av.data());
      _exit(127);
    }
    // Wait for the shell to start, then kill umview somewhere in the copy-ups.
    for (int i = 0; i < 500 && ReadFile(t / "pid").empty(); ++i) usleep(2000);
    usleep(std::uniform_int_distribution<int>(0, 60000)(rng));
    kill(u, SIGKILL);
    int st;
    waitpid(u, &st, 0);
    pid_t sh = atoi(ReadFile(t / "pid").c_str());
    for (int i = 0; i < 100 && sh > 0 && Alive(sh); ++i) usleep(20000);
    EXPECT_FALSE(sh > 0 && Alive(sh)) << "the view's shell survived umview";
    ExpectSameTree(lower, Snapshot(t / "lower"));
    for (const auto& name : HostList(t / "upper")) {
      if (name.rfind(".wh.", 0) == 0) continue;  // a temporary copy-up name: never shown
      std::string data = ReadFile(t / "upper" + "/" + name);
      EXPECT_TRUE(data == big || data == big + "B\n")
          << "round " << round << ": upper/" << name << " has " << data.size() << " bytes";
    }
  }
}

// A command that exits 3 and leaves a daemon working: umview returns only after the daemon,
// still in the view, finished its work (which ends 0.3 s after it is told to stop).
void ExpectDaemonWaitedFor(const std::vector<std::string>& umview_args) {
  TempDir t;
  // setsid + double fork: the daemon is nobody's child in the view once its parent exits.
  std::string script = "(setsid sh -c 'while [ ! -e " + t / "stop" +
                       " ]; do sleep 0.05; done; sleep 0.3; echo " + "done > " + t / "done" +
                       "' </dev/null >/dev/null 2>&1 &) ; exit 3";  // EOF is no sign then
  std::thread stopper([&] {
    for (int i = 0; i < 1000 && !Exists(t / "started"); ++i) usleep(10000);
    Put(t / "stop", "");
  });
  RunResult r = ShIn(umview_args, "touch " + t / "started" + "; " + script);
  stopper.join();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(ReadFile(t / "done"), "done\n");
}

TEST(TraceeLifecycle, DaemonOutlivingTheCommandIsWaitedForByDefault) {
  ExpectDaemonWaitedFor(Viewfs({"hide=/nonexistent-hidden"}));
}

// The same in a view with no plugin, which runs untraced: umview is the view's subreaper.
TEST(TraceeLifecycle, DaemonOutlivingTheCommandIsWaitedForInAnUntracedView) {
  ExpectDaemonWaitedFor({});
}

// umview with --kill-on-exit ran a command that exits 3 and left a daemon, whose pid is in
// pid_file: umview returned with the command's status, and the daemon is gone.
void ExpectDaemonKilled(const RunResult& r, const std::string& pid_file) {
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.signal, SIGKILL) << "umview was still waiting for the daemon";
  pid_t d = atoi(ReadFile(pid_file).c_str());
  ASSERT_GT(d, 0);
  for (int i = 0; i < 100 && Alive(d); ++i) usleep(20000);
  EXPECT_FALSE(Alive(d));
}

TEST(TraceeLifecycle, KillOnExitKillsWhatTheCommandLeftRunning) {
  TempDir t;
  std::string script = "(setsid sh -c 'echo $$ > " + t / "daemon" +
                       "; while true; do sleep 0.05; done' &) ; while [ ! -s " + t / "daemon" +
                       " ]; do sleep 0.01; done; exit 3";
  std::vector<std::string> args = {
      "--kill-on-exit", "-p", "viewfs,hide=" + t / "nothing", "--", "sh", "-c", script};
  // Would hang until the timeout if the daemon were waited for.
  ExpectDaemonKilled(RunUmview(args), t / "daemon");
}

// A view with no plugin does not stop at execve (EngineConfig::observe_exec): an exec from a
// thread other than the leader leaves a record of a tid that is gone. umview still ends with
// the command, and --kill-on-exit still kills what the exec'd program left running.
TEST(TraceeLifecycle, ViewWithNoPluginFollowsExecsFromThreads) {
  RunResult r = RunUmview({"--", Tracee("eng_exec_thread"), "/bin/sh", "-c", "echo ran; exit 33"});
  EXPECT_EQ(r.exit_code, 33) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  r = RunUmview({"--", Tracee("eng_exec_thread"), "--from-main", "/bin/sh", "-c", "exit 34"});
  EXPECT_EQ(r.exit_code, 34) << r.err;

  TempDir t;
  std::string script = "(setsid " + Tracee("eng_exec_thread") + " /bin/sh -c 'echo $$ > " +
                       t / "daemon" + "; while true; do sleep 0.05; done' &) ; while [ ! -s " +
                       t / "daemon" + " ]; do sleep 0.01; done; exit 3";
  ExpectDaemonKilled(RunUmview({"--kill-on-exit", "--", "sh", "-c", script}), t / "daemon");
}

TEST(TraceeLifecycle, ZombiesParentsExitingFirstAndFailedExecs) {
  // A child left a zombie by its parent, an orphan that outlives its parent, and an exec of a
  // missing program: each exit status is what it is natively.
  std::string script =
      "sh -c '(exit 7) & sleep 0.2; exit 5'; a=$?;"
      " sh -c '(sleep 0.3; exit 9) & exit 4'; b=$?;"
      " /nonexistent/prog 2>/dev/null; c=$?;"
      " sh -c 'kill -9 $$'; d=$?;"
      " echo $a $b $c $d";
  RunResult native = test::Run({"sh", "-c", script});
  RunResult view = ShIn(Viewfs({"hide=/nonexistent-hidden"}), script);
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_EQ(view.out, native.out);
  EXPECT_EQ(view.out, "5 4 127 137\n");
}

TEST(TraceeLifecycle, TraceeKilledInsideATrappedCall) {
  TempDir t;
  mkdir((t / "ro").c_str(), 0755);
  ASSERT_EQ(mkfifo((t / "ro/fifo").c_str(), 0644), 0);
  // open of a FIFO with no writer blocks in the kernel after viewfs let it through.
  std::string script = "cat " + t / "ro/fifo" + " & echo $! > " + t / "pid" + "; wait $!; echo $?";
  std::thread killer([&] {
    for (int i = 0; i < 1000 && ReadFile(t / "pid").empty(); ++i) usleep(10000);
    usleep(100000);
    pid_t p = atoi(ReadFile(t / "pid").c_str());
    if (p > 0) kill(p, SIGKILL);
  });
  RunResult r = ShIn(Viewfs({"ro=" + t / "ro"}), script);
  killer.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "137\n");
}

// Disk full in the upper layer (a 1 MiB tmpfs, mounted by the test: needs root): copy-up and
// writes fail with ENOSPC, the lower file stays as it was, and no partial copy is left.
TEST(DiskFull, UpperLayerOnAFullTmpfsSaysENOSPCAndCorruptsNothing) {
  TempDir t;
  Put(t / "lower/big", std::string(2 * 1024 * 1024, 'L'));
  Put(t / "lower/small", "small\n");
  mkdir((t / "upper").c_str(), 0755);
  if (geteuid() != 0 || mount("tmpfs", (t / "upper").c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  }
  TreeSnapshot lower = Snapshot(t / "lower");
  std::string v = t / "lower";
  RunResult r = ShIn(Viewfs({"cow=" + v + ":" + t / "upper"}),
                     "{ echo x >> " + v +
                         "/big; } 2>&1 | grep -o 'No space left on device';"
                         " echo more >> " +
                         v + "/small && cat " + v +
                         "/small;"
                         " { head -c 3000000 /dev/zero > " +
                         v +
                         "/new; } 2>&1 | grep -o 'No space left on device';"
                         " rm -f " +
                         v + "/new; cat " + v + "/small");
  TreeSnapshot after = Snapshot(t / "lower");
  std::vector<std::string> upper = HostList(t / "upper");
  umount2((t / "upper").c_str(), MNT_DETACH);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "No space left on device\nsmall\nmore\nNo space left on device\nsmall\nmore\n");
  ExpectSameTree(lower, after);
  for (const auto& n : upper) EXPECT_TRUE(n == "small" || n.rfind(".wh.", 0) == 0) << n;
}

}  // namespace
}  // namespace umview::test
