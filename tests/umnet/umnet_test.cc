// umnet through the real umview binary: real servers and clients, on loopback only. Addresses
// outside loopback appear only as TEST-NET-1 (192.0.2.0/24) destinations a view must refuse at
// the call's entry; the tool connects non-blocking, so a SYN that left would show as EINPROGRESS.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

std::string Tool() { return Tracee("umnet_tool"); }

RunResult Umnet(const std::string& opts, const std::vector<std::string>& cmd) {
  std::vector<std::string> args = {"-p", PluginPath("umnet") + (opts.empty() ? "" : "," + opts),
                                   "--"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  return RunUmview(args);
}

RunResult UmnetSh(const std::string& opts, const std::string& script) {
  return Umnet(opts, {"sh", "-c", script});
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// A free TCP port on 127.0.0.1 (the kernel's choice; closed again at once).
int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool HaveIpv6Loopback() {
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

// A listening socket held by the test process on the host, 127.0.0.1:port (0: any free port).
class HostListener {
 public:
  explicit HostListener(int port = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd_, 8) == 0;
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~HostListener() {
    if (server_.joinable()) server_.join();
    close(fd_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  // Serves `n` clients: each gets `token`, then the connection is closed.
  void Serve(const std::string& token, int n = 1) {
    server_ = std::thread([this, token, n] {
      for (int i = 0; i < n; ++i) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 20000) != 1) return;
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        (void)!write(c, token.data(), token.size());
        close(c);
      }
    });
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::thread server_;
};

// Connects from the host to 127.0.0.1:port (from `source` if given) and reads until EOF.
std::string HostFetch(int port, const char* source = nullptr) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (source != nullptr) {
    sockaddr_in b{};
    b.sin_family = AF_INET;
    inet_pton(AF_INET, source, &b.sin_addr);
    if (bind(s, reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) return "bind failed";
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return std::string("connect: ") + strerror(errno);
  }
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) got.append(buf, n);
  close(s);
  return got;
}

// umview running in the background, its stdout read line by line.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      setpgid(0, 0);
      signal(SIGPIPE, SIG_DFL);
      std::vector<char*> a;
      std::string bin = UmviewBin();
      a.push_back(bin.data());
      for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
  }
  ~Background() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  // The next line of output (without '\n'), or "" after `seconds` or at EOF.
  std::string ReadLine(int seconds = 20) {
    while (true) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, seconds * 1000) != 1) return "";
      char b[512];
      ssize_t n = read(out_, b, sizeof b);
      if (n <= 0) return "";
      buf_.append(b, n);
    }
  }
  // Waits for the exit; returns the exit status (or -1) and the rest of the output.
  int Wait(std::string* rest) {
    std::string line;
    while (!(line = ReadLine()).empty()) *rest += line + "\n";
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
};

// ---- mode=none ---------------------------------------------------------------------------

TEST(UmnetNone, RefusesNetworkSocketsWithEafnosupportAndLogsThem) {
  TempDir t;
  RunResult r =
      UmnetSh("mode=none,log=" + t / "refused.log",
              Tool() + " socket inet; " + Tool() + " socket inet6; " + Tool() + " socket packet; " +
                  Tool() + " socket unix; " + Tool() + " socket netlink");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "socket EAFNOSUPPORT\nsocket EAFNOSUPPORT\nsocket EAFNOSUPPORT\nsocket ok\nsocket ok\n");
  std::string log = ReadFile(t / "refused.log");
  EXPECT_EQ(Lines(log), 3) << log;
  EXPECT_NE(log.find("socket(AF_INET): EAFNOSUPPORT (mode=none)"), std::string::npos) << log;
  EXPECT_NE(log.find("socket(AF_INET6)"), std::string::npos) << log;
  EXPECT_NE(log.find("socket(AF_PACKET)"), std::string::npos) << log;
  EXPECT_NE(log.find("pid="), std::string::npos) << log;
}

