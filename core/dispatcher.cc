// The dispatcher; see dispatcher.h.
#include "core/dispatcher.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "core/crash_report.h"
#include "core/log.h"
#include "core/notify_prefilter.h"
#include "core/path.h"

namespace umview {

struct Dispatcher::Slot {
  std::string name;
  Plugin* plugin = nullptr;
  bool all = false;
  std::bitset<512> nrs;
  std::bitset<64> families;   // socket address families
  std::vector<ArgRule> when;  // calls claimed only when an argument matches
  std::unordered_map<int, std::function<void(Call&)>> hooks;  // per-syscall hooks
  bool removed = false;                                       // unloaded by umctl
  std::vector<std::string> prefilter;          // Host::SetPrefilterPaths; empty: not declared
  std::bitset<512> prefilter_fd;               // Host::SetPrefilterFdCalls
  bool prefilter_exec = false;                 // Host::SetPrefilterExec
  bool prefilter_reads_only = false;           // Host::SetPrefilterReadsOnly
  std::vector<PrefilterBind> prefilter_binds;  // Host::SetPrefilterBinds
  std::unique_ptr<Host> host;
};

// One plugin's requested exit: the call as that plugin saw it at entry.
struct ExitRequest {
  size_t slot;
  SyscallState state;
};

struct Dispatcher::Pending {
  std::vector<ExitRequest> exits;  // outermost first
  std::string vfd_open;            // FIFO path of a virtual descriptor being opened
};

class HostImpl final : public Host {
 public:
  HostImpl(Dispatcher& d, size_t slot) : d_(d), slot_(slot) {}
  void ClaimSyscall(int nr) override {
    if (nr >= 0 && nr < 512) d_.slots_[slot_]->nrs.set(nr);
    ++d_.prefix_gen_;
  }
  void HandleSyscall(int nr, std::function<void(Call&)> hook) override {
    if (nr < 0 || nr >= 512) return;
    ClaimSyscall(nr);
    d_.slots_[slot_]->hooks[nr] = std::move(hook);
  }
  void ClaimAllSyscalls() override {
    d_.slots_[slot_]->all = true;
    ++d_.prefix_gen_;
  }
  void ClaimSyscallWhen(int nr, int arg, uint64_t value, bool equal) override {
    if (nr >= 0 && nr < 512 && arg >= 0 && arg < 6) {
      d_.slots_[slot_]->when.push_back({nr, arg, value, equal});
      ++d_.prefix_gen_;
    }
  }
  void AddMount(std::string_view prefix) override {
    d_.mounts_.push_back({NormalizePath(prefix), slot_, ++d_.mount_seq_});
    ++d_.prefix_gen_;
  }
  void RemoveMount(std::string_view prefix) override {
    std::string p = NormalizePath(prefix);
    for (auto it = d_.mounts_.end(); it != d_.mounts_.begin();) {
      --it;
      if (it->slot == slot_ && it->prefix == p) {
        d_.mounts_.erase(it);
        ++d_.prefix_gen_;
        return;
      }
    }
  }
  void ClaimSocketFamily(int family) override {
    if (family >= 0 && family < 64) d_.slots_[slot_]->families.set(family);
  }
  void NeedScratch() override { d_.need_scratch_ = true; }
  void Log(LogLevel level, std::string_view message) override {
    LogFor(d_.slots_[slot_]->name, level, message);
  }
  bool Resume(uint64_t token, std::function<void(Call&)> finish) override {
    return d_.ResumeDeferred(token, finish);
  }
  void Post(std::function<void()> fn) override { d_.Post(std::move(fn)); }
  bool WatchFd(int fd, std::function<void()> on_readable) override {
    return d_.WatchFd(fd, std::move(on_readable));
  }
  void UnwatchFd(int fd) override { d_.UnwatchFd(fd); }
  bool WatchSignal(uint64_t token, std::function<void(int, bool)> fn) override {
    auto it = d_.deferred_.find(token);
    if (it == d_.deferred_.end() || !fn) return false;
    it->second.on_signal = std::move(fn);
    return true;
  }
  void SetPrefilterPaths(std::vector<std::string> prefixes) override {
    for (auto& p : prefixes) p = NormalizePath(p);
    d_.slots_[slot_]->prefilter = std::move(prefixes);
    ++d_.prefix_gen_;
  }
  void SetPrefilterFdCalls(std::vector<int> nrs) override {
    auto& bits = d_.slots_[slot_]->prefilter_fd;
    bits.reset();
    for (int nr : nrs) {
      if (nr >= 0 && nr < 512) bits.set(nr);
    }
    ++d_.prefix_gen_;
  }
  void SetPrefilterExec(bool on) override {
    d_.slots_[slot_]->prefilter_exec = on;
    ++d_.prefix_gen_;
  }
  void SetPrefilterReadsOnly(bool on) override {
    d_.slots_[slot_]->prefilter_reads_only = on;
    ++d_.prefix_gen_;
  }
  bool PrefilterFollowsSymlinks() override {
    return d_.engine_ != nullptr && d_.engine_->prefilter_follows_symlinks();
  }
  void SetPrefilterBinds(std::vector<PrefilterBind> binds) override {
    for (auto& b : binds) {
      b.view = NormalizePath(b.view);
      b.host = NormalizePath(b.host);
    }
    d_.slots_[slot_]->prefilter_binds = std::move(binds);
    ++d_.prefix_gen_;
  }

