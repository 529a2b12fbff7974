// The plugin interface: the only header (with syscalls.h and remote_ptr.h) a plugin compiles
// against.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "umview/remote_ptr.h"
#include "umview/syscalls.h"

namespace umview {

// Bumped, once a version has been released, whenever a class layout or virtual function table
// below changes. The loader refuses a plugin built against another version.
inline constexpr uint32_t kAbiVersion = 1;

// One `key=value` or `flag` item of `-p plugin,OPT,OPT`. For a flag, has_value is false.
struct Option {
  std::string key;
  std::string value;
  bool has_value = false;
};
using Options = std::vector<Option>;

// A plain bind a plugin declares to the path prefilter (Host::SetPrefilterBinds): view path
// `view` shows host path `host`. Both absolute.
struct PrefilterBind {
  std::string view;
  std::string host;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Call;

// A file that exists only inside umview: one open file description, created by a plugin's answer
// to an open-like call (Call::ReturnFile). The tracee holds a real descriptor (a FIFO umview made),
// so descriptor numbers, dup/dup2/fcntl, close, fork inheritance and close-on-exec are the
// kernel's, and poll/select/epoll see it always ready. Calls on it that need data (read, write,
// lseek, fstat, ioctl, getdents64, ...) come here. Every method returns a result >= 0 or a negative
// errno, and runs with the calling tracee thread stopped.
class VirtualFile {
 public:
  virtual ~VirtualFile() = default;
  // At the file position, which this object keeps (it is shared by dup'ed descriptors).
  virtual int64_t Read(void* buf, size_t count) { return (void)buf, (void)count, -EINVAL; }
  virtual int64_t Write(const void* buf, size_t count) { return (void)buf, (void)count, -EINVAL; }
  virtual int64_t Pread(void* buf, size_t count, int64_t offset) {
    return (void)buf, (void)count, (void)offset, -ESPIPE;
  }
  virtual int64_t Pwrite(const void* buf, size_t count, int64_t offset) {
    return (void)buf, (void)count, (void)offset, -ESPIPE;
  }
  virtual int64_t Lseek(int64_t offset, int whence) { return (void)offset, (void)whence, -ESPIPE; }
  virtual int Fstat(struct stat* st) = 0;
  // `call` gives access to the tracee memory `arg` may point to.
  virtual int64_t Ioctl(Call& call, unsigned long request, uint64_t arg) {
    return (void)call, (void)request, (void)arg, -ENOTTY;
  }
  // Fills buf with struct linux_dirent64 records, like getdents64(2).
  virtual int64_t Getdents64(void* buf, size_t count) { return (void)buf, (void)count, -ENOTDIR; }
  virtual int Fsync() { return 0; }
  virtual int Ftruncate(int64_t length) { return (void)length, -EINVAL; }
  // The last descriptor of every tracee referring to this file has been closed.
  virtual void Release() {}
  // A socket call on this descriptor (bind, connect, sendto, recvmsg, getsockname, setsockopt,
  // shutdown, ...): its number and arguments are in `call`, which also reaches tracee memory.
  // A file that stands in for a socket implements them; the default is the kernel's answer for
  // a descriptor that is not a socket.
  virtual int64_t SocketCall(Call& call) { return (void)call, -ENOTSOCK; }
  // Every call on this file (as fd, or as the dirfd of a relative path) comes here first, with
  // the whole call. Return true if it was handled here: completed (Call::Return, ReturnFile) or
  // deferred (Call::Defer). False lets the methods above serve it. For files that answer later
  // (a read waiting for data) or take calls the methods above do not cover.
  virtual bool Intercept(Call& call) { return (void)call, false; }
};

// A system call stopped at entry (or exit) in one tracee thread, as seen by one plugin.
// Valid only during the hook it is passed to.
class Call {
 public:
  virtual ~Call() = default;

  virtual pid_t tid() const = 0;
  virtual pid_t pid() const = 0;  // thread group id

  // The call number as outer plugins left it (the tracee's own number for the outermost plugin).
  virtual int nr() const = 0;
  const SyscallInfo* info() const { return LookupSyscall(nr()); }
  virtual uint64_t arg(int i) const = 0;
  // In VirtualFile::Intercept: the argument holding the descriptor that routed the call to the
  // file (sendfile, splice, tee and copy_file_range come to a virtual file on either side);
  // -1 elsewhere.
  virtual int vfd_arg() const { return -1; }

  // Change the call inward plugins and the kernel will see. At exit these are the entry values.
  virtual void SetNr(int nr) = 0;
  virtual void SetArg(int i, uint64_t value) = 0;

