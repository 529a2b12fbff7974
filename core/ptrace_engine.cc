// The ptrace engine: PTRACE_SEIZE + a seccomp filter with SECCOMP_RET_TRACE. A trapped call costs
// one stop when it runs without an exit report or is skipped, two when its exit is reported.
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine.h"
#include "core/log.h"
#include "core/notify_prefilter.h"
#include "core/regs.h"
#include "core/seccomp_filter.h"

namespace umview {
namespace {

constexpr size_t kScratchSlot = 16 * 1024;  // two PATH_MAX strings and some room
constexpr size_t kScratchSlots = 2048;      // threads of one address space needing scratch
constexpr size_t kScratchSize = kScratchSlot * kScratchSlots;
// Every address space has its scratch area at this one address: above where non-PIE programs
// start (0x400000) and below where PIE programs, libraries and stacks live. Being fixed and low,
// the filter can trap exactly the memory calls that could unmap, replace or unprotect it with one
// comparison (`address < end`, SeccompFilter::GuardBelow) while the calls of ordinary programs,
// which touch higher addresses, never stop. A program whose brk heap grows into it gets a
// failed brk (malloc then uses mmap); a program that maps something there with MAP_FIXED is
// refused (EPERM).
constexpr uint64_t kScratchBase = 0x10000000;
constexpr uint64_t kScratchEnd = kScratchBase + kScratchSize;

// The kernel's "restart this call" return value (include/linux/errno.h, not exported): a call
// that returns it is made again when the thread goes back to user mode, whatever the signal
// handlers' SA_RESTART. The notification prefilter escalates a call with it (Escalate).
constexpr int64_t kERestartNoIntr = 513;

// Whether `r`, a memory call stopped by the guard rules, would unmap, move, replace, zero or
// unprotect any part of the scratch area [base, base + kScratchSize) — or is a userfaultfd(),
// which could serve the area's pages. Such calls are refused: the area holds checked paths
// while the kernel reads them.
bool TouchesScratch(const Regs& r, uint64_t base) {
  auto overlaps = [base](uint64_t addr, uint64_t len) {
    uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
    return addr < base + kScratchSize && end > base;
  };
  switch (r.nr()) {
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_madvise:
      return overlaps(r.arg(0), r.arg(1));
    case SYS_mremap:
      return overlaps(r.arg(0), r.arg(1)) ||
             ((r.arg(3) & MREMAP_FIXED) && overlaps(r.arg(4), r.arg(2)));
    case SYS_mmap:
      return (r.arg(3) & MAP_FIXED) && overlaps(r.arg(0), r.arg(1));
    case SYS_shmat:
      // The segment's size is not in the call: any SHM_REMAP at or below the area is refused.
      return (r.arg(2) & SHM_REMAP) && r.arg(1) != 0 && r.arg(1) < base + kScratchSize;
    case SYS_userfaultfd:
      return true;
    default:
      return false;
  }
}

// Scratch memory of one address space: a PROT_READ private anonymous mapping (the tracee cannot
// write it; we write through /proc/PID/mem), cut into per-thread slots.
struct AddressSpace {
  uint64_t base = 0;
  // Lazy set-up (PtraceEngine::NeedScratch): kNone until a stop of one of its threads needs
  // scratch, kPending while the injected mmap runs, kFailed when it could not be mapped.
  enum class Setup { kNone, kPending, kFailed } setup = Setup::kNone;
  // Its fixed address was taken by the program's own memory: map it where the kernel likes
  // (the guard rules do not cover it there).
  bool anywhere = false;
  std::vector<bool> used;
  int Acquire() {
    if (base == 0) return -1;
    if (used.empty()) used.resize(kScratchSlots);
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) {
        used[i] = true;
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  void Release(int slot) {
    if (slot >= 0 && static_cast<size_t>(slot) < used.size()) used[slot] = false;
  }
};

// Whether a memory call stopped by the guard rules must be refused with EPERM: it touches the
// scratch area, or, before the area is mapped at its fixed address, it would place the
// program's own memory there (so that the address stays free for it).
bool RefusedForScratch(const AddressSpace& as, const Regs& regs) {
  if (as.base != 0) return TouchesScratch(regs, as.base);
  if (as.setup == AddressSpace::Setup::kFailed || as.anywhere) return false;
  Regs target = regs;
  switch (regs.nr()) {
    case SYS_mmap:
    case SYS_shmat:
      return TouchesScratch(regs, kScratchBase);
    case SYS_mremap:  // only where it moves to
      target.set_arg(0, 0);
      target.set_arg(1, 0);
      return TouchesScratch(target, kScratchBase);
    default:
      return false;
  }
}

// Where a thread is in a call umview makes it run: the scratch mmap that follows an execve, or
// the seccomp() that adds the virtual-descriptor filter.
enum class Inject { kNone, kAwaitExecExit, kAwaitEntry, kAwaitExit };
enum class InjectKind { kScratch, kFdFilter, kStackFilter, kLazyScratch };

// What threads of one process share beyond memory. Survives execve; copied by fork.
struct Proc {
  bool fd_trapped = false;  // the virtual-descriptor filter is installed
  size_t filters = 0;       // how many of the engine's run-time filters are installed
};

struct Task {
  pid_t tid = 0;
  pid_t pid = 0;
  bool started = false;      // initial attach stop seen
  bool announced = false;    // parent's clone event seen (or root)
  bool held = false;         // initial stop seen before the parent's event: resume later
  bool expect_exit = false;  // resumed with PTRACE_SYSCALL for an exit report
  bool deferred = false;     // left stopped at a seccomp entry stop (kDefer)
  bool signal_told = false;  // deferred, and the client was told of a pending signal
  std::shared_ptr<AddressSpace> as;
  int slot = -1;
  std::unique_ptr<TraceeMemory> mem;
  std::shared_ptr<Proc> proc;
  Inject inject = Inject::kNone;
  InjectKind inject_kind = InjectKind::kScratch;
  Regs saved;  // registers around an injected call
  unsigned char saved_text[Regs::kSyscallInsnLen] = {};
  // Notification prefilter (Escalate): the escalated call the next interrupt stop is for.
  bool escalated = false;
  Escalation escalation{};
  bool at_restart = false;   // stopped in an escalated call that restarts when resumed
  bool rerun_entry = false;  // exit wanted for the re-run: its entry stop is still to come
  // An escalated call re-run through a RET_TRACE rule (its number changed): let it pass.
  bool rerun_traced = false;
  long rerun_nr = -1;
  uint64_t rerun_args[6] = {};
};

class PtraceEngine final : public Engine {
 public:
  const char* name() const override { return "ptrace"; }
  bool prefilter_follows_symlinks() const override { return true; }
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const EngineConfig& config, std::string* error) override;
  int Run(EngineClient& client) override;
  pid_t root_pid() const override { return untraced_ ? untraced_->pid : root_; }
  const std::vector<StopCounters>& counters() const override { return counters_; }
  bool ExtendTrapped(const EngineConfig& config, std::string* error) override;
  bool supports_deferral() const override { return true; }
  bool FinishDeferred(pid_t tid, const std::function<EntryDecision(SyscallStop&)>& finish) override;

 private:
  bool StartUntraced(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     std::string* error);
  int RunUntraced();
  Task& GetTask(pid_t tid);
  void Resume(Task& t, int sig = 0);
  void HandleStop(pid_t tid, int status);
  void HandleSeccomp(Task& t);
  void HandleSyscallStop(Task& t);
  void ApplyEntry(Task& t, Regs& regs, SyscallStop& stop, const SyscallState& before,
                  EntryDecision d);
  pid_t WaitWithWake(int* status);
  void ScanDeferredSignals();
  void HandleClone(Task& t, int event);
  void HandleExec(Task& t);
  void BeginInject(Task& t);
  void BeginFdFilterInject(Task& t, const Regs& at_exit, SyscallStop& stop);
  bool BeginStackFilterInject(Task& t, const Regs& at_entry, const SyscallStop& stop);
  void FinishInject(Task& t);
  pid_t WaitNext(int* status);
  void Escalate();
  bool NeedScratch(Task& t);
  void BeginLazyScratch(Task& t, const Regs& regs, bool at_entry);
  void FinishLazyScratch(Task& t, int64_t rc);
  static bool TracedByUs(pid_t tid);
  static bool OwnScratchMapped(pid_t tid);
  static bool HeapMayReachScratch(Task& t);
  const std::vector<char>& FdFilter();
  void HandleEscalated(Task& t);
  void KeepNotifiedCallRestartable(Task& t);
  void SyncPrefilterRules();
  bool StartPrefilter(int listener_fd, pid_t child, std::string* error);
  void Gone(pid_t tid, int status);
  void ReleaseOrphans();
  SyscallStop MakeStop(Task& t, const Regs& regs);

