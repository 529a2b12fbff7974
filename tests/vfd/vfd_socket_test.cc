// Socket calls on a virtual descriptor go to VirtualFile::SocketCall; a plugin file that does not
// stand in for a socket answers them as the kernel answers for any file that is not a socket.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

TEST(VirtualFdSockets, SocketCallsOnAPlainVirtualFileFailWithEnotsock) {
  TempDir dir;
  std::string target = dir / "vdev";
  WriteFile(target, "");
  // Outside a view a regular file gives ENOTSOCK too: the view answers the same.
  std::string py = R"(
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDWR)
buf = ctypes.create_string_buffer(128)
n = ctypes.c_uint(128)
for name, call in [("getsockopt", lambda: libc.getsockopt(fd, 1, 3, buf, ctypes.byref(n))),
                   ("getsockname", lambda: libc.getsockname(fd, buf, ctypes.byref(n))),
                   ("send", lambda: libc.send(fd, buf, 1, 0)),
                   ("recv", lambda: libc.recv(fd, buf, 1, 0)),
                   ("shutdown", lambda: libc.shutdown(fd, 2))]:
    r = call()
    print(name, "ok" if r >= 0 else os.strerror(ctypes.get_errno()))
print(os.read(fd, 5).decode())
)";
  RunResult host = test::Run({"python3", "-c", py, target});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  RunResult r = RunUmview({"-p", TestPluginPath("vfile") + ",path=" + target + ",content=hello",
                           "--", "python3", "-c", py, target});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string enotsock = "Socket operation on non-socket";
  EXPECT_EQ(r.out, "getsockopt " + enotsock + "\ngetsockname " + enotsock + "\nsend " + enotsock +
                       "\nrecv " + enotsock + "\nshutdown " + enotsock + "\nhello\n");
  EXPECT_EQ(host.out, r.out.substr(0, r.out.size() - 6) + "\n") << "the same errors outside";
}

}  // namespace
}  // namespace umview::test
