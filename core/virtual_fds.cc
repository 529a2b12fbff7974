// Virtual file descriptors; see virtual_fds.h.
#include "core/virtual_fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include "core/log.h"
#include "umview/move.h"

namespace umview {
namespace {

// Largest transfer done for one read/write call; a larger request gets a short count, which
// every correct program handles.
constexpr size_t kMaxTransfer = 4 << 20;

uint64_t InodeOfLink(pid_t tid, int fd) {
  char path[64], buf[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", tid, fd);
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n <= 0) return 0;
  buf[n] = 0;
  if (strncmp(buf, "pipe:[", 6) != 0) return 0;
  return strtoull(buf + 6, nullptr, 10);
}

void FillStatx(const struct stat& st, struct statx* sx) {
  memset(sx, 0, sizeof *sx);
  sx->stx_mask = STATX_BASIC_STATS;
  sx->stx_blksize = st.st_blksize;
  sx->stx_nlink = st.st_nlink;
  sx->stx_uid = st.st_uid;
  sx->stx_gid = st.st_gid;
  sx->stx_mode = st.st_mode;
  sx->stx_ino = st.st_ino;
  sx->stx_size = st.st_size;
  sx->stx_blocks = st.st_blocks;
  sx->stx_atime = {st.st_atim.tv_sec, static_cast<uint32_t>(st.st_atim.tv_nsec), 0};
  sx->stx_mtime = {st.st_mtim.tv_sec, static_cast<uint32_t>(st.st_mtim.tv_nsec), 0};
  sx->stx_ctime = {st.st_ctim.tv_sec, static_cast<uint32_t>(st.st_ctim.tv_nsec), 0};
  sx->stx_rdev_major = major(st.st_rdev);
  sx->stx_rdev_minor = minor(st.st_rdev);
  sx->stx_dev_major = major(st.st_dev);
  sx->stx_dev_minor = minor(st.st_dev);
}

// sendfile, splice or copy_file_range between virtual file `f` and a real descriptor.
int64_t MoveData(VirtualFile& f, TraceeMemory& mem, pid_t pid, const MoveArgs& m) {
  struct stat vst {};
  MoveEnd other;
  int rc = other.Open(pid, m, f.Fstat(&vst) == 0 && S_ISREG(vst.st_mode));
  if (rc < 0) return rc;
  int64_t vpos = -1, opos = -1;
  if (m.voff != 0 && mem.Read(m.voff, &vpos, sizeof vpos) != 0) return -EFAULT;
  if (m.ooff != 0 && mem.Read(m.ooff, &opos, sizeof opos) != 0) return -EFAULT;
  if ((m.voff != 0 && vpos < 0) || (m.ooff != 0 && opos < 0)) return -EINVAL;
  int64_t n = m.from_virtual ? other.Room(std::min<uint64_t>(m.count, kMaxTransfer))
                             : static_cast<int64_t>(std::min<uint64_t>(m.count, kMaxTransfer));
  if (n <= 0) return n;
  std::vector<char> buf(static_cast<size_t>(n));
  int64_t got, put;
  if (m.from_virtual) {
    got = vpos >= 0 ? f.Pread(buf.data(), buf.size(), vpos) : f.Read(buf.data(), buf.size());
    if (got <= 0) return got;
    put = other.Put(buf.data(), static_cast<size_t>(got), opos);
    // What the other side did not take goes back to the virtual file's position.
    if (vpos < 0 && put < got) f.Lseek(-(got - std::max<int64_t>(put, 0)), SEEK_CUR);
  } else {
    got = other.Take(buf.data(), buf.size(), opos);
    if (got <= 0) return got;
    put = vpos >= 0 ? f.Pwrite(buf.data(), static_cast<size_t>(got), vpos)
                    : f.Write(buf.data(), static_cast<size_t>(got));
  }
  if (put <= 0) return put;
  if (vpos >= 0 && (vpos += put, mem.Write(m.voff, &vpos, sizeof vpos) != 0)) return -EFAULT;
  if (opos >= 0 && (opos += put, mem.Write(m.ooff, &opos, sizeof opos) != 0)) return -EFAULT;
  return put;
}

}  // namespace

VirtualFdTable::VirtualFdTable() = default;

VirtualFdTable::~VirtualFdTable() {
  ReleaseAll();
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

std::string VirtualFdTable::Create(std::shared_ptr<VirtualFile> file, size_t slot, int* err) {
  if (inotify_fd_ < 0) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      *err = errno;
      return "";
    }
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    *err = errno;
    return "";
  }
  // One byte in the pipe makes the tracee's descriptor readable and writable for poll/select/
  // epoll: a virtual file is always ready (its reads and writes never reach the pipe).
  (void)!write(p[1], "", 1);
  struct stat st;
  fstat(p[0], &st);
  std::string self = "/proc/self/fd/" + std::to_string(p[0]);
  // A close of the tracee's open file description raises IN_CLOSE_WRITE (it opens O_RDWR).
  int wd = inotify_add_watch(inotify_fd_, self.c_str(), IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
  if (wd < 0) {
    *err = errno;
    close(p[0]);
    close(p[1]);
    return "";
  }
  Entry e;
  e.file = std::move(file);
  e.slot = slot;
  e.rfd = p[0];
  e.wfd = p[1];
  e.wd = wd;
  e.path = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(p[0]);
  std::string path = e.path;
  by_wd_[wd] = st.st_ino;
  by_ino_[st.st_ino] = std::move(e);
  return path;
}

void VirtualFdTable::Abandon(const std::string& fifo_path) {
  for (auto& [ino, e] : by_ino_) {
    if (e.path == fifo_path) {
      uint64_t i = ino;
      Release(i);
      return;
    }
  }
}

VirtualFdTable::Entry* VirtualFdTable::Lookup(pid_t tid, int fd) {
  if (by_ino_.empty() || fd < 0) return nullptr;
  uint64_t ino = InodeOfLink(tid, fd);
  if (ino == 0) return nullptr;
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? nullptr : &it->second;
}

void VirtualFdTable::Release(uint64_t ino) {
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return;
  Entry e = std::move(it->second);
  by_ino_.erase(it);
  by_wd_.erase(e.wd);
  inotify_rm_watch(inotify_fd_, e.wd);
  close(e.rfd);
  close(e.wfd);
  try {
    e.file->Release();
  } catch (...) {
    Log(LogLevel::kError, "a virtual file's Release threw");
  }
}

void VirtualFdTable::ReapClosed(const std::vector<pid_t>& tgids) {
  if (inotify_fd_ < 0 || by_ino_.empty()) return;
  std::set<uint64_t> closed;
  alignas(struct inotify_event) char buf[4096];
  while (true) {
    ssize_t n = read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(buf + off);
      auto it = by_wd_.find(ev->wd);
      if (it != by_wd_.end()) closed.insert(it->second);
      off += sizeof(struct inotify_event) + ev->len;
    }
  }
  if (closed.empty()) return;
  // A close event means one open file description went away; another (from opening the FIFO's
  // /proc link again) may remain. Release only what no tracee holds.
  std::set<uint64_t> held;
  for (pid_t pid : tgids) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (struct dirent* de = readdir(d)) {
      if (de->d_name[0] == '.') continue;
      uint64_t ino = InodeOfLink(pid, atoi(de->d_name));
      if (closed.count(ino)) held.insert(ino);
    }
    closedir(d);
  }
  for (uint64_t ino : closed) {
    if (!held.count(ino)) Release(ino);
  }
}

