// umnet: what the network looks like to a view — no network, loopback only, allow/deny rules,
// private ports with publishing, connect redirections. Sockets stay real kernel sockets: only the
// calls that carry an address (socket, connect, bind, sendto, sendmsg, sendmmsg, accept,
// getsockname, getpeername) stop, and data moves at native speed. In mode=none/loopback the view
// sees only its interfaces (`lo`, or none): NETLINK_ROUTE sockets are emulated (route_socket.h)
// and the SIOCGIF* ioctls answer for the view's interfaces only (interfaces.h).
//
//   -p umnet,mode=none                      AF_INET/AF_INET6/AF_PACKET/... refused, AF_UNIX works
//   -p umnet,mode=loopback,log=FILE         only loopback destinations and binds; refusals logged
//   -p umnet,allow=127.0.0.0/8:8000-9000,deny=0.0.0.0/0
//   -p umnet,ports=private,publish=18080:80
//   -p umnet,redirect=db.internal:5432=127.0.0.1:15432
//
// Errno choices (what a missing stack, a missing route or a firewall gives outside):
//   socket() of a refused family   EAFNOSUPPORT  (a kernel built without that family)
//   connect/send, mode default     ENETUNREACH   (no route: the view has only `lo`, or nothing)
//   bind, mode default             EADDRNOTAVAIL (the address is on no interface of the view)
//   a deny= rule                   EACCES        (as Landlock's network rules)
//   an accepted peer refused       the connection is shut down at once: the program reads EOF
//                                  (it already holds the descriptor; see the report on gaps)
#include <fcntl.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugins/umnet/address.h"
#include "plugins/umnet/interfaces.h"
#include "plugins/umnet/policy.h"
#include "plugins/umnet/port_map.h"
#include "plugins/umnet/route_socket.h"
#include "plugins/umnet/socket_peek.h"
#include "umview/plugin.h"

namespace umnet {
namespace {

using umview::Call;
using umview::Host;
using umview::Options;
using umview::RemotePtr;

enum class Mode { kNone, kLoopback, kHost };
enum class Op { kConnect, kSend, kBind };

const char* ModeName(Mode m) {
  return m == Mode::kNone ? "none" : m == Mode::kLoopback ? "loopback" : "host";
}

const char* ErrnoName(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "E?";
}

// The families a view may still create sockets of. Everything else reaches beyond the host
// (or its hardware) and is refused: mode=none keeps AF_UNIX, AF_NETLINK (interface listings,
// no traffic) and AF_ALG (kernel crypto); loopback adds AF_INET/AF_INET6, whose addresses the
// policy then checks. AF_PACKET is refused in both: it would bypass every address check.
bool FamilyAllowed(Mode mode, int family) {
  if (mode == Mode::kHost) return true;
  if (family == AF_UNIX || family == AF_NETLINK || family == AF_ALG) return true;
  return mode == Mode::kLoopback && (family == AF_INET || family == AF_INET6);
}

struct Redirect {
  Endpoint from;  // Effective() form
  Endpoint to;
  std::string text;
};

// What an exit of this thread's call must finish.
struct Pending {
  enum Kind { kNone, kBind, kSendmmsg } kind = kNone;
  int fd = -1;
  int type = -1;
  uint16_t view_port = 0;
  uint64_t vec = 0;  // sendmmsg: the program's mmsghdr array
};

class UmnetPlugin : public umview::Plugin {
 public:
  ~UmnetPlugin() override {
    if (log_ != nullptr) fclose(log_);
  }

