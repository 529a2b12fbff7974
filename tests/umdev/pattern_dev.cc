// Test plugin "pattern_dev": a third-party device kind written against umview/device.h only.
//   -p pattern_dev,path=/dev/pat,size=N
// A read-only block device of N bytes where byte i is 'a' + i % 26, with one private ioctl
// (0x7602: store the number of reads served at *arg).
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "umview/device.h"
#include "umview/plugin.h"

namespace {

class Pattern : public umview::Device {
 public:
  explicit Pattern(int64_t size) : size_(size) {}
  int Open(int flags) override { return (flags & O_ACCMODE) == O_RDONLY ? 0 : -EROFS; }
  int64_t Size() override { return size_; }
  int64_t Read(void* buf, size_t count, int64_t offset) override {
    char* p = static_cast<char*>(buf);
    for (size_t i = 0; i < count; ++i) p[i] = static_cast<char>('a' + (offset + i) % 26);
    ++reads_;
    return static_cast<int64_t>(count);
  }
  int64_t Write(const void*, size_t, int64_t) override { return -EROFS; }
  int64_t Ioctl(umview::Call& call, unsigned long request, uint64_t arg) override {
    if (request != 0x7602) return -ENOTTY;
    return call.Write(umview::RemotePtr<void>(arg), &reads_, sizeof reads_);
  }
  bool ReadOnly() override { return true; }

 private:
  int64_t size_;
  uint64_t reads_ = 0;
};

class PatternPlugin : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    std::string path;
    int64_t size = 0;
    for (const auto& o : options) {
      if (o.key == "path") {
        path = o.value;
      } else if (o.key == "size") {
        size = atoll(o.value.c_str());
      } else {
        *error = "unknown option '" + o.key + "' (expected path, size)";
        return false;
      }
    }
    umview::DeviceNode n;
    n.path = path;
    n.type = umview::DeviceType::kBlock;
    n.major = 241;
    n.minor = 3;
    n.perm = 0440;
    n.device = std::make_shared<Pattern>(size);
    if (size <= 0 || !table_.Add(std::move(n))) {
      *error = "path=ABSOLUTE_PATH and size=N are required";
      return false;
    }
    table_.Attach(host);
    return true;
  }
  void OnEntry(umview::Call& c) override { table_.OnEntry(c); }
  void OnExit(umview::Call& c) override { table_.OnExit(c); }
  void OnTaskExit(pid_t tid, int) override { table_.OnTaskExit(tid); }

 private:
  umview::DeviceTable table_;
};

}  // namespace

UMVIEW_PLUGIN(PatternPlugin, "pattern_dev", "test: a device kind made with umview/device.h")
