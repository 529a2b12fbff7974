// The kmview engine (see kmview_engine.h). The module traps by syscall number (a bitmap); what a
// bitmap cannot express (argument rules, calls trapped only in processes holding virtual
// descriptors) is decided here and answered at once with KMVIEW_RUN.
#include "core/kmview_engine.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "core/notify_prefilter.h"
#include "kernel/include/kmview.h"

namespace umview {
namespace {

// Tracee memory through the module: by pid, FOLL_FORCE writes, strings that stop at the NUL.
class KmviewMemory final : public TraceeMemory {
 public:
  KmviewMemory(int dev, pid_t pid) : TraceeMemory(pid), dev_(dev), pid_(pid) {}
  void Reset(pid_t pid) override {
    TraceeMemory::Reset(pid);
    pid_ = pid;
  }
  int Read(uint64_t addr, void* buf, size_t len) override {
    return Op(KMVIEW_MEM_READ, addr, buf, len) < 0 ? -EFAULT : 0;
  }
  int Write(uint64_t addr, const void* buf, size_t len) override {
    return Op(KMVIEW_MEM_WRITE, addr, const_cast<void*>(buf), len) < 0 ? -EFAULT : 0;
  }
  int WriteForce(uint64_t addr, const void* buf, size_t len) override {
    return Write(addr, buf, len);
  }
  // Like TraceeMemory::ReadString: the NUL must lie within max bytes, else -ENAMETOOLONG (and
  // nothing past max is read).
  int64_t ReadString(uint64_t addr, std::string* out, size_t max) override {
    out->resize(max);
    int64_t r = Op(KMVIEW_MEM_STRING, addr, out->data(), max);
    if (r < 0) {
      out->clear();
      return r;
    }
    out->resize(r);
    return r;
  }
  int ReadMulti(const Transfer* t, size_t n) override { return Multi(KMVIEW_MEM_READ, t, n); }
  int WriteMulti(const Transfer* t, size_t n) override { return Multi(KMVIEW_MEM_WRITE, t, n); }

 private:
  int64_t Op(uint32_t op, uint64_t addr, void* buf, size_t len) {
    if (len == 0) return 0;
    kmview_mem m{};
    m.op = op;
    m.pid = pid_;
    m.addr = addr;
    m.buf = reinterpret_cast<uintptr_t>(buf);
    m.len = len;
    if (ioctl(dev_, KMVIEW_IOC_MEM, &m) != 0 && m.result >= 0) return -errno;
    return m.result;
  }
  // One ioctl for the whole batch (KMVIEW_IOC_MULTI); all-or-nothing like TraceeMemory.
  int Multi(uint32_t op, const Transfer* t, size_t n) {
    std::vector<kmview_mem> ops(n);
    for (size_t i = 0; i < n; ++i) {
      ops[i] =
          kmview_mem{op, pid_, t[i].remote, reinterpret_cast<uintptr_t>(t[i].local), t[i].len, 0};
    }
    kmview_multi m{};
    m.ops = reinterpret_cast<uintptr_t>(ops.data());
    m.nops = static_cast<uint32_t>(n);
    if (ioctl(dev_, KMVIEW_IOC_MULTI, &m) != 0) return -errno;
    for (const auto& o : ops) {
      if (o.result < 0 || static_cast<uint64_t>(o.result) != o.len) return -EFAULT;
    }
    return 0;
  }
  int dev_;
  pid_t pid_;
};

struct Proc {
  bool fd_trapped = false;  // holds virtual descriptors: fd_trapped calls stop too
};

struct Task {
  pid_t tid = 0;
  pid_t pid = 0;
  std::unique_ptr<KmviewMemory> mem;
  std::shared_ptr<Proc> proc;
  bool exit_wanted = false;  // the entry asked for the exit report
};

class KmviewEngine final : public Engine {
 public:
  explicit KmviewEngine(int dev) : dev_(dev) {
    kmview_info info{};
    if (ioctl(dev_, KMVIEW_IOC_INFO, &info) == 0) abi_ = info.abi_version;
  }
  ~KmviewEngine() override {
    if (dev_ >= 0) close(dev_);
  }
  const char* name() const override { return "kmview"; }
  // ABI 3: the module's path prefilter walks the path and leaves any symlink on it to us.
  bool prefilter_follows_symlinks() const override { return abi_ >= 3; }
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const EngineConfig& config, std::string* error) override;
  int Run(EngineClient& client) override;
  pid_t root_pid() const override { return root_; }
  const std::vector<StopCounters>& counters() const override { return counters_; }
  bool ExtendTrapped(const EngineConfig& config, std::string* error) override;