  bool Init(Host& host, const Options& options, std::string* error) override {
    bool mode_given = false;
    for (const auto& o : options) {
      if (!o.has_value) {
        *error = "option '" + o.key + "' needs a value (" + kUsage + ")";
        return false;
      }
      if (o.key == "mode") {
        if (o.value == "none") {
          mode_ = Mode::kNone;
        } else if (o.value == "loopback") {
          mode_ = Mode::kLoopback;
        } else if (o.value == "host") {
          mode_ = Mode::kHost;
        } else {
          *error = "mode='" + o.value + "' (expected none, loopback or host)";
          return false;
        }
        mode_given = true;
      } else if (o.key == "allow" || o.key == "deny") {
        if (!policy_.Add(o.value, o.key == "allow", error)) return false;
      } else if (o.key == "log") {
        if (o.value.empty()) {
          *error = "log= needs a file name";
          return false;
        }
        if (log_ != nullptr) fclose(log_);
        log_ = nullptr;  // a later failure must not leave a closed stream behind
        int fd = open(o.value.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || (log_ = fdopen(fd, "a")) == nullptr) {
          *error = "log=" + o.value + ": " + strerror(errno);
          if (fd >= 0) close(fd);
          return false;
        }
      } else if (o.key == "ports") {
        if (o.value != "private" && o.value != "shared") {
          *error = "ports='" + o.value + "' (expected private or shared)";
          return false;
        }
        private_ports_ = o.value == "private";
      } else if (o.key == "publish") {
        if (!ParseList(o.value, &UmnetPlugin::AddPublish, error)) return false;
        private_ports_ = true;  // a published port is a private port pinned to a host port
      } else if (o.key == "redirect") {
        if (!ParseList(o.value, &UmnetPlugin::AddRedirect, error)) return false;
      } else {
        *error = "unknown option '" + o.key + "' (" + kUsage + ")";
        return false;
      }
    }
    if (!mode_given) mode_ = Mode::kHost;
    for (int f = 0; f < 64; ++f) {
      if (!FamilyAllowed(mode_, f)) host.ClaimSocketFamily(f);
    }
    if (mode_ != Mode::kHost) {
      // Interface views: NETLINK_ROUTE sockets are umnet's, and the interface ioctls stop
      // (only those request numbers: the filter compares ioctl's second argument).
      ifaces_ = std::make_unique<InterfaceView>(mode_ == Mode::kLoopback);
      host.ClaimSocketFamily(AF_NETLINK);
      for (unsigned long request : InterfaceIoctls()) {
        host.ClaimSyscallWhen(SYS_ioctl, 1, request, true);
      }
    }
    checks_ = mode_ != Mode::kHost || !policy_.empty();
    bool rewrites = private_ports_ || !redirects_.empty();
    if (checks_ || rewrites) {
      host.NeedScratch();
      for (int nr : {SYS_connect, SYS_bind, SYS_sendmsg, SYS_sendmmsg}) {
        host.ClaimSyscall(nr);
      }
      // A sendto without an address (send(), write-like) cannot change where data goes: only
      // those with one stop.
      host.ClaimSyscallWhen(SYS_sendto, 4, 0, false);
      // Its submissions connect, bind and send with no system call umview could see.
      host.ClaimSyscall(SYS_io_uring_setup);
    }
    if (!policy_.empty() || private_ports_) {
      host.ClaimSyscall(SYS_accept);
      host.ClaimSyscall(SYS_accept4);
    }
    if (private_ports_) {
      host.ClaimSyscall(SYS_getsockname);
      host.ClaimSyscall(SYS_getpeername);
      // Source addresses of received datagrams: a view's UDP server answers from its view
      // port. recv() without an address, read() and TCP never stop.
      host.ClaimSyscallWhen(SYS_recvfrom, 4, 0, false);
      host.ClaimSyscall(SYS_recvmsg);
      host.ClaimSyscall(SYS_recvmmsg);
    }
    return true;
  }

