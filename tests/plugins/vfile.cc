// Test plugin "vfile": opening PATH gives a virtual file held in memory by the plugin.
//   -p vfile,path=/some/path,content=TEXT[,log=FILE]
// The log gets one line per Release(), so tests can see when the last descriptor closed.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "umview/plugin.h"

namespace {

class MemFile : public umview::VirtualFile {
 public:
  MemFile(std::string* data, std::string log) : data_(data), log_(std::move(log)) {}
  int64_t Read(void* buf, size_t count) override {
    int64_t n = Pread(buf, count, pos_);
    if (n > 0) pos_ += n;
    return n;
  }
  int64_t Write(const void* buf, size_t count) override {
    int64_t n = Pwrite(buf, count, pos_);
    if (n > 0) pos_ += n;
    return n;
  }
  int64_t Pread(void* buf, size_t count, int64_t off) override {
    if (off < 0) return -EINVAL;
    if (static_cast<size_t>(off) >= data_->size()) return 0;
    size_t n = std::min(count, data_->size() - off);
    memcpy(buf, data_->data() + off, n);
    return static_cast<int64_t>(n);
  }
  int64_t Pwrite(const void* buf, size_t count, int64_t off) override {
    if (off < 0) return -EINVAL;
    if (data_->size() < off + count) data_->resize(off + count);
    memcpy(data_->data() + off, buf, count);
    return static_cast<int64_t>(count);
  }
  int64_t Lseek(int64_t off, int whence) override {
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? pos_
                   : whence == SEEK_END ? static_cast<int64_t>(data_->size())
                                        : -1;
    if (base < 0 || base + off < 0) return -EINVAL;
    pos_ = base + off;
    return pos_;
  }
  int Fstat(struct stat* st) override {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFCHR | 0666;
    st->st_rdev = makedev(240, 7);
    st->st_size = static_cast<off_t>(data_->size());
    st->st_blksize = 4096;
    st->st_nlink = 1;
    return 0;
  }
  int64_t Ioctl(umview::Call& call, unsigned long request, uint64_t arg) override {
    if (request != 0x7601) return -ENOTTY;  // test ioctl: store the size at *arg
    uint64_t size = data_->size();
    return call.Write(umview::RemotePtr<void>(arg), &size, sizeof size);
  }
  void Release() override {
    if (log_.empty()) return;
    std::ofstream(log_, std::ios::app) << "release\n";
  }

 private:
  std::string* data_;
  std::string log_;
  int64_t pos_ = 0;
};

class VFilePlugin : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const auto& o : options) {
      if (o.key == "path") {
        path_ = o.value;
      } else if (o.key == "content") {
        data_ = o.value;
      } else if (o.key == "log") {
        log_ = o.value;
      } else {
        *error = "unknown option '" + o.key + "' (expected path, content, log)";
        return false;
      }
    }
    if (path_.empty() || path_[0] != '/') {
      *error = "path=ABSOLUTE_PATH is required";
      return false;
    }
    host.AddMount(path_);
    host.NeedScratch();
    return true;
  }

  void OnEntry(umview::Call& call) override {
    int nr = call.nr();
    int path_arg = nr == SYS_open || nr == SYS_creat ? 0 : nr == SYS_openat ? 1 : -1;
    if (path_arg < 0) return;
    const std::string* p = call.Path(path_arg);
    if (p == nullptr || *p != path_) return;
    int flags = nr == SYS_creat ? O_WRONLY : static_cast<int>(call.arg(path_arg + 1));
    if (flags & O_TRUNC) data_.clear();
    int r = call.ReturnFile(std::make_shared<MemFile>(&data_, log_), flags);
    if (r < 0) call.Fail(-r);
  }

 private:
  std::string path_, data_, log_;
};

}  // namespace

UMVIEW_PLUGIN(VFilePlugin, "vfile", "test: a virtual file held in memory")
