// The emulated NETLINK_ROUTE socket; see route_socket.h.
#include "plugins/umnet/route_socket.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
// After the libc headers: the kernel's netlink definitions.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

namespace umnet {

using umview::Call;
using umview::RemotePtr;

namespace {

constexpr size_t kMaxRequest = 64 * 1024;
constexpr int kDefaultBuf = 212992;  // what the kernel reports for SO_RCVBUF/SO_SNDBUF

// Addresses of emulated sockets in use (the kernel's portids are unique per protocol).
std::set<uint32_t>& UsedPortids() {
  static auto* used = new std::set<uint32_t>;  // never destroyed: sockets may outlive statics
  return *used;
}

uint64_t NextIno() {
  static uint64_t ino = 0x554d4e4554000000ull;  // "UMNET": apart from real socket inodes
  return ++ino;
}

// The tracee's iovec array as local copies of their descriptions.
int ReadIovecs(Call& call, uint64_t addr, size_t count, std::vector<iovec>* out) {
  if (count > 1024) return -EMSGSIZE;
  out->resize(count);
  if (count && call.Read(RemotePtr<void>(addr), out->data(), count * sizeof(iovec)) != 0) {
    return -EFAULT;
  }
  return 0;
}

}  // namespace

RouteSocket::RouteSocket(const InterfaceView& view, int type, pid_t pid)
    : view_(view), type_(type), pid_(pid), ino_(NextIno()) {
  helper_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

RouteSocket::~RouteSocket() {
  if (helper_ >= 0) close(helper_);
  if (portid_ != 0) UsedPortids().erase(portid_);
}

// The kernel's autobind: the process id for its first socket, then negative numbers.
void RouteSocket::Autobind() {
  if (portid_ != 0) return;
  auto& used = UsedPortids();
  uint32_t candidate = static_cast<uint32_t>(pid_);
  static uint32_t next = static_cast<uint32_t>(-4096);
  while (candidate == 0 || used.count(candidate)) candidate = next--;
  portid_ = candidate;
  used.insert(portid_);
}

int RouteSocket::Fstat(struct stat* st) {
  *st = {};
  st->st_mode = S_IFSOCK | 0777;
  st->st_ino = ino_;
  st->st_nlink = 1;
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_blksize = 4096;
  return 0;
}

void RouteSocket::QueueError(const nlmsghdr& request, int err) {
  struct {
    nlmsghdr h;
    nlmsgerr e;
  } m{};
  m.h.nlmsg_len = sizeof m;
  m.h.nlmsg_type = NLMSG_ERROR;
  m.h.nlmsg_flags = NLM_F_CAPPED;  // the request's header only, as with NETLINK_CAP_ACK
  m.h.nlmsg_seq = request.nlmsg_seq;
  m.h.nlmsg_pid = portid_;
  m.e.error = -err;
  m.e.msg = request;
  queue_.emplace_back(reinterpret_cast<const char*>(&m), sizeof m);
}

// One request message. GETs go to the kernel through the helper socket; their replies are
// filtered. Everything else (new, delete, set) is refused as an unprivileged user would be.
void RouteSocket::HandleRequest(const char* data, size_t len) {
  nlmsghdr h;
  memcpy(&h, data, sizeof h);
  if (h.nlmsg_type < RTM_BASE) return;  // NLMSG_NOOP, ...: nothing to answer
  if ((h.nlmsg_type & 3) != 2) {        // the kernel's own test for a GET (RTM_GETLINK, ...)
    QueueError(h, EPERM);
    return;
  }
  if (helper_ < 0 || send(helper_, data, len, 0) < 0) {
    QueueError(h, helper_ < 0 ? EAFNOSUPPORT : errno);
    return;
  }
  // The kernel answers a request inside send(); a dump goes on each time its reader drains the
  // queue, so reading until EAGAIN collects all of it without blocking.
  std::vector<char> buf(64 * 1024);
  bool dropped = false;
  std::deque<std::string> replies;
  while (true) {
    ssize_t n = recv(helper_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    std::string kept = view_.FilterReplies(buf.data(), static_cast<size_t>(n), portid_, &dropped);
    if (!kept.empty()) replies.push_back(std::move(kept));
  }
  if (dropped && !(h.nlmsg_flags & NLM_F_DUMP)) {
    // A single interface the view does not have: the kernel's answer for no such device, or
    // for a route lookup (`ip route get`) through one, no route.
    QueueError(h, h.nlmsg_type == RTM_GETROUTE ? ENETUNREACH : ENODEV);
    return;
  }
  for (auto& r : replies) queue_.push_back(std::move(r));
}

int64_t RouteSocket::Send(Call& call, uint64_t name, uint64_t namelen, std::string request) {
  if (name != 0) {
    sockaddr_nl to{};
    if (namelen < sizeof to) return -EINVAL;
    if (call.Read(RemotePtr<void>(name), &to, sizeof to) != 0) return -EFAULT;
    if (to.nl_family != AF_NETLINK) return -EINVAL;
    if (to.nl_pid != 0 || to.nl_groups != 0) return -ECONNREFUSED;  // only the kernel answers
  } else if (dst_portid_ != 0) {
    return -ECONNREFUSED;
  }
  (void)call;
  HandleRequests(request);
  return static_cast<int64_t>(request.size());
}

void RouteSocket::HandleRequests(const std::string& request) {
  Autobind();  // as the kernel does on a first send
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= request.size()) {
    nlmsghdr h;
    memcpy(&h, request.data() + off, sizeof h);
    if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > request.size()) break;
    HandleRequest(request.data() + off, h.nlmsg_len);
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
}

// write() and send() without an address: a request to the kernel.
int64_t RouteSocket::Write(const void* buf, size_t count) {
  if (dst_portid_ != 0) return -ECONNREFUSED;
  HandleRequests(std::string(static_cast<const char*>(buf), count));
  return static_cast<int64_t>(count);
}

int64_t RouteSocket::Take(size_t cap, int flags, std::string* out, bool* truncated) {
  *truncated = false;
  if (queue_.empty()) return -EAGAIN;  // nothing will come: umview cannot block the caller
  std::string& front = queue_.front();
  if (flags & MSG_PEEK) {
    *out = front.substr(0, cap);
    *truncated = front.size() > cap;
    return (flags & MSG_TRUNC) ? static_cast<int64_t>(front.size())
                               : static_cast<int64_t>(out->size());
  }
  // The kernel sizes each reply batch to the reader's buffer; a reply kept for a larger one is
  // handed out in whole messages that fit (a batch boundary may fall between any two).
  size_t take = 0;
  while (take + sizeof(nlmsghdr) <= front.size()) {
    nlmsghdr h;
    memcpy(&h, front.data() + take, sizeof h);
    if (h.nlmsg_len < sizeof h) {
      take = front.size();
      break;
    }
    size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), front.size() - take);
    if (take > 0 && take + step > cap) break;
    take += step;
    if (take >= cap) break;
  }
  if (take == 0 || take > front.size()) take = front.size();
  std::string chunk = front.substr(0, take);
  if (take == front.size()) {
    queue_.pop_front();
  } else {
    front.erase(0, take);
  }
  *truncated = chunk.size() > cap;
  int64_t full = static_cast<int64_t>(chunk.size());
  chunk.resize(std::min(chunk.size(), cap));
  *out = std::move(chunk);
  return (flags & MSG_TRUNC) ? full : static_cast<int64_t>(out->size());
}