 private:
  bool Configure(const EngineConfig& config, std::string* error);
  ssize_t ReadEvents(kmview_event* evs, size_t n);
  Task& GetTask(pid_t tid, pid_t pid);
  void OnEvent(const kmview_event& ev);
  void OnEntry(const kmview_event& ev);
  void OnExit(const kmview_event& ev);
  bool Wanted(const Task& t, const kmview_event& ev) const;
  SyscallStop MakeStop(Task& t, const kmview_event& ev);
  void Reply(const kmview_event& ev, uint32_t action, int64_t value = 0,
             const SyscallState* changed = nullptr);
  void SyncPrefixes();
  void SyncFdPrefilter(bool have_prefixes);

  int dev_ = -1;
  uint32_t abi_ = 0;  // the module's KMVIEW_ABI_VERSION
  EngineClient* client_ = nullptr;
  EngineConfig config_;
  pid_t root_ = -1;
  std::unordered_map<pid_t, std::unique_ptr<Task>> tasks_;
  std::vector<StopCounters> counters_;
  std::vector<bool> trapped_;  // by number: always wanted (trapped or trap_all)
  bool idle_ = true;           // nothing trapped at all
  bool marking_ = false;       // the module has the marked bitmap (ABI 2): fd_trapped numbers there
  uint64_t prefix_gen_ = ~0ULL;  // the client's path_prefixes_generation() last given to the module
  // Adaptive polling before sleeping (see ReadEvents).
  int64_t spin_ns_ = 0;
  int64_t spin_max_ns_ = 0;
};

bool KmviewEngine::Configure(const EngineConfig& config, std::string* error) {
  kmview_config c{};
  c.flags =
      (config.trap_all ? KMVIEW_CFG_TRAP_ALL : 0) | (config.need_scratch ? KMVIEW_CFG_SCRATCH : 0);
  trapped_.assign(KMVIEW_NR_BITMAP, config.trap_all);
  idle_ = !config.trap_all && config.trapped.empty() && config.conditional.empty();
  auto set = [&c](int nr) {
    if (nr >= 0 && nr < KMVIEW_NR_BITMAP) c.bitmap[nr / 64] |= 1ULL << (nr % 64);
  };
  for (int nr : config.trapped) {
    set(nr);
    if (nr >= 0 && nr < KMVIEW_NR_BITMAP) trapped_[nr] = true;
  }
  for (const ArgRule& r : config.conditional) set(r.nr);
  // Descriptor calls matter only in processes holding virtual descriptors: the module reports
  // them only in processes the engine marked (KMVIEW_IOC_MARK, at the first such descriptor).
  // A module of ABI 1 lacks the marked bitmap: they are in the bitmap then, for every process,
  // and Wanted() answers those of unmarked processes at once.
  kmview_bitmap marked{};
  for (int nr : config.fd_trapped) {
    if (nr >= 0 && nr < KMVIEW_NR_BITMAP) marked.bitmap[nr / 64] |= 1ULL << (nr % 64);
  }
  marking_ = ioctl(dev_, KMVIEW_IOC_MARKED_BITMAP, &marked) == 0;
  if (!marking_) {
    for (int nr : config.fd_trapped) set(nr);
  }
  // Numbers beyond the bitmap (the control call) always report.
  if (ioctl(dev_, KMVIEW_IOC_CONFIG, &c) != 0) {
    *error = std::string("ioctl(/dev/kmview, KMVIEW_IOC_CONFIG): ") + strerror(errno);
    return false;
  }
  return true;
}

// True if /PATH/name exists in a directory of env's PATH (execvpe's default without one).
bool OnPath(const char* name, const std::vector<std::string>& env) {
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = j > i ? path.substr(i, j - i) : ".";
    if (access((dir + "/" + name).c_str(), F_OK) == 0) return true;
    i = j + 1;
  }
  return false;
}