  EngineClient* client_ = nullptr;
  EngineConfig config_;
  pid_t root_ = -1;
  int root_status_ = 0;
  // Set when the command runs untraced (StartUntraced): its pid, or its wait status when it
  // could not be started at all.
  struct Untraced {
    pid_t pid = -1;
    int status = 0;
  };
  std::optional<Untraced> untraced_;
  std::unordered_map<pid_t, std::unique_ptr<Task>> tasks_;
  std::vector<StopCounters> counters_;
  // struct sock_filter[] of the virtual-descriptor filter, built on first use (FdFilter).
  std::vector<char> fd_filter_;
  bool fd_filter_failed_ = false;
  bool observe_exec_ = true;  // PTRACE_O_TRACEEXEC (Start)
  // Map every address space's scratch area right after its execve, as before the lazy set-up
  // (UMVIEW_SCRATCH=eager: for comparing the two).
  bool eager_scratch_ = false;
  // UMVIEW_PREFILTER_BINDS=off: the prefilter ignores the plugins' plain binds (for comparing).
  bool prefilter_binds_ = true;
  // Calls that stop only for the engine (clone's CLONE_UNTRACED, the guard rules) and that no
  // plugin claims: their stops never need scratch, so they do not map it.
  std::bitset<512> scratch_free_;
  std::vector<std::vector<char>> stack_filters_;  // added by ExtendTrapped, in order
  std::vector<bool> trapped_now_;                 // by syscall number, what the filters trap
  bool trap_all_now_ = false;
  std::vector<ArgRule> conditional_now_;
  // Adaptive spinning before blocking in waitpid (see WaitNext).
  int64_t spin_ns_ = 0;
  int64_t spin_max_ns_ = 0;
  int sigchld_fd_ = -1;  // signalfd for SIGCHLD: waiting on tracees and the client's wake fd
  // Threads left stopped by kDefer, whose pending signals are looked at every
  // kSignalScanMs (see ScanDeferredSignals).
  int deferred_n_ = 0;
  int64_t last_scan_ns_ = 0;
  static constexpr int kSignalScanMs = 50;
  // The notification prefilter, when config.prefiltered is in force (notify_prefilter.h).
  std::unique_ptr<NotifyPrefilter> notify_;
  std::vector<bool> notified_;  // by number: routed to it
  uint64_t rules_gen_ = 0;
  bool rules_set_ = false;
};

// True if some directory of the PATH in `env` holds a file called `name`.
bool OnPath(const char* name, const std::vector<std::string>& env) {
  std::string path = "/usr/local/bin:/usr/bin:/bin";  // execvpe's default
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

// The command's execvpe failed with errno e: says so like a shell would and returns the exit
// status, 127 not found, 126 not executable.
int ExecFailed(const char* name, int e, const std::vector<std::string>& env) {
  // execvpe reports EACCES when a PATH directory could not be searched, even if the command is
  // in none of them: that is "not found" too.
  if (e == EACCES && strchr(name, '/') == nullptr && !OnPath(name, env)) e = ENOENT;
  if (e == ENOENT) {
    dprintf(2, "umview: %s: command not found\n", name);
  } else {
    dprintf(2, "umview: %s: %s\n", name, strerror(e));
  }
  return e == ENOENT ? 127 : 126;
}

// In the command's child before exec: the signal state umview inherited, not the one it set up
// for itself. Async-signal-safe (also runs in a vfork child).
void RestoreInheritedSignals(const EngineConfig& config) {
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
}

// The child side of Start(): wait for the tracer to seize us, install the filter, exec.
[[noreturn]] void ChildExec(int sync_fd, int report_fd, const SeccompFilter& filter,
                            const SeccompFilter* notify_filter,
                            const std::vector<std::string>& argv,
                            const std::vector<std::string>& env, const EngineConfig& config) {
  char c;
  while (read(sync_fd, &c, 1) < 0 && errno == EINTR) {
  }
  if (config.need_scratch) {
    void* p = mmap(reinterpret_cast<void*>(kScratchBase), kScratchSize, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    uint64_t base = p == MAP_FAILED ? 0 : reinterpret_cast<uint64_t>(p);
    (void)!write(report_fd, &base, sizeof base);
  }
  RestoreInheritedSignals(config);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  // With the notification prefilter: its listener's number goes to the tracer, which takes a
  // copy (pidfd_getfd) before we go on; a kernel that refuses the flags gets the plain filter.
  int r = -EINVAL;
  int listener = -1;
  if (notify_filter != nullptr) {
    r = notify_filter->Install();
    if (r >= 0) listener = r;
  }
  if (r < 0) r = filter.empty() ? 0 : filter.Install();
  if (notify_filter != nullptr) {
    (void)!write(report_fd, &listener, sizeof listener);
    while (read(sync_fd, &c, 1) < 0 && errno == EINTR) {
    }
    if (listener >= 0) close(listener);
    r = r < 0 ? r : 0;
  }
  close(sync_fd);
  close(report_fd);
  if (r != 0) {
    dprintf(2, "umview: cannot install the seccomp filter: %s\n", strerror(-r));
    _exit(126);
  }
  // After the filter: the chdir goes through the view (it may name a path only the view has).
  if (!config.initial_cwd.empty() && chdir(config.initial_cwd.c_str()) != 0) {
    dprintf(2, "umview: -w %s: %s\n", config.initial_cwd.c_str(), strerror(errno));
    _exit(2);
  }
  execvpe(cargv[0], cargv.data(), cenv.data());
  _exit(ExecFailed(cargv[0], errno, env));
}

// A view with nothing to serve (no plugin, so nothing can stop, and no --stats or
// --kill-on-exit, which need the process tree) runs its command untraced: vfork and exec, as
// posix_spawn does, then wait. Nothing of the tracer is paid (no page tables copied for a fork
// of umview, no ptrace event for each process the command starts, no stop for each signal it
// gets), and programs that trace (strace, gdb, a nested umview) work, which they cannot under a
// tracer. What a traced view guarantees still holds: umview is the command's parent and waits
// for every process of the view (it is their subreaper), signals it gets are forwarded, and
// killing umview kills the command (PR_SET_PDEATHSIG). The one difference: a daemon orphaned
// in the view sees umview as its parent, not init.
bool PtraceEngine::StartUntraced(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env, std::string* error) {
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    *error = std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + strerror(errno);
    return false;
  }
  const pid_t parent = getpid();
  // Set by the child (it shares our memory until it execs): why its exec failed, or its
  // chdir (negated).
  volatile int failed = 0;
  pid_t child = vfork();
  if (child < 0) {
    *error = std::string("vfork: ") + strerror(errno);
    return false;
  }
  if (child == 0) {
    // Only async-signal-safe calls on our own stack from here: the parent's memory is ours.
    RestoreInheritedSignals(config_);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // umview died before the line above
    if (!config_.initial_cwd.empty() && chdir(config_.initial_cwd.c_str()) != 0) {
      failed = -errno;
      _exit(2);
    }
    execvpe(cargv[0], cargv.data(), cenv.data());
    failed = errno;
    _exit(127);
  }
  untraced_ = Untraced{child, 0};
  if (failed == 0) return true;
  // The child is gone (or going): report as ChildExec does, and let Run return its status.
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  untraced_->pid = -1;  // reaped: no signal goes to its number any more
  if (failed < 0) {
    dprintf(2, "umview: -w %s: %s\n", config_.initial_cwd.c_str(), strerror(-failed));
    untraced_->status = 2 << 8;
  } else {
    untraced_->status = ExecFailed(cargv[0], failed, env) << 8;
  }
  return true;
}

// Waits for the command and for everything it left running (reparented to us).
int PtraceEngine::RunUntraced() {
  if (untraced_->pid < 0) return untraced_->status;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: the view is empty
    }
    if (pid == untraced_->pid) untraced_->status = status;
  }
  return untraced_->status;
}

bool PtraceEngine::Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const EngineConfig& config, std::string* error) {
  config_ = config;
  counters_.assign(512, {});
  if (config.nothing_to_serve && !config.trap_all && config.trapped.empty() &&
      config.conditional.empty() && !config.need_scratch && !config.observe_exec &&
      !config.count_stops && !config.kill_on_root_exit) {
    return StartUntraced(argv, env, error);
  }
  // With nothing claimed no filter is installed at all: a seccomp filter, even one that allows
  // everything, moves every syscall to the kernel's slow entry path (+85 ns a call measured on
  // the 2-vCPU VM, +38% on a getppid loop). The control channel then answers ENOSYS.
  std::vector<int> trapped = config.trapped;
  if (config.trap_all || !config.trapped.empty()) {
    trapped.push_back(SYS_clone);  // to drop CLONE_UNTRACED: see HandleSeccomp
    trapped.push_back(SYS_clone3);
  }
  trapped.push_back(kControlSyscall);
  trapped_now_.assign(512, false);
  for (int nr : trapped) {
    if (nr >= 0 && nr < 512) trapped_now_[nr] = true;
  }
  trap_all_now_ = config.trap_all;
  for (int nr : {SYS_clone, SYS_clone3, SYS_munmap, SYS_mprotect, SYS_pkey_mprotect, SYS_madvise,
                 SYS_mremap, SYS_mmap, SYS_shmat, SYS_userfaultfd}) {
    scratch_free_.set(nr);
  }
  for (int nr : config.trapped) {
    if (nr >= 0 && nr < 512) scratch_free_.reset(nr);
  }
  for (const ArgRule& a : config.conditional) {
    if (a.nr >= 0 && a.nr < 512) scratch_free_.reset(a.nr);
  }
  const char* scratch = getenv("UMVIEW_SCRATCH");
  eager_scratch_ = scratch != nullptr && strcmp(scratch, "eager") == 0;
  const char* binds = getenv("UMVIEW_PREFILTER_BINDS");
  prefilter_binds_ = binds == nullptr || strcmp(binds, "off") != 0;
  const bool filtered = config.trap_all || !config.trapped.empty() || !config.conditional.empty();
  SeccompFilter filter(trapped, config.trap_all, filtered, config.conditional);
  if (config.need_scratch) filter.GuardBelow(kScratchEnd);
  conditional_now_ = config.conditional;
  if (filtered && !filter.Build(error)) return false;
  // The notification prefilter: the same filter, with the prefiltered calls notifying instead.
  // UMVIEW_NOTIFY_PREFILTER=off keeps every call on ptrace stops (for comparing the two).
  std::unique_ptr<SeccompFilter> notify_filter;
  const char* np = getenv("UMVIEW_NOTIFY_PREFILTER");
  if (filtered && !config.trap_all && !config.prefiltered.empty() &&
      !(np != nullptr && strcmp(np, "off") == 0)) {
    notify_filter = std::make_unique<SeccompFilter>(trapped, false, filtered, config.conditional);
    if (config.need_scratch) notify_filter->GuardBelow(kScratchEnd);
    notify_filter->NotifyFor(config.prefiltered);
    if (config.prefilter_reads_only) {
      for (int nr : config.prefiltered) {
        int arg;
        uint64_t mask;
        if (PrefilterWriteFlags(nr, &arg, &mask)) notify_filter->NotifyOnlyWhenClear(nr, arg, mask);
      }
    }
    std::vector<int> watch;
    for (int nr = 0; nr < 512; ++nr) {
      if (IdentityCall(nr)) watch.push_back(nr);
    }
    notify_filter->WatchFor(watch);
    if (!notify_filter->Build(error)) return false;
  }

  int sync[2], report[2];
  if (pipe2(sync, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  pid_t child = fork();
  if (child < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (child == 0) {
    close(sync[1]);
    close(report[0]);
    ChildExec(sync[0], report[1], filter, notify_filter.get(), argv, env, config);
  }
  close(sync[0]);
  close(report[1]);
  // Without PTRACE_O_TRACEEXEC a seized tracee execs without a stop (and no SIGTRAP). The one
  // thing lost: when a thread other than the leader execs, its old tid vanishes unreported
  // (HandleExec moves it); its record stays, and --kill-on-exit (Gone) checks a tid is still ours.
  observe_exec_ = config.observe_exec || config.need_scratch || filtered;
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
              PTRACE_O_TRACEVFORK | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL |
              (observe_exec_ ? PTRACE_O_TRACEEXEC : 0);
  if (ptrace(PTRACE_SEIZE, child, nullptr, opts) != 0) {
    *error =
        std::string("ptrace(PTRACE_SEIZE, pid=") + std::to_string(child) + "): " + strerror(errno);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return false;
  }
  root_ = child;
  Task& t = GetTask(child);
  t.pid = child;
  t.started = true;  // seized while running: no initial stop
  t.announced = true;
  t.as = std::make_shared<AddressSpace>();
  t.proc = std::make_shared<Proc>();
  // Only now may the child install the filter: RET_TRACE without a tracer fails with ENOSYS.
  (void)!write(sync[1], "g", 1);
  // The child's scratch area, for rewriting the root command's own execve (before any filter:
  // nothing the child does until then stops).
  uint64_t base = 0;
  ssize_t n = sizeof base;
  if (config.need_scratch) {
    while ((n = read(report[0], &base, sizeof base)) < 0 && errno == EINTR) {
    }
  }
  if (n == sizeof base) t.as->base = base;
  bool ok = true;
  if (notify_filter) {
    int listener = -1;
    while ((n = read(report[0], &listener, sizeof listener)) < 0 && errno == EINTR) {
    }
    if (n == sizeof listener && listener >= 0) ok = StartPrefilter(listener, child, error);
    (void)!write(sync[1], "g", 1);  // the child may close its copy and go on
  }
  close(sync[1]);
  close(report[0]);
  if (!ok) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, __WALL);
    tasks_.clear();
    return false;
  }
  return true;
}

// Takes a copy of the child's seccomp listener and starts the prefilter thread on it.
bool PtraceEngine::StartPrefilter(int listener_fd, pid_t child, std::string* error) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  int fd = pidfd < 0 ? -1 : static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, listener_fd, 0));
  if (pidfd >= 0) close(pidfd);
  if (fd < 0) {
    *error = std::string("cannot take the seccomp listener (pidfd_getfd): ") + strerror(errno);
    return false;
  }
  notify_ = std::make_unique<NotifyPrefilter>(fd);
  notified_.assign(512, false);
  for (int nr : config_.prefiltered) {
    if (nr >= 0 && nr < 512) notified_[nr] = true;
  }
  return true;
}