  void OnEntry(Call& call) override {
    switch (call.nr()) {
      case SYS_socket:
      case SYS_socketpair:
        return Socket(call);
      case SYS_connect:
        return AddressArg(call, Op::kConnect, 1, 2);
      case SYS_bind:
        return AddressArg(call, Op::kBind, 1, 2);
      case SYS_sendto:
        return AddressArg(call, Op::kSend, 4, 5);
      case SYS_sendmsg:
        return SendMsg(call);
      case SYS_sendmmsg:
        return SendMmsg(call);
      case SYS_accept:
      case SYS_accept4:
      case SYS_getsockname:
      case SYS_getpeername:
        return call.RequestExit();
      case SYS_io_uring_setup:
        return call.Fail(ENOSYS);
      case SYS_ioctl:
        if (ifaces_) ifaces_->OnIoctl(call);
        return;
      case SYS_recvfrom:
      case SYS_recvmsg:
      case SYS_recvmmsg:
        // Only a datagram from a mapped port needs its source changed.
        if (ports_.Maps(SOCK_DGRAM)) call.RequestExit();
        return;
    }
  }

  void OnExit(Call& call) override {
    switch (call.nr()) {
      case SYS_accept:
      case SYS_accept4:
        return AcceptExit(call);
      case SYS_getsockname:
      case SYS_getpeername:
        return NameExit(call, call.nr() == SYS_getpeername);
      case SYS_recvfrom:
      case SYS_recvmsg:
      case SYS_recvmmsg:
        return RecvExit(call);
    }
    auto it = pending_.find(call.tid());
    if (it == pending_.end()) return;
    Pending p = it->second;
    pending_.erase(it);
    if (p.kind == Pending::kBind) {
      BindExit(call, p);
    } else if (p.kind == Pending::kSendmmsg) {
      SendmmsgExit(call, p);
    }
  }

  void OnTaskExit(pid_t tid, int) override { pending_.erase(tid); }
  void OnShutdown() override {
    if (log_ != nullptr) fflush(log_);
  }

 private:
  static constexpr const char* kUsage =
      "expected mode=none|loopback|host, allow=RULE, deny=RULE, log=FILE, ports=private|shared, "
      "publish=HOST:VIEW, redirect=NAME_OR_ADDR:PORT=ADDR:PORT";

  bool ParseList(const std::string& value, bool (UmnetPlugin::*add)(std::string_view, std::string*),
                 std::string* error) {
    size_t i = 0;
    while (true) {
      size_t j = value.find('+', i);
      std::string_view item = std::string_view(value).substr(i, j == std::string::npos ? j : j - i);
      if (!(this->*add)(item, error)) return false;
      if (j == std::string::npos) return true;
      i = j + 1;
    }
  }

  bool AddPublish(std::string_view item, std::string* error) {
    size_t colon = item.find(':');
    uint16_t host = 0, view = 0;
    if (colon == std::string_view::npos || !ParsePort(item.substr(0, colon), &host) ||
        !ParsePort(item.substr(colon + 1), &view) || host == 0 || view == 0) {
      *error = "publish='" + std::string(item) + "' (expected HOST_PORT:VIEW_PORT, 1-65535)";
      return false;
    }
    ports_.Pin(view, host);
    return true;
  }

  // NAME_OR_ADDR:PORT=ADDR:PORT. A name is resolved once, here, to all its addresses.
  bool AddRedirect(std::string_view item, std::string* error) {
    size_t eq = item.find('=');
    std::string from_host, to_host;
    uint16_t from_port = 0, to_port = 0;
    if (eq == std::string_view::npos) {
      *error = "redirect='" + std::string(item) + "' (expected NAME_OR_ADDR:PORT=ADDR:PORT)";
      return false;
    }
    std::string e;
    if (!ParseHostPort(item.substr(0, eq), &from_host, &from_port, &e) ||
        !ParseHostPort(item.substr(eq + 1), &to_host, &to_port, &e)) {
      *error = "redirect: " + e;
      return false;
    }
    Endpoint to;
    if (!ParseAddress(to_host, &to)) {
      *error = "redirect: target '" + to_host + "' is not a numeric IPv4 or IPv6 address";
      return false;
    }
    to.port = to_port;
    std::vector<Endpoint> froms;
    Endpoint ep;
    if (ParseAddress(from_host, &ep)) {
      froms.push_back(ep);
    } else {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = getaddrinfo(from_host.c_str(), nullptr, &hints, &res);
      if (rc != 0) {
        *error = "redirect: cannot resolve '" + from_host + "': " + gai_strerror(rc);
        return false;
      }
      for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        if (FromSockaddr(a->ai_addr, a->ai_addrlen, &ep)) froms.push_back(ep);
      }
      freeaddrinfo(res);
    }
    for (Endpoint f : froms) {
      f = f.Effective();
      f.port = from_port;
      redirects_.push_back({f, to, std::string(item)});
    }
    return true;
  }