int64_t RouteSocket::Read(void* buf, size_t count) {
  std::string data;
  bool truncated;
  int64_t r = Take(count, 0, &data, &truncated);
  if (r >= 0) memcpy(buf, data.data(), data.size());
  return r;
}

int64_t RouteSocket::PutName(Call& call, uint64_t addr, uint64_t lenp, uint32_t pid,
                             uint32_t groups) {
  if (addr == 0 || lenp == 0) return 0;
  socklen_t len = 0;
  if (call.Read(RemotePtr<void>(lenp), &len, sizeof len) != 0) return -EFAULT;
  if (static_cast<int>(len) < 0) return -EINVAL;
  sockaddr_nl nl{};
  nl.nl_family = AF_NETLINK;
  nl.nl_pid = pid;
  nl.nl_groups = groups;
  size_t n = std::min<size_t>(len, sizeof nl);
  if (n > 0 && call.Write(RemotePtr<void>(addr), &nl, n) != 0) return -EFAULT;
  socklen_t full = sizeof nl;
  if (call.Write(RemotePtr<void>(lenp), &full, sizeof full) != 0) return -EFAULT;
  return 0;
}

int64_t RouteSocket::RecvMsg(Call& call, uint64_t msghdr_addr, int flags) {
  msghdr m;
  if (call.Read(RemotePtr<void>(msghdr_addr), &m, sizeof m) != 0) return -EFAULT;
  std::vector<iovec> iov;
  if (int r = ReadIovecs(call, reinterpret_cast<uint64_t>(m.msg_iov), m.msg_iovlen, &iov)) {
    return r;
  }
  size_t cap = 0;
  for (const iovec& v : iov) cap += v.iov_len;
  std::string data;
  bool truncated;
  int64_t r = Take(cap, flags, &data, &truncated);
  if (r < 0) return r;
  size_t off = 0;
  for (const iovec& v : iov) {
    size_t n = std::min(v.iov_len, data.size() - off);
    if (n == 0) break;
    if (call.Write(RemotePtr<void>(reinterpret_cast<uint64_t>(v.iov_base)), data.data() + off, n) !=
        0) {
      return -EFAULT;
    }
    off += n;
  }
  // The sender is the kernel: port 0, no groups.
  if (m.msg_name != nullptr) {
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    size_t n = std::min<size_t>(m.msg_namelen, sizeof nl);
    if (n && call.Write(RemotePtr<void>(reinterpret_cast<uint64_t>(m.msg_name)), &nl, n) != 0) {
      return -EFAULT;
    }
    m.msg_namelen = sizeof nl;
  }
  m.msg_controllen = 0;
  m.msg_flags = truncated ? MSG_TRUNC : 0;
  if (call.Write(RemotePtr<void>(msghdr_addr), &m, sizeof m) != 0) return -EFAULT;
  return r;
}