// Hands the prefilter thread the client's current prefixes when they may have changed. Called
// before every resume: a mount added by the call being answered (umctl load, a FUSE mount) is
// in force before any tracee runs on.
void PtraceEngine::SyncPrefilterRules() {
  uint64_t gen = client_->path_prefixes_generation();
  if (rules_set_ && gen == rules_gen_) return;
  rules_set_ = true;
  rules_gen_ = gen;
  auto rules = std::make_shared<PrefilterRules>();
  rules->active = !trap_all_now_ && client_->PathPrefixes(&rules->prefixes);
  if (rules->active) {
    for (int nr : client_->PrefilterFdCalls()) {
      if (nr >= 0 && nr < 512) rules->fd_calls.set(nr);
    }
    rules->exec = client_->PrefilterExec();
    rules->reads_only = client_->PrefilterReadsOnly();
    if (prefilter_binds_) {
      rules->binds = client_->PrefilterBinds(&rules->mounts);
      PreparePrefilterBinds(rules.get());
    }
  }
  notify_->SetRules(std::move(rules));
}

// The notifications the prefilter thread could not let through become ptrace stops: an
// interrupt is queued for the thread (only the tracer thread may), then its notification is
// answered with "restart": the call returns to user mode, where the interrupt stops it first
// (HandleEscalated), its registers still holding the call. (A reply first could let it run on
// before the interrupt lands.)
void PtraceEngine::Escalate() {
  for (const Escalation& e : notify_->TakeEscalations()) {
    Task& t = GetTask(e.tid);
    t.escalated = true;
    t.escalation = e;
    if (ptrace(PTRACE_INTERRUPT, e.tid, nullptr, nullptr) != 0 ||
        !notify_->Reply(e.id, -kERestartNoIntr)) {
      t.escalated = false;  // killed meanwhile: its exit is reported by waitpid
    }
  }
}