  // Path argument i resolved in the view: absolute, lexically normalized against the tracee's
  // cwd or dirfd, symlinks not followed. At exit the string is read again from tracee memory:
  // after a successful execve it is gone, so copy at entry what the exit needs. nullptr if arg i is
  // not a path or cannot be read; then PathError(i) is the errno the call should fail with (EFAULT,
  // ENAMETOOLONG).
  virtual const std::string* Path(int i) = 0;
  virtual int PathError(int i) = 0;
  // Replace path argument i: the string is placed in per-thread scratch memory the tracee
  // cannot write, and inner plugins see the new path. Returns 0 or -errno.
  virtual int SetPath(int i, std::string_view path) = 0;

  // Complete the call here: no inner plugin and no kernel sees it; the tracee receives
  // `value` (a negative errno for a failure). Outer plugins that asked for the exit see it.
  virtual void Return(int64_t value) = 0;
  void Fail(int err) { Return(-static_cast<int64_t>(err)); }
  virtual bool completed() const = 0;

  // Complete an open-like call (open, openat, openat2, creat, ...) with a new virtual descriptor
  // for `file`; flags are the O_* flags of the open (O_CLOEXEC and O_NONBLOCK are honoured).
  // The plugin must have called Host::NeedScratch() at Init. Returns 0 or -errno.
  virtual int ReturnFile(std::shared_ptr<VirtualFile> file, int flags) = 0;

  // Ask for OnExit of this plugin for this call (outcome: run and report the exit).
  virtual void RequestExit() = 0;

  // At exit: the value the tracee will receive, and a way to change it.
  virtual bool at_exit() const = 0;
  virtual int64_t result() const = 0;
  virtual void SetResult(int64_t value) = 0;

  // The calling process's state, read from the kernel when asked (nothing is tracked per call).
  struct ProcessState {
    uid_t uid, euid, fsuid;
    gid_t gid, egid, fsgid;
    mode_t umask;
    std::string cwd;  // as the kernel has it (a host path)
  };
  // 0 or -errno (-ESRCH if the thread vanished).
  virtual int GetProcessState(ProcessState* out) = 0;

  // Tracee memory. All-or-nothing; return 0 or -errno (-EFAULT for unmapped memory).
  virtual int Read(RemotePtr<void> addr, void* buf, size_t len) = 0;
  virtual int Write(RemotePtr<void> addr, const void* buf, size_t len) = 0;
  // Reads up to the NUL (not included) or `max` bytes, never faulting on unmapped memory
  // past the NUL. Returns the length read, -ENAMETOOLONG when no NUL within max, or -EFAULT.
  virtual int64_t ReadString(RemotePtr<char> addr, std::string* out, size_t max = 4096) = 0;

  // Several transfers in one kernel crossing (MULTI); all-or-nothing, 0 or -errno.
  struct Transfer {
    RemotePtr<void> remote;
    void* local;
    size_t len;
  };
  virtual int ReadMany(const Transfer* transfers, size_t count) = 0;
  virtual int WriteMany(const Transfer* transfers, size_t count) = 0;

  // True if addr lies in this thread's scratch area but was not placed during this entry: an
  // argument pointing there was placed at an earlier entry of the same call, which the kernel is
  // now restarting (after a signal), so it has been checked and translated already.
  virtual bool InScratch(uint64_t addr) const = 0;

  // Copies `len` bytes into this thread's scratch area (read-only for the tracee) and returns
  // its address; valid until the call returns. Null if no scratch could be set up.
  virtual RemotePtr<void> PutScratch(const void* data, size_t len) = 0;

  // Answer later: the thread stays stopped in this call while umview serves the other tracees,
  // until Host::Resume(token, ...). Returns the token, or 0 if the engine cannot defer (then the
  // plugin must answer now). After a successful Defer the hook returns without completing the
  // call, and inner plugins do not see it.
  virtual uint64_t Defer() = 0;
};

// Services the core offers a plugin. Registration may change at run time; a class of calls the
// seccomp filter did not trap when the view started is only seen once it is trapped.
class Host {
 public:
  virtual ~Host() = default;
  // Route every call with this number to the plugin.
  virtual void ClaimSyscall(int nr) = 0;
  // A per-syscall hook: claims `nr`, and calls of it go to `hook` instead of Plugin::OnEntry.
  // E.g. host.HandleSyscall(__NR_openat, [this](Call& c) { OpenAt(c); });
  virtual void HandleSyscall(int nr, std::function<void(Call&)> hook) = 0;
  // Route calls `nr` to the plugin only when argument `arg` equals `value` (equal) or differs
  // from it (!equal): the seccomp filter tests it, so other calls of nr never stop. E.g. ioctl
  // only for one request, sendto only with an address (arg 4 != 0). Several rules for one
  // number: any one matching is enough.
  virtual void ClaimSyscallWhen(int nr, int arg, uint64_t value, bool equal) = 0;
  // Route every trapped call to the plugin, and trap everything (strace-like observers).
  virtual void ClaimAllSyscalls() = 0;
  // Route path calls whose path lies at or under `prefix` (absolute) to the plugin.
  virtual void AddMount(std::string_view prefix) = 0;
  virtual void RemoveMount(std::string_view prefix) = 0;
  // Route socket() and socketpair() calls of this address family (AF_INET, ...) to the plugin.
  virtual void ClaimSocketFamily(int family) = 0;
  // The plugin will rewrite arguments (needs per-process scratch memory).
  virtual void NeedScratch() = 0;
  virtual void Log(LogLevel level, std::string_view message) = 0;