int64_t RouteSocket::RecvFrom(Call& call) {
  uint64_t buf = call.arg(1), addr = call.arg(4), lenp = call.arg(5);
  size_t cap = call.arg(2);
  std::string data;
  bool truncated;
  int64_t r = Take(cap, static_cast<int>(call.arg(3)), &data, &truncated);
  if (r < 0) return r;
  if (!data.empty() && call.Write(RemotePtr<void>(buf), data.data(), data.size()) != 0) {
    return -EFAULT;
  }
  if (int64_t e = PutName(call, addr, lenp, 0, 0)) return e;
  return r;
}

int64_t RouteSocket::SendMsg(Call& call, uint64_t msghdr_addr) {
  msghdr m;
  if (call.Read(RemotePtr<void>(msghdr_addr), &m, sizeof m) != 0) return -EFAULT;
  std::vector<iovec> iov;
  if (int r = ReadIovecs(call, reinterpret_cast<uint64_t>(m.msg_iov), m.msg_iovlen, &iov)) {
    return r;
  }
  std::string request;
  for (const iovec& v : iov) {
    if (request.size() + v.iov_len > kMaxRequest) return -EMSGSIZE;
    std::string part(v.iov_len, '\0');
    if (v.iov_len && call.Read(RemotePtr<void>(reinterpret_cast<uint64_t>(v.iov_base)), part.data(),
                               v.iov_len) != 0) {
      return -EFAULT;
    }
    request += part;
  }
  return Send(call, reinterpret_cast<uint64_t>(m.msg_name), m.msg_namelen, std::move(request));
}

int64_t RouteSocket::SetSockOpt(Call& call) {
  int level = static_cast<int>(call.arg(1)), name = static_cast<int>(call.arg(2));
  int value = 0;
  if (call.arg(4) >= sizeof value) {
    if (call.Read(RemotePtr<void>(call.arg(3)), &value, sizeof value) != 0) return -EFAULT;
  } else if (level == SOL_NETLINK || level == SOL_SOCKET) {
    return -EINVAL;
  }
  if (level == SOL_NETLINK) {
    // Options that change what the kernel answers are set on the helper socket too.
    if (name == NETLINK_EXT_ACK || name == NETLINK_GET_STRICT_CHK || name == NETLINK_CAP_ACK) {
      if (setsockopt(helper_, SOL_NETLINK, name, &value, sizeof value) != 0) return -errno;
    }
    options_[{level, name}] = value;
    return 0;
  }
  if (level == SOL_SOCKET) {
    options_[{level, name}] = value;
    return 0;
  }
  return -ENOPROTOOPT;
}

int64_t RouteSocket::GetSockOpt(Call& call) {
  int level = static_cast<int>(call.arg(1)), name = static_cast<int>(call.arg(2));
  int value;
  if (level == SOL_SOCKET && name == SO_TYPE) {
    value = type_;
  } else if (level == SOL_SOCKET && name == SO_DOMAIN) {
    value = AF_NETLINK;
  } else if (level == SOL_SOCKET && name == SO_PROTOCOL) {
    value = NETLINK_ROUTE;
  } else if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF)) {
    auto it = options_.find({level, name});
    value = it == options_.end() ? kDefaultBuf : it->second * 2;  // the kernel doubles it
  } else if (level == SOL_SOCKET && name == SO_ERROR) {
    value = 0;
  } else if (level == SOL_SOCKET || level == SOL_NETLINK) {
    auto it = options_.find({level, name});
    value = it == options_.end() ? 0 : it->second;
  } else {
    return -ENOPROTOOPT;
  }
  uint64_t lenp = call.arg(4);
  socklen_t len = 0;
  if (call.Read(RemotePtr<void>(lenp), &len, sizeof len) != 0) return -EFAULT;
  if (static_cast<int>(len) < 0) return -EINVAL;
  len = std::min<socklen_t>(len, sizeof value);
  if (len && call.Write(RemotePtr<void>(call.arg(3)), &value, len) != 0) return -EFAULT;
  if (call.Write(RemotePtr<void>(lenp), &len, sizeof len) != 0) return -EFAULT;
  return 0;
}