// The child side of Start(): attach to the tracer, restore the inherited signal state, exec.
// Everything after the attach (chdir, execve) already goes through the view.
[[noreturn]] void ChildExec(int dev, const std::vector<std::string>& argv,
                            const std::vector<std::string>& env, const EngineConfig& config) {
  if (ioctl(dev, KMVIEW_IOC_ATTACH_SELF) != 0) {
    dprintf(2, "umview: ioctl(/dev/kmview, KMVIEW_IOC_ATTACH_SELF): %s\n", strerror(errno));
    _exit(126);
  }
  close(dev);  // the tracer alone holds the device: its death must kill us
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction cur {};
    if (sigaction(sig, nullptr, &cur) != 0) continue;
    bool ignore = std::find(config.ignored_signals.begin(), config.ignored_signals.end(), sig) !=
                  config.ignored_signals.end();
    if (ignore) {
      signal(sig, SIG_IGN);
    } else if (cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO)) {
      signal(sig, SIG_DFL);
    }
  }
  sigprocmask(SIG_SETMASK, &config.blocked_signals, nullptr);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  if (!config.initial_cwd.empty() && chdir(config.initial_cwd.c_str()) != 0) {
    dprintf(2, "umview: -w %s: %s\n", config.initial_cwd.c_str(), strerror(errno));
    _exit(2);
  }
  execvpe(cargv[0], cargv.data(), cenv.data());
  int e = errno;
  if (e == EACCES && strchr(cargv[0], '/') == nullptr && !OnPath(cargv[0], env)) e = ENOENT;
  if (e == ENOENT) {
    dprintf(2, "umview: %s: command not found\n", cargv[0]);
  } else {
    dprintf(2, "umview: %s: %s\n", cargv[0], strerror(e));
  }
  _exit(e == ENOENT ? 127 : 126);
}

bool KmviewEngine::Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const EngineConfig& config, std::string* error) {
  config_ = config;
  counters_.assign(KMVIEW_NR_BITMAP, {});
  if (dev_ < 0) {
    *error = KMVIEW_DEVICE " is not open";
    return false;
  }
  if (!Configure(config, error)) return false;
  pid_t child = fork();
  if (child < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (child == 0) ChildExec(dev_, argv, env, config);
  root_ = child;
  Task& t = GetTask(child, child);
  t.proc = std::make_shared<Proc>();
  return true;
}

bool KmviewEngine::ExtendTrapped(const EngineConfig& config, std::string* error) {
  EngineConfig merged = config;
  merged.need_scratch = config.need_scratch || config_.need_scratch;
  if (!Configure(merged, error)) return false;
  config_.trapped = merged.trapped;
  config_.conditional = merged.conditional;
  config_.fd_trapped = merged.fd_trapped;
  config_.trap_all = merged.trap_all;
  config_.need_scratch = merged.need_scratch;
  return true;
}

Task& KmviewEngine::GetTask(pid_t tid, pid_t pid) {
  auto it = tasks_.find(tid);
  if (it != tasks_.end()) return *it->second;
  auto t = std::make_unique<Task>();
  t->tid = tid;
  t->pid = pid;
  t->mem = std::make_unique<KmviewMemory>(dev_, tid);
  Task& ref = *t;
  tasks_.emplace(tid, std::move(t));
  return ref;
}

// Waking a tracer that sleeps on another CPU is most of the cost of a stop on virtual machines
// (see PtraceEngine::WaitNext): with more than one CPU the tracer polls the device for a while
// before sleeping in poll(); the window doubles while events come within it and halves when not.
ssize_t KmviewEngine::ReadEvents(kmview_event* evs, size_t n) {
  const size_t bytes = n * sizeof(kmview_event);
  if (spin_max_ns_ > 0) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (true) {
      ssize_t got = read(dev_, evs, bytes);
      if (got > 0 || (got < 0 && errno != EAGAIN)) {
        spin_ns_ = std::min(spin_max_ns_, std::max<int64_t>(spin_ns_ * 2, 2000));
        return got;
      }
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t spent = (now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec);
      if (spent >= spin_ns_) break;
    }
    spin_ns_ /= 2;
  }
  while (true) {
    ssize_t got = read(dev_, evs, bytes);
    if (got >= 0 || errno != EAGAIN) return got;
    struct pollfd pfd = {dev_, POLLIN, 0};
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return -1;
  }
}

