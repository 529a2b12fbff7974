// sendfile and splice between a virtual file and a real descriptor of the tracee (and
// copy_file_range, which fails with EXDEV as between two file systems): what the calls mean
// (MoveArgs) and the real side, opened in umview (MoveEnd). umview
// serves the virtual side; the real side is the tracee's own open file description, reached
// with pidfd_getfd, so a file position moves as the tracee's would. umview must never block:
// a pipe is reopened without blocking, a socket is used with MSG_DONTWAIT, and a transfer that
// would wait fails with EAGAIN (also for a blocking descriptor: a known gap).
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

namespace umview {

struct MoveArgs {
  enum Kind { kSendfile, kSplice, kCopyFileRange } kind = kSendfile;
  bool from_virtual = false;    // the virtual file is the source
  int other = -1;               // the tracee's descriptor on the other side
  uint64_t voff = 0, ooff = 0;  // loff_t* in tracee memory per side; 0: the file position
  uint64_t count = 0;
};

// Call `nr` with arguments `a`, whose virtual descriptor is argument `vfd_arg`. 0, or the
// -errno the call fails with whatever the other side is (tee and vmsplice need pipes).
inline int DecodeMove(long nr, const uint64_t* a, int vfd_arg, MoveArgs* m) {
  switch (nr) {
    case SYS_sendfile:  // (out_fd, in_fd, off_t* in_offset, count)
      m->kind = MoveArgs::kSendfile;
      m->from_virtual = vfd_arg == 1;
      m->other = static_cast<int>(m->from_virtual ? a[0] : a[1]);
      m->voff = m->from_virtual ? a[2] : 0;
      m->ooff = m->from_virtual ? 0 : a[2];
      m->count = a[3];
      return 0;
    case SYS_splice:  // (fd_in, off_in*, fd_out, off_out*, len, flags)
    case SYS_copy_file_range:
      m->kind = nr == SYS_splice ? MoveArgs::kSplice : MoveArgs::kCopyFileRange;
      if (m->kind == MoveArgs::kCopyFileRange && a[5] != 0) return -EINVAL;
      m->from_virtual = vfd_arg == 0;
      m->other = static_cast<int>(m->from_virtual ? a[2] : a[0]);
      m->voff = m->from_virtual ? a[1] : a[3];
      m->ooff = m->from_virtual ? a[3] : a[1];
      m->count = a[4];
      return 0;
    case SYS_tee:  // both ends must be pipes; a virtual file is not one
      return -EINVAL;
    case SYS_vmsplice:
      return -EBADF;
  }
  return -EINVAL;
}

class MoveEnd {
 public:
  MoveEnd() = default;
  MoveEnd(const MoveEnd&) = delete;
  MoveEnd& operator=(const MoveEnd&) = delete;
  ~MoveEnd() {
    if (io_ >= 0 && io_ != dup_) close(io_);
    if (dup_ >= 0) close(dup_);
  }

  // Opens the tracee `pid`'s descriptor m.other and checks the call's rules for it (splice:
  // a pipe without an offset; copy_file_range: EINVAL or EXDEV). 0 or -errno.
  int Open(pid_t pid, const MoveArgs& m, bool virtual_is_regular) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) return -errno;
    dup_ = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, m.other, 0));
    int err = errno;
    close(pidfd);
    if (dup_ < 0) return -err;
    struct stat st {};
    if (fstat(dup_, &st) != 0) return -errno;
    mode_ = st.st_mode;
    if (m.kind == MoveArgs::kSplice) {
      if (!S_ISFIFO(mode_)) return -EINVAL;
      if (m.ooff != 0) return -ESPIPE;
    }
    if (m.kind == MoveArgs::kCopyFileRange) {
      // Two regular files, and on one file system (as for any two in the kernel since 5.19):
      // a virtual file never shares the real one's.
      return !S_ISREG(mode_) || !virtual_is_regular ? -EINVAL : -EXDEV;
    }
    io_ = dup_;
    if (S_ISFIFO(mode_)) {
      std::string self = "/proc/self/fd/" + std::to_string(dup_);
      io_ = open(self.c_str(), (m.from_virtual ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
      if (io_ < 0) return -errno;
    }
    return 0;
  }

  // How much a Put may move now, at most `max`: the room left in a pipe. -EAGAIN if none.
  int64_t Room(uint64_t max) const {
    if (!S_ISFIFO(mode_)) return static_cast<int64_t>(max);
    int size = fcntl(io_, F_GETPIPE_SZ), used = 0;
    if (size <= 0 || ioctl(io_, FIONREAD, &used) != 0) return static_cast<int64_t>(max);
    if (used >= size) return -EAGAIN;
    return static_cast<int64_t>(std::min<uint64_t>(max, static_cast<uint64_t>(size - used)));
  }

  // Writes to / reads from the other side at `pos` (< 0: its file position). Count or -errno.
  int64_t Put(const void* buf, size_t n, int64_t pos) const {
    ssize_t r = S_ISSOCK(mode_) ? send(io_, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                : pos >= 0      ? pwrite(io_, buf, n, pos)
                                : write(io_, buf, n);
    return r < 0 ? -errno : r;
  }
  int64_t Take(void* buf, size_t n, int64_t pos) const {
    ssize_t r = S_ISSOCK(mode_) ? recv(io_, buf, n, MSG_DONTWAIT)
                : pos >= 0      ? pread(io_, buf, n, pos)
                                : read(io_, buf, n);
    return r < 0 ? -errno : r;
  }

 private:
  int dup_ = -1;
  int io_ = -1;
  mode_t mode_ = 0;
};

}  // namespace umview