// The interrupt stop of an escalated call: the plugins decide it here as at a seccomp stop.
void PtraceEngine::HandleEscalated(Task& t) {
  t.escalated = false;
  Regs regs;
  if (regs.Fetch(t.tid) != 0) return;
  const Escalation& e = t.escalation;
  bool same = regs.nr() == e.nr && regs.ret() == -kERestartNoIntr;
  for (int i = 0; i < 6 && same; ++i) same = regs.arg(i) == e.args[i];
  if (!same) {  // not in the call any more (cannot happen but by a kernel change): it restarts
    Resume(t);
    return;
  }
  if (NeedScratch(t)) {
    BeginLazyScratch(t, regs, /*at_entry=*/false);
    return;  // the call is made again once the area is mapped: notified, escalated anew
  }
  SyscallStop stop = MakeStop(t, regs);
  SyscallState before = stop.state;
  t.at_restart = true;
  EntryDecision d = client_->OnSyscallEntry(stop);
  ApplyEntry(t, regs, stop, before, d);
}

// A signal that arrives while a prefiltered call waits for the prefilter thread to take its
// notification interrupts the wait (only once taken is the wait killable-only): the call, which
// has not run, returns -ERESTARTSYS, which a handler without SA_RESTART turns into EINTR — from a
// stat or an open of a plain file, which never fail so natively. Such a call is made to restart
// whatever the handler (-ERESTARTNOINTR). An open of a FIFO, device or socket (or one whose
// target cannot be told) is left alone: it may have run and blocked, and then EINTR is right.
void PtraceEngine::KeepNotifiedCallRestartable(Task& t) {
  Regs regs;
  if (regs.Fetch(t.tid) != 0 || regs.ret() != -512 /* ERESTARTSYS */) return;
  const long nr = regs.nr();
  if (nr < 0 || nr >= 512 || !notified_[nr]) return;
  if (nr == SYS_open || nr == SYS_openat || nr == SYS_openat2 || nr == SYS_creat) {
    const bool at = nr == SYS_openat || nr == SYS_openat2;
    std::string path;
    if (t.mem->ReadString(regs.arg(at ? 1 : 0), &path, PATH_MAX) < 0 || path.empty()) return;
    if (path[0] != '/') {
      // The tracee's cwd or directory descriptor, through /proc (ours is another).
      const int dfd = at ? static_cast<int>(regs.arg(0)) : AT_FDCWD;
      std::string base = "/proc/" + std::to_string(t.tid);
      if (dfd == AT_FDCWD) {
        base += "/cwd/";
      } else if (dfd >= 0) {
        base += "/fd/" + std::to_string(dfd) + "/";
      } else {
        return;
      }
      path = base + path;
    }
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return;
    if (stat(path.c_str(), &st) != 0 && errno != ENOENT) return;
  }
  regs.set_ret(-kERestartNoIntr);
  regs.Store(t.tid);
}

Task& PtraceEngine::GetTask(pid_t tid) {
  auto it = tasks_.find(tid);
  if (it != tasks_.end()) return *it->second;
  auto t = std::make_unique<Task>();
  t->tid = tid;
  t->pid = tid;
  t->mem = std::make_unique<TraceeMemory>(tid);
  Task& ref = *t;
  tasks_.emplace(tid, std::move(t));
  return ref;
}

void PtraceEngine::Resume(Task& t, int sig) {
  if (notify_) SyncPrefilterRules();
  bool want_syscall = t.expect_exit || t.inject != Inject::kNone;
  ptrace(want_syscall ? PTRACE_SYSCALL : PTRACE_CONT, t.tid, nullptr,
         reinterpret_cast<void*>(static_cast<intptr_t>(sig)));
  // ESRCH: killed meanwhile; its death is reported by waitpid.
}

// Waking a tracer that sleeps on another CPU is most of the cost of a stop on virtual machines
// (measured on a 2-vCPU VM: a getppid stop 17 us blocking, 10 us when the tracer polls). So the
// tracer polls waitpid for a while before blocking, when it can run on another CPU than the
// tracee. The window adapts like an adaptive mutex: it doubles while events come within it and
// halves when they do not, so a tracee that computes between calls is not robbed of a CPU.
pid_t PtraceEngine::WaitNext(int* status) {
  if (spin_max_ns_ > 0) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (true) {
      pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
      if (tid != 0 || (notify_ && notify_->pending())) {
        spin_ns_ = std::min(spin_max_ns_, std::max<int64_t>(spin_ns_ * 2, 2000));
        return tid;
      }
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t spent = (now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec);
      if (spent >= spin_ns_) break;
    }
    spin_ns_ /= 2;
  }
  if (sigchld_fd_ >= 0) return WaitWithWake(status);
  return waitpid(-1, status, __WALL);
}
// (WaitNext returns 0 when the prefilter thread has escalations for the tracer: Run serves them.)

int PtraceEngine::Run(EngineClient& client) {
  client_ = &client;
  if (untraced_) return RunUntraced();
  cpu_set_t cpus;
  if (config_.spin_max_us > 0 && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
      CPU_COUNT(&cpus) > 1) {
    spin_max_ns_ = config_.spin_max_us * 1000;
    spin_ns_ = spin_max_ns_;
  }
  // The command was started with the signal mask umview inherited; from here on umview takes
  // SIGCHLD through a descriptor so that it can wait on tracees and plugin events together.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, nullptr) == 0) {
    sigchld_fd_ = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  }
  if (notify_) {
    SyncPrefilterRules();
    std::string error;
    if (sigchld_fd_ < 0 || !notify_->Start(&error)) {
      // The command waits in its first prefiltered call: it cannot go on without the thread.
      Log(LogLevel::kError, error.empty() ? "signalfd failed: cannot serve the prefilter" : error);
      for (const auto& [tid, task] : tasks_) kill(tid, SIGKILL);
    }
  }
  while (!tasks_.empty()) {
    if (deferred_n_ > 0) ScanDeferredSignals();
    if (notify_ && notify_->pending()) Escalate();
    int status;
    pid_t tid = WaitNext(&status);
    if (tid == 0) continue;  // escalations (notify_)
    if (tid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;
      Log(LogLevel::kError, std::string("waitpid: ") + strerror(errno));
      break;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      Gone(tid, status);
    } else if (WIFSTOPPED(status)) {
      HandleStop(tid, status);
    }
  }
  if (notify_) {
    for (size_t nr = 0; nr < counters_.size(); ++nr)
      counters_[nr].prefiltered = notify_->passed(nr);
  }
  return root_status_;
}

void PtraceEngine::Gone(pid_t tid, int status) {
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return;
  Task& t = *it->second;
  if (t.as) t.as->Release(t.slot);
  if (t.as && t.inject != Inject::kNone && t.inject_kind == InjectKind::kLazyScratch) {
    t.as->setup = AddressSpace::Setup::kNone;  // killed while mapping it: another thread will
  }
  if (t.deferred) --deferred_n_;
  if (notify_) notify_->Forget(tid);
  client_->OnTaskExit(tid, status);
  if (tid == root_) root_status_ = status;
  tasks_.erase(it);
  if (tid == root_ && config_.kill_on_root_exit) {
    // --kill-on-exit: what the command left behind (daemons, orphans) goes with it. Their
    // exits are reaped by the loop as usual.
    for (const auto& [other, task] : tasks_) {
      if (observe_exec_ || TracedByUs(other)) kill(other, SIGKILL);
    }
  }
  ReleaseOrphans();
}

// Reads the start of /proc/TID/NAME into buf as a string. False if it cannot be read.
bool ReadProcFile(pid_t tid, const char* name, char* buf, size_t size) {
  std::string path = "/proc/" + std::to_string(tid) + "/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return true;
}

// Whether tid is a thread umview traces: a record can outlive its thread when exec is not
// observed (Start), and its number may belong to someone else by now.
bool PtraceEngine::TracedByUs(pid_t tid) {
  char buf[2048];
  if (!ReadProcFile(tid, "status", buf, sizeof buf)) return false;
  const char* tp = strstr(buf, "\nTracerPid:");
  return tp != nullptr && atoi(tp + 11) == getpid();
}