 private:
  Dispatcher& d_;
  size_t slot_;
};

namespace {

struct PathCache {
  bool valid = false;
  std::string path;
  int error = 0;
};

std::optional<std::string> ReadLinkProc(pid_t tid, const std::string& what) {
  std::string p = "/proc/" + std::to_string(tid) + "/" + what;
  char buf[PATH_MAX];
  ssize_t n = readlink(p.c_str(), buf, sizeof buf);
  if (n < 0 || n >= static_cast<ssize_t>(sizeof buf)) return std::nullopt;
  return std::string(buf, n);
}

}  // namespace

// The Call a plugin sees. One object per stop; `slot_` says which plugin holds it now.
class CallImpl final : public Call {
 public:
  CallImpl(Dispatcher& d, SyscallStop& stop, bool at_exit)
      : d_(d), stop_(stop), at_exit_(at_exit) {}
  void set_slot(size_t slot) { slot_ = slot; }
  size_t slot() const { return slot_; }

  pid_t tid() const override { return stop_.tid; }
  pid_t pid() const override { return stop_.pid; }
  int nr() const override { return static_cast<int>(stop_.state.nr); }
  uint64_t arg(int i) const override { return (i >= 0 && i < 6) ? stop_.state.args[i] : 0; }
  int vfd_arg() const override { return vfd_arg_; }
  void set_vfd_arg(int a) { vfd_arg_ = a; }
  void SetNr(int nr) override {
    if (at_exit_) return;
    stop_.state.nr = nr;
    for (auto& c : paths_) c.valid = false;
  }
  void SetArg(int i, uint64_t v) override {
    if (at_exit_ || i < 0 || i >= 6) return;
    stop_.state.args[i] = v;
    paths_[i].valid = false;
    if (i + 1 < 6) paths_[i + 1].valid = false;  // i may be the dirfd of i+1
  }

  const std::string* Path(int i) override {
    PathCache& c = Resolve(i);
    return c.error == 0 ? &c.path : nullptr;
  }
  int PathError(int i) override { return Resolve(i).error; }
  int SetPath(int i, std::string_view path) override {
    std::string s(path);
    RemotePtr<void> p = PutScratch(s.c_str(), s.size() + 1);
    if (!p) return -ENOMEM;
    SetArg(i, p.addr());
    return 0;
  }

  void Return(int64_t value) override {
    if (at_exit_) {
      SetResult(value);
      return;
    }
    completed_ = true;
    value_ = value;
  }
  bool completed() const override { return completed_ || !vfd_path_.empty() || deferred_; }
  uint64_t Defer() override {
    if (at_exit_ || completed() || d_.engine_ == nullptr || !d_.engine_->supports_deferral()) {
      return 0;
    }
    // From now on the engine also waits on the plugin event descriptor: the answer may come
    // from a plugin thread (Post) while every tracee is stopped.
    {
      std::lock_guard<std::mutex> lock(d_.post_mu_);
      d_.EnsureEpoll();
    }
    deferred_ = true;
    uint64_t token = ++d_.defer_seq_;
    d_.deferred_[token] = {stop_.tid, slot_, nullptr};
    return token;
  }
  bool deferred() const { return deferred_; }
  int ReturnFile(std::shared_ptr<VirtualFile> file, int flags) override {
    if (at_exit_ || completed()) return -EINVAL;
    if (!file) return -EINVAL;
    int err = 0;
    std::string fifo = d_.vfds_.Create(std::move(file), slot_, &err);
    if (fifo.empty()) return -err;
    RemotePtr<void> p = PutScratch(fifo.c_str(), fifo.size() + 1);
    if (!p) {
      d_.vfds_.Abandon(fifo);
      return -ENOMEM;
    }
    // The tracee opens the FIFO instead: it gets a real descriptor for the virtual file.
    stop_.state.nr = SYS_openat;
    stop_.state.args[0] = static_cast<uint64_t>(AT_FDCWD);
    stop_.state.args[1] = p.addr();
    stop_.state.args[2] = O_RDWR | (flags & (O_CLOEXEC | O_NONBLOCK));
    stop_.state.args[3] = 0;
    for (auto& c : paths_) c.valid = false;
    vfd_path_ = fifo;
    return 0;
  }
  const std::string& vfd_path() const { return vfd_path_; }
  void RequestExit() override { exit_requested_ = true; }
  bool at_exit() const override { return at_exit_; }
  int64_t result() const override { return at_exit_ ? stop_.state.ret : value_; }
  void SetResult(int64_t value) override {
    if (at_exit_) stop_.state.ret = value;
  }

