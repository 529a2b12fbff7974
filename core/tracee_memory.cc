// Tracee memory access; see tracee_memory.h.
#include "core/tracee_memory.h"

#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace umview {
namespace {

constexpr size_t kPage = 4096;

// process_vm_* accept at most IOV_MAX iovecs; chunk larger batches.
constexpr size_t kMaxIov = 1024;

int Transact(pid_t pid, const Transfer* t, size_t n, bool write) {
  std::vector<iovec> local(n), remote(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    local[i] = {t[i].local, t[i].len};
    remote[i] = {reinterpret_cast<void*>(t[i].remote), t[i].len};
    total += t[i].len;
  }
  size_t done = 0;
  for (size_t off = 0; off < n; off += kMaxIov) {
    size_t cnt = std::min(kMaxIov, n - off);
    ssize_t r = write ? process_vm_writev(pid, &local[off], cnt, &remote[off], cnt, 0)
                      : process_vm_readv(pid, &local[off], cnt, &remote[off], cnt, 0);
    if (r < 0) return -errno;
    size_t want = 0;
    for (size_t i = off; i < off + cnt; ++i) want += local[i].iov_len;
    if (static_cast<size_t>(r) != want) return -EFAULT;
    done += r;
  }
  return done == total ? 0 : -EFAULT;
}

}  // namespace

TraceeMemory::~TraceeMemory() {
  if (mem_fd_ >= 0) close(mem_fd_);
}

void TraceeMemory::Reset(pid_t pid) {
  if (mem_fd_ >= 0) close(mem_fd_);
  mem_fd_ = -1;
  pid_ = pid;
}

int TraceeMemory::MemFd() {
  if (mem_fd_ < 0) {
    std::string path = "/proc/" + std::to_string(pid_) + "/mem";
    mem_fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (mem_fd_ < 0) return -errno;
  }
  return mem_fd_;
}

int TraceeMemory::Read(uint64_t addr, void* buf, size_t len) {
  if (len == 0) return 0;
  Transfer t{addr, buf, len};
  int r = Transact(pid_, &t, 1, false);
  if (r != -EPERM && r != -ENOSYS) return r;
  // Fallback when process_vm_readv is refused (e.g. by a seccomp policy around umview).
  int fd = MemFd();
  if (fd < 0) return fd;
  ssize_t n = pread(fd, buf, len, static_cast<off_t>(addr));
  if (n < 0) return -errno;
  return static_cast<size_t>(n) == len ? 0 : -EFAULT;
}

namespace {

// A stopped tracee's memory word by word with PTRACE_POKEDATA, which forces its way past page
// protections as /proc/PID/mem does: for when umview has no descriptor left to open that file
// (a plugin leaked them all, or the limit is low), so that the view goes on.
int PokeWrite(pid_t pid, uint64_t addr, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    const uint64_t at = addr & ~static_cast<uint64_t>(7);
    const size_t off = static_cast<size_t>(addr - at);
    const size_t n = std::min(sizeof(long) - off, len);
    long word = 0;
    if (off != 0 || n != sizeof word) {  // keep the bytes of the word it does not change
      errno = 0;
      word = ptrace(PTRACE_PEEKDATA, pid, at, nullptr);
      if (errno != 0) return errno == EIO ? -EFAULT : -errno;
    }
    memcpy(reinterpret_cast<char*>(&word) + off, p, n);
    if (ptrace(PTRACE_POKEDATA, pid, at, word) != 0) return errno == EIO ? -EFAULT : -errno;
    p += n, addr += n, len -= n;
  }
  return 0;
}

}  // namespace

int TraceeMemory::WriteForce(uint64_t addr, const void* buf, size_t len) {
  int fd = MemFd();
  if (fd == -EMFILE || fd == -ENFILE) return PokeWrite(pid_, addr, buf, len);
  if (fd < 0) return fd;
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, static_cast<off_t>(addr));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EIO ? -EFAULT : -errno;
    }
    if (n == 0) return -EFAULT;
    p += n, addr += n, len -= n;
  }
  return 0;
}

int TraceeMemory::Write(uint64_t addr, const void* buf, size_t len) {
  if (len == 0) return 0;
  Transfer t{addr, const_cast<void*>(buf), len};
  int r = Transact(pid_, &t, 1, true);
  if (r == 0) return 0;
  // Read-only pages (text, our scratch area): /proc/PID/mem writes with FOLL_FORCE.
  return WriteForce(addr, buf, len);
}

int64_t TraceeMemory::ReadString(uint64_t addr, std::string* out, size_t max) {
  out->clear();
  char chunk[kPage];
  while (out->size() < max) {
    // Never cross a page boundary in one read: the page after the NUL may be unmapped.
    size_t n = kPage - (addr % kPage);
    n = std::min(n, max - out->size());
    if (out->empty()) n = std::min<size_t>(n, 256);  // most strings are short
    Transfer t{addr, chunk, n};
    int r = Transact(pid_, &t, 1, false);
    if (r == -EPERM || r == -ENOSYS) {
      int fd = MemFd();
      if (fd < 0) return fd;
      ssize_t got = pread(fd, chunk, n, static_cast<off_t>(addr));
      r = got == static_cast<ssize_t>(n) ? 0 : -EFAULT;
    }
    if (r != 0) return r;
    const void* nul = memchr(chunk, 0, n);
    if (nul != nullptr) {
      out->append(chunk, static_cast<const char*>(nul) - chunk);
      return static_cast<int64_t>(out->size());
    }
    out->append(chunk, n);
    addr += n;
  }
  return -ENAMETOOLONG;
}

int TraceeMemory::ReadMulti(const Transfer* t, size_t n) { return Transact(pid_, t, n, false); }

int TraceeMemory::WriteMulti(const Transfer* t, size_t n) {
  int r = Transact(pid_, t, n, true);
  if (r == 0) return 0;
  for (size_t i = 0; i < n; ++i) {
    r = Write(t[i].remote, t[i].local, t[i].len);
    if (r != 0) return r;
  }
  return 0;
}

}  // namespace umview
