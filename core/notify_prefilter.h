// The ptrace engine's path prefilter: the calls it could decide by their path arrive as seccomp
// user notifications instead of ptrace stops. A thread of umview reads the path, and lets the
// call run natively (SECCOMP_USER_NOTIF_FLAG_CONTINUE) when it lies outside every prefix the
// plugins declared — the decision kmview's module makes in the kernel (kernel/kmview.c,
// kmv_prefilter_outside), with the same inputs. Every other call is escalated: the tracer turns
// it into a ptrace stop (PtraceEngine::Escalate) and the plugins see it as any trapped call.
// Why this shape, and what it costs: docs/ARCHITECTURE.md "The notification prefilter".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "umview/plugin.h"

namespace umview {

// The path arguments of a call the prefilter decides by path: up to two {dirfd argument or -1,
// path argument} pairs (path[1] < 0: one). False for other calls. execve and execveat are not
// among them (an interpreter inside a prefix may be named by a program outside): the ptrace
// engine's prefilter decides execve by its interpreters too (PrefilterRules::exec). Nor is
// chroot: wherever it points, a plugin that claims it (viewfs refuses it) must see it.
struct PrefilterPathArgs {
  int8_t dirfd[2];
  int8_t path[2];
};
bool PrefilterPathCall(long nr, PrefilterPathArgs* pa);

// For plugins that protect files from writes only (Host::SetPrefilterReadsOnly): whether call
// nr, with these arguments, may change a file or directory (create, remove, rename, write,
// truncate, change attributes or times; access and faccessat with W_OK, whose answer depends on
// what the plugin allows). Anything not known to only read counts. PrefilterCallMayRead: the
// numbers for which some arguments only read.
bool PrefilterCallWrites(long nr, const uint64_t args[6]);
bool PrefilterCallMayRead(long nr);
// For the calls whose flags decide (open, openat, access, faccessat, faccessat2): the argument
// and the bits of it that make the call a write (any of them set). False for other calls.
bool PrefilterWriteFlags(long nr, int* arg, uint64_t* mask);

// What the plugins declared (EngineClient::PathPrefixes, PrefilterFdCalls), as the prefilter
// thread reads it. !active: every call is escalated.
struct PrefilterRules {
  bool active = false;
  std::vector<std::string> prefixes;  // absolute, normalized
  std::bitset<512> fd_calls;          // decided by the file of their first argument (getcwd: cwd)
  bool exec = false;  // execve decided by its program's and interpreters' paths (ExecOutside)
  // Only calls that cannot change a file may run unseen or be answered (PrefilterCallWrites).
  bool reads_only = false;
  // Plain binds among the prefixes (EngineClient::PrefilterBinds), and the other prefixes, at
  // which a path meets some other mount. A relative path starting in a directory the view shows
  // as the host does may run unseen when the host resolves it beneath that directory.
  std::vector<PrefilterBind> binds;
  std::vector<std::string> mounts;
  // Per bind (PreparePrefilterBinds): nothing is mounted below its view path, and every
  // directory above it and its host path are directories where the view takes them from, so
  // the view's walk to a path below it is the host's below the host path. Reads of attributes
  // there may be answered by the prefilter itself (PrefilterAnswer).
  std::vector<bool> plain_walk;
  // Per bind: its host path opened O_PATH (-1 where !plain_walk), closed with the rules.
  std::vector<int> host_dirs;
  // The prefixes an absolute path is compared with (PreparePrefilterBinds; until then all of
  // them): a plain bind's host path is a prefix only for the cwds and descriptors the plugin
  // takes for its view path; named by an absolute path it is the host's, like any outside path.
  std::vector<std::string> absolute_prefixes;
  bool absolute_prefixes_set = false;