  int Read(RemotePtr<void> addr, void* buf, size_t len) override {
    return stop_.memory->Read(addr.addr(), buf, len);
  }
  int Write(RemotePtr<void> addr, const void* buf, size_t len) override {
    return stop_.memory->Write(addr.addr(), buf, len);
  }
  int64_t ReadString(RemotePtr<char> addr, std::string* out, size_t max) override {
    return stop_.memory->ReadString(addr.addr(), out, max);
  }
  int GetProcessState(ProcessState* out) override {
    std::string base = "/proc/" + std::to_string(stop_.tid) + "/";
    int fd = open((base + "status").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -ESRCH;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -ESRCH;
    buf[n] = 0;
    auto field = [&](const char* name) -> const char* {
      const char* p = strstr(buf, name);
      return p ? p + strlen(name) : nullptr;
    };
    const char* uid = field("\nUid:");
    const char* gid = field("\nGid:");
    const char* umask = field("\nUmask:");
    if (!uid || !gid) return -ESRCH;
    unsigned a, b, c, d;
    if (sscanf(uid, "%u %u %u %u", &a, &b, &c, &d) != 4) return -ESRCH;
    out->uid = a, out->euid = b, out->fsuid = d;
    if (sscanf(gid, "%u %u %u %u", &a, &b, &c, &d) != 4) return -ESRCH;
    out->gid = a, out->egid = b, out->fsgid = d;
    out->umask = umask ? static_cast<mode_t>(strtoul(umask, nullptr, 8)) : 022;
    std::optional<std::string> cwd = ReadLinkProc(stop_.tid, "cwd");
    out->cwd = cwd ? *cwd : "";
    return 0;
  }
  bool InScratch(uint64_t addr) const override {
    // Placed at an earlier entry: in the slot, but beyond what this entry has written so far
    // (an outer plugin's rewrite in this very entry is a path the inner plugins must see).
    return stop_.scratch != 0 && addr >= stop_.scratch + scratch_used_ &&
           addr < stop_.scratch + stop_.scratch_size;
  }
  int ReadMany(const Transfer* t, size_t n) override { return Many(t, n, false); }
  int WriteMany(const Transfer* t, size_t n) override { return Many(t, n, true); }
  RemotePtr<void> PutScratch(const void* data, size_t len) override {
    // At exit the slot still holds strings the entry placed and outer plugins' saved arguments
    // point to: nothing may be placed then.
    if (at_exit_) return RemotePtr<void>();
    size_t aligned = (scratch_used_ + 15) & ~size_t{15};
    if (stop_.scratch == 0 || aligned + len > stop_.scratch_size) return RemotePtr<void>();
    uint64_t addr = stop_.scratch + aligned;
    if (stop_.memory->WriteForce(addr, data, len) != 0) return RemotePtr<void>();
    scratch_used_ = aligned + len;
    return RemotePtr<void>(addr);
  }

  // Dispatcher side.
  bool TakeExitRequest() {
    bool r = exit_requested_;
    exit_requested_ = false;
    return r;
  }
  int64_t value() const { return value_; }
  void SetState(const SyscallState& s) {
    stop_.state.nr = s.nr;
    memcpy(stop_.state.args, s.args, sizeof s.args);
    for (auto& c : paths_) c.valid = false;
  }

 private:
  PathCache& Resolve(int i) {
    static PathCache bad{true, "", EINVAL};
    if (i < 0 || i >= 6) return bad;
    PathCache& c = paths_[i];
    if (c.valid) return c;
    c = PathCache{true, "", 0};
    const SyscallInfo* info = LookupSyscall(stop_.state.nr);
    if (info == nullptr || info->args[i] != Arg::kPath) {
      c.error = EINVAL;
      return c;
    }
    std::string raw;
    int64_t r = stop_.memory->ReadString(stop_.state.args[i], &raw, PATH_MAX);
    if (r < 0) {
      c.error = static_cast<int>(-r);
      return c;
    }
    int dirfd = AT_FDCWD;
    if (i > 0 && info->args[i - 1] == Arg::kDirFd) {
      dirfd = static_cast<int>(stop_.state.args[i - 1]);
    }
    if (!raw.empty() && raw[0] == '/') {
      c.path = NormalizePath(raw);
      return c;
    }
    if (raw.empty()) {
      int flags_arg = FindArg(*info, Arg::kAtFlags);
      bool empty_ok =
          flags_arg >= 0 && (stop_.state.args[flags_arg] & AT_EMPTY_PATH) && dirfd != AT_FDCWD;
      if (!empty_ok) {
        c.error = ENOENT;
        return c;
      }
    }
    std::optional<std::string> base = dirfd == AT_FDCWD
                                          ? ReadLinkProc(stop_.tid, "cwd")
                                          : ReadLinkProc(stop_.tid, "fd/" + std::to_string(dirfd));
    if (!base) {
      c.error = dirfd == AT_FDCWD ? ENOENT : EBADF;
      return c;
    }
    if (base->empty() || (*base)[0] != '/') {
      c.error = ENOTDIR;  // a socket, pipe or anon inode
      return c;
    }
    c.path = JoinPath(*base, raw);
    return c;
  }

  int Many(const Transfer* t, size_t n, bool write) {
    std::vector<umview::Transfer> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = {t[i].remote.addr(), t[i].local, t[i].len};
    return write ? stop_.memory->WriteMulti(v.data(), n) : stop_.memory->ReadMulti(v.data(), n);
  }

  Dispatcher& d_;
  SyscallStop& stop_;
  bool at_exit_;
  bool completed_ = false;
  bool exit_requested_ = false;
  bool deferred_ = false;
  int64_t value_ = 0;
  size_t slot_ = 0;
  int vfd_arg_ = -1;
  std::string vfd_path_;
  size_t scratch_used_ = 0;
  PathCache paths_[6];
};

Dispatcher::Dispatcher() = default;
Dispatcher::~Dispatcher() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (event_fd_ >= 0) close(event_fd_);
}

bool Dispatcher::AddPlugin(const std::string& name, Plugin* plugin, const Options& options,
                           std::string* error) {
  auto slot = std::make_unique<Slot>();
  slot->name = name;
  slot->plugin = plugin;
  slot->host = std::make_unique<HostImpl>(*this, slots_.size());
  Slot& s = *slot;
  slots_.push_back(std::move(slot));
  ++prefix_gen_;
  std::string err;
  bool ok = false;
  RunningPlugin running(s.name);
  try {
    ok = s.plugin->Init(*s.host, options, &err);
  } catch (const std::exception& e) {
    err = std::string("initialisation threw: ") + e.what();
  } catch (...) {
    err = "initialisation threw";
  }
  if (!ok) {
    *error = name + ": " + (err.empty() ? "initialisation failed" : err);
    return false;
  }
  return true;
}

EngineConfig Dispatcher::MakeEngineConfig() const {
  EngineConfig c;
  c.observe_exec = !slots_.empty();
  std::bitset<512> trap;
  for (const auto& s : slots_) {
    c.trap_all |= s->all;
    trap |= s->nrs;
    if (s->families.any()) {
      trap.set(SYS_socket);
      trap.set(SYS_socketpair);
    }
    for (const ArgRule& a : s->when) {
      if (std::find(c.conditional.begin(), c.conditional.end(), a) == c.conditional.end()) {
        c.conditional.push_back(a);
      }
    }
  }
  if (!mounts_.empty()) {
    for (const SyscallInfo* s = SyscallsBegin(); s != SyscallsEnd(); ++s) {
      if (s->classes & kClassPath) trap.set(s->nr);
    }
  }
  for (int i = 0; i < 512; ++i) {
    if (trap.test(i)) c.trapped.push_back(i);
  }
  c.need_scratch = need_scratch_;
  // Calls on descriptors, trapped only in processes that hold virtual descriptors. Descriptor
  // table calls (dup, close, fcntl) and readiness (epoll) stay native: the FIFO does the work.
  for (const SyscallInfo* s = SyscallsBegin(); s != SyscallsEnd(); ++s) {
    if (!(s->classes & kClassFd) || (s->classes & kClassFdTable) || trap.test(s->nr)) continue;
    if (s->nr == SYS_epoll_ctl || s->nr == SYS_epoll_wait || s->nr == SYS_epoll_pwait ||
        s->nr == SYS_epoll_pwait2) {
      continue;
    }
    c.fd_trapped.push_back(s->nr);
  }
  // The calls a path prefilter may decide, when the plugins declared one.
  std::vector<std::string> prefixes;
  if (!c.trap_all && PathPrefixes(&prefixes)) {
    const std::vector<int> fd_calls = PrefilterFdCalls();
    // execve only if the plugins agree now: otherwise every execve would be escalated, dearer
    // than the plain stop it is without the prefilter.
    const bool exec = PrefilterExec();
    // Calls that always write stop directly while a plugin wants them to (not notify only to
    // be escalated, which costs more than the stop).
    const bool reads_only = PrefilterReadsOnly();
    c.prefilter_reads_only = reads_only;
    for (int nr : c.trapped) {
      PrefilterPathArgs pa;
      if (reads_only && !PrefilterCallMayRead(nr)) continue;
      if (PrefilterPathCall(nr, &pa) || (nr == SYS_execve && exec) ||
          std::find(fd_calls.begin(), fd_calls.end(), nr) != fd_calls.end()) {
        c.prefiltered.push_back(nr);
      }
    }
  }
  return c;
}

// The path prefilter's prefixes: each plugin's declared ones (SetPrefilterPaths) or else its
// mounts. A plugin that traps everything, or claims a path call by number without declaring
// prefixes, must see every path call: no prefilter then.
bool Dispatcher::PathPrefixes(std::vector<std::string>* prefixes) const {
  prefixes->clear();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = *slots_[i];
    if (s.removed) continue;
    if (s.all) return false;
    if (!s.prefilter.empty()) {
      prefixes->insert(prefixes->end(), s.prefilter.begin(), s.prefilter.end());
      continue;
    }
    auto is_path = [](int nr) {
      const SyscallInfo* info = LookupSyscall(nr);
      return info != nullptr && (info->classes & kClassPath);
    };
    for (int nr = 0; nr < 512; ++nr) {
      if (s.nrs.test(nr) && is_path(nr)) return false;
    }
    for (const ArgRule& a : s.when) {
      if (is_path(a.nr)) return false;
    }
    for (const Mount& m : mounts_) {
      if (m.slot == i) prefixes->push_back(m.prefix);
    }
  }
  std::sort(prefixes->begin(), prefixes->end());
  prefixes->erase(std::unique(prefixes->begin(), prefixes->end()), prefixes->end());
  return true;
}

