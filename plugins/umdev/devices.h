// umdev's kinds of device, each a umview::Device: null, zero, a sparse ramdisk, a device backed
// by a host file (disk images and file devices) and a partition window on another device.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "umview/device.h"

namespace umview::umdev {

// Reads return end of file, writes are swallowed.
class NullDevice : public Device {
 public:
  int64_t Size() override { return -1; }
  int64_t Read(void*, size_t, int64_t) override { return 0; }
  int64_t Write(const void*, size_t count, int64_t) override { return static_cast<int64_t>(count); }
};

// Reads return zeros, writes are swallowed.
class ZeroDevice : public Device {
 public:
  int64_t Size() override { return -1; }
  int64_t Read(void* buf, size_t count, int64_t) override;
  int64_t Write(const void*, size_t count, int64_t) override { return static_cast<int64_t>(count); }
};

// A disk in umview's memory, allocated in 64 KiB chunks on first non-zero write (reads of
// untouched areas are zeros), gone at exit unless saved.
class RamDisk : public Device {
 public:
  explicit RamDisk(int64_t size) : size_(size) {}
  int64_t Size() override { return size_; }
  int64_t Read(void* buf, size_t count, int64_t offset) override;
  int64_t Write(const void* buf, size_t count, int64_t offset) override;
  // Loads `path` (no larger than the disk) / writes the contents there as a sparse file of the
  // disk's size. 0 or -errno.
  int Load(const std::string& path);
  int Save(const std::string& path);
  size_t allocated_chunks() const { return chunks_.size(); }

 private:
  static constexpr int64_t kChunk = 64 << 10;
  int64_t size_;
  std::unordered_map<int64_t, std::unique_ptr<char[]>> chunks_;
};

// A host file seen as a device of the file's size at open time (rounded down to whole sectors
// for a block device). The file descriptor is shared with the partitions made from it.
class FileDevice : public Device {
 public:
  // Opens `path` read-write, or read-only when `read_only`. Null with *err set on failure.
  static std::shared_ptr<FileDevice> Create(const std::string& path, bool read_only, bool block,
                                            int* err);
  ~FileDevice() override;
  int Open(int flags) override;
  int64_t Size() override { return size_; }
  int64_t Read(void* buf, size_t count, int64_t offset) override;
  int64_t Write(const void* buf, size_t count, int64_t offset) override;
  int Sync() override;
  bool ReadOnly() override { return read_only_; }
  // The file's size again (after the image was changed from outside).
  void Refresh();

 private:
  FileDevice(int fd, bool read_only, bool block) : fd_(fd), read_only_(read_only), block_(block) {}
  int fd_;
  bool read_only_, block_;
  int64_t size_ = 0;
};

// A whole disk: another device plus BLKRRPART, which calls `rescan`.
class DiskDevice : public Device {
 public:
  DiskDevice(std::shared_ptr<Device> media, std::function<int()> rescan)
      : media_(std::move(media)), rescan_(std::move(rescan)) {}
  int Open(int flags) override { return media_->Open(flags); }
  int64_t Size() override { return media_->Size(); }
  int64_t Read(void* buf, size_t count, int64_t offset) override {
    return media_->Read(buf, count, offset);
  }
  int64_t Write(const void* buf, size_t count, int64_t offset) override {
    return media_->Write(buf, count, offset);
  }
  int64_t Ioctl(Call& call, unsigned long request, uint64_t arg) override;
  int Sync() override { return media_->Sync(); }
  bool ReadOnly() override { return media_->ReadOnly(); }
  Device& media() { return *media_; }

 private:
  std::shared_ptr<Device> media_;
  std::function<int()> rescan_;
};

// Bytes [start, start + size) of another device.
class PartitionDevice : public Device {
 public:
  PartitionDevice(std::shared_ptr<Device> whole, int64_t start, int64_t size)
      : whole_(std::move(whole)), start_(start), size_(size) {}
  int Open(int flags) override { return whole_->Open(flags); }
  int64_t Size() override { return size_; }
  int64_t Read(void* buf, size_t count, int64_t offset) override {
    return whole_->Read(buf, count, start_ + offset);
  }
  int64_t Write(const void* buf, size_t count, int64_t offset) override {
    return whole_->Write(buf, count, start_ + offset);
  }
  int Sync() override { return whole_->Sync(); }
  bool ReadOnly() override { return whole_->ReadOnly(); }

 private:
  std::shared_ptr<Device> whole_;
  int64_t start_, size_;
};

}  // namespace umview::umdev
