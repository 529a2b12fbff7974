// Fuzz target, built once per plugin (UMVIEW_FUZZ_PLUGIN names it): the plugin's option parser
// (Plugin::Init) and its decoding of tracee-supplied structures (open_how, msghdr, sockaddr,
// statx and the rest, through OnEntry/OnExit) with the input as the tracee's memory.
//
// Input: a first line of options as `-p PLUGIN,<line>` takes them; then, when Init accepted them,
// a count byte and that many call records {u16 nr, u8 flags, u32 args[6], i32 result}; the rest
// is tracee memory at address kMemBase, so an argument kMemBase+N points at byte N of it.
// Calls reach the plugin only as the dispatcher would route them (the claims it made at Init).
//
// Safety: this runs as whoever runs the tests. Option values naming files the plugin would
// create or open (umtrace output=, umnet log=, umdev save=/image=/path=) are moved into a private
// directory, and calls are only driven through viewfs when its mounts cannot write the host
// (bind, ro, hide, except, root: viewfs rewrites paths there and leaves the work to the kernel,
// which the fuzzer never calls).
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/cli.h"
#include "fuzz/fuzz_support.h"
#include "umview/paths.h"
#include "umview/plugin.h"

extern "C" const void* umview_plugin_v1;  // exported by UMVIEW_PLUGIN in the plugin's source

namespace umview::fuzz {
namespace {

constexpr uint64_t kMemBase = 0x10000;
constexpr uint64_t kScratchBase = 0x7f0000000000;
constexpr pid_t kPid = 0x7ffffff0;  // above PID_MAX_LIMIT: /proc/PID and pidfd_open fail

struct Rule {
  int arg;
  uint64_t value;
  bool equal;
};

class FakeHost final : public Host {
 public:
  // No engine behind the harness: nothing can be answered later, as on an engine without
  // deferral (Call::Defer returns 0).
  bool Resume(uint64_t, std::function<void(Call&)>) override { return false; }
  void Post(std::function<void()>) override {}
  bool WatchFd(int, std::function<void()>) override { return false; }
  void UnwatchFd(int) override {}
  void ClaimSyscall(int nr) override { claimed_.insert(nr); }
  void HandleSyscall(int nr, std::function<void(Call&)> hook) override {
    hooks_[nr] = std::move(hook);
  }
  void ClaimSyscallWhen(int nr, int arg, uint64_t value, bool equal) override {
    rules_[nr].push_back({arg, value, equal});
  }
  void ClaimAllSyscalls() override { all_ = true; }
  void AddMount(std::string_view prefix) override { mounts_.insert(std::string(prefix)); }
  void RemoveMount(std::string_view prefix) override { mounts_.erase(std::string(prefix)); }
  void ClaimSocketFamily(int family) override { families_.insert(family); }
  void NeedScratch() override {}
  void Log(LogLevel, std::string_view) override {}

  // Whether the dispatcher would hand this call to the plugin.
  bool Routes(int nr, const uint64_t* args) const {
    if (all_ || claimed_.count(nr) || hooks_.count(nr)) return true;
    if (auto it = rules_.find(nr); it != rules_.end()) {
      for (const Rule& r : it->second) {
        if ((args[r.arg] == r.value) == r.equal) return true;
      }
    }
    const SyscallInfo* info = LookupSyscall(nr);
    if (info && (info->classes & kClassPath) && !mounts_.empty()) return true;
    if ((nr == SYS_socket || nr == SYS_socketpair) && families_.count(static_cast<int>(args[0])))
      return true;
    return false;
  }
  const std::function<void(Call&)>* Hook(int nr) const {
    auto it = hooks_.find(nr);
    return it == hooks_.end() ? nullptr : &it->second;
  }