// Numbers every plugin that claims them (by number or argument rule) declared descriptor-scoped
// along with its prefixes: only then may the kernel skip a call on a descriptor outside them.
std::vector<int> Dispatcher::PrefilterFdCalls() const {
  std::bitset<512> ok, claimed;
  ok.set();
  for (const auto& sp : slots_) {
    const Slot& s = *sp;
    if (s.removed) continue;
    if (s.all) return {};
    std::bitset<512> mine = s.nrs;
    for (const ArgRule& a : s.when) {
      if (a.nr >= 0 && a.nr < 512) mine.set(a.nr);
    }
    claimed |= mine;
    ok &= s.prefilter.empty() ? ~mine : (~mine | s.prefilter_fd);
  }
  std::vector<int> out;
  for (int nr = 0; nr < 512; ++nr) {
    if (claimed.test(nr) && ok.test(nr)) out.push_back(nr);
  }
  return out;
}

// execve may be decided by the prefilter only if every plugin it concerns — one with mounts,
// or one that claims it by number or argument rule — agreed (PathPrefixes already requires
// declared prefixes of a plugin that claims path calls by number).
bool Dispatcher::PrefilterExec() const {
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = *slots_[i];
    if (s.removed) continue;
    if (s.all) return false;
    bool concerned = s.nrs.test(SYS_execve);
    for (const ArgRule& a : s.when) concerned |= a.nr == SYS_execve;
    for (const Mount& m : mounts_) concerned |= m.slot == i;
    if (concerned && !s.prefilter_exec) return false;
  }
  return true;
}

bool Dispatcher::PrefilterReadsOnly() const {
  for (const auto& sp : slots_) {
    if (!sp->removed && sp->prefilter_reads_only) return true;
  }
  return false;
}