// A child whose creator was killed between creating it and reporting the clone event is held
// forever: announce it as a process of its own once no task of its parent's process is left.
void PtraceEngine::ReleaseOrphans() {
  for (auto& [tid, task] : tasks_) {
    Task& c = *task;
    if (!c.held) continue;
    char buf[1024];
    if (!ReadProcFile(tid, "status", buf, sizeof buf)) continue;
    const char* tg = strstr(buf, "\nTgid:");
    const char* pp = strstr(buf, "\nPPid:");
    pid_t tgid = tg ? atoi(tg + 6) : tid;
    pid_t creator = tgid != tid ? tgid : (pp ? atoi(pp + 6) : 0);
    bool alive = false;
    for (const auto& [other, o] : tasks_) alive |= o->pid == creator && other != tid;
    if (alive) continue;
    c.pid = tgid;
    c.as = std::make_shared<AddressSpace>();
    c.proc = std::make_shared<Proc>();
    c.announced = true;
    c.held = false;
    Resume(c);
  }
}

SyscallStop PtraceEngine::MakeStop(Task& t, const Regs& regs) {
  SyscallStop s;
  s.tid = t.tid;
  s.pid = t.pid;
  s.state.nr = regs.nr();
  for (int i = 0; i < 6; ++i) s.state.args[i] = regs.arg(i);
  s.state.ret = regs.ret();
  s.state.ip = regs.ip();
  s.state.sp = regs.sp();
  s.memory = t.mem.get();
  if (t.as && t.as->base != 0) {
    if (t.slot < 0) t.slot = t.as->Acquire();
    if (t.slot >= 0) {
      s.scratch = t.as->base + static_cast<uint64_t>(t.slot) * kScratchSlot;
      s.scratch_size = kScratchSlot;
    }
  }
  return s;
}

void PtraceEngine::HandleStop(pid_t tid, int status) {
  Task& t = GetTask(tid);
  int sig = WSTOPSIG(status);
  int event = status >> 16;

  if (!t.started) {
    // The initial stop of an auto-attached child (PTRACE_EVENT_STOP with SIGSTOP).
    t.started = true;
    if (t.announced) {
      Resume(t);
    } else {
      t.held = true;  // wait for the parent's clone event to know its address space
    }
    return;
  }

  if (sig == (SIGTRAP | 0x80)) {
    HandleSyscallStop(t);
    return;
  }
  switch (event) {
    case PTRACE_EVENT_SECCOMP:
      if (t.inject != Inject::kNone) {
        Resume(t);  // the injected call itself hit the filter: let it run
      } else {
        HandleSeccomp(t);
      }
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE:
      HandleClone(t, event);
      return;
    case PTRACE_EVENT_EXEC:
      HandleExec(t);
      return;
    case PTRACE_EVENT_STOP:
      if (t.escalated && sig == SIGTRAP) {
        HandleEscalated(t);
      } else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
        // Group-stop: stay stopped but let SIGCONT (and the real parent's wait) see it.
        ptrace(PTRACE_LISTEN, tid, nullptr, nullptr);
      } else {
        Resume(t);
      }
      return;
    case 0:
      break;
    default:
      Resume(t);
      return;
  }
  // Signal-delivery stop: deliver the signal unchanged.
  if (t.inject == Inject::kAwaitEntry && t.inject_kind == InjectKind::kLazyScratch) {
    // Before the mmap planted at an escalation stop ran: give up the mmap (the handler would
    // run first, its calls taken for it). The call restarts after the handler, as it would.
    t.saved.Store(t.tid);
    t.inject = Inject::kNone;
    if (t.as) t.as->setup = AddressSpace::Setup::kNone;
  }
  if (notify_) KeepNotifiedCallRestartable(t);
  Resume(t, sig);
}

void PtraceEngine::HandleSeccomp(Task& t) {
  Regs regs;
  if (regs.Fetch(t.tid) != 0) return;  // killed under us; waitpid reports it
  if (t.rerun_traced) {
    bool same = regs.nr() == t.rerun_nr;
    for (int i = 0; i < 6 && same; ++i) same = regs.arg(i) == t.rerun_args[i];
    if (same) {  // an escalated call, decided already, re-run under a number that traps
      t.rerun_traced = false;
      Resume(t);
      return;
    }
  }
  // CLONE_UNTRACED would give a child that is not attached: it would run outside the view
  // (and its trapped calls would fail with ENOSYS). The flag is dropped; the engine traps
  // clone and clone3 for this whenever the view claims anything.
  // A child in new user or mount namespaces, or an identity call that stops: the prefilter's
  // answers must check every thread's identity from now on (NotifyPrefilter::Answer).
  constexpr uint64_t kNewNs = CLONE_NEWNS | CLONE_NEWUSER;
  if (regs.nr() == SYS_clone) {
    if (notify_ && (regs.arg(0) & kNewNs)) notify_->IdentityMayChange();
    if (regs.arg(0) & CLONE_UNTRACED) {
      regs.set_arg(0, regs.arg(0) & ~static_cast<uint64_t>(CLONE_UNTRACED));
      if (regs.Store(t.tid) != 0) return;
    }
  } else if (regs.nr() == SYS_clone3) {
    uint64_t flags = 0;
    const bool read = t.mem->Read(regs.arg(0), &flags, sizeof flags) == 0;
    if (notify_ && (!read || (flags & kNewNs))) notify_->IdentityMayChange();
    if (read && (flags & CLONE_UNTRACED)) {
      flags &= ~static_cast<uint64_t>(CLONE_UNTRACED);
      t.mem->Write(regs.arg(0), &flags, sizeof flags);
    }
  } else if (notify_ && IdentityCall(regs.nr())) {
    notify_->IdentityMayChange();
  }
  if (config_.need_scratch && t.as && RefusedForScratch(*t.as, regs)) {
    regs.SkipSyscall(-EPERM);
    if (regs.Store(t.tid) == 0) Resume(t);
    return;
  }
  if (NeedScratch(t) && !scratch_free_[regs.nr() & 511]) {
    BeginLazyScratch(t, regs, /*at_entry=*/true);
    return;  // the call runs again once the area is mapped, and stops here anew
  }
  SyscallStop stop = MakeStop(t, regs);
  if (t.proc && t.proc->filters < stack_filters_.size() && BeginStackFilterInject(t, regs, stop)) {
    return;  // the call runs again once the filter is in, and stops here anew
  }
  SyscallState before = stop.state;
  EntryDecision d = client_->OnSyscallEntry(stop);
  ApplyEntry(t, regs, stop, before, d);
}

// Writes an entry decision into the thread's registers and resumes it (or leaves it stopped,
// for kDefer, until FinishDeferred).
void PtraceEngine::ApplyEntry(Task& t, Regs& regs, SyscallStop& stop, const SyscallState& before,
                              EntryDecision d) {
  if (d.outcome == EntryOutcome::kDefer) {
    t.deferred = true;
    t.signal_told = false;
    ++deferred_n_;
    return;  // t.at_restart stays for FinishDeferred
  }
  const bool at_restart = t.at_restart;
  t.at_restart = false;
  long nr = before.nr;
  if (config_.count_stops && nr >= 0 && nr < static_cast<long>(counters_.size())) {
    auto& c = counters_[nr];
    if (d.outcome == EntryOutcome::kSkip) {
      ++c.skipped;
    } else if (d.outcome == EntryOutcome::kRunReportExit) {
      ++c.entry_exit;
    } else {
      ++c.entry_only;
    }
  }
  bool changed =
      stop.state.nr != before.nr || memcmp(stop.state.args, before.args, sizeof before.args) != 0;
  if (d.outcome == EntryOutcome::kSkip) {
    regs.SkipSyscall(d.value);
    changed = true;
  } else if (changed) {
    regs.set_nr(stop.state.nr);
    for (int i = 0; i < 6; ++i) regs.set_arg(i, stop.state.args[i]);
  }
  if (changed && regs.Store(t.tid) != 0) return;
  t.expect_exit = d.outcome == EntryOutcome::kRunReportExit;
  if (at_restart && d.outcome != EntryOutcome::kSkip) {
    // An escalated call (HandleEscalated): the kernel makes it again once the thread runs
    // (orig_ax, the arguments as left here). That second time must not be decided again: the
    // prefilter thread lets it through, or the seccomp stop of a number that traps does.
    const long nr = stop.state.nr;
    t.rerun_nr = nr;
    std::copy(stop.state.args, stop.state.args + 6, t.rerun_args);
    if (nr >= 0 && nr < 512 && notified_[nr]) {
      notify_->AllowOnce(t.tid, nr, stop.state.args);
    } else {
      t.rerun_traced = true;
    }
    // Its exit: the entry stop of the re-run comes first (Resume uses PTRACE_SYSCALL).
    t.rerun_entry = t.expect_exit;
  }
  Resume(t);
}

