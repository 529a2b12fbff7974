// umdev's device kinds; see devices.h.
#include "plugins/umdev/devices.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace umview::umdev {

int64_t ZeroDevice::Read(void* buf, size_t count, int64_t) {
  memset(buf, 0, count);
  return static_cast<int64_t>(count);
}

int64_t RamDisk::Read(void* buf, size_t count, int64_t offset) {
  char* out = static_cast<char*>(buf);
  for (size_t done = 0; done < count;) {
    int64_t pos = offset + static_cast<int64_t>(done);
    int64_t in = pos % kChunk;
    size_t n = std::min<size_t>(count - done, kChunk - in);
    auto it = chunks_.find(pos / kChunk);
    if (it == chunks_.end()) {
      memset(out + done, 0, n);
    } else {
      memcpy(out + done, it->second.get() + in, n);
    }
    done += n;
  }
  return static_cast<int64_t>(count);
}

int64_t RamDisk::Write(const void* buf, size_t count, int64_t offset) {
  const char* in_buf = static_cast<const char*>(buf);
  for (size_t done = 0; done < count;) {
    int64_t pos = offset + static_cast<int64_t>(done);
    int64_t in = pos % kChunk;
    size_t n = std::min<size_t>(count - done, kChunk - in);
    auto it = chunks_.find(pos / kChunk);
    if (it == chunks_.end()) {
      // Zeros over an untouched chunk change nothing: keep it unallocated (mkfs zeroes a lot).
      const char* p = in_buf + done;
      if (std::all_of(p, p + n, [](char c) { return c == 0; })) {
        done += n;
        continue;
      }
      auto chunk = std::make_unique<char[]>(kChunk);
      memset(chunk.get(), 0, kChunk);
      it = chunks_.emplace(pos / kChunk, std::move(chunk)).first;
    }
    memcpy(it->second.get() + in, in_buf + done, n);
    done += n;
  }
  return static_cast<int64_t>(count);
}

int RamDisk::Load(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size > size_) {
    int err = st.st_size > size_ ? EFBIG : errno;
    close(fd);
    return -err;
  }
  std::vector<char> buf(kChunk);
  for (int64_t off = 0; off < st.st_size; off += kChunk) {
    ssize_t n = pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      int err = errno;
      close(fd);
      return -err;
    }
    if (n == 0) break;
    Write(buf.data(), static_cast<size_t>(n), off);
  }
  close(fd);
  return 0;
}

int RamDisk::Save(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  int err = ftruncate(fd, size_) == 0 ? 0 : errno;
  for (const auto& [index, chunk] : chunks_) {
    if (err != 0) break;
    if (pwrite(fd, chunk.get(), kChunk, index * kChunk) != kChunk) err = errno ? errno : EIO;
  }
  if (close(fd) != 0 && err == 0) err = errno;
  return -err;
}

std::shared_ptr<FileDevice> FileDevice::Create(const std::string& path, bool read_only, bool block,
                                               int* err) {
  int fd = open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return nullptr;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    close(fd);
    return nullptr;
  }
  std::shared_ptr<FileDevice> d(new FileDevice(fd, read_only, block));
  d->Refresh();
  return d;
}

FileDevice::~FileDevice() { close(fd_); }

void FileDevice::Refresh() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return;
  size_ = block_ ? st.st_size / 512 * 512 : st.st_size;
}

int FileDevice::Open(int flags) {
  return read_only_ && (flags & O_ACCMODE) != O_RDONLY ? -EROFS : 0;
}

int64_t FileDevice::Read(void* buf, size_t count, int64_t offset) {
  ssize_t n = pread(fd_, buf, count, offset);
  return n < 0 ? -errno : n;
}

int64_t FileDevice::Write(const void* buf, size_t count, int64_t offset) {
  if (read_only_) return -EROFS;
  ssize_t n = pwrite(fd_, buf, count, offset);
  return n < 0 ? -errno : n;
}

int FileDevice::Sync() { return fdatasync(fd_) == 0 ? 0 : -errno; }

int64_t DiskDevice::Ioctl(Call& call, unsigned long request, uint64_t arg) {
  if (request == blkio::kRrPart) return rescan_();
  return media_->Ioctl(call, request, arg);
}

}  // namespace umview::umdev