// The binds the plugins with declared prefixes named plain (their own prefixes), and every
// other prefix: the rest of those plugins' declared ones and the other plugins' mounts.
std::vector<PrefilterBind> Dispatcher::PrefilterBinds(std::vector<std::string>* mounts) const {
  std::vector<PrefilterBind> binds;
  mounts->clear();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = *slots_[i];
    if (s.removed) continue;
    if (s.prefilter.empty()) {
      for (const Mount& m : mounts_) {
        if (m.slot == i) mounts->push_back(m.prefix);
      }
      continue;
    }
    auto declared = [&](const std::string& p) {
      return std::find(s.prefilter.begin(), s.prefilter.end(), p) != s.prefilter.end();
    };
    const size_t first = binds.size();
    for (const PrefilterBind& b : s.prefilter_binds) {
      if (declared(b.view) && declared(b.host)) binds.push_back(b);
    }
    for (const std::string& p : s.prefilter) {
      bool bind = false;
      for (size_t b = first; b < binds.size(); ++b)
        bind |= p == binds[b].view || p == binds[b].host;
      if (!bind) mounts->push_back(p);
    }
  }
  return binds;
}

int Dispatcher::SoleRootOwner() const {
  int owner = -1;
  bool root = false;
  for (const Mount& m : mounts_) {
    if (owner >= 0 && owner != static_cast<int>(m.slot)) return -1;
    owner = static_cast<int>(m.slot);
    root |= m.prefix == "/";
  }
  return root ? owner : -1;
}

int Dispatcher::PathOwner(const std::string& path, size_t upto) const {
  const Mount* best = nullptr;
  for (const Mount& m : mounts_) {
    if (m.slot > upto || !PathUnder(path, m.prefix)) continue;
    if (best == nullptr || m.prefix.size() > best->prefix.size() ||
        (m.prefix.size() == best->prefix.size() && m.seq > best->seq)) {
      best = &m;
    }
  }
  return best ? static_cast<int>(best->slot) : -1;
}

template <typename F>
void Dispatcher::ForEachPlugin(const char* hook, F f) {
  for (auto& s : slots_) {
    if (s->removed) continue;
    RunningPlugin running(s->name);
    try {
      f(*s->plugin);
    } catch (const std::exception& e) {
      LogFor(s->name, LogLevel::kError, std::string(hook) + " threw: " + e.what());
    } catch (...) {
      LogFor(s->name, LogLevel::kError, std::string(hook) + " threw");
    }
  }
}

EntryDecision Dispatcher::OnSyscallEntry(SyscallStop& stop) {
  if (stop.state.nr == kControlSyscall) return HandleControl(stop);
  entry_stop_ = &stop;
  early_ = false;
  struct Clear {
    SyscallStop*& s;
    ~Clear() { s = nullptr; }
  } clear{entry_stop_};
  CallImpl call(*this, stop, false);
  std::unique_ptr<Pending>& pp = pending_[stop.tid];
  if (!pp) pp = std::make_unique<Pending>();
  Pending& p = *pp;
  p.exits.clear();
  p.vfd_open.clear();
  tgid_[stop.tid] = stop.pid;
  // Routing by virtual descriptor: the plugin that made the file serves the call; plugins
  // stacked outside it see the call first.
  VirtualFdTable::Entry* vfd = nullptr;
  if (!vfds_.empty()) {
    vfds_.ReapClosed(Tgids());
    vfd = FindVirtualFd(stop);
    if (vfd != nullptr) call.set_vfd_arg(vfd_arg_);
  }
  for (size_t i = slots_.size(); i-- > 0;) {
    Slot& s = *slots_[i];
    if (s.removed) continue;
    const long nr = stop.state.nr;
    call.set_slot(i);
    if (vfd != nullptr && vfd->slot == i) {
      std::shared_ptr<VirtualFile> file = vfd->file;  // Intercept may release the entry
      bool handled = false;
      try {
        handled = file->Intercept(call);
      } catch (const std::exception& e) {
        LogFor(s.name, LogLevel::kError, std::string("virtual file threw: ") + e.what());
        call.Return(-EIO);
        handled = true;
      }
      if (handled) return Conclude(call, stop, p);
      int64_t r;
      RunningPlugin running(s.name);
      try {
        r = vfds_.Perform(*vfd, stop, call, vfd_arg_);
      } catch (const std::exception& e) {
        LogFor(s.name, LogLevel::kError, std::string("virtual file threw: ") + e.what());
        r = -EIO;
      } catch (...) {
        LogFor(s.name, LogLevel::kError, "virtual file threw");
        r = -EIO;
      }
      stop.state.ret = r;
      DeliverExits(stop, p);
      return {EntryOutcome::kSkip, stop.state.ret};
    }
    bool routed = s.all || (nr >= 0 && nr < 512 && s.nrs.test(nr)) ||
                  std::any_of(s.when.begin(), s.when.end(),
                              [&](const ArgRule& a) {
                                return a.nr == nr && (stop.state.args[a.arg] == a.value) == a.equal;
                              }) ||
                  ((nr == SYS_socket || nr == SYS_socketpair) && stop.state.args[0] < 64 &&
                   s.families.test(stop.state.args[0]));
    if (!routed && !mounts_.empty()) {
      const SyscallInfo* info = LookupSyscall(nr);
      if (info != nullptr && (info->classes & kClassPath)) {
        // Only one plugin mounts anything and it holds "/" (viewfs): every path is its own,
        // with no need to resolve the paths here (it resolves them itself).
        if (SoleRootOwner() == static_cast<int>(i)) routed = true;
        for (int a = 0; a < info->nargs && !routed; ++a) {
          if (info->args[a] != Arg::kPath) continue;
          const std::string* path = call.Path(a);
          routed = path != nullptr && PathOwner(*path, i) == static_cast<int>(i);
        }
      }
    }
    if (!routed) continue;
    SyscallState seen = stop.state;
    RunningPlugin running(s.name);
    try {
      auto hook = s.hooks.empty() ? s.hooks.end() : s.hooks.find(static_cast<int>(nr));
      if (hook != s.hooks.end()) {
        hook->second(call);
      } else {
        s.plugin->OnEntry(call);
      }
    } catch (const std::exception& e) {
      LogFor(s.name, LogLevel::kError,
             std::string("OnEntry(") + (LookupSyscall(nr) ? LookupSyscall(nr)->name : "?") +
                 ") threw: " + e.what() + "; the call fails with EIO");
      call.Return(-EIO);
    } catch (...) {
      LogFor(s.name, LogLevel::kError, "OnEntry threw; the call fails with EIO");
      call.Return(-EIO);
    }
    if (call.TakeExitRequest()) p.exits.push_back({i, seen});
    if (call.completed()) return Conclude(call, stop, p);
  }
  if (!p.exits.empty()) return {EntryOutcome::kRunReportExit, 0};
  return {EntryOutcome::kRunNoExit, 0};
}

