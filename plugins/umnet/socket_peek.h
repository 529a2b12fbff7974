// A look at one of a tracee's sockets from umview: a duplicate of the descriptor taken with
// pidfd_getfd (umview is the tracer, so it has the PTRACE_MODE_ATTACH rights that needs).
#pragma once

#include <sys/types.h>

#include "plugins/umnet/address.h"

namespace umnet {

class SocketPeek {
 public:
  SocketPeek(pid_t pid, int fd);
  ~SocketPeek();
  SocketPeek(const SocketPeek&) = delete;
  SocketPeek& operator=(const SocketPeek&) = delete;

  // 0 when the descriptor was duplicated, else the errno of pidfd_open/pidfd_getfd.
  int error() const { return error_; }
  int fd() const { return fd_; }
  int Type() const;  // SOCK_STREAM, SOCK_DGRAM, ...; -1 if unknown
  bool Local(Endpoint* out) const;
  bool Peer(Endpoint* out) const;

 private:
  int fd_ = -1;
  int error_ = 0;
};

}  // namespace umnet
