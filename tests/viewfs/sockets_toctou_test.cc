// viewfs: AF_UNIX socket paths in the view, and the check/use race on path buffers.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

TEST(ViewfsUnixSockets, BindConnectAndNamesInABind) {
  TempDir dir;
  std::string py =
      "import socket, os\n"
      "s = socket.socket(socket.AF_UNIX); s.bind('/sock/a'); s.listen(1)\n"
      "c = socket.socket(socket.AF_UNIX); c.connect('/sock/a')\n"
      "d, _ = s.accept()\n"
      "c.send(b'hi'); print(d.recv(2).decode(), s.getsockname(), c.getpeername(),\n"
      "      os.listdir('/sock'))\n";
  RunResult r =
      RunUmview({"-p", "viewfs,bind=" + dir.path() + ":/sock", "--", "python3", "-c", py});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi /sock/a /sock/a ['a']\n");
  struct stat st;
  EXPECT_EQ(stat((dir / "a").c_str(), &st), 0) << "the socket file lives in the bind source";
}

TEST(ViewfsUnixSockets, HiddenSocketIsUnreachable) {
  TempDir dir;
  std::string py =
      "import socket, sys\n"
      "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)\n";
  ASSERT_EQ(test::Run({"python3", "-c", py, dir / "srv"}).exit_code, 0);
  RunResult r = RunUmview({"-p", "viewfs,hide=" + dir.path(), "--", "python3", "-c",
                           "import socket, sys\n"
                           "try:\n"
                           "    socket.socket(socket.AF_UNIX).connect(sys.argv[1])\n"
                           "except OSError as e:\n"
                           "    print(e.errno)\n",
                           dir / "srv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2\n");  // ENOENT, not ECONNREFUSED: the path does not exist in the view
}

// A second thread rewrites the path between viewfs's check and the kernel's use, thousands of
// times: the kernel acts on the checked copy, so the hidden file is never read.
TEST(ViewfsRace, PathBufferRewrittenDuringTheCall) {
  TempDir dir;
  WriteFile(dir / "ok", "fine\n");
  ASSERT_EQ(mkdir((dir / "secret").c_str(), 0755), 0);
  WriteFile(dir / "secret/s", "SECRET\n");
  RunResult r = RunUmview({"-p", "viewfs,hide=" + (dir / "secret"), "--", Tracee("vfs_toctou"),
                           dir / "ok", dir / "secret/s", "3000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "opened=1 leaked=0\n");
}

}  // namespace
}  // namespace umview::test

namespace umview::test {
namespace {

// A call interrupted by a signal and restarted by the kernel comes back with the arguments
// viewfs gave it (a host path): it must not be translated again. Here the host path is hidden
// in the view, so a second translation would fail with ENOENT.
TEST(ViewfsRestart, RestartedOpenKeepsItsTranslatedPath) {
  TempDir dir;
  ASSERT_EQ(mkdir((dir / "src").c_str(), 0755), 0);
  ASSERT_EQ(mkfifo((dir / "src/fifo").c_str(), 0644), 0);
  RunResult r = RunUmview({"-p", "viewfs,bind=" + (dir / "src") + ":/v,hide=" + (dir / "src"), "--",
                           Tracee("vfs_restart"), "/v/fifo"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "opened alarms 1\n");
}

}  // namespace
}  // namespace umview::test