int KmviewEngine::Run(EngineClient& client) {
  client_ = &client;
  cpu_set_t cpus;
  if (config_.spin_max_us > 0 && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
      CPU_COUNT(&cpus) > 1) {
    spin_max_ns_ = config_.spin_max_us * 1000;
    spin_ns_ = spin_max_ns_;
  }
  std::vector<kmview_event> evs(64);
  while (!tasks_.empty()) {
    SyncPrefixes();
    ssize_t n = ReadEvents(evs.data(), evs.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("read(/dev/kmview): ") + strerror(errno));
      break;
    }
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(kmview_event)); ++i) OnEvent(evs[i]);
  }
  // The root's real wait status (its exit event gives the thread's own code only).
  int status = 0;
  while (waitpid(root_, &status, __WALL) < 0 && errno == EINTR) {
  }
  return status;
}

void KmviewEngine::OnEvent(const kmview_event& ev) {
  switch (ev.type) {
    case KMVIEW_EV_NEW_THREAD: {
      bool thread = (ev.flags & CLONE_THREAD) != 0;
      Task& c = GetTask(ev.tid, ev.pid);
      auto parent = tasks_.find(ev.a);
      std::shared_ptr<Proc> pp = parent != tasks_.end() ? parent->second->proc : nullptr;
      if (thread && pp) {
        c.proc = pp;
      } else {
        c.proc = std::make_shared<Proc>(pp ? *pp : Proc{});
      }
      client_->OnNewTask(ev.a, ev.tid, thread);
      return;
    }
    case KMVIEW_EV_EXEC: {
      pid_t former = ev.a;
      if (former != ev.tid) {
        // A non-leader thread exec'd and took the leader's tid; the leader's exit was reported.
        auto it = tasks_.find(former);
        if (it != tasks_.end()) {
          std::unique_ptr<Task> moved = std::move(it->second);
          tasks_.erase(it);
          moved->tid = ev.tid;
          moved->mem = std::make_unique<KmviewMemory>(dev_, ev.tid);
          tasks_[ev.tid] = std::move(moved);
        }
      }
      Task& t = GetTask(ev.tid, ev.pid);
      t.pid = ev.pid;
      t.mem->Reset(ev.tid);
      client_->OnExec(ev.tid, former);
      return;
    }
    case KMVIEW_EV_SYSCALL_ENTRY:
      OnEntry(ev);
      return;
    case KMVIEW_EV_SYSCALL_EXIT:
      OnExit(ev);
      return;
    case KMVIEW_EV_THREAD_EXIT: {
      auto it = tasks_.find(ev.tid);
      if (it == tasks_.end()) return;
      client_->OnTaskExit(ev.tid, ev.status);
      tasks_.erase(it);
      return;
    }
  }
}

// Does this stop concern the dispatcher, or only a bitmap bit set for another reason?
bool KmviewEngine::Wanted(const Task& t, const kmview_event& ev) const {
  // The control call; an idle view does not answer it (the ptrace engine has no filter then).
  if (ev.nr < 0 || ev.nr >= KMVIEW_NR_BITMAP) return !idle_;
  if (trapped_[ev.nr]) return true;
  for (const ArgRule& r : config_.conditional) {
    if (r.nr == ev.nr && r.arg >= 0 && r.arg < 6 && (ev.args[r.arg] == r.value) == r.equal) {
      return true;
    }
  }
  if (t.proc && t.proc->fd_trapped) {
    for (int nr : config_.fd_trapped) {
      if (nr == ev.nr) return true;
    }
  }
  return false;
}