 private:
  std::set<int> claimed_, families_;
  std::map<int, std::function<void(Call&)>> hooks_;
  std::map<int, std::vector<Rule>> rules_;
  std::set<std::string> mounts_;
  bool all_ = false;
};

// One tracee thread's call; memory is the fuzzer's bytes plus a scratch area the plugin fills.
class FakeCall final : public Call {
 public:
  uint64_t Defer() override { return 0; }
  FakeCall(int nr, const uint64_t* args, std::vector<uint8_t>* mem, std::vector<uint8_t>* scratch)
      : nr_(nr), mem_(mem), scratch_(scratch) {
    std::memcpy(args_, args, sizeof args_);
  }
  pid_t tid() const override { return kPid; }
  pid_t pid() const override { return kPid; }
  int nr() const override { return nr_; }
  uint64_t arg(int i) const override { return i >= 0 && i < 6 ? args_[i] : 0; }
  void SetNr(int nr) override { nr_ = nr; }
  void SetArg(int i, uint64_t value) override {
    if (i < 0 || i >= 6) abort();  // a plugin bug: no such register
    args_[i] = value;
    paths_[i].reset();
  }
  const std::string* Path(int i) override {
    if (i < 0 || i >= 6) abort();
    if (!paths_[i]) {
      std::string s;
      int64_t r = ReadString(RemotePtr<char>(args_[i]), &s, 4096);
      if (r < 0) {
        path_err_[i] = static_cast<int>(-r);
        return nullptr;
      }
      if (s.empty()) {
        path_err_[i] = ENOENT;
        return nullptr;
      }
      paths_[i] = std::make_unique<std::string>(JoinPath("/", s));  // the cwd is "/"
    }
    return paths_[i].get();
  }
  int PathError(int i) override { return i >= 0 && i < 6 ? path_err_[i] : EINVAL; }
  int SetPath(int i, std::string_view path) override {
    std::string s(path);
    RemotePtr<void> p = PutScratch(s.c_str(), s.size() + 1);
    if (!p) return -ENOMEM;
    SetArg(i, p.addr());
    paths_[i] = std::make_unique<std::string>(s);
    return 0;
  }
  void Return(int64_t value) override {
    completed_ = true;
    result_ = value;
  }
  bool completed() const override { return completed_; }
  int ReturnFile(std::shared_ptr<VirtualFile> file, int) override {
    if (!file) abort();
    struct stat st;
    (void)file->Fstat(&st);
    files_.push_back(std::move(file));
    Return(100 + static_cast<int64_t>(files_.size()));
    return 0;
  }
  void RequestExit() override { want_exit_ = true; }
  bool at_exit() const override { return at_exit_; }
  int64_t result() const override { return result_; }
  void SetResult(int64_t value) override { result_ = value; }
  int GetProcessState(ProcessState* out) override {
    *out = {getuid(), geteuid(), geteuid(), getgid(), getegid(), getegid(), 022, "/"};
    return 0;
  }
  int Read(RemotePtr<void> addr, void* buf, size_t len) override {
    uint8_t* p = Map(addr.addr(), len);
    if (p == nullptr) return -EFAULT;
    if (len) std::memcpy(buf, p, len);
    return 0;
  }
  int Write(RemotePtr<void> addr, const void* buf, size_t len) override {
    uint8_t* p = Map(addr.addr(), len);
    if (p == nullptr) return -EFAULT;
    if (len) std::memcpy(p, buf, len);
    return 0;
  }
  int64_t ReadString(RemotePtr<char> addr, std::string* out, size_t max) override {
    out->clear();
    for (uint64_t a = addr.addr();; ++a) {
      uint8_t* p = Map(a, 1);
      if (p == nullptr) return -EFAULT;
      if (*p == 0) return static_cast<int64_t>(out->size());
      if (out->size() >= max) return -ENAMETOOLONG;
      *out += static_cast<char>(*p);
    }
  }
  int ReadMany(const Transfer* t, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      if (Map(t[i].remote.addr(), t[i].len) == nullptr) return -EFAULT;
    }
    for (size_t i = 0; i < count; ++i) Read(t[i].remote, t[i].local, t[i].len);
    return 0;
  }
  int WriteMany(const Transfer* t, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      if (Map(t[i].remote.addr(), t[i].len) == nullptr) return -EFAULT;
    }
    for (size_t i = 0; i < count; ++i) Write(t[i].remote, t[i].local, t[i].len);
    return 0;
  }
  bool InScratch(uint64_t addr) const override {
    return addr >= kScratchBase && addr < kScratchBase + scratch_start_;
  }
  RemotePtr<void> PutScratch(const void* data, size_t len) override {
    if (scratch_->size() + len > (1u << 20)) return RemotePtr<void>(0);
    uint64_t at = kScratchBase + scratch_->size();
    const uint8_t* d = static_cast<const uint8_t*>(data);
    scratch_->insert(scratch_->end(), d, d + len);
    return RemotePtr<void>(at);
  }

  void BeginExit(int64_t result) {
    at_exit_ = true;
    result_ = result;
  }
  bool want_exit() const { return want_exit_; }
  void MarkScratchStart() { scratch_start_ = scratch_->size(); }

 private:
  // The local bytes behind [addr, addr + len), or null when any of it is unmapped.
  uint8_t* Map(uint64_t addr, size_t len) {
    auto in = [&](std::vector<uint8_t>& v, uint64_t base) -> uint8_t* {
      if (addr < base || addr - base > v.size() || len > v.size() - (addr - base)) return nullptr;
      return v.data() + (addr - base);
    };
    if (uint8_t* p = in(*mem_, kMemBase)) return p;
    return in(*scratch_, kScratchBase);
  }

  int nr_;
  uint64_t args_[6];
  std::vector<uint8_t>* mem_;
  std::vector<uint8_t>* scratch_;
  size_t scratch_start_ = 0;
  std::unique_ptr<std::string> paths_[6];
  int path_err_[6] = {};
  bool completed_ = false, want_exit_ = false, at_exit_ = false;
  int64_t result_ = 0;
  std::vector<std::shared_ptr<VirtualFile>> files_;
};

