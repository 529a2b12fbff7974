// umnet interface views through the real umview binary: what getifaddrs, if_nameindex,
// SIOCGIFCONF and the per-interface ioctls, Python and iproute2 show in mode=loopback (only lo)
// and mode=none (nothing), compared with what the same programs see on the host.
#include <gtest/gtest.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

RunResult Umnet(const std::string& opts, const std::vector<std::string>& cmd) {
  std::vector<std::string> args = {"-p", PluginPath("umnet") + "," + opts, "--"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  return RunUmview(args);
}

// The line of `out` that starts with `prefix` (without its '\n'), or "".
std::string Line(const std::string& out, const std::string& prefix) {
  for (size_t i = 0, j; i < out.size(); i = j + 1) {
    j = out.find('\n', i);
    if (j == std::string::npos) j = out.size();
    if (out.compare(i, prefix.size(), prefix) == 0) return out.substr(i, j - i);
  }
  return "";
}

struct HostInterface {
  std::string name;
  unsigned index = 0;
};

// An interface of the host other than lo, or none (a host with only lo cannot show hiding).
HostInterface OtherInterface() {
  HostInterface other;
  struct if_nameindex* ni = if_nameindex();
  for (auto* p = ni; p != nullptr && p->if_index != 0; ++p) {
    if (std::string(p->if_name) != "lo") {
      other = {p->if_name, p->if_index};
      break;
    }
  }
  if (ni != nullptr) if_freenameindex(ni);
  return other;
}

std::string IpBinary() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

TEST(UmnetInterfaces, LoopbackViewShowsOnlyLoThroughEveryDoor) {
  HostInterface other = OtherInterface();
  if (other.name.empty()) GTEST_SKIP() << "the host has no interface but lo: nothing to hide";
  unsigned lo = if_nametoindex("lo");
  std::vector<std::string> cmd = {Tracee("umnet_ifaces"), "lo", other.name,
                                  "#" + std::to_string(other.index), "#" + std::to_string(lo)};
  // Outside the view the same program sees the other interface (so hiding it is umnet's doing).
  RunResult host = test::Run(cmd);
  ASSERT_EQ(host.exit_code, 0) << host.err;
  ASSERT_NE(Line(host.out, "nameindex").find(":" + other.name), std::string::npos) << host.out;
  ASSERT_EQ(Line(host.out, other.name + " ").find(" flags="), other.name.size()) << host.out;

  RunResult r = Umnet("mode=loopback", cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string ifa = Line(r.out, "getifaddrs");
  EXPECT_NE(ifa.find(" lo/AF_INET/127.0.0.1"), std::string::npos) << r.out;
  EXPECT_NE(ifa.find(" lo/AF_PACKET"), std::string::npos) << r.out;
  EXPECT_EQ(ifa.find(other.name), std::string::npos) << r.out;
  for (size_t i = ifa.find(' '); i != std::string::npos; i = ifa.find(' ', i + 1)) {
    EXPECT_EQ(ifa.compare(i + 1, 3, "lo/"), 0) << "only lo: " << ifa;
  }
  EXPECT_EQ(Line(r.out, "nameindex"), "nameindex " + std::to_string(lo) + ":lo");
  EXPECT_EQ(Line(r.out, "ifconf"), "ifconf lo/127.0.0.1 (probe 40)")
      << "one entry, and the size probe asks room for one";
  EXPECT_EQ(Line(r.out, "lo "), "lo flags=UP,LOOPBACK index=" + std::to_string(lo));
  EXPECT_EQ(Line(r.out, other.name + " "), other.name + " ENODEV");
  EXPECT_EQ(Line(r.out, "#" + std::to_string(other.index)),
            "#" + std::to_string(other.index) + " ENODEV");
  EXPECT_EQ(Line(r.out, "#" + std::to_string(lo)), "#" + std::to_string(lo) + " name=lo");
}

TEST(UmnetInterfaces, NoneViewShowsNoInterfaceAtAll) {
  unsigned lo = if_nametoindex("lo");
  RunResult r = Umnet("mode=none", {Tracee("umnet_ifaces"), "lo", "#" + std::to_string(lo)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "getifaddrs\nnameindex\nifconf (probe 0)\nlo ENODEV\n#" + std::to_string(lo) +
                       " ENODEV\n");
}

TEST(UmnetInterfaces, HostModeLeavesInterfacesAlone) {
  HostInterface other = OtherInterface();
  if (other.name.empty()) GTEST_SKIP() << "the host has no interface but lo";
  RunResult r = Umnet("mode=host,deny=192.0.2.0/24", {Tracee("umnet_ifaces"), other.name});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Line(r.out, "nameindex").find(":" + other.name), std::string::npos) << r.out;
  EXPECT_EQ(Line(r.out, other.name + " ").find(" flags="), other.name.size()) << r.out;
}

TEST(UmnetInterfaces, PythonSeesOnlyLo) {
  HostInterface other = OtherInterface();
  std::string py = R"(
import socket, sys
print(socket.if_nameindex(), socket.if_nametoindex("lo"))
for name in sys.argv[1:]:
    try:
        print(name, socket.if_nametoindex(name))
    except OSError:
        print(name, "unknown")
)";
  std::string lo = std::to_string(if_nametoindex("lo"));
  std::vector<std::string> cmd = {"python3", "-c", py};
  if (!other.name.empty()) cmd.push_back(other.name);
  RunResult r = Umnet("mode=loopback", cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[(" + lo + ", 'lo')] " + lo + "\n" +
                       (other.name.empty() ? "" : other.name + " unknown\n"));
  r = Umnet("mode=none", {"python3", "-c", "import socket; print(socket.if_nameindex())"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
}

TEST(UmnetInterfaces, EmulatedRouteSocketBehavesLikeTheKernels) {
  HostInterface other = OtherInterface();
  unsigned lo = if_nametoindex("lo");
  // A raw NETLINK_ROUTE socket: its address (the kernel's autobind: the pid, then a negative
  // number), its options, a receive with nothing queued, and single RTM_GETLINK requests.
  std::string py = R"(
import socket, os, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
print("address", s.getsockname() == (os.getpid(), 0))
s2 = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE); s2.bind((0, 0))
print("second", s2.getsockname()[0] not in (0, os.getpid()))
print("options", s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL),
      s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_RAW)
s.setblocking(False)
try:
    s.recv(100)
except BlockingIOError:
    print("empty EAGAIN")
for seq, index in enumerate(int(a) for a in sys.argv[1:]):
    s.send(struct.pack("=LHHLL", 32, 18, 1, seq, 0) + struct.pack("=BxHiII", 0, 0, index, 0, 0))
    data, sender = s.recvfrom(65536)
    length, kind, flags, rseq, pid = struct.unpack("=LHHLL", data[:16])
    ok = rseq == seq and pid == os.getpid() and sender == (0, 0)
    if kind == 2:
        print(index, "error", -struct.unpack("=i", data[16:20])[0], ok)
    else:
        print(index, "link", struct.unpack("=BxHiII", data[16:32])[2] == index, ok)
)";
  std::vector<std::string> cmd = {"python3", "-c", py, std::to_string(lo)};
  if (!other.name.empty()) cmd.push_back(std::to_string(other.index));
  RunResult r = Umnet("mode=loopback", cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "address True\nsecond True\noptions 0 True\nempty EAGAIN\n" +
                       std::to_string(lo) + " link True True\n" +
                       (other.name.empty() ? "" : std::to_string(other.index) + " error 19 True\n"))
      << "19 = ENODEV";
}