// The decision for a call a plugin completed, deferred or turned into a virtual-file open.
EntryDecision Dispatcher::Conclude(CallImpl& call, SyscallStop& stop, Pending& p) {
  if (call.deferred()) {
    if (early_ && entry_stop_ == &stop) {
      early_ = false;
      return early_decision_;
    }
    return {EntryOutcome::kDefer, 0};
  }
  if (!call.vfd_path().empty()) {
    // A new virtual descriptor: the rewritten open runs; its exit tells whether it worked.
    p.vfd_open = call.vfd_path();
    return {EntryOutcome::kRunReportExit, 0};
  }
  if (call.completed()) {
    stop.state.ret = call.value();
    if (stop.state.ret < -4095) {
      // Below the kernel's errno range: the tracee would take it for a result.
      const SyscallInfo* info = LookupSyscall(stop.state.nr);
      LogFor(slots_[call.slot()]->name, LogLevel::kError,
             "returned " + std::to_string(stop.state.ret) + " from " + (info ? info->name : "?") +
                 ", neither a result nor -errno; the call fails with EIO");
      stop.state.ret = -EIO;
    }
    DeliverExits(stop, p);
    return {EntryOutcome::kSkip, stop.state.ret};
  }
  if (!p.exits.empty()) return {EntryOutcome::kRunReportExit, 0};
  return {EntryOutcome::kRunNoExit, 0};
}

bool Dispatcher::ResumeDeferred(uint64_t token, const std::function<void(Call&)>& finish) {
  auto it = deferred_.find(token);
  if (it == deferred_.end() || engine_ == nullptr) return false;
  Deferred d = it->second;
  deferred_.erase(it);
  auto run = [&](SyscallStop& stop) -> EntryDecision {
    std::unique_ptr<Pending>& pp = pending_[stop.tid];
    if (!pp) pp = std::make_unique<Pending>();
    CallImpl call(*this, stop, false);
    call.set_slot(d.slot);
    const SyscallState seen = stop.state;
    try {
      finish(call);
    } catch (const std::exception& e) {
      LogFor(slots_[d.slot]->name, LogLevel::kError,
             std::string("finishing a deferred call threw: ") + e.what());
      call.Return(-EIO);
    }
    if (call.TakeExitRequest()) pp->exits.push_back({d.slot, seen});
    return Conclude(call, stop, *pp);
  };
  if (entry_stop_ != nullptr && entry_stop_->tid == d.tid) {
    // Deferred and answered within the same entry: the entry's decision is this one.
    SyscallStop* self = entry_stop_;
    entry_stop_ = nullptr;  // a nested Conclude must not take the early answer
    early_decision_ = run(*self);
    entry_stop_ = self;
    early_ = true;
    return true;
  }
  return engine_->FinishDeferred(d.tid, run);
}

// The epoll set (the engine's wake descriptor) exists only once a plugin posts or watches: until
// then the engine blocks in plain waitpid. Called with post_mu_ held.
bool Dispatcher::EnsureEpoll() {
  if (epoll_fd_ >= 0) return true;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = event_fd_;
  if (ep < 0 || event_fd_ < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, event_fd_, &ev) != 0) {
    if (ep >= 0) close(ep);
    if (event_fd_ >= 0) close(event_fd_);
    event_fd_ = -1;
    return false;
  }
  epoll_fd_ = ep;
  return true;
}

// Post may come from any thread: the queue is locked and the eventfd wakes the engine's wait.
void Dispatcher::Post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(post_mu_);
  if (!EnsureEpoll()) {
    Log(LogLevel::kError, "cannot create the plugin event descriptor; a posted function is lost");
    return;
  }
  posted_.push_back(std::move(fn));
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

bool Dispatcher::WatchFd(int fd, std::function<void()> on_readable) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    if (!EnsureEpoll()) return false;
  }
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watched_[fd] = std::move(on_readable);
  return true;
}