TEST(UmnetNone, PythonSeesNoNetworkButUnixSocketsWork) {
  TempDir t;
  std::string py = R"(
import socket, sys, os
try:
    socket.create_connection(("127.0.0.1", 9))
    print("connected")
except OSError as e:
    print("inet", e.errno == __import__("errno").EAFNOSUPPORT)
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path); srv.listen(1)
if os.fork() == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(path); c.sendall(b"hi"); os._exit(0)
conn, _ = srv.accept()
print("unix", conn.recv(10).decode())
)";
  RunResult r = Umnet("mode=none", {"python3", "-c", py, t / "sock"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "inet True\nunix hi\n");
}

// ---- mode=loopback -----------------------------------------------------------------------

TEST(UmnetLoopback, RefusesNonLoopbackDestinationsAtEntryWithEnetunreach) {
  TempDir t;
  std::string T = Tool();
  RunResult r = UmnetSh("mode=loopback,log=" + t / "log",
                        T + " connect 192.0.2.1 80; " + T + " connect ::ffff:192.0.2.7 443; " + T +
                            " sendto 192.0.2.1 53; " + T + " sendmsg 192.0.2.1 53; " + T +
                            " sendmmsg 192.0.2.1 53; " + T + " sendto-unspec 192.0.2.1 53");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "connect ENETUNREACH\nconnect ENETUNREACH\nsendto ENETUNREACH\nsendmsg "
            "ENETUNREACH\nsendmmsg ENETUNREACH\nsendto ENETUNREACH\n")
      << "AF_UNSPEC is AF_INET to udp_sendmsg: no way around the check";
  std::string log = ReadFile(t / "log");
  EXPECT_EQ(Lines(log), 6) << log;
  EXPECT_NE(log.find("connect 192.0.2.1:80: ENETUNREACH (mode=loopback)"), std::string::npos)
      << log;
  EXPECT_NE(log.find("connect [::ffff:192.0.2.7]:443"), std::string::npos) << log;
  EXPECT_NE(log.find("sendmmsg 192.0.2.1:53"), std::string::npos) << log;
}

