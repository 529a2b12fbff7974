// FUSE in a view: viewfs's client side of the FUSE kernel protocol. The view's /dev/fuse is a
// virtual file; a FUSE program opens it, "mounts" it with mount(2) (never a kernel mount), and
// reads requests from it and writes replies to it. Calls of the view under the mount point are
// turned into FUSE requests; the calling thread waits (a deferred call) until the reply comes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "umview/plugin.h"

namespace umview::viewfs {

struct FuseConn;

class FuseClient {
 public:
  // `base` gives the view path of a relative path's starting directory (cwd or dirfd), or ""
  // with *err set.
  using BaseFn = std::function<std::string(Call&, int dirfd, int* err)>;
  FuseClient(Host& host, BaseFn base);
  ~FuseClient();

  // At the start of viewfs's OnEntry: true if the call is the FUSE client's (it then completed
  // or deferred it): opens of /dev/fuse, mount/umount2 of FUSE mounts, path calls under a FUSE
  // mount point.
  bool OnEntry(Call& call);
  // At viewfs's OnExit: true if the exit was the FUSE client's.
  bool OnExit(Call& call);
  // Names of FUSE mount points directly in view directory `dir` (for listings).
  std::vector<std::string> MountsIn(const std::string& dir) const;
  // True if the view path is a FUSE mount point or lies under one.
  bool Under(const std::string& view) const;
  // The view cwd of a thread whose cwd is a directory of a FUSE mount, else "". The kernel
  // cannot hold a cwd there: the thread's kernel cwd stays where it was, and the FUSE client
  // makes its relative paths absolute against this one (see "FUSE in a view").
  std::string Cwd(pid_t tid) const;
  // Process events, for the view cwds: a new task shares its parent's (CLONE_FS) or starts
  // with a copy, an exec keeps it.
  void NewTask(pid_t parent, pid_t tid, bool is_thread);
  void Exec(pid_t pid, pid_t former_tid);
  void TaskExit(pid_t tid);

  struct Impl;  // the connections, the protocol and the call handlers (fuse_client.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace umview::viewfs