SyscallStop KmviewEngine::MakeStop(Task& t, const kmview_event& ev) {
  SyscallStop s;
  s.tid = ev.tid;
  s.pid = ev.pid;
  s.state.nr = ev.nr;
  std::copy(ev.args, ev.args + 6, s.state.args);
  s.state.ret = ev.ret;
  s.state.ip = ev.ip;
  s.state.sp = ev.sp;
  s.memory = t.mem.get();
  s.scratch = ev.scratch;
  s.scratch_size = ev.scratch_size;
  return s;
}

// Gives the module the client's path prefixes when they changed. Called before every reply:
// a mount added by the call being answered (umctl load, a FUSE mount) is in the module before
// any tracee runs on. An empty list (or none: a plugin must see every path call) turns the
// prefilter off.
void KmviewEngine::SyncPrefixes() {
  uint64_t gen = client_->path_prefixes_generation();
  if (gen == prefix_gen_) return;
  prefix_gen_ = gen;
  std::vector<std::string> prefixes;
  std::string buf;
  // The module cannot tell a read from a write (Host::SetPrefilterReadsOnly): no prefilter
  // for a plugin that protects only from writes.
  if (!config_.trap_all && client_->PathPrefixes(&prefixes) && !client_->PrefilterReadsOnly()) {
    // A plain bind's host path counts only through cwds and descriptors (ABI 4), as in the
    // ptrace engine's prefilter (PrefilterRules::absolute_prefixes).
    std::vector<std::string> mounts;
    std::vector<PrefilterBind> binds;
    if (abi_ >= 4) binds = client_->PrefilterBinds(&mounts);
    for (const auto& p : prefixes) {
      if (BaseOnlyPrefix(p, binds, mounts)) buf.push_back(KMVIEW_PREFIX_BASE_ONLY);
      buf.append(p).push_back('\0');
    }
  }
  kmview_prefixes kp{};
  kp.buf = reinterpret_cast<uintptr_t>(buf.data());
  kp.len = static_cast<uint32_t>(buf.size());
  if (ioctl(dev_, KMVIEW_IOC_PREFIXES, &kp) != 0) {
    // The module refused the list: every path call then keeps reporting, which is safe.
    Log(LogLevel::kWarning, std::string("ioctl(/dev/kmview, KMVIEW_IOC_PREFIXES): ") +
                                strerror(errno) + "; no path prefilter");
    kp.len = 0;
    ioctl(dev_, KMVIEW_IOC_PREFIXES, &kp);
  }
  SyncFdPrefilter(kp.len != 0);
}

// The descriptor calls (getdents64, getcwd...) the module may answer by the path of their
// descriptor's file; only with a prefix list. A module of ABI 1 lacks the ioctl (ENOTTY): those
// calls then keep stopping, which is safe.
void KmviewEngine::SyncFdPrefilter(bool have_prefixes) {
  kmview_bitmap f{};
  if (have_prefixes && !config_.trap_all) {
    for (int nr : client_->PrefilterFdCalls()) {
      if (nr >= 0 && nr < KMVIEW_NR_BITMAP) f.bitmap[nr / 64] |= 1ULL << (nr % 64);
    }
  }
  if (ioctl(dev_, KMVIEW_IOC_FD_PREFILTER, &f) != 0 && errno != ENOTTY) {
    Log(LogLevel::kWarning, std::string("ioctl(/dev/kmview, KMVIEW_IOC_FD_PREFILTER): ") +
                                strerror(errno) + "; no descriptor prefilter");
  }
}

void KmviewEngine::Reply(const kmview_event& ev, uint32_t action, int64_t value,
                         const SyscallState* changed) {
  SyncPrefixes();
  kmview_reply r{};
  r.tid = ev.tid;
  r.seq = ev.seq;
  r.action = action;
  r.value = value;
  if (changed) {
    if (changed->nr != ev.nr) {
      r.change |= KMVIEW_REPLY_NR;
      r.nr = changed->nr;
    }
    if (memcmp(changed->args, ev.args, sizeof ev.args) != 0) {
      r.change |= KMVIEW_REPLY_ARGS;
      std::copy(changed->args, changed->args + 6, r.args);
    }
  }
  // ESRCH: killed meanwhile (its exit event follows).
  ioctl(dev_, KMVIEW_IOC_REPLY, &r);
}

