// The engine interface: turns kernel notifications into syscall and process events for the
// dispatcher and applies its decisions. Back-ends: ptrace (ptrace_engine.h), kmview (kernel
// module).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tracee_memory.h"
#include "umview/control.h"
#include "umview/plugin.h"

namespace umview {

// Registers of one call, arch-neutral. The client edits them; the engine writes back what changed.
struct SyscallState {
  long nr = -1;
  uint64_t args[6] = {};
  int64_t ret = 0;  // at exit
  uint64_t ip = 0;
  uint64_t sp = 0;
};

// A tracee thread stopped at a syscall entry or exit.
struct SyscallStop {
  pid_t tid = 0;
  pid_t pid = 0;  // thread group
  SyscallState state;
  TraceeMemory* memory = nullptr;
  // This thread's scratch slot in its address space (read-only for the tracee), or 0.
  uint64_t scratch = 0;
  size_t scratch_size = 0;
  // Set by the client at an exit: from now on the whole process (and its future children) must
  // stop on the calls of EngineConfig::fd_trapped. Idempotent.
  bool want_fd_trap = false;
};

// The three SYSVM outcomes of an entry.
enum class EntryOutcome {
  kRunReportExit,  // run (maybe with changed number/args) and stop again at its exit
  kRunNoExit,      // run (maybe changed), no further stop: one stop in all
  kSkip,           // do not run; the tracee receives `value`: one stop in all
  // Answer later: the thread stays stopped at this entry while the engine serves the others,
  // until the client calls Engine::FinishDeferred for it. Only for engines whose
  // supports_deferral() is true.
  kDefer,
};

struct EntryDecision {
  EntryOutcome outcome = EntryOutcome::kRunNoExit;
  int64_t value = 0;
};

// What the engine reports to (the dispatcher).
class EngineClient {
 public:
  virtual ~EngineClient() = default;
  virtual EntryDecision OnSyscallEntry(SyscallStop& stop) = 0;
  // Only after an entry decided kRunReportExit. stop.state.ret may be changed.
  virtual void OnSyscallExit(SyscallStop& stop) = 0;
  virtual void OnNewTask(pid_t parent_tid, pid_t tid, bool is_thread) = 0;
  // A successful execve; former_tid differs from pid when a non-leader thread exec'd.
  virtual void OnExec(pid_t pid, pid_t former_tid) = 0;
  virtual void OnTaskExit(pid_t tid, int wait_status) = 0;
  // Deferral: a descriptor (or -1) the engine waits on besides the tracees' events; when it is
  // readable the engine calls OnWake(), from which the client may call FinishDeferred. Asked
  // before each wait, so it may appear at run time.
  virtual int wake_fd() const { return -1; }
  virtual void OnWake() {}
  // Signals to a thread left waiting by kDefer (ptrace keeps it stopped, so the signal would
  // wait for the answer). The engine looks, every so often, at the pending signals of each
  // waiting thread for which WantsSignal(tid) is true, and calls OnDeferredSignal once per
  // deferral with the first one that would interrupt a blocking call in the kernel: one with a
  // handler, or one whose default action ends the process (`fatal`). The client may then call
  // FinishDeferred; the signal is delivered once the thread runs.
  virtual bool WantsSignal(pid_t tid) const {
    (void)tid;
    return false;
  }
  virtual void OnDeferredSignal(pid_t tid, int sig, bool fatal) {
    (void)tid, (void)sig, (void)fatal;
  }
  // For engines with an in-kernel path prefilter: true with *prefixes (absolute, normalized)
  // when every path call outside them may run unseen; false when every path call must stop.
  // The generation changes whenever the answer may have changed (mounts, plugins).
  virtual bool PathPrefixes(std::vector<std::string>* prefixes) const {
    (void)prefixes;
    return false;
  }
  virtual uint64_t path_prefixes_generation() const { return 0; }
  // With PathPrefixes: the call numbers the engine may also let run unseen when their
  // descriptor's file (getcwd: the cwd) lies outside the prefixes and, for a directory, not
  // above one of them (Host::SetPrefilterFdCalls). Same generation.
  virtual std::vector<int> PrefilterFdCalls() const { return {}; }
  // With PathPrefixes: whether execve may also run unseen when its program and the
  // interpreters the kernel would open for it ("#!", PT_INTERP) lie outside the prefixes
  // (Host::SetPrefilterExec). Same generation.
  virtual bool PrefilterExec() const { return false; }
  // With PathPrefixes: only calls that cannot change a file may run unseen
  // (Host::SetPrefilterReadsOnly; PrefilterCallWrites). Same generation.
  virtual bool PrefilterReadsOnly() const { return false; }
  // With PathPrefixes: the plain binds among the prefixes (Host::SetPrefilterBinds), and
  // *mounts: every other prefix at which a path may meet a mount (all but the binds' own view
  // and host paths). Same generation.
  virtual std::vector<PrefilterBind> PrefilterBinds(std::vector<std::string>* mounts) const {
    mounts->clear();
    return {};
  }
};

// Trap `nr` only when argument `arg` == value (equal) or != value (!equal).
struct ArgRule {
  int nr;
  int arg;
  uint64_t value;
  bool equal;
  bool operator==(const ArgRule& o) const {
    return nr == o.nr && arg == o.arg && value == o.value && equal == o.equal;
  }
};

struct EngineConfig {
  std::vector<int> trapped;          // syscall numbers that must stop the tracee
  std::vector<ArgRule> conditional;  // numbers that stop only when an argument matches
  bool trap_all = false;      // every syscall stops (observers such as umtrace without filter)
  bool need_scratch = false;  // set up a scratch area in every address space after execve
  // Stop at every execve (the plugins' OnExec, the scratch area). Off for a view with no plugin:
  // there nothing can claim a call, and the stop cost ~45 us of each program started.
  bool observe_exec = true;
  bool count_stops = false;  // keep per-syscall stop counters (--stats)
  // No plugin is loaded and none can be (a view with no plugin has no control channel): the
  // engine may run the command without tracing it at all (see PtraceEngine::StartUntraced).
  bool nothing_to_serve = false;
  // When the root command exits, SIGKILL the view's remaining processes (--kill-on-exit)
  // instead of serving them until the last one is gone.
  bool kill_on_root_exit = false;
  // Longest time the tracer polls for the next stop before sleeping, in microseconds; 0 never.
  // Used only when umview may run on more than one CPU.
  int spin_max_us = 50;
  // Directory (a path of the view) the root command starts in; "" keeps umview's.
  std::string initial_cwd;
  // Calls trapped, in addition to `trapped`, in processes holding virtual descriptors.
  std::vector<int> fd_trapped;
  // Calls among `trapped` the client's path prefilter may decide (EngineClient::PathPrefixes,
  // PrefilterFdCalls): the ptrace engine routes them through seccomp user notification
  // (notify_prefilter.h). Empty: none.
  std::vector<int> prefiltered;
  // The prefilter may decide only calls that cannot change a file (EngineClient::
  // PrefilterReadsOnly at the start): among `prefiltered`, an open or access whose flags say it
  // writes stops directly (PrefilterWriteFlags) instead of being notified and escalated.
  bool prefilter_reads_only = false;
  // The signal state the command starts with: what umview itself inherited (so `nohup umview`
  // protects the command), whatever umview changed for itself.
  std::vector<int> ignored_signals;
  sigset_t blocked_signals{};
};

// Per-syscall stop counters, by outcome.
struct StopCounters {
  uint64_t entry_only = 0;   // kRunNoExit
  uint64_t entry_exit = 0;   // kRunReportExit
  uint64_t skipped = 0;      // kSkip
  uint64_t prefiltered = 0;  // let run by a path prefilter without a stop, where counted
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  // Forks and execs argv[0] (searched in PATH) as the root tracee with `env`.
  // Returns false with a one-line *error (e.g. "ls: command not found") on failure.
  virtual bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const EngineConfig& config, std::string* error) = 0;
  // Serves the tracees until the last has gone; returns the root tracee's wait status.
  virtual int Run(EngineClient& client) = 0;
  virtual pid_t root_pid() const = 0;
  // Indexed by syscall number; filled when config.count_stops.
  virtual const std::vector<StopCounters>& counters() const = 0;
  // The plugin stack changed while running: from now on `config`'s calls must stop too. Each
  // process gets the extra filter at its next trapped call (a process that makes none keeps
  // running as it was). False with *error if it cannot be done (no scratch memory, no filter).
  virtual bool ExtendTrapped(const EngineConfig& config, std::string* error) = 0;
  // Capability: entries may be answered kDefer. Engines without it never see kDefer (the
  // dispatcher asks first), so they need not implement the two calls below.
  virtual bool supports_deferral() const { return false; }
  // Whether a path call the engine's path prefilter lets run unseen is also one whose host walk
  // meets no symlink into a prefix (the ptrace engine checks it; kmview's module does not).
  virtual bool prefilter_follows_symlinks() const { return false; }
  // Finishes the entry thread `tid` was left stopped at by kDefer: `finish` gets the stop as at
  // that entry (registers re-read, memory usable) and returns the decision (not kDefer), which
  // the engine applies as at any entry. Callable from EngineClient hooks (for another thread than
  // the one being handled) and OnWake. False if tid is not waiting (it died meanwhile).
  virtual bool FinishDeferred(pid_t tid, const std::function<EntryDecision(SyscallStop&)>& finish) {
    (void)tid, (void)finish;
    return false;
  }
};

std::unique_ptr<Engine> MakePtraceEngine();

// Reserved syscall number of the control channel between tools in a view and umview. Outside a
// view it fails with ENOSYS: the kernel has no such call.
inline constexpr long kControlSyscall = kControlNr;

}  // namespace umview