TEST(UmnetLoopback, RefusedCallsNeverReachTheKernel) {
  // 192.0.2.0/24 may well be routable here (it is on some CI machines): outside a view the
  // non-blocking connect would start (EINPROGRESS, a local port bound, EALREADY after).
  HostListener lo;
  ASSERT_TRUE(lo.ok());
  lo.Serve("x");
  RunResult r = Umnet("mode=loopback",
                      {Tool(), "connect-probe", "192.0.2.1", "80", std::to_string(lo.port())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "connect ENETUNREACH\nlocal 0.0.0.0:0\nthen ok\n")
      << "no local port was taken and the socket was never connecting: no SYN left";
  r = Umnet("mode=loopback", {Tool(), "sendto-probe", "192.0.2.1", "53"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "sendto ENETUNREACH\nlocal 0.0.0.0:0\n") << "the kernel never saw a datagram";
}

TEST(UmnetLoopback, LoopbackTrafficFlowsUdpAndSendmmsgToo) {
  std::string py = R"(
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sendto(b"one", u.getsockname())
c.sendmsg([b"two"], [], 0, u.getsockname())
print(u.recv(10).decode(), u.recv(10).decode())
)";
  RunResult r = Umnet("mode=loopback", {"python3", "-c", py});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one two\n");
  r = Umnet("mode=loopback", {Tool(), "sendmmsg", "127.0.0.1", "9"});
  EXPECT_EQ(r.out, "sent 1 len0=1\nsendmmsg ok\n") << "one message per call, msg_len written";
}

TEST(UmnetLoopback, BindsOnlyLoopbackAndTheWildcardBecomesLoopback) {
  TempDir t;
  std::string T = Tool();
  RunResult r = UmnetSh("mode=loopback,log=" + t / "log",
                        T + " bind 192.0.2.1 0; " + T + " bind 0.0.0.0 0 | cut -d: -f1; " + T +
                            " bind 127.0.0.2 0 udp | cut -d: -f1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bind EADDRNOTAVAIL\nbind ok 127.0.0.1\nbind ok 127.0.0.2\n");
  EXPECT_NE(ReadFile(t / "log").find("bind 192.0.2.1:0: EADDRNOTAVAIL"), std::string::npos);
  if (HaveIpv6Loopback()) {
    r = Umnet("mode=loopback", {T, "bind", "::", "0"});
    EXPECT_EQ(r.out.rfind("bind ok [::1]:", 0), 0u) << r.out;
  }
}

TEST(UmnetLoopback, PythonHttpServerAndClientInTheView) {
  int port = FreePort();
  std::string script = "python3 -m http.server " + std::to_string(port) +
                       " --bind 0.0.0.0 --directory /usr/share >/dev/null 2>&1 & "
                       "python3 -c \"import time,urllib.request\n"
                       "for i in range(100):\n"
                       "  try:\n"
                       "    r=urllib.request.urlopen('http://127.0.0.1:" +
                       std::to_string(port) +
                       "/', timeout=5); print(r.status); break\n"
                       "  except OSError: time.sleep(0.1)\n\"; kill $!";
  RunResult r = UmnetSh("mode=loopback", script);
  EXPECT_EQ(r.out, "200\n") << r.err;
}

// ---- allow= / deny= ----------------------------------------------------------------------

TEST(UmnetRules, FirstMatchWinsOverCidrAndPortRangesBothFamilies) {
  TempDir t;
  HostListener open_port;  // a real server in the allowed range... or not: see below
  ASSERT_TRUE(open_port.ok());
  std::string T = Tool();
  // 8000-9000 style range built around a free port so that the allowed connect really connects.
  int p = open_port.port();
  std::string range = std::to_string(p) + "-" + std::to_string(p);
  std::string opts = "allow=127.0.0.0/8:" + range + "+[::1]:" + range +
                     ",deny=0.0.0.0/0,deny=::/0,log=" + t / "log";
  std::string sp = std::to_string(p), other = std::to_string(p == 65535 ? p - 1 : p + 1);
  std::string script = T + " connect 127.0.0.1 " + sp + "; " + T + " connect 127.0.0.1 " + other +
                       "; " + T + " connect 192.0.2.1 " + sp + "; " + T + " sendto 127.0.0.1 " +
                       other + "; " + T + " connect ::1 " + other + "; " + T +
                       " connect ::ffff:127.0.0.1 " + other;
  RunResult r = UmnetSh(opts, script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  for (size_t i = 0, j; (j = r.out.find('\n', i)) != std::string::npos; i = j + 1) {
    lines.push_back(r.out.substr(i, j - i));
  }
  ASSERT_EQ(lines.size(), 6u) << r.out;
  EXPECT_TRUE(lines[0] == "connect ok" || lines[0] == "connect EINPROGRESS") << lines[0];
  EXPECT_EQ(lines[1], "connect EACCES");
  EXPECT_EQ(lines[2], "connect EACCES");
  EXPECT_EQ(lines[3], "sendto EACCES");
  EXPECT_EQ(lines[4], "connect EACCES");
  EXPECT_EQ(lines[5], "connect EACCES") << "a mapped address meets the IPv4 rules";
  std::string log = ReadFile(t / "log");
  EXPECT_EQ(Lines(log), 5) << log;
  EXPECT_NE(log.find("connect 127.0.0.1:" + other + ": EACCES (deny=0.0.0.0/0)"), std::string::npos)
      << log;
  EXPECT_NE(log.find("connect [::1]:" + other + ": EACCES (deny=::/0)"), std::string::npos) << log;
}

TEST(UmnetRules, OrderDecidesAndTheModeIsTheDefault) {
  std::string T = Tool();
  // deny first: the narrower deny wins over the wider allow after it; no match -> mode default.
  RunResult r = UmnetSh("mode=loopback,deny=127.0.0.1:7+127.0.0.3,allow=127.0.0.0/8",
                        T + " connect 127.0.0.1 7; " + T + " connect 127.0.0.3 9; " + T +
                            " connect 192.0.2.1 7; " + T + " bind 127.0.0.1 7; " + T +
                            " bind 127.0.0.3 0 | cut -d: -f1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "connect EACCES\nconnect EACCES\nconnect ENETUNREACH\nbind EACCES\nbind ok "
            "127.0.0.3\n")
      << "a port-0 bind offers no service: rules do not apply to it";
}

TEST(UmnetRules, RefusedAcceptedPeerIsShutDownAndLogged) {
  TempDir t;
  int port = FreePort();
  Background srv({"-p", PluginPath("umnet") + ",deny=127.0.0.2,log=" + t / "log", "--", Tool(),
                  "serve", "127.0.0.1", std::to_string(port), "TOKEN"});
  ASSERT_EQ(srv.ReadLine(), "listening 127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(HostFetch(port, "127.0.0.2"), "") << "the refused peer reads EOF, not the token";
  std::string rest;
  EXPECT_EQ(srv.Wait(&rest), 0);
  EXPECT_EQ(rest.rfind("accepted peer=127.0.0.2:", 0), 0u) << rest;
  std::string log = ReadFile(t / "log");
  EXPECT_NE(log.find("accept from 127.0.0.2:"), std::string::npos) << log;
  EXPECT_NE(log.find("(deny=127.0.0.2; connection shut down)"), std::string::npos) << log;

  Background ok({"-p", PluginPath("umnet") + ",deny=127.0.0.2", "--", Tool(), "serve", "127.0.0.1",
                 std::to_string(port), "TOKEN"});
  ASSERT_EQ(ok.ReadLine(), "listening 127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(HostFetch(port), "TOKEN");
}

// ---- ports=private, publish= -------------------------------------------------------------

TEST(UmnetPrivatePorts, TwoViewsListenOnTheSamePortAtOnceWhileTheHostHoldsIt) {
  HostListener host;  // the host itself already listens on that port
  ASSERT_TRUE(host.ok());
  std::string port = std::to_string(host.port());
  TempDir t;
  RunResult r[2];
  std::thread views[2];
  for (int i = 0; i < 2; ++i) {
    views[i] = std::thread([&, i] {
      r[i] = Umnet("ports=private",
                   {Tool(), "pair", port, "view" + std::to_string(i), t.path(), std::to_string(i)});
    });
  }
  for (auto& v : views) v.join();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r[i].exit_code, 0) << r[i].err;
    EXPECT_NE(r[i].out.find("listening 127.0.0.1:" + port + "\n"), std::string::npos) << r[i].out;
    EXPECT_NE(r[i].out.find("peer=127.0.0.1:" + port + "\n"), std::string::npos) << r[i].out;
    EXPECT_NE(r[i].out.find("local=127.0.0.1:" + port + "\n"), std::string::npos) << r[i].out;
    EXPECT_NE(r[i].out.find("got=view" + std::to_string(i) + "\n"), std::string::npos)
        << "each view's client reaches its own server: " << r[i].out;
  }
}

TEST(UmnetPrivatePorts, PythonSocketNamesAreViewPorts) {
  HostListener host;
  ASSERT_TRUE(host.ok());
  std::string py = R"(
import socket, sys, os
port = int(sys.argv[1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(1)
print("sockname", srv.getsockname()[1] == port)
c = socket.create_connection(("127.0.0.1", port))
print("peername", c.getpeername()[1] == port)
conn, addr = srv.accept()
print("accept peer", addr == c.getsockname())
print("accepted sockname", conn.getsockname()[1] == port)
c.sendall(b"ping"); print(conn.recv(4).decode())
)";
  RunResult r = Umnet("ports=private", {"python3", "-c", py, std::to_string(host.port())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "sockname True\npeername True\naccept peer True\naccepted sockname True\nping\n");
}

TEST(UmnetPrivatePorts, UdpDatagramsReachTheViewPort) {
  int port = FreePort();
  // The host takes the UDP port too, so the view's bind can only work through the mapping.
  int hold = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ASSERT_EQ(bind(hold, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string py = R"(
import socket, sys
port = int(sys.argv[1])
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.0.0.1", port))
print("sockname", srv.getsockname()[1] == port)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sendto(b"ping", ("127.0.0.1", port))
data, peer = srv.recvfrom(10)
srv.sendto(data.upper(), peer)
print(c.recv(10).decode())
)";
  RunResult r = Umnet("ports=private", {"python3", "-c", py, std::to_string(port)});
  close(hold);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "sockname True\nPING\n");
}

TEST(UmnetPrivatePorts, UdpRepliesComeFromTheViewPort) {
  int port = FreePort();
  int hold = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // the host holds the port too
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ASSERT_EQ(bind(hold, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // An echo server in the view answers to whatever recvfrom/recvmsg said; the client checks
  // who answered with recvfrom, recvmsg and (from a connected socket) getpeername.
  std::string py = R"(
import socket, sys
port = int(sys.argv[1])
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.0.0.1", port))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sendto(b"one", ("127.0.0.1", port))
data, peer = srv.recvfrom(10); srv.sendto(data, peer)
data, src = c.recvfrom(10)
print(data.decode(), src == ("127.0.0.1", port))
c.sendto(b"two", ("127.0.0.1", port))
data, anc, flags, peer = srv.recvmsg(10); srv.sendmsg([data], [], 0, peer)
data, anc, flags, src = c.recvmsg(10)
print(data.decode(), src == ("127.0.0.1", port))
c.connect(("127.0.0.1", port)); c.send(b"three")
data, peer = srv.recvfrom(10); srv.sendto(data, peer)
print(c.recv(10).decode(), c.getpeername() == ("127.0.0.1", port))
)";
  RunResult r = Umnet("ports=private", {"python3", "-c", py, std::to_string(port)});
  close(hold);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one True\ntwo True\nthree True\n");
}

TEST(UmnetPrivatePorts, UnmappedLoopbackPortsStillReachTheHost) {
  HostListener host;
  ASSERT_TRUE(host.ok());
  host.Serve("from-host");
  RunResult r = Umnet("ports=private", {Tool(), "fetch", "127.0.0.1", std::to_string(host.port())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "peer=127.0.0.1:" + std::to_string(host.port()) + "\ngot=from-host\n");
}

TEST(UmnetPrivatePorts, PublishMakesAViewPortReachableFromTheHost) {
  int host_port = FreePort();
  Background srv({"-p", PluginPath("umnet") + ",publish=" + std::to_string(host_port) + ":80", "--",
                  Tool(), "serve", "127.0.0.1", "80", "published"});
  ASSERT_EQ(srv.ReadLine(), "listening 127.0.0.1:80") << "the view sees the port it asked for";
  EXPECT_EQ(HostFetch(host_port), "published");
  std::string rest;
  EXPECT_EQ(srv.Wait(&rest), 0);
  EXPECT_NE(rest.find(" local=127.0.0.1:80\n"), std::string::npos) << rest;
}

// ---- redirect= ---------------------------------------------------------------------------

TEST(UmnetRedirect, ConnectTargetsAreRewrittenBeforeThePolicy) {
  HostListener target;
  ASSERT_TRUE(target.ok());
  target.Serve("redirected", 2);
  std::string to = "127.0.0.1:" + std::to_string(target.port());
  // A TEST-NET destination in a loopback-only view: only the redirect makes it reachable.
  RunResult r =
      Umnet("mode=loopback,redirect=192.0.2.1:5432=" + to, {Tool(), "fetch", "192.0.2.1", "5432"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "peer=" + to + "\ngot=redirected\n");
  // A name resolved at start (localhost, from /etc/hosts: no DNS), reached from an IPv6 socket
  // through the mapped form of its IPv4 address.
  std::string dst = HaveIpv6Loopback() ? "::ffff:127.0.0.1" : "127.0.0.1";
  r = Umnet("mode=loopback,redirect=localhost:7=" + to, {Tool(), "fetch", dst, "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("got=redirected\n"), std::string::npos) << r.out;
}

// ---- options -----------------------------------------------------------------------------

TEST(UmnetOptions, BadOptionsExitTwoWithOneLine) {
  for (const char* bad :
       {"mode=offline", "allow=10.0.0.0/33", "deny=", "allow=1.2.3.4:99999", "ports=secret",
        "publish=80", "publish=0:80", "redirect=1.2.3.4:80", "redirect=1.2.3.4:80=db:5432",
        "bogus=1", "mode", "log=/nonexistent-dir/x.log"}) {
    RunResult r = Umnet(bad, {"true"});  // never starts: no command output
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(Lines(r.err), 1) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("umnet"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << bad;
  }
}

TEST(UmnetOptions, HostModeWithoutRulesLeavesTheNetworkAlone) {
  HostListener host;
  ASSERT_TRUE(host.ok());
  host.Serve("plain");
  RunResult r = Umnet("mode=host", {Tool(), "fetch", "127.0.0.1", std::to_string(host.port())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "peer=127.0.0.1:" + std::to_string(host.port()) + "\ngot=plain\n");
}

}  // namespace
}  // namespace umview::test