#pragma pack(push, 1)
struct CallRecord {
  uint16_t nr;
  uint8_t flags;
  uint32_t args[6];
  int32_t result;
};
#pragma pack(pop)

// Moves option values that name files into PrivateDir(); returns the files it named.
std::vector<std::string> ConfineFiles(Options* options) {
  std::vector<std::string> files;
  auto confine = [&](std::string* v) {
    *v = Confine(*v);
    if (!v->empty()) files.push_back(*v);
  };
  for (Option& o : *options) {
    if (o.key == "output" || o.key == "log") {
      confine(&o.value);
    } else if (o.key == "ramdisk" || o.key == "disk" || o.key == "file") {
      // umdev: PATH:KEY=VALUE:..., where save=, image= and path= name host files.
      std::string out;
      size_t i = 0;
      while (i <= o.value.size()) {
        size_t j = o.value.find(':', i);
        if (j == std::string::npos) j = o.value.size();
        std::string part = o.value.substr(i, j - i);
        for (const char* k : {"save=", "image=", "path="}) {
          if (part.rfind(k, 0) == 0) {
            std::string v = part.substr(strlen(k));
            confine(&v);
            part = k + v;
          }
        }
        out += (i == 0 ? "" : ":") + part;
        i = j + 1;
      }
      o.value = out;
    }
  }
  return files;
}

bool MayDriveCalls(const Options& options) {
  if (std::string_view(UMVIEW_FUZZ_PLUGIN) == "umdev") return false;  // devices write images
  if (std::string_view(UMVIEW_FUZZ_PLUGIN) != "viewfs") return true;
  for (const Option& o : options) {
    if (o.key != "bind" && o.key != "ro" && o.key != "hide" && o.key != "except" &&
        o.key != "root") {
      return false;  // tmp, cow and merge write their layers
    }
  }
  return true;
}

void RunCalls(Plugin* plugin, const FakeHost& host, Input& in) {
  uint8_t count = in.Take<uint8_t>() % 17;
  std::vector<CallRecord> calls;
  for (uint8_t i = 0; i < count && in.Left() > 0; ++i) calls.push_back(in.Take<CallRecord>());
  std::string_view rest = in.Rest();
  std::vector<uint8_t> mem(rest.begin(), rest.end());
  std::vector<uint8_t> scratch;
  // A last call with no path lets viewfs release the descriptors it holds between calls.
  calls.push_back({SYS_chdir, 0, {0, 0, 0, 0, 0, 0}, -EFAULT});
  for (const CallRecord& r : calls) {
    uint64_t args[6];
    for (int i = 0; i < 6; ++i) args[i] = r.args[i];
    int nr = r.nr % 512;
    if (!host.Routes(nr, args)) continue;
    FakeCall call(nr, args, &mem, &scratch);
    call.MarkScratchStart();
    if (const auto* hook = host.Hook(nr)) {
      (*hook)(call);
    } else {
      plugin->OnEntry(call);
    }
    if (call.want_exit() && !call.completed()) {
      call.BeginExit(r.result);
      plugin->OnExit(call);
    }
    if (r.flags & 1) plugin->OnTaskExit(kPid, 0);
  }
}

}  // namespace
}  // namespace umview::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace umview;
  fuzz::Input in(data, size);
  std::string line = in.Line();
  PluginSpec spec;
  std::string error;
  if (!ParsePluginSpec(std::string(UMVIEW_FUZZ_PLUGIN) + "," + line, &spec, &error)) {
    if (line.empty() && error.empty()) abort();
    return 0;
  }
  if (std::string_view(UMVIEW_FUZZ_PLUGIN) == "umtrace") {
    // umtrace writes to stderr unless told otherwise: a file of the private directory instead.
    spec.options.insert(spec.options.begin(), {"output", "trace", true});
  }
  std::vector<std::string> files = fuzz::ConfineFiles(&spec.options);
  const auto* descriptor = static_cast<const PluginDescriptor*>(umview_plugin_v1);
  std::unique_ptr<Plugin> plugin(descriptor->create());
  fuzz::FakeHost host;
  if (!plugin->Init(host, spec.options, &error)) {
    // umview prints "PLUGIN: ERROR" as its one line and exits 2: the message must be there.
    if (error.empty() || error.find('\n') != std::string::npos) {
      fprintf(stderr, "Init refused the options with a bad message: '%s'\n", error.c_str());
      abort();
    }
  } else {
    if (fuzz::MayDriveCalls(spec.options)) fuzz::RunCalls(plugin.get(), host, in);
    std::string reply;
    (void)plugin->CurrentOptions(&spec.options);
    plugin->OnShutdown();
  }
  plugin.reset();
  for (const auto& f : files) unlink(f.c_str());
  return 0;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)umview::fuzz::PrivateDir();  // sets TMPDIR before any plugin makes a directory there
  return 0;
}