void Dispatcher::UnwatchFd(int fd) {
  if (watched_.erase(fd) > 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void Dispatcher::OnWake() {
  struct epoll_event evs[16];
  int n = epoll_wait(epoll_fd_, evs, 16, 0);
  for (int i = 0; i < n; ++i) {
    int fd = evs[i].data.fd;
    if (fd == event_fd_) {
      uint64_t count;
      (void)!read(event_fd_, &count, sizeof count);
      std::vector<std::function<void()>> fns;
      {
        std::lock_guard<std::mutex> lock(post_mu_);
        fns.swap(posted_);
      }
      for (auto& fn : fns) {
        try {
          fn();
        } catch (const std::exception& e) {
          Log(LogLevel::kError, std::string("a posted plugin function threw: ") + e.what());
        }
      }
      continue;
    }
    auto it = watched_.find(fd);
    if (it == watched_.end()) continue;
    std::function<void()> cb = it->second;  // the callback may unwatch itself
    try {
      cb();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, std::string("a plugin's descriptor callback threw: ") + e.what());
    }
  }
}

VirtualFdTable::Entry* Dispatcher::FindVirtualFd(SyscallStop& stop) {
  const SyscallInfo* info = LookupSyscall(stop.state.nr);
  if (info == nullptr || !(info->classes & kClassFd)) return nullptr;
  // dup/close/fcntl act on the descriptor table: the kernel's job even when a plugin that
  // claims everything (umtrace) makes them stop.
  if (info->classes & kClassFdTable) return nullptr;
  vfd_arg_ = -1;
  // The calls that move data between two descriptors are the virtual file's when either one is.
  const long nr = stop.state.nr;
  if (nr == SYS_sendfile || nr == SYS_splice || nr == SYS_tee || nr == SYS_copy_file_range) {
    for (int a = 0; a < info->nargs; ++a) {
      if (info->args[a] != Arg::kFd || static_cast<int>(stop.state.args[a]) < 0) continue;
      if (VirtualFdTable::Entry* e = vfds_.Lookup(stop.tid, static_cast<int>(stop.state.args[a]))) {
        vfd_arg_ = a;
        return e;
      }
    }
    return nullptr;
  }
  int a = FindArg(*info, Arg::kFd);
  if (a < 0) {
    a = FindArg(*info, Arg::kDirFd);
    if (a < 0) return nullptr;
    // A dirfd matters only for a relative path (or an empty one with AT_EMPTY_PATH).
    if (a + 1 < 6 && info->args[a + 1] == Arg::kPath) {
      char c = 0;
      if (stop.memory->Read(stop.state.args[a + 1], &c, 1) == 0 && c == '/') return nullptr;
    }
  }
  int fd = static_cast<int>(stop.state.args[a]);
  if (fd < 0) return nullptr;
  VirtualFdTable::Entry* e = vfds_.Lookup(stop.tid, fd);
  if (e != nullptr) vfd_arg_ = a;
  return e;
}

std::vector<pid_t> Dispatcher::Tgids() const {
  std::vector<pid_t> v;
  for (const auto& [tid, tgid] : tgid_) {
    if (std::find(v.begin(), v.end(), tgid) == v.end()) v.push_back(tgid);
  }
  return v;
}

void Dispatcher::DeliverExits(SyscallStop& stop, Pending& p) {
  // Exit travels outward: innermost requester first, i.e. reverse of the entry order.
  for (auto it = p.exits.rbegin(); it != p.exits.rend(); ++it) {
    Slot& s = *slots_[it->slot];
    if (s.removed) continue;
    CallImpl call(*this, stop, true);
    call.SetState(it->state);
    RunningPlugin running(s.name);
    try {
      s.plugin->OnExit(call);
    } catch (const std::exception& e) {
      LogFor(s.name, LogLevel::kError, std::string("OnExit threw: ") + e.what());
    } catch (...) {
      LogFor(s.name, LogLevel::kError, "OnExit threw");
    }
  }
  p.exits.clear();
}

void Dispatcher::OnSyscallExit(SyscallStop& stop) {
  auto it = pending_.find(stop.tid);
  if (it == pending_.end()) return;
  if (!it->second->vfd_open.empty()) {
    if (stop.state.ret < 0) {
      vfds_.Abandon(it->second->vfd_open);
    } else {
      stop.want_fd_trap = true;  // from now on this process stops on calls on descriptors
    }
    it->second->vfd_open.clear();
  }
  if (it->second->exits.empty()) return;
  SyscallState regs = stop.state;  // what the kernel ran
  DeliverExits(stop, *it->second);
  // Only the return value goes back to the tracee; the arguments stay as the kernel had them.
  int64_t ret = stop.state.ret;
  stop.state = regs;
  stop.state.ret = ret;
}

EntryDecision Dispatcher::HandleControl(SyscallStop& stop) {
  const uint64_t* a = stop.state.args;
  auto reply = [&](int64_t rc, const std::string& text) -> EntryDecision {
    size_t n = std::min<size_t>(a[4], text.size());
    if (n > 0 && stop.memory->Write(a[3], text.data(), n) != 0) {
      return {EntryOutcome::kSkip, -EFAULT};
    }
    return {EntryOutcome::kSkip, rc < 0 ? rc : static_cast<int64_t>(text.size())};
  };
  switch (static_cast<long>(a[0])) {
    case kControlPing:
      return {EntryOutcome::kSkip, kControlMagic};
    case kControlInfo:
      return reply(0, control_ ? control_->Info() : "");
    case kControlViewYaml:
      return reply(0, control_ ? control_->ViewYaml() : "");
    case kControlLoad:
    case kControlUnload: {
      if (control_ == nullptr || a[2] > 4096) return {EntryOutcome::kSkip, -EINVAL};
      std::string in(a[2], '\0');
      if (a[2] > 0 && stop.memory->Read(a[1], in.data(), in.size()) != 0) {
        return {EntryOutcome::kSkip, -EFAULT};
      }
      std::string text;
      int rc = a[0] == kControlLoad ? control_->Load(in, &text) : control_->Unload(in, &text);
      size_t n = std::min<size_t>(a[4], text.size());
      if (n > 0) stop.memory->Write(a[3], text.data(), n);
      if (n < a[4]) stop.memory->Write(a[3] + n, "", 1);
      return {EntryOutcome::kSkip, rc < 0 ? rc : static_cast<int64_t>(text.size())};
    }
    case kControlPluginCommand: {
      if (a[2] > 65536) return {EntryOutcome::kSkip, -E2BIG};
      std::string in(a[2], '\0');
      if (a[2] > 0 && stop.memory->Read(a[1], in.data(), in.size()) != 0) {
        return {EntryOutcome::kSkip, -EFAULT};
      }
      size_t nul = in.find('\0');
      if (nul == std::string::npos) return {EntryOutcome::kSkip, -EINVAL};
      std::string name = in.substr(0, nul), command = in.substr(nul + 1);
      for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
        Slot& s = **it;
        if (s.name != name) continue;
        std::string text;
        int rc;
        try {
          rc = s.plugin->OnControl(command, &text);
        } catch (const std::exception& e) {
          rc = -EIO;
          text = std::string("the plugin failed: ") + e.what();
        }
        // An error's message goes back too: the reply length is then the negative errno.
        size_t n = std::min<size_t>(a[4], text.size());
        if (n > 0) stop.memory->Write(a[3], text.data(), n);
        if (n < a[4]) stop.memory->Write(a[3] + n, "", 1);
        return {EntryOutcome::kSkip, rc < 0 ? rc : static_cast<int64_t>(text.size())};
      }
      return reply(-ENOENT, "no plugin '" + name + "' in this view");
    }
  }
  return {EntryOutcome::kSkip, -EINVAL};
}