  void Log(Call& call, const std::string& what, int err, const std::string& why) {
    if (log_ == nullptr) return;
    fprintf(log_, "pid=%d %s: %s (%s)\n", call.pid(), what.c_str(), ErrnoName(err), why.c_str());
    fflush(log_);
  }

  void Socket(Call& call) {
    int family = static_cast<int>(call.arg(0));
    if (family == AF_NETLINK && ifaces_ && call.nr() == SYS_socket &&
        call.arg(2) == NETLINK_ROUTE) {
      return RouteSocketFor(call);
    }
    if (FamilyAllowed(mode_, family)) return;
    const char* name = call.nr() == SYS_socket ? "socket" : "socketpair";
    Log(call, std::string(name) + "(" + FamilyName(family) + ")", EAFNOSUPPORT,
        std::string("mode=") + ModeName(mode_));
    call.Fail(EAFNOSUPPORT);
  }

  // socket(AF_NETLINK, SOCK_RAW|SOCK_DGRAM, NETLINK_ROUTE) in an interface view: the program
  // gets an emulated socket that answers with the view's interfaces only.
  void RouteSocketFor(Call& call) {
    int type = static_cast<int>(call.arg(1)) & 0xf;
    int flags = static_cast<int>(call.arg(1)) & ~0xf;
    if (type != SOCK_RAW && type != SOCK_DGRAM) return;  // the kernel refuses it
    if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return call.Fail(EINVAL);
    // SOCK_CLOEXEC and SOCK_NONBLOCK are O_CLOEXEC and O_NONBLOCK on Linux.
    int r = call.ReturnFile(
        std::make_shared<RouteSocket>(*ifaces_, type, call.pid()),
        ((flags & SOCK_CLOEXEC) ? O_CLOEXEC : 0) | ((flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0));
    if (r < 0) call.Fail(-r);
  }

  // The socket type of the tracee's fd (for port mapping), SOCK_STREAM if it cannot be seen.
  int SocketType(Call& call, int fd) {
    SocketPeek s(call.pid(), fd);
    int t = s.Type();
    return t < 0 ? SOCK_STREAM : t;
  }

  // The policy and rewrites for one address. Returns 0 with *ep possibly changed, or the errno
  // the call must fail with (already logged).
  int Decide(Call& call, Op op, int fd, Endpoint* ep, Pending* pending) {
    const char* name = op == Op::kConnect ? "connect" : op == Op::kBind ? "bind" : "sendto";
    if (call.nr() == SYS_sendmsg) name = "sendmsg";
    if (call.nr() == SYS_sendmmsg) name = "sendmmsg";
    const std::string asked = Format(*ep);
    if (op != Op::kBind) {
      Endpoint eff = ep->Effective();
      for (const Redirect& r : redirects_) {
        if (r.from.family != eff.family || r.from.addr != eff.addr || r.from.port != eff.port) {
          continue;
        }
        Endpoint to;
        if (!ConvertFamily(r.to, ep->family, &to)) {
          Log(call, std::string(name) + " " + asked, EAFNOSUPPORT,
              "redirect=" + r.text + ": target family differs from the socket's");
          return EAFNOSUPPORT;
        }
        to.flowinfo = ep->flowinfo;
        *ep = to;
        break;
      }
    }
    if (op == Op::kBind && mode_ == Mode::kLoopback && ep->IsAny()) {
      // The view has no interface but lo: a wildcard bind listens there only.
      Endpoint lo;
      ParseAddress(ep->family == AF_INET ? "127.0.0.1" : "::1", &lo);
      if (ep->family == AF_INET6 && ep->Effective().family == AF_INET) {
        ParseAddress("::ffff:127.0.0.1", &lo);
      }
      lo.port = ep->port;
      lo.scope_id = ep->scope_id;
      *ep = lo;
    }
    // A bind to port 0 offers no service: only the address is checked (by the mode), and the
    // traffic is checked where it goes.
    if (checks_) {
      const Rule* rule = (op == Op::kBind && ep->port == 0) ? nullptr : policy_.Match(*ep);
      int err = 0;
      std::string why;
      if (rule != nullptr) {
        if (!rule->allow) err = EACCES, why = rule->text;
      } else if (mode_ == Mode::kNone) {
        err = op == Op::kBind ? EADDRNOTAVAIL : ENETUNREACH;
        why = "mode=none";
      } else if (mode_ == Mode::kLoopback && !ep->IsLocal()) {
        err = op == Op::kBind ? EADDRNOTAVAIL : ENETUNREACH;
        why = "mode=loopback";
      }
      if (err != 0) {
        std::string what = std::string(name) + " " + asked;
        if (Format(*ep) != asked) what += " (redirected to " + Format(*ep) + ")";
        Log(call, what, err, why);
        return err;
      }
    }
    if (private_ports_ && ep->IsLocal()) {
      if (op == Op::kBind) {
        if (ep->port != 0) {
          int type = SocketType(call, fd);
          *pending = {Pending::kBind, fd, type, ep->port, 0};
          ep->port = ports_.BindTarget(type, ep->port);
        }
      } else if (ports_.Knows(ep->port)) {
        if (auto host = ports_.HostFor(SocketType(call, fd), ep->port)) ep->port = *host;
      }
    }
    return 0;
  }

  // Reads the address the program passed, decides, and gives the kernel a checked copy in
  // scratch memory (another thread can no longer change it). Returns false if the call was
  // completed (refused) here.
  // `in_msghdr`: the name of a msghdr, which the kernel truncates to sockaddr_storage where
  // connect/bind/sendto refuse a longer one with EINVAL.
  bool CheckedName(Call& call, Op op, int fd, uint64_t addr, socklen_t len, bool in_msghdr,
                   uint64_t* new_addr, socklen_t* new_len, Pending* pending) {
    *new_addr = addr;
    *new_len = len;
    if (in_msghdr) len = std::min<socklen_t>(len, sizeof(sockaddr_storage));
    if (addr == 0 || len < sizeof(sa_family_t) || len > sizeof(sockaddr_storage)) return true;
    sockaddr_storage ss{};
    if (call.Read(RemotePtr<void>(addr), &ss, len) != 0) return true;  // the kernel says EFAULT
    // 6.x: udp_sendmsg, raw/ping sendmsg and inet_bind (for INADDR_ANY) take an AF_UNSPEC
    // address as AF_INET. Decide on that reading. A send keeps AF_UNSPEC (to an IPv6 socket it
    // means "no address"); a bind gets AF_INET, which inet_bind treats the same and which still
    // works once a wildcard became 127.0.0.1 (inet6_bind refuses both with EAFNOSUPPORT).
    bool unspec = op != Op::kConnect && ss.ss_family == AF_UNSPEC && len >= sizeof(sockaddr_in);
    if (unspec) ss.ss_family = AF_INET;
    Endpoint ep;
    if (FromSockaddr(&ss, len, &ep)) {
      int err = Decide(call, op, fd, &ep, pending);
      if (err != 0) {
        call.Fail(err);
        return false;
      }
      len = ToSockaddr(ep, &ss);
    }
    if (unspec && op != Op::kBind) ss.ss_family = AF_UNSPEC;
    RemotePtr<void> p = call.PutScratch(&ss, len);
    if (!p) {
      call.Fail(ENOMEM);
      return false;
    }
    *new_addr = p.addr();
    *new_len = len;
    return true;
  }

  void AddressArg(Call& call, Op op, int addr_arg, int len_arg) {
    // A call the kernel restarts after a signal comes back with the checked copy umnet made.
    if (call.InScratch(call.arg(addr_arg))) return;
    int fd = static_cast<int>(call.arg(0));
    uint64_t addr;
    socklen_t len;
    Pending pending;
    if (!CheckedName(call, op, fd, call.arg(addr_arg), static_cast<socklen_t>(call.arg(len_arg)),
                     false, &addr, &len, &pending)) {
      return;
    }
    call.SetArg(addr_arg, addr);
    call.SetArg(len_arg, len);
    if (pending.kind != Pending::kNone) {
      pending_[call.tid()] = pending;
      call.RequestExit();
    }
  }

  // A copy of the msghdr with a checked name, in scratch memory; 0 if the call was completed.
  uint64_t CheckedMsghdr(Call& call, const msghdr& in) {
    msghdr out = in;
    uint64_t name;
    socklen_t len;
    Pending unused;
    if (!CheckedName(call, Op::kSend, static_cast<int>(call.arg(0)),
                     reinterpret_cast<uint64_t>(in.msg_name), in.msg_namelen, true, &name, &len,
                     &unused)) {
      return 0;
    }
    out.msg_name = reinterpret_cast<void*>(name);
    out.msg_namelen = len;
    RemotePtr<void> p = call.PutScratch(&out, sizeof out);
    if (!p) call.Fail(ENOMEM);
    return p.addr();
  }

  void SendMsg(Call& call) {
    if (call.InScratch(call.arg(1))) return;  // restarted: already checked
    msghdr m;
    if (call.Read(RemotePtr<void>(call.arg(1)), &m, sizeof m) != 0) return;
    if (uint64_t p = CheckedMsghdr(call, m)) call.SetArg(1, p);
  }

  // sendmmsg writes each msg_len back into the program's array, so that array cannot be swapped
  // for a read-only copy: the call becomes a sendmsg of the first message (a short sendmmsg is
  // legal; callers loop), and the exit writes msg_len and answers 1.
  void SendMmsg(Call& call) {
    if (call.arg(2) == 0) return;
    mmsghdr m;
    if (call.Read(RemotePtr<void>(call.arg(1)), &m, sizeof m) != 0) return;
    uint64_t p = CheckedMsghdr(call, m.msg_hdr);
    if (p == 0) return;
    uint64_t vec = call.arg(1), flags = call.arg(3);
    call.SetNr(SYS_sendmsg);
    call.SetArg(1, p);
    call.SetArg(2, flags);
    pending_[call.tid()] = {Pending::kSendmmsg, static_cast<int>(call.arg(0)), -1, 0, vec};
    call.RequestExit();
  }

  void SendmmsgExit(Call& call, const Pending& p) {
    int64_t r = call.result();
    if (r < 0) return;  // the error of the first message is sendmmsg's error too
    unsigned len = static_cast<unsigned>(r);
    call.Write(RemotePtr<void>(p.vec + offsetof(mmsghdr, msg_len)), &len, sizeof len);
    call.SetResult(1);
  }

  void BindExit(Call& call, const Pending& p) {
    if (call.result() != 0) return;
    SocketPeek s(call.pid(), p.fd);
    Endpoint local;
    if (!s.Local(&local)) return;
    ports_.Record(p.type, p.view_port, local.port);
  }

  // Rewrites the port of the address the kernel wrote at (addr, *addrlen) to the view's port.
  void RewriteName(Call& call, uint64_t addr, uint64_t addrlen_ptr, int type, bool local) {
    if (addr == 0 || addrlen_ptr == 0) return;
    socklen_t len = 0;
    if (call.Read(RemotePtr<void>(addrlen_ptr), &len, sizeof len) != 0) return;
    sockaddr_storage ss{};
    socklen_t got = std::min<socklen_t>(len, sizeof ss);
    if (call.Read(RemotePtr<void>(addr), &ss, got) != 0) return;
    Endpoint ep;
    if (!FromSockaddr(&ss, got, &ep)) return;
    if (!local && !ep.IsLocal()) return;  // a remote peer's port is not the view's
    auto view = ports_.ViewFor(type, ep.port);
    if (!view) return;
    uint16_t be = htons(*view);
    // sin_port and sin6_port are at the same offset.
    call.Write(RemotePtr<void>(addr + offsetof(sockaddr_in, sin_port)), &be, sizeof be);
  }

  void NameExit(Call& call, bool peer) {
    if (call.result() != 0 || !private_ports_) return;
    RewriteName(call, call.arg(1), call.arg(2), SocketType(call, static_cast<int>(call.arg(0))),
                !peer);
  }

  // A datagram received from a view's port shows that port, not the host port it was bound to.
  void RecvExit(Call& call) {
    int64_t r = call.result();
    if (r < 0) return;
    if (call.nr() == SYS_recvfrom) {
      return RewriteName(call, call.arg(4), call.arg(5), SOCK_DGRAM, false);
    }
    size_t count = call.nr() == SYS_recvmmsg ? static_cast<size_t>(r) : 1;
    size_t stride = call.nr() == SYS_recvmmsg ? sizeof(mmsghdr) : sizeof(msghdr);
    for (size_t i = 0; i < count; ++i) {
      uint64_t hdr = call.arg(1) + i * stride;
      msghdr m;
      if (call.Read(RemotePtr<void>(hdr), &m, sizeof m) != 0) return;
      RewriteName(call, reinterpret_cast<uint64_t>(m.msg_name), hdr + offsetof(msghdr, msg_namelen),
                  SOCK_DGRAM, false);
    }
  }

  void AcceptExit(Call& call) {
    int64_t r = call.result();
    if (r < 0) return;
    SocketPeek s(call.pid(), static_cast<int>(r));
    int type = s.Type();
    if (checks_) {
      Endpoint peer, local;
      if (s.Peer(&peer) && s.Local(&local)) {
        // Rules name the service port: the peer's address with the (view) port it reached.
        Endpoint key = peer;
        key.port = ports_.ViewFor(type, local.port).value_or(local.port);
        const Rule* rule = policy_.Match(key);
        std::string why;
        if (rule != nullptr) {
          if (!rule->allow) why = rule->text;
        } else if (mode_ == Mode::kNone) {
          why = "mode=none";
        } else if (mode_ == Mode::kLoopback && !peer.IsLoopback()) {
          why = "mode=loopback";
        }
        if (!why.empty()) {
          shutdown(s.fd(), SHUT_RDWR);
          Log(call, "accept from " + Format(peer) + " on port " + std::to_string(key.port),
              ECONNABORTED, why + "; connection shut down");
        }
      }
    }
    if (private_ports_) RewriteName(call, call.arg(1), call.arg(2), type, false);
  }

  Mode mode_ = Mode::kHost;
  bool checks_ = false;
  bool private_ports_ = false;
  Policy policy_;
  PortMap ports_;
  std::vector<Redirect> redirects_;
  std::unique_ptr<InterfaceView> ifaces_;  // mode=none/loopback only
  FILE* log_ = nullptr;
  std::map<pid_t, Pending> pending_;  // by tid
};

}  // namespace
}  // namespace umnet

UMVIEW_PLUGIN(umnet::UmnetPlugin, "umnet",
              "network views: none, loopback, allow/deny rules, private ports, redirects")
