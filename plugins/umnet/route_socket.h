// An emulated NETLINK_ROUTE socket for interface views: what a view's socket(AF_NETLINK, ...,
// NETLINK_ROUTE) returns in mode=none/loopback. umnet passes each GET request to a real
// NETLINK_ROUTE socket of its own, keeps the replies about interfaces the view has, and queues
// them for the tracee's receives. Requests that would change something fail with EPERM.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "plugins/umnet/interfaces.h"
#include "umview/plugin.h"

namespace umnet {

class RouteSocket : public umview::VirtualFile {
 public:
  // `type`: SOCK_RAW or SOCK_DGRAM as the program asked; `pid`: its process (the address
  // an autobind gives the first socket, as the kernel does).
  RouteSocket(const InterfaceView& view, int type, pid_t pid);
  ~RouteSocket() override;

  int Fstat(struct stat* st) override;
  int64_t Read(void* buf, size_t count) override;
  int64_t Write(const void* buf, size_t count) override;
  int64_t Ioctl(umview::Call& call, unsigned long request, uint64_t arg) override;
  int64_t SocketCall(umview::Call& call) override;

 private:
  int64_t Send(umview::Call& call, uint64_t name, uint64_t namelen, std::string request);
  int64_t SendMsg(umview::Call& call, uint64_t msghdr_addr);
  // Copies the next reply (or its front part) into `out`, at most `cap` bytes. Returns the
  // value recv(2) would: the copied length, the full length with MSG_TRUNC, or -EAGAIN.
  int64_t Take(size_t cap, int flags, std::string* out, bool* truncated);
  int64_t RecvMsg(umview::Call& call, uint64_t msghdr_addr, int flags);
  int64_t RecvFrom(umview::Call& call);
  int64_t SetSockOpt(umview::Call& call);
  int64_t GetSockOpt(umview::Call& call);
  int64_t PutName(umview::Call& call, uint64_t addr, uint64_t lenp, uint32_t pid, uint32_t groups);
  void Autobind();
  // Every message of one request datagram, in order.
  void HandleRequests(const std::string& request);
  void HandleRequest(const char* msg, size_t len);
  void QueueError(const nlmsghdr& request, int err);

  const InterfaceView& view_;
  int type_;
  pid_t pid_;
  uint32_t portid_ = 0;
  uint32_t groups_ = 0;
  uint32_t dst_portid_ = 0;
  int helper_ = -1;  // umnet's real NETLINK_ROUTE socket
  std::deque<std::string> queue_;
  std::map<std::pair<int, int>, int> options_;  // (level, name) -> value set by the program
  uint64_t ino_;
};

}  // namespace umnet
