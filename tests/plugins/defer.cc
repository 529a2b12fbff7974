// Test plugin "defer": answers calls later, from another tracee's call, from a plugin thread
// (Host::Post) and from a watched descriptor (Host::WatchFd), to prove that the tracer goes on
// serving the view while a call waits.
//
// It takes getpriority(kMagic, OP, A, B) (nothing else stops):
//   OP 1 wait A      defer; finished by a later "release A"
//   OP 2 release A B finish every waiter on A with value B; returns how many
//   OP 3 count A     how many calls wait on A now
//   OP 4 thread A    defer; a plugin thread posts the completion with value A
//   OP 5 pipe A      defer; a plugin thread writes A to a pipe the plugin watches
//   OP 6 pass A      wait on A like OP 1, but the release lets the kernel run the call itself
//   OP 7 signal A    wait on A like OP 1; a signal to the waiting thread finishes it with the
//                    signal's number, or -EINTR for one that ends the process (WatchSignal)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <thread>
#include <vector>

#include "umview/plugin.h"

namespace {

constexpr uint64_t kMagic = 0x4d4d;

class Defer final : public umview::Plugin {
 public:
  ~Defer() override {
    for (auto& t : threads_) t.join();
  }
  bool Init(umview::Host& host, const umview::Options&, std::string*) override {
    host_ = &host;
    host.ClaimSyscallWhen(SYS_getpriority, 0, kMagic, true);
    return true;
  }

  void OnEntry(umview::Call& call) override {
    const uint64_t op = call.arg(1), a = call.arg(2), b = call.arg(3);
    switch (op) {
      case 1:
      case 6:
      case 7: {
        uint64_t token = call.Defer();
        if (token == 0) return call.Fail(ENOSYS);
        waiters_[a].push_back({token, call.tid(), op == 6});
        if (op == 7) {
          umview::Host* host = host_;
          if (!host->WatchSignal(token, [this, host, token, a](int sig, bool fatal) {
                std::erase_if(waiters_[a], [token](const Waiter& w) { return w.token == token; });
                host->Resume(token,
                             [sig, fatal](umview::Call& c) { c.Return(fatal ? -EINTR : sig); });
              })) {
            host->Resume(token, [](umview::Call& c) { c.Fail(ENOSYS); });
          }
        }
        return;
      }
      case 2: {
        std::vector<Waiter> ws = std::move(waiters_[a]);
        waiters_.erase(a);
        int64_t n = 0;
        for (const Waiter& w : ws) {
          bool pass = w.pass;
          n += host_->Resume(w.token, [b, pass](umview::Call& c) {
            if (!pass) c.Return(static_cast<int64_t>(b));
          });
        }
        return call.Return(n);
      }
      case 3: {
        auto it = waiters_.find(a);
        return call.Return(it == waiters_.end() ? 0 : static_cast<int64_t>(it->second.size()));
      }
      case 4: {
        uint64_t token = call.Defer();
        if (token == 0) return call.Fail(ENOSYS);
        umview::Host* host = host_;
        threads_.emplace_back([host, token, a] {
          host->Post([host, token, a] {
            host->Resume(token, [a](umview::Call& c) { c.Return(static_cast<int64_t>(a)); });
          });
        });
        return;
      }
      case 5: {
        uint64_t token = call.Defer();
        if (token == 0) return call.Fail(ENOSYS);
        int p[2];
        if (pipe(p) != 0) return (void)host_->Resume(token, [](umview::Call& c) { c.Fail(EIO); });
        umview::Host* host = host_;
        host_->WatchFd(p[0], [host, token, fd = p[0]] {
          uint64_t v = 0;
          ssize_t n = read(fd, &v, sizeof v);
          host->UnwatchFd(fd);
          close(fd);
          host->Resume(token, [v, n](umview::Call& c) {
            c.Return(n == sizeof v ? static_cast<int64_t>(v) : -EIO);
          });
        });
        threads_.emplace_back([wfd = p[1], a] {
          (void)!write(wfd, &a, sizeof a);
          close(wfd);
        });
        return;
      }
    }
    call.Fail(EINVAL);
  }

  void OnTaskExit(pid_t tid, int) override {
    for (auto& [key, ws] : waiters_) {
      std::erase_if(ws, [tid](const Waiter& w) { return w.tid == tid; });
    }
  }

 private:
  struct Waiter {
    uint64_t token;
    pid_t tid;
    bool pass;
  };
  umview::Host* host_ = nullptr;
  std::map<uint64_t, std::vector<Waiter>> waiters_;
  std::vector<std::thread> threads_;
};

}  // namespace

UMVIEW_PLUGIN(Defer, "defer", "answers getpriority(0x4d4d, ...) later (tests deferred calls)")
