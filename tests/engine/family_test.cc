// Routing by socket address family: only socket()/socketpair() of the claimed family reach the
// plugin; other families run natively.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/run.h"

namespace umview::test {
namespace {

TEST(SocketFamilyRouting, ClaimedFamilyOnly) {
  std::string py =
      "import socket\n"
      "for fam, kind in ((socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET6, "
      "socket.SOCK_DGRAM), (socket.AF_UNIX, socket.SOCK_STREAM)):\n"
      "    try:\n"
      "        socket.socket(fam, kind).close(); print(fam.name, 'ok')\n"
      "    except OSError as e:\n"
      "        print(fam.name, e.errno)\n"
      "try:\n"
      "    socket.socketpair(socket.AF_UNIX); print('pair ok')\n"
      "except OSError as e:\n"
      "    print('pair', e.errno)\n";
  RunResult r =
      RunUmview({"-p", TestPluginPath("family") + ",af=2,errno=13", "--", "python3", "-c", py});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "AF_INET 13\nAF_INET6 ok\nAF_UNIX ok\npair ok\n");
  RunResult unix_refused =
      RunUmview({"-p", TestPluginPath("family") + ",af=1,errno=97", "--", "python3", "-c", py});
  ASSERT_EQ(unix_refused.exit_code, 0) << unix_refused.err;
  EXPECT_EQ(unix_refused.out, "AF_INET ok\nAF_INET6 ok\nAF_UNIX 97\npair 97\n");
}

}  // namespace
}  // namespace umview::test

namespace umview::test {
namespace {

// A claim conditioned on an argument: the filter tests it, so only matching calls stop.
// umnet claims sendto only with an address: 50 send()s on a connected socket do not stop.
TEST(ConditionalClaims, OnlyMatchingCallsStop) {
  std::string py =
      "import socket\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
      "c = socket.create_connection(s.getsockname()); d, _ = s.accept()\n"
      "for i in range(50): c.send(b'x')\n"
      "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "for i in range(3): u.sendto(b'y', ('127.0.0.1', 9))\n";
  RunResult r = RunUmview({"--stats", "-p", "umnet,mode=loopback", "--", "python3", "-c", py});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t at = r.err.find("\nsendto ");
  ASSERT_NE(at, std::string::npos) << r.err;
  std::string line = r.err.substr(at + 1, r.err.find('\n', at + 1) - at - 1);
  std::istringstream fields(line);
  std::string name;
  long stops = -1;
  fields >> name >> stops;
  EXPECT_EQ(stops, 3) << line;  // the three sendto with an address, none of the sends
}

}  // namespace
}  // namespace umview::test
