// The dispatcher: routes each trapped call through the plugin stack (entry: last loaded first;
// exit: load order) by syscall number and by path (longest mount prefix), and answers the
// control channel.
#pragma once

#include <atomic>
#include <bitset>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine.h"
#include "core/virtual_fds.h"
#include "umview/plugin.h"

namespace umview {

// Answers the control channel's questions about the whole view (main.cc knows the view).
class ControlInfo {
 public:
  virtual ~ControlInfo() = default;
  virtual std::string Info() = 0;
  virtual std::string ViewYaml() = 0;
  // umctl load/unload: main.cc loads the shared object and keeps it; 0 or -errno with *reply.
  virtual int Load(const std::string& spec, std::string* reply) = 0;
  virtual int Unload(const std::string& name, std::string* reply) = 0;
};

class Dispatcher final : public EngineClient {
 public:
  void set_control_info(ControlInfo* c) { control_ = c; }
  // The engine serving the view, for deferred calls (Call::Defer needs supports_deferral()).
  void set_engine(Engine* e) { engine_ = e; }
  // The plugins in load order, with their names (unloaded ones left out).
  std::vector<std::pair<std::string, Plugin*>> Stack() const;
  // Takes the outermost plugin named `name` out of the stack; false with *error if it still
  // owns mounts or virtual files, or is not there.
  bool RemovePlugin(const std::string& name, std::string* error);
  Dispatcher();
  ~Dispatcher() override;

  // Adds a plugin on top of the stack (it becomes the outermost) and runs its Init.
  // Returns false with a one-line *error on bad options. The plugin must outlive the dispatcher.
  bool AddPlugin(const std::string& name, Plugin* plugin, const Options& options,
                 std::string* error);
  // What the engine must trap for the plugins added so far.
  EngineConfig MakeEngineConfig() const;
  void Shutdown();

  EntryDecision OnSyscallEntry(SyscallStop& stop) override;
  void OnSyscallExit(SyscallStop& stop) override;
  void OnNewTask(pid_t parent_tid, pid_t tid, bool is_thread) override;
  void OnExec(pid_t pid, pid_t former_tid) override;
  void OnTaskExit(pid_t tid, int wait_status) override;
  bool PathPrefixes(std::vector<std::string>* prefixes) const override;
  uint64_t path_prefixes_generation() const override { return prefix_gen_; }
  std::vector<int> PrefilterFdCalls() const override;
  bool PrefilterReadsOnly() const override;
  bool PrefilterExec() const override;
  std::vector<PrefilterBind> PrefilterBinds(std::vector<std::string>* mounts) const override;
  int wake_fd() const override { return epoll_fd_; }
  void OnWake() override;
  bool WantsSignal(pid_t tid) const override;
  void OnDeferredSignal(pid_t tid, int sig, bool fatal) override;

  struct Slot;
  struct Mount {
    std::string prefix;
    size_t slot;
    uint64_t seq;
  };
  // The plugin (index) owning `path` among slots [0, upto]: longest prefix, most recent first.
  // -1 if none.
  int PathOwner(const std::string& path, size_t upto) const;
  // The plugin that owns every path (it alone has mounts, one of them "/"), or -1.
  int SoleRootOwner() const;
  bool has_mounts() const { return !mounts_.empty(); }

 private:
  friend class HostImpl;
  friend class CallImpl;
  struct Pending;  // exits requested for a thread's current call

  EntryDecision HandleControl(SyscallStop& stop);
  VirtualFdTable::Entry* FindVirtualFd(SyscallStop& stop);
  void DeliverExits(SyscallStop& stop, Pending& p);
  template <typename F>
  void ForEachPlugin(const char* hook, F f);

  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Mount> mounts_;
  uint64_t mount_seq_ = 0;
  uint64_t prefix_gen_ = 0;  // bumped whenever PathPrefixes' answer may change
  bool need_scratch_ = false;
  std::unordered_map<pid_t, std::unique_ptr<Pending>> pending_;
  VirtualFdTable vfds_;
  int vfd_arg_ = -1;  // the argument FindVirtualFd found the virtual descriptor in
  ControlInfo* control_ = nullptr;
  std::unordered_map<pid_t, pid_t> tgid_;  // tid -> thread group, for releasing virtual files
  std::vector<pid_t> Tgids() const;

  // Deferred calls (Call::Defer / Host::Resume) and plugin events (Host::Post / WatchFd).
  struct Deferred {
    pid_t tid;
    size_t slot;
    std::function<void(int sig, bool fatal)> on_signal;  // Host::WatchSignal, if asked
  };
  bool ResumeDeferred(uint64_t token, const std::function<void(Call&)>& finish);
  EntryDecision Conclude(class CallImpl& call, SyscallStop& stop, Pending& p);
  bool EnsureEpoll();
  void Post(std::function<void()> fn);
  bool WatchFd(int fd, std::function<void()> on_readable);
  void UnwatchFd(int fd);
  Engine* engine_ = nullptr;
  // The entry being decided now: a Resume of its own token (the answer was ready before the
  // hook returned) is applied to it directly, as the engine has not left it waiting yet.
  SyscallStop* entry_stop_ = nullptr;
  bool early_ = false;
  EntryDecision early_decision_;
  std::unordered_map<uint64_t, Deferred> deferred_;
  uint64_t defer_seq_ = 0;
  std::atomic<int> epoll_fd_{-1};  // made on first use, maybe by a plugin thread's Post
  int event_fd_ = -1;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::unordered_map<int, std::function<void()>> watched_;
};

}  // namespace umview