void KmviewEngine::OnEntry(const kmview_event& ev) {
  Task& t = GetTask(ev.tid, ev.pid);
  if (!Wanted(t, ev)) {
    Reply(ev, KMVIEW_RUN);
    return;
  }
  SyscallStop stop = MakeStop(t, ev);
  EntryDecision d = client_->OnSyscallEntry(stop);
  if (config_.count_stops && ev.nr >= 0 && ev.nr < static_cast<int64_t>(counters_.size())) {
    auto& c = counters_[ev.nr];
    if (d.outcome == EntryOutcome::kSkip) {
      ++c.skipped;
    } else if (d.outcome == EntryOutcome::kRunReportExit) {
      ++c.entry_exit;
    } else {
      ++c.entry_only;
    }
  }
  switch (d.outcome) {
    case EntryOutcome::kSkip:
      Reply(ev, KMVIEW_SKIP, d.value);
      return;
    case EntryOutcome::kRunReportExit:
      t.exit_wanted = true;
      Reply(ev, KMVIEW_RUN_REPORT_EXIT, 0, &stop.state);
      return;
    case EntryOutcome::kRunNoExit:
    case EntryOutcome::kDefer:  // never returned here: this engine does not offer deferral
      Reply(ev, KMVIEW_RUN, 0, &stop.state);
      return;
  }
}

void KmviewEngine::OnExit(const kmview_event& ev) {
  Task& t = GetTask(ev.tid, ev.pid);
  t.exit_wanted = false;
  SyscallStop stop = MakeStop(t, ev);
  client_->OnSyscallExit(stop);
  // -ERESTARTSYS..-ERESTART_RESTARTBLOCK (512..516) are the kernel's: never replaced.
  const bool restart = ev.ret <= -512 && ev.ret >= -516;
  if (stop.want_fd_trap && t.proc && !t.proc->fd_trapped) {
    t.proc->fd_trapped = true;
    // Before the reply: the process must not run a descriptor call unseen. Without marking
    // (ABI 1) the bitmap already has them.
    if (marking_ && ioctl(dev_, KMVIEW_IOC_MARK, static_cast<long>(ev.tid)) != 0) {
      Log(LogLevel::kWarning,
          std::string("ioctl(/dev/kmview, KMVIEW_IOC_MARK): ") + strerror(errno));
    }
  }
  if (stop.state.ret != ev.ret && !restart) {
    Reply(ev, KMVIEW_SET_RETURN, stop.state.ret);
  } else {
    Reply(ev, KMVIEW_KEEP_RETURN);
  }
}

}  // namespace

int OpenKmview(std::string* why) {
  int fd = open(KMVIEW_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *why = std::string(KMVIEW_DEVICE ": ") + strerror(errno);
    return -1;
  }
  kmview_info info{};
  if (ioctl(fd, KMVIEW_IOC_INFO, &info) != 0) {
    *why = std::string("ioctl(" KMVIEW_DEVICE ", KMVIEW_IOC_INFO): ") + strerror(errno);
    close(fd);
    return -1;
  }
  // ABI 2 only added to 1 (descriptor prefilter, marked bitmap) and 3 changed only what the
  // path prefilter lets through: the engine does without them (and with ABI < 3 viewfs leaves
  // its prefilter off unless asked, prefilter_follows_symlinks).
  if (info.abi_version < 1 || info.abi_version > KMVIEW_ABI_VERSION) {
    *why = "/dev/kmview speaks ABI " + std::to_string(info.abi_version) + ", this umview " +
           std::to_string(KMVIEW_ABI_VERSION);
    close(fd);
    return -1;
  }
  return fd;
}

std::unique_ptr<Engine> MakeKmviewEngine(int dev) { return std::make_unique<KmviewEngine>(dev); }

}  // namespace umview