bool PtraceEngine::FinishDeferred(pid_t tid,
                                  const std::function<EntryDecision(SyscallStop&)>& finish) {
  auto it = tasks_.find(tid);
  if (it == tasks_.end() || !it->second->deferred) return false;
  Task& t = *it->second;
  t.deferred = false;
  --deferred_n_;
  Regs regs;
  // Still in its seccomp stop unless SIGKILLed meanwhile (waitpid will report that).
  if (regs.Fetch(t.tid) != 0) return false;
  SyscallStop stop = MakeStop(t, regs);
  SyscallState before = stop.state;
  EntryDecision d = finish(stop);  // kDefer again leaves it waiting
  ApplyEntry(t, regs, stop, before, d);
  return true;
}

// Waits for a tracee event or the client's wake descriptor, whichever comes first. SIGCHLD is
// blocked and read from a signalfd, so an event arriving between the non-blocking waitpid and
// poll still wakes poll. (A ptrace stop of a tracee sends its tracer SIGCHLD.)
pid_t PtraceEngine::WaitWithWake(int* status) {
  while (true) {
    int wake = client_->wake_fd();
    if (wake < 0 && !notify_) return waitpid(-1, status, __WALL);
    struct signalfd_siginfo si;
    while (read(sigchld_fd_, &si, sizeof si) == sizeof si) {
    }
    pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
    if (tid != 0) return tid;
    if (notify_ && notify_->pending()) return 0;
    if (deferred_n_ > 0) ScanDeferredSignals();
    struct pollfd fds[3] = {{sigchld_fd_, POLLIN, 0},
                            {wake, POLLIN, 0},
                            {notify_ ? notify_->wake_fd() : -1, POLLIN, 0}};
    if (poll(fds, 3, deferred_n_ > 0 ? kSignalScanMs : -1) < 0 && errno != EINTR) return -1;
    if (fds[1].revents & POLLIN) client_->OnWake();
    if (fds[2].revents & POLLIN) return 0;
    if (tasks_.empty()) {
      errno = ECHILD;
      return -1;
    }
  }
}

namespace {

// One signal mask line of /proc/TID/status ("SigPnd:\t0000000000000200"), or 0.
uint64_t StatusMask(const char* status, const char* key) {
  const char* p = strstr(status, key);
  return p ? strtoull(p + strlen(key), nullptr, 16) : 0;
}

// The first signal pending for thread `tid` that would interrupt a blocking call in the kernel,
// or 0: not blocked, not ignored, and either caught or ending the process by default (*fatal).
// Signals ignored or stopping by default do not interrupt (the kernel does not even queue the
// ignored ones for a process that is not traced). A signal pending for the whole process
// (ShdPnd) counts too: the kernel gives it to a thread that is not stopped if there is one,
// so it stays pending only for a moment unless every other thread blocks it.
int PendingInterrupt(pid_t tid, bool* fatal) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  uint64_t pending = StatusMask(buf, "\nSigPnd:") | StatusMask(buf, "\nShdPnd:");
  pending &= ~StatusMask(buf, "\nSigBlk:") & ~StatusMask(buf, "\nSigIgn:");
  const uint64_t caught = StatusMask(buf, "\nSigCgt:");
  int first_fatal = 0;
  for (int sig = 1; sig <= 64; ++sig) {
    const uint64_t bit = 1ULL << (sig - 1);
    if (!(pending & bit) || sig == SIGKILL || sig == SIGSTOP) continue;
    if (caught & bit) {
      *fatal = false;
      return sig;
    }
    switch (sig) {
      case SIGCHLD:
      case SIGCONT:
      case SIGURG:
      case SIGWINCH:  // ignored by default
      case SIGTSTP:
      case SIGTTIN:
      case SIGTTOU:  // stop by default
        continue;
      default:
        if (first_fatal == 0) first_fatal = sig;
    }
  }
  *fatal = first_fatal != 0;
  return first_fatal;
}

}  // namespace

// A thread stopped by ptrace does not wake for a signal, and its tracer is not told: for
// threads left waiting in a deferred call, the pending signals are read from /proc every
// kSignalScanMs (only while some thread is deferred and its plugin asked, WantsSignal), and
// the client is told once per deferral.
void PtraceEngine::ScanDeferredSignals() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t ns = now.tv_sec * 1000000000LL + now.tv_nsec;
  if (ns - last_scan_ns_ < kSignalScanMs * 1000000LL) return;
  last_scan_ns_ = ns;
  std::vector<std::pair<pid_t, std::pair<int, bool>>> found;
  int waiting = 0;
  for (auto& [tid, task] : tasks_) {
    Task& t = *task;
    if (!t.deferred) continue;
    ++waiting;
    if (t.signal_told || !client_->WantsSignal(tid)) continue;
    bool fatal = false;
    if (int sig = PendingInterrupt(tid, &fatal)) {
      t.signal_told = true;
      found.push_back({tid, {sig, fatal}});
    }
  }
  deferred_n_ = waiting;  // a thread that vanished in an exec is not counted any more
  // The client may finish deferred calls meanwhile (FinishDeferred): not while iterating.
  for (const auto& [tid, s] : found) client_->OnDeferredSignal(tid, s.first, s.second);
}

void PtraceEngine::HandleSyscallStop(Task& t) {
  switch (t.inject) {
    case Inject::kAwaitExecExit:
      if (t.expect_exit) {
        // The dispatcher asked for execve's exit: report it before setting up scratch.
        t.expect_exit = false;
        Regs regs;
        if (regs.Fetch(t.tid) == 0) {
          SyscallStop stop = MakeStop(t, regs);
          client_->OnSyscallExit(stop);
          if (stop.state.ret != regs.ret()) {
            regs.set_ret(stop.state.ret);
            regs.Store(t.tid);
          }
        }
      }
      BeginInject(t);
      return;
    case Inject::kAwaitEntry:
      t.inject = Inject::kAwaitExit;
      Resume(t);
      return;
    case Inject::kAwaitExit:
      FinishInject(t);
      return;
    case Inject::kNone:
      break;
  }
  if (!t.expect_exit) {
    Resume(t);
    return;
  }
  if (t.rerun_entry) {
    // Waiting for the entry of an escalated call's re-run (ApplyEntry): a signal handler may
    // run first, with calls of its own. Their stops, and that entry's, are passed over.
    struct __ptrace_syscall_info info {};
    if (ptrace(PTRACE_GET_SYSCALL_INFO, t.tid, sizeof info, &info) > 0 &&
        info.op == PTRACE_SYSCALL_INFO_ENTRY && static_cast<long>(info.entry.nr) == t.rerun_nr) {
      t.rerun_entry = false;
    }
    Resume(t);
    return;
  }
  t.expect_exit = false;
  Regs regs;
  if (regs.Fetch(t.tid) != 0) return;
  SyscallStop stop = MakeStop(t, regs);
  client_->OnSyscallExit(stop);
  // -ERESTARTSYS..-ERESTART_RESTARTBLOCK (512..516) are the kernel's: it restarts the call or
  // turns them into EINTR after the signal. Observers see them; a changed value would break that.
  const bool restart = regs.ret() <= -512 && regs.ret() >= -516;
  if (stop.state.ret != regs.ret() && !restart) {
    regs.set_ret(stop.state.ret);
    if (regs.Store(t.tid) != 0) return;
  }
  if (stop.want_fd_trap && t.proc && !t.proc->fd_trapped && !FdFilter().empty()) {
    BeginFdFilterInject(t, regs, stop);
    return;
  }
  Resume(t);
}

bool PtraceEngine::ExtendTrapped(const EngineConfig& config, std::string* error) {
  if (trapped_now_.empty() ||
      (!trap_all_now_ &&
       std::none_of(trapped_now_.begin(), trapped_now_.end(), [](bool b) { return b; }))) {
    *error = "this view was started without a seccomp filter (no plugin claimed anything)";
    return false;
  }
  if (!config_.need_scratch) {
    *error =
        "this view was started without scratch memory (start it with a plugin that "
        "rewrites calls, e.g. viewfs)";
    return false;
  }
  std::vector<int> extra;
  for (int nr : config.trapped) {
    if (nr >= 0 && nr < 512 && !trapped_now_[nr]) extra.push_back(nr);
  }
  bool all = config.trap_all && !trap_all_now_;
  std::vector<ArgRule> extra_when;
  for (const ArgRule& a : config.conditional) {
    if (!trapped_now_[a.nr] &&
        std::find(conditional_now_.begin(), conditional_now_.end(), a) == conditional_now_.end()) {
      extra_when.push_back(a);
    }
  }
  if (extra.empty() && !all && extra_when.empty()) return true;  // already trapped
  SeccompFilter f(extra, all, false, extra_when);
  if (!f.Build(error)) return false;
  stack_filters_.push_back(f.program());
  for (int nr : extra) trapped_now_[nr] = true;
  conditional_now_.insert(conditional_now_.end(), extra_when.begin(), extra_when.end());
  trap_all_now_ = trap_all_now_ || all;
  return true;
}

