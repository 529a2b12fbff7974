// A look at a tracee's socket; see socket_peek.h.
#include "plugins/umnet/socket_peek.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace umnet {

SocketPeek::SocketPeek(pid_t pid, int fd) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    error_ = errno;
    return;
  }
  fd_ = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  if (fd_ < 0) error_ = errno;
  close(pidfd);
}

SocketPeek::~SocketPeek() {
  if (fd_ >= 0) close(fd_);
}

int SocketPeek::Type() const {
  int type = -1;
  socklen_t len = sizeof type;
  if (fd_ < 0 || getsockopt(fd_, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -1;
  return type;
}

bool SocketPeek::Local(Endpoint* out) const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  return FromSockaddr(&ss, len, out);
}

bool SocketPeek::Peer(Endpoint* out) const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ < 0 || getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  return FromSockaddr(&ss, len, out);
}

}  // namespace umnet
