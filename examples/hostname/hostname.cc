// Example plugin "hostname": the view gets its own host name.
//   umview -p hostname,name=NAME -- COMMAND
// Reading /etc/hostname gives "NAME\n" (a virtual file: the host's file is never touched), and
// uname(2) reports NAME as the node name, so `hostname`, `uname -n` and gethostname(3) agree.
// It shows the three things most plugins do: claim paths (AddMount) and answer opens with a
// virtual file, handle one system call with its own hook, and change a result at exit.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>

#include "umview/plugin.h"

namespace {

constexpr const char* kHostnameFile = "/etc/hostname";

// The contents of the virtual /etc/hostname: read-only, with its own file position (one per
// open; dup'ed descriptors share it, as the kernel's would).
class HostnameFile final : public umview::VirtualFile {
 public:
  explicit HostnameFile(std::string text) : text_(std::move(text)) {}

  int64_t Read(void* buf, size_t count) override {
    int64_t n = Pread(buf, count, pos_);
    if (n > 0) pos_ += n;
    return n;
  }
  int64_t Pread(void* buf, size_t count, int64_t offset) override {
    if (offset < 0) return -EINVAL;
    if (static_cast<size_t>(offset) >= text_.size()) return 0;
    size_t n = std::min(count, text_.size() - static_cast<size_t>(offset));
    memcpy(buf, text_.data() + offset, n);
    return static_cast<int64_t>(n);
  }
  int64_t Lseek(int64_t offset, int whence) override {
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? pos_
                   : whence == SEEK_END ? static_cast<int64_t>(text_.size())
                                        : -1;
    if (base < 0 || base + offset < 0) return -EINVAL;
    return pos_ = base + offset;
  }
  int Fstat(struct stat* st) override {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(text_.size());
    st->st_blksize = 4096;
    return 0;
  }

 private:
  std::string text_;
  int64_t pos_ = 0;
};

class HostnamePlugin final : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const umview::Option& o : options) {
      if (o.key == "name" && o.has_value) {
        name_ = o.value;
      } else {
        // One line; umview prints "umview: hostname: ..." and exits with status 2.
        *error = "unknown option '" + o.key + "' (expected name=NAME)";
        return false;
      }
    }
    // The kernel's limit for a node name (struct utsname.nodename holds 64 bytes and a NUL).
    if (name_.empty() || name_.size() >= sizeof(utsname{}.nodename)) {
      *error = "name=NAME is required (1 to 64 characters)";
      return false;
    }
    host.AddMount(kHostnameFile);  // path calls on /etc/hostname come to OnEntry
    host.NeedScratch();            // Call::ReturnFile needs it
    host.HandleSyscall(SYS_uname, [](umview::Call& call) { call.RequestExit(); });
    return true;
  }

  // Opens of /etc/hostname; any other call on the path (stat, ...) passes to the real file.
  void OnEntry(umview::Call& call) override {
    int path_arg = call.nr() == SYS_open ? 0 : call.nr() == SYS_openat ? 1 : -1;
    if (path_arg < 0) return;
    const std::string* path = call.Path(path_arg);
    if (path == nullptr || *path != kHostnameFile) return;
    int flags = static_cast<int>(call.arg(path_arg + 1));
    if ((flags & O_ACCMODE) != O_RDONLY) return call.Fail(EROFS);
    int r = call.ReturnFile(std::make_shared<HostnameFile>(name_ + "\n"), flags);
    if (r < 0) call.Fail(-r);
  }

  // uname(2) succeeded: overwrite the nodename field in the program's struct utsname.
  void OnExit(umview::Call& call) override {
    if (call.nr() != SYS_uname || call.result() != 0) return;
    char field[sizeof(utsname{}.nodename)] = {};
    memcpy(field, name_.data(), name_.size());
    umview::RemotePtr<void> where(call.arg(0) + offsetof(struct utsname, nodename));
    if (int r = call.Write(where, field, sizeof field); r < 0) call.SetResult(r);
  }

 private:
  std::string name_;
};

}  // namespace

UMVIEW_PLUGIN(HostnamePlugin, "hostname",
              "example: the view's own host name (/etc/hostname, uname)")