// At a seccomp (entry) stop: turn the call into seccomp(SET_MODE_FILTER, TSYNC) with the next
// run-time filter, then (FinishInject) rewind to the original call.
bool PtraceEngine::BeginStackFilterInject(Task& t, const Regs& at_entry, const SyscallStop& stop) {
  const std::vector<char>& prog_bytes = stack_filters_[t.proc->filters];
  struct Prog {
    uint64_t len;
    uint64_t filter;
  };
  if (stop.scratch == 0 || sizeof(Prog) + prog_bytes.size() > stop.scratch_size) return false;
  Prog prog{prog_bytes.size() / 8, stop.scratch + sizeof(Prog)};
  if (t.mem->WriteForce(stop.scratch + sizeof(Prog), prog_bytes.data(), prog_bytes.size()) != 0 ||
      t.mem->WriteForce(stop.scratch, &prog, sizeof prog) != 0) {
    return false;
  }
  t.saved = at_entry;
  Regs r = at_entry;
  const uint64_t args[6] = {
      1 /* SECCOMP_SET_MODE_FILTER */, 1 /* SECCOMP_FILTER_FLAG_TSYNC */, stop.scratch, 0, 0, 0};
  r.SetupSyscall(SYS_seccomp, args);
  if (r.Store(t.tid) != 0) return false;
  // Past the entry already (this is the seccomp stop): the next stop is the exit.
  t.inject = Inject::kAwaitExit;
  t.inject_kind = InjectKind::kStackFilter;
  Resume(t);
  return true;
}

// The virtual-descriptor filter, built the first time a process gets a virtual descriptor: most
// views never hold one, and libseccomp takes ~0.4 ms to build it, which was a tenth of umview's
// start-up (docs/PERFORMANCE.md, "Start-up").
const std::vector<char>& PtraceEngine::FdFilter() {
  if (fd_filter_.empty() && !fd_filter_failed_ && !config_.fd_trapped.empty()) {
    SeccompFilter filter(config_.fd_trapped, false, false);
    std::string error;
    if (filter.Build(&error)) {
      fd_filter_ = filter.program();
    } else {
      fd_filter_failed_ = true;
      Log(LogLevel::kError, "cannot build the virtual-descriptor filter: " + error);
    }
  }
  return fd_filter_;
}

// At a syscall exit stop the instruction before ip is the syscall instruction that just ran:
// back up to it and run seccomp(SET_MODE_FILTER, TSYNC) with the program in scratch memory, then
// put the registers (and the finished call's result) back.
void PtraceEngine::BeginFdFilterInject(Task& t, const Regs& at_exit, SyscallStop& stop) {
  struct Prog {
    uint64_t len;  // struct sock_fprog: unsigned short + padding, then the pointer
    uint64_t filter;
  };
  size_t need = sizeof(Prog) + fd_filter_.size();
  if (stop.scratch == 0 || need > stop.scratch_size) {
    Log(LogLevel::kError,
        "pid " + std::to_string(t.tid) + ": no scratch memory for the virtual-descriptor filter");
    Resume(t);
    return;
  }
  Prog prog{fd_filter_.size() / 8, stop.scratch + sizeof(Prog)};
  if (t.mem->WriteForce(stop.scratch + sizeof(Prog), fd_filter_.data(), fd_filter_.size()) != 0 ||
      t.mem->WriteForce(stop.scratch, &prog, sizeof prog) != 0) {
    Resume(t);
    return;
  }
  t.saved = at_exit;
  Regs r = at_exit;
  r.set_ip(at_exit.ip() - Regs::kSyscallInsnLen);
  const uint64_t args[6] = {
      1 /* SECCOMP_SET_MODE_FILTER */, 1 /* SECCOMP_FILTER_FLAG_TSYNC */, stop.scratch, 0, 0, 0};
  r.SetupSyscall(SYS_seccomp, args);
  if (r.Store(t.tid) != 0) return;
  t.inject = Inject::kAwaitEntry;
  t.inject_kind = InjectKind::kFdFilter;
  Resume(t);
}

void PtraceEngine::HandleClone(Task& t, int event) {
  unsigned long msg = 0;
  ptrace(PTRACE_GETEVENTMSG, t.tid, nullptr, &msg);
  pid_t child = static_cast<pid_t>(msg);
  Task& c = GetTask(child);
  c.announced = true;
  // The flags the kernel used, from the parent's registers at the event (after any rewriting).
  uint64_t flags = 0;
  Regs regs;
  if (regs.Fetch(t.tid) == 0) {
    if (regs.nr() == SYS_clone) {
      flags = regs.arg(0);
    } else if (regs.nr() == SYS_clone3) {
      t.mem->Read(regs.arg(0), &flags, sizeof flags);
    } else if (regs.nr() == SYS_vfork) {
      flags = CLONE_VM | CLONE_VFORK;
    }
  }
  if (event == PTRACE_EVENT_VFORK) flags |= CLONE_VM;
  bool thread = (flags & CLONE_THREAD) != 0;
  c.pid = thread ? t.pid : child;
  // Shared memory (threads, vfork, CLONE_VM) shares the scratch slots; a fork copies the
  // mapping to the same address with no slot in use.
  if (flags & CLONE_VM) {
    c.as = t.as;
  } else {
    c.as = std::make_shared<AddressSpace>();
    if (t.as) c.as->base = t.as->base;
  }
  if (thread) {
    c.proc = t.proc;
  } else {
    c.proc = std::make_shared<Proc>(t.proc ? *t.proc : Proc{});
  }
  client_->OnNewTask(t.tid, child, thread);
  if (c.held) {
    c.held = false;
    Resume(c);
  }
  Resume(t);
}

void PtraceEngine::HandleExec(Task& t) {
  if (notify_) notify_->Execed();  // before the new program runs: its ids may be new
  unsigned long former = 0;
  ptrace(PTRACE_GETEVENTMSG, t.tid, nullptr, &former);
  pid_t former_tid = static_cast<pid_t>(former);
  Task* task = &t;
  if (former_tid != t.tid && former_tid > 0) {
    // A non-leader thread exec'd: it now has the leader's tid; the old leader is gone without
    // an exit report, and its record is replaced by the exec'ing thread's.
    auto it = tasks_.find(former_tid);
    if (it != tasks_.end()) {
      const pid_t leader = t.tid;
      std::unique_ptr<Task> moved = std::move(it->second);
      tasks_.erase(it);
      if (t.as) t.as->Release(t.slot);
      moved->tid = leader;
      moved->mem = std::make_unique<TraceeMemory>(leader);
      task = moved.get();
      tasks_[leader] = std::move(moved);  // destroys the old leader's record: t dangles now
    }
  }
  Task& x = *task;
  x.pid = x.tid;
  if (x.as) x.as->Release(x.slot);
  x.slot = -1;
  x.as = std::make_shared<AddressSpace>();
  x.mem->Reset(x.tid);
  client_->OnExec(x.tid, former_tid);
  if (config_.need_scratch && (eager_scratch_ || HeapMayReachScratch(x))) {
    x.inject = Inject::kAwaitExecExit;
    x.inject_kind = InjectKind::kScratch;
  }
  Resume(x);
}

// The scratch area is mapped the first time a stop of its address space may need it, not at
// each execve: most programs of a view never stop (the prefilter, calls no plugin claims), and
// mapping it took three more stops per program (execve's exit, the planted mmap's entry and
// exit). The stopped call waits: the mmap is injected in its place, then the call is
// made again and stops anew (BeginLazyScratch). A thread of the same address space that stops
// meanwhile makes its call again too, until the area is there.
bool PtraceEngine::NeedScratch(Task& t) {
  if (!config_.need_scratch || !t.as || t.as->base != 0) return false;
  return t.as->setup != AddressSpace::Setup::kFailed;
}

