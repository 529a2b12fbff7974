// Deferred calls: a plugin answers a call later (from another tracee's call, a plugin thread, a
// watched descriptor) while the tracer goes on serving the rest of the view.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

RunResult Sh(const std::string& script) {
  TempDir dir;
  RunOptions o;
  o.extra_env = {"T=" + Tracee("defer_tool")};
  o.cwd = dir.path();
  return RunUmview({"-p", TestPluginPath("defer"), "--", "sh", "-c", script}, o);
}

// Waits (by asking the plugin, no sleeping) until N calls wait on key K.
std::string AwaitWaiters(int key, int n) {
  return "until [ \"$($T count " + std::to_string(key) + ")\" = count=" + std::to_string(n) +
         " ]; do :; done; ";
}

TEST(Defer, AnotherTraceeFinishesAWaitingCall) {
  // The waiter stays stopped in its call; the shell and the releaser keep running: the tracer
  // did not block on it.
  RunResult r =
      Sh("$T wait 7 > w.out & " + AwaitWaiters(7, 1) + "$T release 7 42; wait $!; cat w.out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "release=1\nwait=42\n");
}

TEST(Defer, SeveralWaitersReleasedTogetherAndPassThrough) {
  // A finish that changes nothing lets the kernel run the call: getpriority(0x4d4d) is EINVAL.
  RunResult r = Sh("$T wait 3 > a.out & $T wait 3 > b.out & $T pass 3 > c.out & " +
                   AwaitWaiters(3, 3) + "$T release 3 5; wait; cat a.out b.out c.out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "release=3\nwait=5\nwait=5\npass=-22\n");
}

TEST(Defer, FinishedFromAPluginThreadAndFromAWatchedDescriptor) {
  RunResult r = Sh("$T thread 11; $T pipe 12; $T thread 13");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "thread=11\npipe=12\nthread=13\n");
}

TEST(Defer, AWaiterKilledWhileWaitingLeavesTheViewWorking) {
  RunResult r = Sh("$T wait 9 & p=$!; " + AwaitWaiters(9, 1) +
                   "kill -9 $p; wait $p; echo status=$?; $T count 9; $T release 9 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "status=137\ncount=0\nrelease=0\n");
}

// Host::WatchSignal: a caught signal to a waiting thread reaches the plugin, which answers the
// call; the handler then runs. A signal that ends the process (SIGTERM, no handler) does too,
// and the process dies of it. SIGCHLD (ignored by default) interrupts nothing.
TEST(Defer, SignalsReachTheWaitingCallsPlugin) {
  RunResult r = Sh("$T signal 4 > s.out & p=$!; " + AwaitWaiters(4, 1) +
                   "kill -CHLD $p; sleep 0.3; $T count 4; kill -USR1 $p; wait $p; echo status=$?; "
                   "cat s.out; "
                   "$T signal 5 & p=$!; " +
                   AwaitWaiters(5, 1) + "kill -TERM $p; wait $p; echo status=$?; $T count 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "count=1\nstatus=0\nsignal=10\nhandled=1\nstatus=143\ncount=0\n");
}

TEST(Defer, ManyThreadedCompletionsInARow) {
  RunResult r =
      Sh("i=0; while [ $i -lt 200 ]; do $T thread $i >/dev/null || exit 1; "
         "i=$((i+1)); done; $T thread 200");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "thread=200\n");
}

}  // namespace
}  // namespace umview::test