  PrefilterRules() = default;
  PrefilterRules(const PrefilterRules&) = delete;
  PrefilterRules& operator=(const PrefilterRules&) = delete;
  ~PrefilterRules();
};

// Whether prefix p is only a plain bind's host path (no bind's view path, not among the other
// mounts): a prefix for cwds and descriptors there, not for paths named absolutely
// (PrefilterRules::absolute_prefixes; kmview's KMVIEW_PREFIX_BASE_ONLY).
bool BaseOnlyPrefix(const std::string& p, const std::vector<PrefilterBind>& binds,
                    const std::vector<std::string>& mounts);

// Fills rules->plain_walk (looks at the host's directories: on the tracer thread, whenever the
// rules change).
void PreparePrefilterBinds(PrefilterRules* rules);

// Whether call nr of thread tid, with these arguments, may run unseen under `rules`: its paths
// (relative ones joined to the host path of the cwd or dirfd, lexically) lie outside every
// prefix, or, for an fd call, its descriptor's file lies outside them and not above one. False
// whenever that cannot be told cheaply (unreadable path, a ".." that leaves a directory inside
// a prefix, a pipe or socket, a removed file).
bool PrefilterOutside(const PrefilterRules& rules, pid_t tid, long nr, const uint64_t args[6]);

// Whether the prefilter answers call nr of thread tid itself, for seccomp notification `id` of
// `listener`: a read of a file's attributes (stat, lstat, newfstatat, statx, access, faccessat,
// faccessat2, readlink, readlinkat, getxattr, lgetxattr; open and openat of an existing
// regular file or directory, given by SECCOMP_IOCTL_NOTIF_ADDFD) at an absolute path inside a
// plain bind whose walk the host makes as the view does, made by a thread with umview's
// credentials, LSM label, mount namespace and root; getcwd below a bind's host path. Makes the
// call on the host path and writes its results into the thread's memory; *result is its
// return value or -errno. (listener < 0: no notification to
// check, for tests on umview's own thread.)
// Calls that may change what decides a thread's file access (ids, groups, capabilities, mount
// namespace, root): the prefilter is told of each (SeccompFilter::WatchFor, and the tracer of
// those that stop) and from then on checks a thread's identity at every answer instead of once.
bool IdentityCall(long nr);

bool PrefilterAnswer(const PrefilterRules& rules, int listener, uint64_t id, pid_t tid, long nr,
                     const uint64_t args[6], int64_t* result);

// A notification the prefilter thread could not let through.
struct Escalation {
  pid_t tid;
  uint64_t id;  // the notification's cookie, for the reply
  long nr;
  uint64_t args[6];
};

class NotifyPrefilter {
 public:
  // Takes the seccomp listener descriptor.
  explicit NotifyPrefilter(int listener);
  ~NotifyPrefilter();
  NotifyPrefilter(const NotifyPrefilter&) = delete;
  NotifyPrefilter& operator=(const NotifyPrefilter&) = delete;

  // Starts the thread (all signals blocked in it). False with *error if it cannot.
  bool Start(std::string* error);
  // The rules from now on: in force before this returns for every notification received later.
  void SetRules(std::shared_ptr<const PrefilterRules> rules);
  // Readable while escalations are waiting (an eventfd).
  int wake_fd() const;
  // Cheap check for the tracer's polling loop.
  bool pending() const;
  std::vector<Escalation> TakeEscalations();
  // Answers an escalated notification with an error (the tracer's restart trick) or value.
  // False if the thread has gone (or the notification was withdrawn).
  bool Reply(uint64_t id, int64_t error);
  // The next notification of thread tid with exactly this call runs (the re-run of an escalated
  // call the plugins let through, maybe rewritten). Replaces an earlier one of the same thread.
  // A thread's identity may have changed (IdentityCall, a clone into new namespaces): answers
  // check it every time from now on.
  void IdentityMayChange();
  // A thread has exec'd (a set-user-ID program may change its ids): identities checked so far
  // are checked again.
  void Execed();
  void AllowOnce(pid_t tid, long nr, const uint64_t args[6]);
  void Forget(pid_t tid);
  // Calls let through unseen, by number.
  uint64_t passed(long nr) const;

 private:
  struct State;
  std::shared_ptr<State> s_;
};

}  // namespace umview