std::vector<std::pair<std::string, Plugin*>> Dispatcher::Stack() const {
  std::vector<std::pair<std::string, Plugin*>> out;
  for (const auto& s : slots_) {
    if (!s->removed) out.push_back({s->name, s->plugin});
  }
  return out;
}

bool Dispatcher::RemovePlugin(const std::string& name, std::string* error) {
  for (size_t i = slots_.size(); i-- > 0;) {
    Slot& s = *slots_[i];
    if (s.removed || s.name != name) continue;
    for (const Mount& m : mounts_) {
      if (m.slot == i) {
        *error = name + " still has mounts (" + m.prefix + "); it cannot be unloaded";
        return false;
      }
    }
    if (vfds_.Owns(i)) {
      *error = name + " still has open files in the view; it cannot be unloaded";
      return false;
    }
    // The slot stays (indices name plugins in the mount and file tables) but is skipped.
    s.removed = true;
    ++prefix_gen_;
    s.all = false;
    s.nrs.reset();
    s.families.reset();
    s.when.clear();
    s.hooks.clear();
    return true;
  }
  *error = "no plugin '" + name + "' in this view";
  return false;
}

void Dispatcher::OnNewTask(pid_t parent_tid, pid_t tid, bool is_thread) {
  auto parent = tgid_.find(parent_tid);
  tgid_[tid] = is_thread && parent != tgid_.end() ? parent->second : tid;
  ForEachPlugin("OnNewTask", [&](Plugin& p) { p.OnNewTask(parent_tid, tid, is_thread); });
}

void Dispatcher::OnExec(pid_t pid, pid_t former_tid) {
  if (former_tid != pid) {
    // The exec'ing thread took the leader's tid: its pending execve exit moves with it, and the
    // old leader's call (it vanished without an exit report) is dropped.
    auto it = pending_.find(former_tid);
    if (it != pending_.end()) {
      pending_[pid] = std::move(it->second);
      pending_.erase(it);
    } else {
      pending_.erase(pid);
    }
    tgid_.erase(former_tid);
    tgid_[pid] = pid;
  }
  ForEachPlugin("OnExec", [&](Plugin& p) { p.OnExec(pid, former_tid); });
}

bool Dispatcher::WantsSignal(pid_t tid) const {
  for (const auto& [token, d] : deferred_) {
    if (d.tid == tid && d.on_signal) return true;
  }
  return false;
}

// A signal for a thread waiting in a deferred call: the plugin that deferred it decides (its
// callback runs once; it may Resume the call).
void Dispatcher::OnDeferredSignal(pid_t tid, int sig, bool fatal) {
  for (auto& [token, d] : deferred_) {
    if (d.tid != tid || !d.on_signal) continue;
    auto fn = std::move(d.on_signal);
    d.on_signal = nullptr;
    const size_t slot = d.slot;  // fn may erase the entry (Resume)
    try {
      fn(sig, fatal);
    } catch (const std::exception& e) {
      LogFor(slots_[slot]->name, LogLevel::kError,
             std::string("a deferred call's signal callback threw: ") + e.what());
    }
    return;
  }
}

void Dispatcher::OnTaskExit(pid_t tid, int wait_status) {
  pending_.erase(tid);
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    it = it->second.tid == tid ? deferred_.erase(it) : std::next(it);
  }
  tgid_.erase(tid);
  if (!vfds_.empty()) vfds_.ReapClosed(Tgids());
  ForEachPlugin("OnTaskExit", [&](Plugin& p) { p.OnTaskExit(tid, wait_status); });
}

void Dispatcher::Shutdown() {
  vfds_.ReleaseAll();
  ForEachPlugin("OnShutdown", [&](Plugin& p) { p.OnShutdown(); });
}

}  // namespace umview