void VirtualFdTable::ReleaseAll() {
  while (!by_ino_.empty()) Release(by_ino_.begin()->first);
}

int64_t VirtualFdTable::Perform(Entry& e, SyscallStop& stop, Call& call, int fd_arg) {
  VirtualFile& f = *e.file;
  const uint64_t* a = stop.state.args;
  TraceeMemory& mem = *stop.memory;
  std::vector<char> buf;
  auto read_into_tracee = [&](uint64_t addr, size_t count, auto&& op) -> int64_t {
    count = std::min(count, kMaxTransfer);
    buf.resize(count);
    int64_t n = op(buf.data(), count);
    if (n > 0) {
      int r = mem.Write(addr, buf.data(), static_cast<size_t>(n));
      if (r != 0) return r;
    }
    return n;
  };
  auto write_from_tracee = [&](uint64_t addr, size_t count, auto&& op) -> int64_t {
    count = std::min(count, kMaxTransfer);
    buf.resize(count);
    int r = mem.Read(addr, buf.data(), count);
    if (r != 0) return r;
    return op(buf.data(), count);
  };
  // Vectored I/O: one call per iovec, stopping at a short transfer.
  auto vectored = [&](uint64_t iov_addr, uint64_t iovcnt, bool write, int64_t offset) -> int64_t {
    if (iovcnt > 1024) return -EINVAL;
    std::vector<struct iovec> iov(iovcnt);
    if (iovcnt && mem.Read(iov_addr, iov.data(), iovcnt * sizeof(struct iovec)) != 0) {
      return -EFAULT;
    }
    int64_t total = 0;
    for (const auto& v : iov) {
      uint64_t base = reinterpret_cast<uint64_t>(v.iov_base);
      int64_t n;
      if (write) {
        n = write_from_tracee(base, v.iov_len, [&](const void* p, size_t c) {
          return offset < 0 ? f.Write(p, c) : f.Pwrite(p, c, offset + total);
        });
      } else {
        n = read_into_tracee(base, v.iov_len, [&](void* p, size_t c) {
          return offset < 0 ? f.Read(p, c) : f.Pread(p, c, offset + total);
        });
      }
      if (n < 0) return total > 0 ? total : n;
      total += n;
      if (static_cast<size_t>(n) < v.iov_len) break;
    }
    return total;
  };
  auto put_stat = [&](uint64_t addr) -> int64_t {
    struct stat st {};
    int r = f.Fstat(&st);
    if (r < 0) return r;
    return mem.Write(addr, &st, sizeof st);
  };

  switch (stop.state.nr) {
    case SYS_read:
      return read_into_tracee(a[1], a[2], [&](void* p, size_t c) { return f.Read(p, c); });
    case SYS_write:
      return write_from_tracee(a[1], a[2], [&](const void* p, size_t c) { return f.Write(p, c); });
    case SYS_pread64:
      return read_into_tracee(
          a[1], a[2], [&](void* p, size_t c) { return f.Pread(p, c, static_cast<int64_t>(a[3])); });
    case SYS_pwrite64:
      return write_from_tracee(a[1], a[2], [&](const void* p, size_t c) {
        return f.Pwrite(p, c, static_cast<int64_t>(a[3]));
      });
    case SYS_readv:
      return vectored(a[1], a[2], false, -1);
    case SYS_writev:
      return vectored(a[1], a[2], true, -1);
    case SYS_preadv:
    case SYS_preadv2:
      return static_cast<int64_t>(a[3]) < 0 && stop.state.nr == SYS_preadv2
                 ? vectored(a[1], a[2], false, -1)
                 : vectored(a[1], a[2], false, static_cast<int64_t>(a[3]));
    case SYS_pwritev:
    case SYS_pwritev2:
      return static_cast<int64_t>(a[3]) < 0 && stop.state.nr == SYS_pwritev2
                 ? vectored(a[1], a[2], true, -1)
                 : vectored(a[1], a[2], true, static_cast<int64_t>(a[3]));
    case SYS_lseek:
      return f.Lseek(static_cast<int64_t>(a[1]), static_cast<int>(a[2]));
    case SYS_fstat:
      return put_stat(a[1]);
    case SYS_newfstatat:
    case SYS_statx: {
      std::string path;
      int64_t r = mem.ReadString(a[1], &path, 4096);
      if (r < 0) return r;
      uint64_t flags = stop.state.nr == SYS_newfstatat ? a[3] : a[2];
      if (!path.empty() || !(flags & AT_EMPTY_PATH)) return -ENOTDIR;
      if (stop.state.nr == SYS_newfstatat) return put_stat(a[2]);
      struct stat st {};
      int rc = f.Fstat(&st);
      if (rc < 0) return rc;
      struct statx sx;
      FillStatx(st, &sx);
      return mem.Write(a[4], &sx, sizeof sx);
    }
    case SYS_ioctl:
      return f.Ioctl(call, static_cast<unsigned long>(a[1]), a[2]);
    case SYS_getdents64:
      return read_into_tracee(a[1], a[2], [&](void* p, size_t c) { return f.Getdents64(p, c); });
    case SYS_fsync:
    case SYS_fdatasync:
      return f.Fsync();
    case SYS_ftruncate:
      return f.Ftruncate(static_cast<int64_t>(a[1]));
    case SYS_mmap:
      return -ENODEV;
    case SYS_fchdir:
      return -ENOTDIR;
    // Data moved between two descriptors, one of them this file (argument fd_arg).
    case SYS_sendfile:
    case SYS_splice:
    case SYS_copy_file_range:
    case SYS_tee:
    case SYS_vmsplice: {
      MoveArgs m;
      int rc = DecodeMove(stop.state.nr, a, fd_arg, &m);
      return rc < 0 ? rc : MoveData(f, mem, stop.pid, m);
    }
  }
  const SyscallInfo* info = LookupSyscall(stop.state.nr);
  if (info != nullptr && (info->classes & kClassSocket)) return f.SocketCall(call);
  if (info != nullptr && info->args[0] == Arg::kDirFd) return -ENOTDIR;
  return -EINVAL;
}

}  // namespace umview