TEST(UmnetInterfaces, IprouteShowsOnlyLo) {
  std::string ip = IpBinary();
  if (ip.empty()) GTEST_SKIP() << "iproute2 is not installed";
  HostInterface other = OtherInterface();
  RunResult r = Umnet("mode=loopback", {ip, "-o", "addr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": lo    inet 127.0.0.1/8"), std::string::npos) << r.out;
  const std::string lo = std::to_string(if_nametoindex("lo")) + ": lo ";
  for (size_t i = 0, j; (j = r.out.find('\n', i)) != std::string::npos; i = j + 1) {
    EXPECT_EQ(r.out.compare(i, lo.size(), lo), 0) << "only lo: " << r.out;
  }
  r = Umnet("mode=loopback", {ip, "-o", "link"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find("lo: <LOOPBACK"), std::string::npos) << r.out;
  if (!other.name.empty()) {
    r = Umnet("mode=loopback", {ip, "link", "show", other.name});
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  }
  // Routes through lo only (the local table's loopback routes), none through other devices.
  r = Umnet("mode=loopback", {ip, "-4", "route", "show", "table", "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("127.0.0.1 dev lo"), std::string::npos) << r.out;
  if (!other.name.empty()) {
    EXPECT_EQ(r.out.find(other.name), std::string::npos) << r.out;
  }

  r = Umnet("mode=none", {ip, "-o", "addr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(UmnetInterfaces, ChangesThroughTheEmulatedSocketAreRefused) {
  std::string ip = IpBinary();
  if (ip.empty()) GTEST_SKIP() << "iproute2 is not installed";
  // Setting lo's MTU to the value it has: harmless even if it reached the host.
  RunResult mtu = test::Run({ip, "-o", "link", "show", "lo"});
  size_t at = mtu.out.find(" mtu ");
  ASSERT_NE(at, std::string::npos) << mtu.out;
  std::string value = mtu.out.substr(at + 5, mtu.out.find(' ', at + 5) - at - 5);
  RunResult r = Umnet("mode=loopback", {ip, "link", "set", "dev", "lo", "mtu", value});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace umview::test