  // Deferred calls and events. All but Post are for the tracer thread only (hooks, functions
  // run by Post, WatchFd callbacks).
  // Finishes a call deferred with Call::Defer: `finish` gets the call as at its entry and
  // completes it (Return, ReturnFile), defers it again, or changes it and lets the kernel run it
  // (inner plugins do not see it again). False if the thread has gone meanwhile (then `finish`
  // is not called).
  virtual bool Resume(uint64_t token, std::function<void(Call&)> finish) = 0;
  // Runs fn on the tracer thread soon. Callable from any thread. The tracer waits on these
  // events once the plugin has deferred a call or watched a descriptor; before that, fn runs at
  // the next tracee event.
  virtual void Post(std::function<void()> fn) = 0;
  // Calls on_readable on the tracer thread whenever fd is readable, until UnwatchFd(fd).
  virtual bool WatchFd(int fd, std::function<void()> on_readable) = 0;
  virtual void UnwatchFd(int fd) = 0;
  // For engines with an in-kernel path prefilter (kmview): the plugin's mounts concern only the
  // paths lexically at or under these absolute prefixes, as the kernel sees a path (relative
  // ones appended to the cwd's or dirfd's host path, symlinks NOT followed). Path calls outside
  // every prefix of every plugin then run natively, unseen, even those the plugin claimed by
  // number. Without this call a plugin's prefixes are its mounts, and a plugin that claims path
  // calls by number turns the prefilter off. Callable at any time on the tracer thread; an
  // empty list withdraws the declaration.
  virtual void SetPrefilterPaths(std::vector<std::string> prefixes) { (void)prefixes; }
  // A signal to a thread waiting in a deferred call: `fn` runs once, on the tracer thread, when
  // the thread waiting in call `token` has a signal pending that would interrupt a blocking
  // call in the kernel (it has a handler, or its default action ends the process: `fatal`).
  // The call stays deferred: the plugin answers it (typically -EINTR, as a kernel driver whose
  // wait was interrupted) with Resume, and the signal is delivered after that. Without this a
  // signal waits until the call is answered. False if the engine cannot tell or the token is
  // not waiting. Noticed within about 50 ms (the ptrace engine polls /proc).
  virtual bool WatchSignal(uint64_t token, std::function<void(int sig, bool fatal)> fn) {
    (void)token, (void)fn;
    return false;
  }
  // With SetPrefilterPaths declared: calls among `nrs` that the plugin claimed by number and
  // that concern it only through the file of the descriptor in their first argument (getcwd:
  // through the cwd). The kernel then lets such a call run unseen when that file is a directory
  // or regular file outside the declared prefixes and, for a directory, not above one of them
  // (its listing may show a mount point); for getcwd, when the cwd lies outside them. Pipes,
  // FIFOs, sockets and removed files always stop. Every plugin that claims a number must
  // declare it for the filter to apply. An empty list withdraws the declaration.
  virtual void SetPrefilterFdCalls(std::vector<int> nrs) { (void)nrs; }
  // With SetPrefilterPaths declared: execve concerns the plugin only through the paths of the
  // program and of the interpreters the kernel opens for it (a script's "#!" interpreter, an
  // ELF's PT_INTERP, the latter also as resolved on the host). The ptrace engine's prefilter
  // then lets an execve run unseen when all of them lie outside every prefix (declared, or the
  // plugins' mounts), or when the program does not exist there. Every plugin with mounts or
  // claiming execve must agree, at the start for it to apply at all (later changes are in force
  // for the next call).
  virtual void SetPrefilterExec(bool on) { (void)on; }
  // With SetPrefilterPaths declared: which of the plugin's prefixes are plain binds. Each shows
  // host directory `host` at view path `view` (both among the declared prefixes): at and below
  // `view`, where no deeper mount covers a path, the plugin acts on the corresponding host path
  // and on nothing else, and it takes a cwd or descriptor whose host path lies under `host`
  // for the directory at the corresponding view path. The ptrace engine's prefilter then also
  // lets run unseen a call whose relative path starts in a directory the view shows as the
  // host does (every view path it may stand for shows it, with no mount below) and that the
  // host resolves without leaving that directory (no ".." above it, no symlink out of it), and
  // answers reads of attributes (stat family, access, readlink, getxattr), opens of existing
  // files and directories and getcwd at absolute paths below `view` itself, on the host path,
  // for threads with umview's ids, label, namespaces and root. A path named absolutely below
  // `host` (and below no other prefix) is the host's file for the plugin, like any path outside
  // its prefixes: such calls run unseen (`host` is a prefix only for cwds and descriptors).
  // Renames are left to the plugin. An empty list withdraws the declaration.
  virtual void SetPrefilterBinds(std::vector<PrefilterBind> binds) { (void)binds; }
  // With SetPrefilterPaths declared: only calls that cannot change a file may run unseen —
  // the stat family, readlink, getxattr and listxattr, statfs, chdir, execve, getdents64,
  // getcwd, access and faccessat without W_OK, open and openat without a flag that writes,
  // creates, truncates or appends. Every other call stops, wherever its path lies. For a plugin
  // that protects files from being changed but not from being read (viewfs's ro, cow, merge):
  // its protected paths need not be among the prefixes, since reading there is the host's
  // business. Engines whose prefilter cannot tell reads from writes (kmview's module) then
  // prefilter nothing.
  virtual void SetPrefilterReadsOnly(bool on) { (void)on; }
  // Whether the engine's path prefilter also follows symlinks: a path call it lets run unseen
  // is one whose walk on the host meets no symlink leading into a declared prefix (the ptrace
  // engine's prefilter checks that; kmview's in-kernel one compares paths lexically only). Known
  // from Init on.
  virtual bool PrefilterFollowsSymlinks() { return false; }
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Parse options and register routes. Return false with a one-line *error for bad options:
  // umview then prints "PLUGIN: ERROR" and exits with status 2 before starting anything.
  virtual bool Init(Host& host, const Options& options, std::string* error) = 0;
  // A routed call at entry; the plugin passes (does nothing), modifies, or completes it.
  virtual void OnEntry(Call& call) { (void)call; }
  // The exit of a call whose entry this plugin saw and for which it called RequestExit().
  virtual void OnExit(Call& call) { (void)call; }
  // Process events (all tracees, whatever the routing).
  virtual void OnNewTask(pid_t parent_tid, pid_t tid, bool is_thread) {
    (void)parent_tid, (void)tid, (void)is_thread;
  }
  // A successful execve. former_tid is the tid of the thread that called it when that was not
  // the leader: it now has the leader's tid `pid`, and the old leader is gone without OnTaskExit.
  virtual void OnExec(pid_t pid, pid_t former_tid) { (void)pid, (void)former_tid; }
  virtual void OnTaskExit(pid_t tid, int wait_status) { (void)tid, (void)wait_status; }
  // The last tracee has gone; flush logs.
  virtual void OnShutdown() {}
  // A command from umctl inside the view (`umctl mount ...` goes to viewfs). Return 0 or a
  // negative errno; *reply is shown to the user (the error message, or a confirmation).
  virtual int OnControl(const std::string& command, std::string* reply) {
    (void)command;
    *reply = "this plugin takes no commands";
    return -ENOTSUP;
  }
  // The options that recreate the plugin as it is now (after run-time changes), for
  // `umctl save` and `umctl info`. False: the options it was started with.
  virtual bool CurrentOptions(Options* out) const {
    (void)out;
    return false;
  }
};

// What a plugin exports (through UMVIEW_PLUGIN) for the loader.
struct PluginDescriptor {
  uint32_t abi_version;
  const char* name;
  const char* summary;
  Plugin* (*create)();
};

}  // namespace umview

#include <boost/dll/alias.hpp>

// Exports a plugin class. Use once per shared object, at namespace scope:
//   UMVIEW_PLUGIN(MyPlugin, "my", "one line saying what it does")
#define UMVIEW_PLUGIN(Class, name, summary)                                                   \
  namespace umview_plugin_export {                                                            \
  ::umview::Plugin* Create() { return new Class(); }                                          \
  const ::umview::PluginDescriptor descriptor{::umview::kAbiVersion, name, summary, &Create}; \
  }                                                                                           \
  BOOST_DLL_ALIAS(umview_plugin_export::descriptor, umview_plugin_v1)
