// Test plugin "faulty": misbehaves on getppid as option mode= says: throw (an exception),
// garbage (returns -100000, below the errno range), leakfd (opens /dev/null and never closes
// it, then answers like the kernel would), segv (dereferences a null pointer). Other calls
// are not touched.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "umview/plugin.h"

namespace {

class FaultyPlugin : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const auto& o : options) {
      if (o.key == "mode" && (o.value == "throw" || o.value == "garbage" || o.value == "leakfd" ||
                              o.value == "segv")) {
        mode_ = o.value;
      } else {
        *error = "option '" + o.key + "': expected mode=throw|garbage|leakfd|segv";
        return false;
      }
    }
    if (mode_.empty()) {
      *error = "expected mode=throw|garbage|leakfd|segv";
      return false;
    }
    host.ClaimSyscall(SYS_getppid);
    return true;
  }
  void OnEntry(umview::Call& call) override {
    if (mode_ == "throw") throw std::runtime_error("faulty plugin threw on purpose");
    if (mode_ == "garbage") return call.Return(-100000);
    if (mode_ == "leakfd") {
      int fd = open("/dev/null", O_RDONLY);  // never closed
      if (fd < 0) return call.Fail(EMFILE);
      return;  // the real getppid runs
    }
    volatile int* p = nullptr;
    call.Return(*p);  // SIGSEGV
  }

 private:
  std::string mode_;
};

}  // namespace

UMVIEW_PLUGIN(FaultyPlugin, "faulty", "test: a plugin that throws, lies, leaks or crashes")