void PtraceEngine::BeginLazyScratch(Task& t, const Regs& regs, bool at_entry) {
  if (t.as->setup == AddressSpace::Setup::kPending) {
    // Another thread maps it: make this call again later (at a seccomp stop: skip it and back
    // up to the syscall instruction; at an escalation stop the kernel restarts it anyway).
    if (at_entry) {
      Regs again = regs;
      again.SkipSyscall(regs.nr());
      again.set_ip(regs.ip() - Regs::kSyscallInsnLen);
      if (again.Store(t.tid) != 0) return;
    }
    Resume(t);
    return;
  }
  t.as->setup = AddressSpace::Setup::kPending;
  t.saved = regs;
  Regs r = regs;
  const bool fixed = !t.as->anywhere;
  const uint64_t args[6] = {fixed ? kScratchBase : 0,
                            kScratchSize,
                            PROT_READ,
                            static_cast<uint64_t>(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                                                  (fixed ? MAP_FIXED_NOREPLACE : 0)),
                            static_cast<uint64_t>(-1),
                            0};
  r.SetupSyscall(SYS_mmap, args);
  if (!at_entry) r.set_ip(regs.ip() - Regs::kSyscallInsnLen);  // run it from user mode
  if (r.Store(t.tid) != 0) return;
  // At a seccomp stop the mmap replaces the call now (the kernel checks the filters again: a
  // stop of the guard rules would be let through, inject != kNone); else its entry comes first.
  t.inject = at_entry ? Inject::kAwaitExit : Inject::kAwaitEntry;
  t.inject_kind = InjectKind::kLazyScratch;
  Resume(t);
}

void PtraceEngine::FinishLazyScratch(Task& t, int64_t rc) {
  t.inject = Inject::kNone;
  if (t.as && t.as->base == 0) {
    if (rc >= 0 || rc < -4095) {
      t.as->base = static_cast<uint64_t>(rc);
      t.as->setup = AddressSpace::Setup::kNone;
    } else if (rc == -EEXIST && !t.as->anywhere && OwnScratchMapped(t.tid)) {
      t.as->base = kScratchBase;  // a fork copied ours before it was recorded
      t.as->setup = AddressSpace::Setup::kNone;
    } else if (rc == -EEXIST && !t.as->anywhere) {
      t.as->anywhere = true;  // the next stop maps it elsewhere
      t.as->setup = AddressSpace::Setup::kNone;
      Log(LogLevel::kInfo, "pid " + std::to_string(t.tid) +
                               ": the scratch area's address is taken; mapped elsewhere");
    } else {
      t.as->setup = AddressSpace::Setup::kFailed;
      Log(LogLevel::kWarning,
          "pid " + std::to_string(t.tid) + ": no scratch area (mmap at its fixed address: " +
              strerror(static_cast<int>(-rc)) + "); calls whose paths must be rewritten fail");
    }
  }
  // Back to the call, one instruction earlier: it is made again, through all filters.
  Regs back = t.saved;
  back.set_ip(t.saved.ip() - Regs::kSyscallInsnLen);
  back.set_ret(t.saved.nr());
  back.Store(t.tid);
  Resume(t);
}

// Whether the program just exec'd may grow its brk heap into the scratch area's range before
// the area is mapped: a program that is not position-independent (an ELF ET_EXEC at its usual
// 0x400000) has its heap start at a random address up to 1 GiB above its image (Linux 6.x on
// x86-64), below the area's range one time in four. (Debian's gcc driver and cc1 are such
// programs; PIE programs have their heap far above.) Such a program gets the area at the execve.
bool PtraceEngine::HeapMayReachScratch(Task& t) {
  unsigned char h[18];
  if (t.mem->Read(0x400000, h, sizeof h) != 0) return false;
  if (memcmp(h,
             "\x7f"
             "ELF",
             4) != 0 ||
      h[16] != 2 /* ET_EXEC */ || h[17] != 0)
    return false;
  // start_brk: field 47 of /proc/PID/stat, the 45th after the command's closing parenthesis.
  char buf[1024];
  if (!ReadProcFile(t.tid, "stat", buf, sizeof buf)) return true;
  const char* p = strrchr(buf, ')');
  for (int field = 2; p != nullptr && field < 47; ++field) p = strchr(p + 1, ' ');
  if (p == nullptr) return true;
  return strtoull(p + 1, nullptr, 10) < kScratchEnd;
}

// Whether the thread's memory has umview's scratch mapping: read-only, private, anonymous, at
// kScratchBase and kScratchSize long.
bool PtraceEngine::OwnScratchMapped(pid_t tid) {
  std::string path = "/proc/" + std::to_string(tid) + "/maps";
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {};
    unsigned long off = 0, inode = 1;
    if (sscanf(line, "%lx-%lx %7s %lx %*s %lu", &lo, &hi, perms, &off, &inode) == 5) {
      found = lo == kScratchBase && hi == kScratchEnd && strcmp(perms, "r--p") == 0 && inode == 0;
    }
  }
  fclose(f);
  return found;
}

// At the execve exit stop: make the tracee run mmap() for its scratch area. We plant a syscall
// instruction at the current ip (the new program's entry point) and put the text back after.
void PtraceEngine::BeginInject(Task& t) {
  if (t.saved.Fetch(t.tid) != 0) return;
  uint64_t ip = t.saved.ip();
  if (t.mem->Read(ip, t.saved_text, sizeof t.saved_text) != 0 ||
      t.mem->WriteForce(ip, Regs::kSyscallInsn, sizeof Regs::kSyscallInsn) != 0) {
    Log(LogLevel::kWarning, "pid " + std::to_string(t.tid) +
                                ": cannot plant the scratch set-up call; path rewriting off");
    t.inject = Inject::kNone;
    Resume(t);
    return;
  }
  Regs r = t.saved;
  const uint64_t args[6] = {kScratchBase,
                            kScratchSize,
                            PROT_READ,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                            static_cast<uint64_t>(-1),
                            0};
  r.SetupSyscall(SYS_mmap, args);
  if (r.Store(t.tid) != 0) return;
  t.inject = Inject::kAwaitEntry;
  Resume(t);
}

void PtraceEngine::FinishInject(Task& t) {
  Regs r;
  if (r.Fetch(t.tid) != 0) return;
  if (t.inject_kind == InjectKind::kStackFilter) {
    int64_t rc = r.ret();
    // Back to the original call, one instruction earlier: it runs again through all filters.
    Regs back = t.saved;
    back.set_ip(t.saved.ip() - Regs::kSyscallInsnLen);
    back.set_ret(t.saved.nr());
    back.Store(t.tid);
    t.inject = Inject::kNone;
    if (rc < 0) {
      Log(LogLevel::kError, "pid " + std::to_string(t.tid) + ": adding a plugin's filter failed: " +
                                strerror(static_cast<int>(-rc)));
    }
    if (t.proc) ++t.proc->filters;  // tried: do not loop on a process that refuses it
    Resume(t);
    return;
  }
  if (t.inject_kind == InjectKind::kLazyScratch) {
    FinishLazyScratch(t, r.ret());
    return;
  }
  if (t.inject_kind == InjectKind::kFdFilter) {
    int64_t rc = r.ret();
    t.saved.Store(t.tid);
    t.inject = Inject::kNone;
    if (rc < 0) {
      Log(LogLevel::kError, "pid " + std::to_string(t.tid) +
                                ": installing the virtual-descriptor filter failed: " +
                                strerror(static_cast<int>(-rc)));
    } else {
      t.proc->fd_trapped = true;
    }
    Resume(t);
    return;
  }
  int64_t base = r.ret();
  t.mem->WriteForce(t.saved.ip(), t.saved_text, sizeof t.saved_text);
  t.saved.Store(t.tid);
  t.inject = Inject::kNone;
  if (base < 0 && base > -4096) {
    Log(LogLevel::kWarning,
        "pid " + std::to_string(t.tid) + ": no scratch area (mmap at its fixed address: " +
            strerror(static_cast<int>(-base)) + "); calls whose paths must be rewritten fail");
  } else if (t.as) {
    t.as->base = static_cast<uint64_t>(base);
  }
  Resume(t);
}

}  // namespace

std::unique_ptr<Engine> MakePtraceEngine() { return std::make_unique<PtraceEngine>(); }

}  // namespace umview