int64_t RouteSocket::Ioctl(Call& call, unsigned long request, uint64_t arg) {
  if (request == FIONBIO) return 0;  // receives never block here anyway
  if (request == FIONREAD) {
    int n = queue_.empty() ? 0 : static_cast<int>(queue_.front().size());
    return call.Write(RemotePtr<void>(arg), &n, sizeof n);
  }
  return view_.Emulate(call, request, arg);
}

int64_t RouteSocket::SocketCall(Call& call) {
  switch (call.nr()) {
    case SYS_bind: {
      sockaddr_nl nl{};
      if (call.arg(2) < sizeof nl) return -EINVAL;
      if (call.Read(RemotePtr<void>(call.arg(1)), &nl, sizeof nl) != 0) return -EFAULT;
      if (nl.nl_family != AF_NETLINK) return -EINVAL;
      if (nl.nl_pid != 0) {
        if (portid_ != 0 && portid_ != nl.nl_pid) return -EINVAL;
        if (portid_ == 0) {
          if (UsedPortids().count(nl.nl_pid)) return -EADDRINUSE;
          portid_ = nl.nl_pid;
          UsedPortids().insert(portid_);
        }
      }
      Autobind();
      groups_ = nl.nl_groups;  // accepted; the view's interfaces never change, so no events
      return 0;
    }
    case SYS_connect: {
      sockaddr_nl nl{};
      if (call.arg(2) < sizeof(sa_family_t)) return -EINVAL;
      if (call.Read(RemotePtr<void>(call.arg(1)), &nl, std::min<size_t>(call.arg(2), sizeof nl)) !=
          0) {
        return -EFAULT;
      }
      if (nl.nl_family == AF_UNSPEC) {
        dst_portid_ = 0;
        return 0;
      }
      if (nl.nl_family != AF_NETLINK || call.arg(2) < sizeof nl) return -EINVAL;
      Autobind();
      dst_portid_ = nl.nl_pid;
      return 0;
    }
    case SYS_getsockname:
      return PutName(call, call.arg(1), call.arg(2), portid_, groups_);
    case SYS_getpeername:
      return PutName(call, call.arg(1), call.arg(2), dst_portid_, 0);
    case SYS_setsockopt:
      return SetSockOpt(call);
    case SYS_getsockopt:
      return GetSockOpt(call);
    case SYS_sendto: {
      size_t len = call.arg(2);
      if (len > kMaxRequest) return -EMSGSIZE;
      std::string request(len, '\0');
      if (len && call.Read(RemotePtr<void>(call.arg(1)), request.data(), len) != 0) return -EFAULT;
      return Send(call, call.arg(4), call.arg(5), std::move(request));
    }
    case SYS_sendmsg:
      return SendMsg(call, call.arg(1));
    case SYS_sendmmsg: {
      if (call.arg(2) == 0) return 0;
      int64_t r = SendMsg(call, call.arg(1));
      if (r < 0) return r;
      unsigned len = static_cast<unsigned>(r);
      call.Write(RemotePtr<void>(call.arg(1) + offsetof(mmsghdr, msg_len)), &len, sizeof len);
      return 1;
    }
    case SYS_recvfrom:
      return RecvFrom(call);
    case SYS_recvmsg:
      return RecvMsg(call, call.arg(1), static_cast<int>(call.arg(2)));
    case SYS_recvmmsg: {
      if (call.arg(2) == 0) return 0;
      int64_t r = RecvMsg(call, call.arg(1), static_cast<int>(call.arg(3)));
      if (r < 0) return r;
      unsigned len = static_cast<unsigned>(r);
      call.Write(RemotePtr<void>(call.arg(1) + offsetof(mmsghdr, msg_len)), &len, sizeof len);
      return 1;
    }
    case SYS_shutdown:
      return 0;
    case SYS_listen:
    case SYS_accept:
    case SYS_accept4:
      return -EOPNOTSUPP;
  }
  return -EOPNOTSUPP;
}

}  // namespace umnet
