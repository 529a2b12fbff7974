// viewfs: filesystem views. Mounts bind, tmp, hide, ro and except remap view paths to host
// paths; every path argument of every call is resolved in the view, symlinks included.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "plugins/viewfs/dir_cache.h"
#include "plugins/viewfs/exec_image.h"
#include "plugins/viewfs/fuse_client.h"
#include "plugins/viewfs/mount_table.h"
#include "plugins/viewfs/union.h"
#include "umview/paths.h"
#include "umview/plugin.h"

namespace umview::viewfs {
namespace {

constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS

std::string Normalize(std::string_view path) { return NormalizePath(path); }

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) (out += '/') += p;
  return out.empty() ? "/" : out;
}

bool HasDotDot(std::string_view raw) {
  // Component by component without building them: this runs on every path call.
  size_t i = 0;
  while (i < raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    if (raw.substr(i, j - i) == "..") return true;
    i = j + 1;
  }
  return false;
}

// One name, not followed ("name" relative to the dirfd, or "/name"): the kernel's lookup meets
// no symlink at all, whatever the name is. A trailing slash would make it follow the name.
bool SingleUnfollowedName(std::string_view raw, bool follow_last) {
  if (follow_last) return false;
  size_t first = raw.find_first_not_of('/');
  return first != std::string_view::npos && raw.find('/', first) == std::string_view::npos;
}

bool IsNumber(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string ReadLink(const std::string& path, int* err = nullptr) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) {
    if (err) *err = errno;
    return "";
  }
  if (err) *err = 0;
  return std::string(buf, n);
}

struct Resolved {
  std::string view;
  Place place;
  LayerHit layer;  // for a path in a union mount
  int err = 0;
  bool followed = false;  // a symlink was followed: the kernel must get the resolved path
  bool opaque = false;    // a magic link to a non-path object: leave the call to the kernel
};

// Which path arguments a call modifies (EROFS under ro), and whether the last component is
// followed, by syscall.
struct PathUse {
  bool writes = false;
  bool follow = true;
};

class ViewFs final : public Plugin {
 public:
  ~ViewFs() override { RemoveTmpDirs(); }

  bool Init(Host& host, const Options& options, std::string* error) override {
    // On by default where the engine's prefilter follows symlinks as the view does (ptrace),
    // off where it would not (kmview); UMVIEW_VIEWFS_PREFILTER=on|off, then the option, decide
    // otherwise.
    const char* pf = getenv("UMVIEW_VIEWFS_PREFILTER");
    prefilter_ = pf != nullptr ? std::string_view(pf) == "on" : host.PrefilterFollowsSymlinks();
    prefilter_chosen_ = pf != nullptr;
    for (const Option& o : options) {
      if (!AddOption(o, error)) {
        RemoveTmpDirs();
        return false;
      }
    }
    if (!CheckContradictions(error)) {
      RemoveTmpDirs();
      return false;
    }
    host.AddMount("/");  // symlinks and dirfds can lead anywhere: every path call is ours
    host.NeedScratch();
    fuse_ = std::make_unique<FuseClient>(
        host, [this](Call& call, int dirfd, int* err) { return Base(call, dirfd, err); });
    for (int nr : {SYS_bind, SYS_connect, SYS_sendto, SYS_getsockname, SYS_getpeername}) {
      host.ClaimSyscall(nr);  // AF_UNIX socket paths
    }
    // chattr and friends change a file through its descriptor: only those ioctls stop.
    host.ClaimSyscallWhen(SYS_ioctl, 1, FS_IOC_SETFLAGS, true);
    host.ClaimSyscallWhen(SYS_ioctl, 1, FS_IOC_FSSETXATTR, true);
    for (int nr :
         {SYS_fchmod, SYS_fchown, SYS_fsetxattr, SYS_fremovexattr, SYS_mount, SYS_umount2,
          SYS_pivot_root, SYS_chroot, SYS_io_uring_setup, SYS_open_by_handle_at, SYS_open_tree,
          SYS_move_mount, SYS_fsopen, SYS_fsmount, SYS_fspick, SYS_mount_setattr}) {
      host.ClaimSyscall(nr);
    }
    // A seccomp filter of the tracee's own that returns USER_NOTIF wins over umview's
    // RET_TRACE, and its listener can let the call run unseen (FLAG_CONTINUE): filters with a
    // listener are refused. umview's own filter injections use flags == TSYNC: not trapped.
    host.ClaimSyscallWhen(SYS_seccomp, 1, SECCOMP_FILTER_FLAG_TSYNC, false);
    // Path calls newer than the syscall table (Linux 6.6+: fchmodat2, the *xattrat calls,
    // file_getattr/file_setattr...) would pass unresolved: they fail with ENOSYS, and libc
    // falls back to the older calls viewfs covers.
    for (int nr = 451; nr < 512; ++nr) {
      if (LookupSyscall(nr) == nullptr) host.ClaimSyscall(nr);
    }
    // Listings and getcwd: a mount added at run time (umctl) may change names and paths, and
    // the seccomp filter is fixed when the view starts, so they are always trapped.
    host.ClaimSyscall(SYS_getdents64);
    host.ClaimSyscall(SYS_getcwd);
    host_ = &host;
    UpdatePrefilter();
    return true;
  }

  void OnShutdown() override { RemoveTmpDirs(); }

  void OnEntry(Call& call) override {
    // The thread's previous call is over, unless this is that call restarted by the kernel
    // (its path arguments still point at what viewfs placed, and at the held directories).
    if (!held_.empty() && !Restarted(call)) ReleaseHeld(call.tid());
    // A thread entering a call has finished its previous one (an exit stop can be lost, e.g.
    // to a restart): it is not renaming any more.
    if (!renaming_.empty()) renaming_.erase(call.tid());
    if (IsRename(call.nr()) && dirs_.usable()) {
      // A renamed directory keeps its descriptors but not its path: the cache forgets every
      // path now and again at the exit, and is not used while a rename may be in the kernel
      // (another thread could read the old path meanwhile).
      dirs_.Clear();
      renaming_.insert(call.tid());
      call.RequestExit();
    }
    if (call.nr() == SYS_mount && prefilter_ && !mount_seen_) {
      mount_seen_ = true;  // a FUSE mount may follow: every path call is ours from now on
      UpdatePrefilter();
    }
    if (fuse_->OnEntry(call)) return;  // /dev/fuse, FUSE mounts and the calls under them
    switch (call.nr()) {
      case SYS_getcwd:
        return GetCwd(call);
      case SYS_getdents64:
        return GetDentsEntry(call);
      case SYS_fchmod:
      case SYS_fchown:
      case SYS_fsetxattr:
      case SYS_fremovexattr:
        return FdWrite(call);
      case SYS_ioctl: {
        // File attributes (chattr): a write under ro; on a union's lower layer it would change
        // the original, and flags cannot be carried to a copy here: refused too.
        if (!writes_guarded_) return;
        std::string host = FdHost(call, static_cast<int>(call.arg(0)));
        if (host.empty()) return;
        Place p = table_.Find(table_.ToView(host));
        bool lower = p.mount != nullptr && p.mount->kind == MountKind::kUnion &&
                     host.rfind(p.mount->src + "/", 0) != 0 && host != p.mount->src;
        if (p.read_only || lower) call.Fail(EROFS);
        return;
      }
      case SYS_mount:
      case SYS_umount2:
      case SYS_pivot_root:
      case SYS_chroot:
      case SYS_open_by_handle_at:
        return call.Fail(EPERM);  // never a host mount; handles bypass path resolution
      case SYS_io_uring_setup:
        return call.Fail(ENOSYS);  // its path operations would bypass the view
      case SYS_open_tree:
      case SYS_move_mount:
      case SYS_fsopen:
      case SYS_fsmount:
      case SYS_fspick:
      case SYS_mount_setattr:
        return call.Fail(EPERM);  // the new mount API: mounts the view would not know of
      case SYS_seccomp:
        if (call.arg(0) == SECCOMP_SET_MODE_FILTER &&
            (call.arg(1) & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
          return call.Fail(EPERM);
        }
        return;
      case SYS_execve:
        if (!fuse_starts_.empty() && !fuse_started_ && !StartFusePrograms(call)) return;
        return Exec(call);
      case SYS_bind:
      case SYS_connect:
        return UnixAddress(call, 1, 2);
      case SYS_sendto:
        return UnixAddress(call, 4, 5);
      case SYS_getsockname:
      case SYS_getpeername:
        if (table_.has_content()) call.RequestExit();
        return;
    }
    const SyscallInfo* info = call.info();
    if (info == nullptr) return call.Fail(ENOSYS);  // newer than the table: see Init
    if (!(info->classes & kClassPath)) return;
    for (int i = 0; i < info->nargs; ++i) {
      if (info->args[i] != Arg::kPath) continue;
      if (!HandlePath(call, *info, i)) return;  // the call was completed
    }
  }

  void OnExit(Call& call) override {
    if (renaming_.erase(call.tid())) dirs_.Clear();
    if (fuse_->OnExit(call)) return;
    if (call.nr() == SYS_getsockname || call.nr() == SYS_getpeername) {
      UnixNameExit(call);
    } else if (call.nr() == SYS_getdents64) {
      GetDentsExit(call);
    } else {
      FinishPending(call);
    }
  }

  void OnTaskExit(pid_t tid, int) override {
    if (fuse_) fuse_->TaskExit(tid);
    ReleaseHeld(tid);
    renaming_.erase(tid);
    dirs_.ProcessExit(tid);  // a no-op unless tid was a process (thread group leader)
    dents_.erase(tid);
    pending_.erase(tid);
    exe_.erase(tid);
    pending_exe_.erase(tid);
  }

  void OnNewTask(pid_t parent, pid_t tid, bool is_thread) override {
    if (fuse_) fuse_->NewTask(parent, tid, is_thread);
    auto it = exe_.find(parent);
    if (it != exe_.end()) exe_[tid] = it->second;
  }

  void OnExec(pid_t pid, pid_t former_tid) override {
    if (fuse_) fuse_->Exec(pid, former_tid);
    auto it = pending_exe_.find(former_tid);
    if (it == pending_exe_.end()) {
      exe_.erase(pid);
      return;
    }
    exe_[pid] = std::move(it->second);
    pending_exe_.erase(it);
  }

 private:
  // umctl: "mount TYPE ARGS..." and "umount DST".
  int OnControl(const std::string& command, std::string* reply) override {
    std::vector<std::string> w;
    for (size_t i = 0; i < command.size();) {
      size_t j = command.find(' ', i);
      if (j == std::string::npos) j = command.size();
      if (j > i) w.push_back(command.substr(i, j - i));
      i = j + 1;
    }
    if (w.size() == 2 && w[0] == "umount") {
      Mount removed;
      if (!table_.RemoveNewest(Normalize(w[1]), &removed)) {
        *reply = "nothing mounted at " + w[1];
        return -ENOENT;
      }
      UpdateProtective();
      UpdatePrefilter();
      for (auto it = opts_.begin(); it != opts_.end(); ++it) {
        if (it->first == removed.seq) {
          opts_.erase(it);
          break;
        }
      }
      if (removed.kind == MountKind::kTmp) {
        std::string cmd = "rm -rf -- '" + removed.src + "'";
        if (system(cmd.c_str()) != 0) {
          // best effort, as at exit
        }
      }
      *reply = "unmounted " + w[1];
      return 0;
    }
    if (w.size() >= 3 && w[0] == "mount") {
      static const std::vector<std::string> two = {"bind", "cow", "merge"};
      bool pair = std::find(two.begin(), two.end(), w[1]) != two.end();
      if (w.size() != (pair ? 4u : 3u)) {
        *reply =
            "usage: mount bind SRC DST | cow DST UPPER | merge DST A+B | tmp|hide|ro|except PATH";
        return -EINVAL;
      }
      Option o{w[1], pair ? w[2] + ":" + w[3] : w[2], true};
      std::string err;
      if (!AddOption(o, &err)) {
        *reply = err;
        return -EINVAL;
      }
      *reply = "mounted " + command.substr(6);
      return 0;
    }
    *reply = "unknown command (expected mount TYPE ARGS..., umount DST)";
    return -EINVAL;
  }

  bool CurrentOptions(Options* out) const override {
    out->clear();
    for (const auto& [seq, o] : opts_) out->push_back(o);
    return true;
  }

  bool AddOption(const Option& o, std::string* error) {
    if (o.key == "prefilter") {
      if (o.value != "on" && o.value != "off") {
        *error = "prefilter=" + o.value + ": expected on or off";
        return false;
      }
      prefilter_ = o.value == "on";
      prefilter_chosen_ = true;
      UpdatePrefilter();
      return true;
    }
    uint64_t before = table_.last_seq();
    if (!AddMountOption(o, error)) return false;
    if (table_.last_seq() != before) opts_.push_back({table_.last_seq(), o});
    UpdateProtective();
    UpdatePrefilter();
    return true;
  }

  // prefilter=on (kmview's in-kernel path prefilter, the ptrace engine's notification
  // prefilter): path calls whose path lies lexically outside every mount's view path and host
  // paths (so a cwd or dirfd inside a mount, which the kernel knows by its host path, still
  // counts), /proc and /dev's symbolic links (magic links: DevLinks) run natively,
  // unseen. Not in a view that hides (hide, except, root=: they confine paths anywhere) nor
  // once the view made a mount call (FUSE mounts are not in the table). In a view that only
  // protects from writes (ro, cow, merge), only calls that cannot change a file run unseen
  // (Host::SetPrefilterReadsOnly): reading under ro is the host's business, so ro paths are no
  // prefixes, and every call that may write stops wherever its path is (a symlink swapped in
  // after the prefilter's check could lead it under ro or into a lower layer). With
  // kmview the price, and why it is not the default there: a host symlink outside those
  // prefixes that points inside a mount is followed by the kernel to the host's file, not to
  // the view's (the ptrace engine's prefilter checks the host's walk: Host::PrefilterFollows...).
  void UpdatePrefilter() {
    if (host_ == nullptr) return;
    // With a union, only if asked for: most of a union's calls are inside it, and each costs an
    // escalation (~85 us) instead of a stop (~38 us); the reads it saves outside pay that back
    // in a build (make -j2 in a cow of its project 5.6-5.8 s -> 4.8-5.2 s), not in find or ls -lR
    // inside the union (1.1 -> 1.85 s). docs/PERFORMANCE.md, 2026-11-28 08:00.
    const bool unions = std::any_of(table_.mounts().begin(), table_.mounts().end(),
                                    [](const Mount& m) { return m.kind == MountKind::kUnion; });
    if (!prefilter_ || hides_ || mount_seen_ || (unions && !prefilter_chosen_)) {
      host_->SetPrefilterPaths({});  // undeclared: viewfs claims chroot by number, so no filter
      host_->SetPrefilterFdCalls({});
      host_->SetPrefilterExec(false);
      host_->SetPrefilterBinds({});
      host_->SetPrefilterReadsOnly(false);
      return;
    }
    const bool reads_only = protective_;
    std::vector<std::string> p = {"/proc"};
    const std::vector<std::string>& dev = DevLinks();
    p.insert(p.end(), dev.begin(), dev.end());
    // Binds and tmp mounts are plain path substitutions here (nothing is protective), and
    // Base() takes a directory by its host path through ToView: what SetPrefilterBinds asks.
    std::vector<PrefilterBind> binds;
    for (const Mount& m : table_.mounts()) {
      if (m.kind == MountKind::kReadOnly) continue;  // changes nothing a read sees
      p.push_back(m.dst);
      if (!m.src.empty()) p.push_back(m.src);
      p.insert(p.end(), m.lowers.begin(), m.lowers.end());
      if ((m.kind == MountKind::kBind || m.kind == MountKind::kTmp) && !m.src.empty()) {
        binds.push_back({m.dst, m.src});
      }
    }
    host_->SetPrefilterPaths(std::move(p));
    host_->SetPrefilterBinds(std::move(binds));
    host_->SetPrefilterReadsOnly(reads_only);
    // Listings change only in directories at or under those paths (host paths included) or
    // above a mount point (which they show); getcwd only for a cwd inside a mount's host path.
    // Hidden names are protective: no prefilter then. Writes through a descriptor (FdWrite)
    // concern viewfs only under ro or a union: those views keep them stopping.
    if (reads_only) {
      host_->SetPrefilterFdCalls({SYS_getdents64, SYS_getcwd});
    } else {
      host_->SetPrefilterFdCalls(
          {SYS_getdents64, SYS_getcwd, SYS_fchmod, SYS_fchown, SYS_fsetxattr, SYS_fremovexattr});
    }
    // execve concerns viewfs through its program's and interpreters' paths (Exec), except the
    // view's first one when FUSE programs are to start before the command (StartFusePrograms).
    host_->SetPrefilterExec(fuse_starts_.empty() || fuse_started_);
  }

  // /dev's own symbolic links (fd, stdin, stdout, stderr -> /proc/self/fd...), whose magic
  // links must go through the view as /proc's, and /dev/fuse, which viewfs serves (FUSE in a
  // view, fuse_client.h). The rest of /dev (device nodes, /dev/shm) concerns the prefilter
  // only where a mount is.
  static const std::vector<std::string>& DevLinks() {
    static const std::vector<std::string> links = [] {
      std::vector<std::string> out;
      if (DIR* d = opendir("/dev")) {
        while (const struct dirent* e = readdir(d)) {
          if (e->d_name[0] == '.' || (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)) continue;
          std::string path = std::string("/dev/") + e->d_name;
          struct stat st;
          if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) out.push_back(path);
        }
        closedir(d);
      }
      for (const char* always :
           {"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fuse"}) {
        if (std::find(out.begin(), out.end(), always) == out.end()) out.push_back(always);
      }
      return out;
    }();
    return links;
  }

  bool AddMountOption(const Option& o, std::string* error) {
    auto bad = [&](const std::string& what) {
      *error = o.key + "=" + o.value + ": " + what;
      return false;
    };
    if (!o.has_value || o.value.empty()) {
      *error = "option '" + o.key +
               "' needs a value (bind=SRC:DST, ro=DST, hide=PATH, tmp=DST, fuse=MNT:PROGRAM+ARG, "
               "except=PATH)";
      return false;
    }
    auto absolute = [&](const std::string& p) { return !p.empty() && p[0] == '/'; };
    if (o.key == "bind") {
      size_t colon = o.value.find(':');
      if (colon == std::string::npos) return bad("expected SRC:DST");
      std::string src = o.value.substr(0, colon), dst = o.value.substr(colon + 1);
      if (!absolute(dst)) return bad("DST must be an absolute path");
      char real[PATH_MAX];
      if (realpath(src.c_str(), real) == nullptr) return bad(src + ": " + strerror(errno));
      AddSkeleton(Normalize(dst));
      table_.Add(MountKind::kBind, Normalize(dst), real);
    } else if (o.key == "ro" || o.key == "hide" || o.key == "except") {
      if (!absolute(o.value)) return bad("expected an absolute path");
      table_.Add(o.key == "ro"     ? MountKind::kReadOnly
                 : o.key == "hide" ? MountKind::kHide
                                   : MountKind::kExcept,
                 Normalize(o.value));
    } else if (o.key == "root") {
      char real[PATH_MAX];
      struct stat st;
      if (realpath(o.value.c_str(), real) == nullptr) return bad(strerror(errno));
      if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) return bad("not a directory");
      table_.Add(MountKind::kBind, "/", real);  // the shortest prefix: every other mount wins
    } else if (o.key == "cow" || o.key == "merge") {
      size_t colon = o.value.find(':');
      if (colon == std::string::npos)
        return bad(o.key == "cow" ? "expected DST:UPPER" : "expected DST:LAYER+LAYER...");
      std::string dst = o.value.substr(0, colon), rest = o.value.substr(colon + 1);
      if (!absolute(dst)) return bad("DST must be an absolute path");
      std::vector<std::string> layers;
      for (size_t i = 0; i <= rest.size();) {
        size_t j = rest.find('+', i);
        if (j == std::string::npos) j = rest.size();
        if (j > i) layers.push_back(rest.substr(i, j - i));
        i = j + 1;
      }
      if (layers.empty() || (o.key == "cow" && layers.size() != 1)) {
        return bad(o.key == "cow" ? "expected DST:UPPER" : "expected DST:LAYER+LAYER...");
      }
      std::vector<std::string> real;
      for (const auto& l : layers) {
        char buf[PATH_MAX];
        if (realpath(l.c_str(), buf) == nullptr) return bad(l + ": " + strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return bad(l + ": not a directory");
        real.push_back(buf);
      }
      std::string view_dst = Normalize(dst);
      std::vector<std::string> lowers(real.begin() + 1, real.end());
      if (o.key == "cow") {
        char buf[PATH_MAX];
        if (realpath(view_dst.c_str(), buf) == nullptr) return bad(dst + ": " + strerror(errno));
        std::string lower = buf;
        // The upper layer inside the tree it covers would show itself and copy into itself.
        if (real[0] == lower || real[0].rfind(lower + "/", 0) == 0 || lower == "/") {
          return bad("UPPER must not be inside DST");
        }
        lowers = {lower};
      }
      AddSkeleton(view_dst);
      table_.Add(MountKind::kUnion, view_dst, real[0], lowers);
    } else if (o.key == "tmp") {
      if (!absolute(o.value)) return bad("expected an absolute path");
      const char* t = getenv("TMPDIR");
      std::string tmpl = std::string(t && *t ? t : "/tmp") + "/umview-tmp-XXXXXX";
      std::vector<char> buf(tmpl.begin(), tmpl.end());
      buf.push_back(0);
      if (mkdtemp(buf.data()) == nullptr) return bad(std::string("mkdtemp: ") + strerror(errno));
      tmpdirs_.push_back(buf.data());
      AddSkeleton(Normalize(o.value));
      table_.Add(MountKind::kTmp, Normalize(o.value), buf.data());
    } else if (o.key == "fuse") {
      // fuse=MNT:PROGRAM+ARG+...: PROGRAM ARG... MNT runs in the view before the command.
      size_t colon = o.value.find(':');
      if (colon == std::string::npos) return bad("expected MNT:PROGRAM+ARG+...");
      std::string mnt = o.value.substr(0, colon), rest = o.value.substr(colon + 1);
      if (!absolute(mnt)) return bad("MNT must be an absolute path");
      std::vector<std::string> argv;
      for (size_t i = 0; i <= rest.size();) {
        size_t j = rest.find('+', i);
        if (j == std::string::npos) j = rest.size();
        if (j > i) argv.push_back(rest.substr(i, j - i));
        i = j + 1;
      }
      if (argv.empty() || rest[0] == '+') return bad("expected MNT:PROGRAM+ARG+...");
      argv.push_back(Normalize(mnt));
      fuse_starts_.push_back(std::move(argv));
    } else {
      *error = "unknown option '" + o.key +
               "' (expected bind, ro, hide, tmp, except, cow, merge, root, fuse, prefilter)";
      return false;
    }
    return true;
  }

  // Options that cannot both hold: except=P with hide=P or ro=P on the same path (an exception
  // to itself), and a path that is both hidden and mounted on by one option set.
  bool CheckContradictions(std::string* error) {
    for (const auto& [seq_a, a] : opts_) {
      for (const auto& [seq_b, b] : opts_) {
        if (seq_a >= seq_b) continue;
        auto target = [](const Option& o) {
          size_t colon = o.value.find(':');
          if (o.key == "bind") return Normalize(o.value.substr(colon + 1));
          if (o.key == "cow" || o.key == "merge") return Normalize(o.value.substr(0, colon));
          return o.key == "root" ? std::string("/") : Normalize(o.value);
        };
        if (target(a) != target(b)) continue;
        auto is = [](const Option& o, std::initializer_list<const char*> keys) {
          for (const char* k : keys) {
            if (o.key == k) return true;
          }
          return false;
        };
        bool except_vs = (is(a, {"except"}) && is(b, {"hide", "ro"})) ||
                         (is(b, {"except"}) && is(a, {"hide", "ro"}));
        bool hide_vs = (is(a, {"hide"}) && is(b, {"bind", "tmp", "cow", "merge"})) ||
                       (is(b, {"hide"}) && is(a, {"bind", "tmp", "cow", "merge"}));
        if (except_vs || hide_vs) {
          *error = a.key + "=" + a.value + " and " + b.key + "=" + b.value +
                   " contradict each other on " + target(a);
          return false;
        }
      }
    }
    return true;
  }

  // The directories leading to a mount point the host does not have are directories of the
  // view (a real mount needs them too): each missing one becomes a bind of an empty directory in
  // a private skeleton tree, which also holds an entry for the next name on the way.
  void AddSkeleton(const std::string& dst) {
    std::vector<std::string> missing;
    for (std::string p = dst; p != "/";) {
      size_t slash = p.rfind('/');
      p = slash == 0 ? "/" : p.substr(0, slash);
      if (p == "/") break;
      struct stat st;
      if (lstat(Locate(p).host.c_str(), &st) == 0) break;  // from here up the host (or view) has it
      missing.push_back(p);
    }
    if (missing.empty()) return;
    if (skeleton_.empty()) {
      const char* t = getenv("TMPDIR");
      std::string tmpl = std::string(t && *t ? t : "/tmp") + "/umview-skel-XXXXXX";
      std::vector<char> buf(tmpl.begin(), tmpl.end());
      buf.push_back(0);
      if (mkdtemp(buf.data()) == nullptr) return;  // then those directories stay absent
      skeleton_ = buf.data();
      tmpdirs_.push_back(skeleton_);
    }
    std::string mirror = skeleton_ + dst;  // mkdir -p, down to the mount point's own name
    for (size_t i = skeleton_.size() + 1; i <= mirror.size(); ++i) {
      if (i == mirror.size() || mirror[i] == '/') mkdir(mirror.substr(0, i).c_str(), 0755);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (table_.Find(*it).host == skeleton_ + *it) continue;  // an earlier mount made it
      table_.Add(MountKind::kBind, *it, skeleton_ + *it);
    }
  }

  void RemoveTmpDirs() {
    for (const auto& d : tmpdirs_) {
      std::string cmd = "rm -rf -- '" + d + "'";
      if (system(cmd.c_str()) != 0) {
        // best effort: the directory is private and under $TMPDIR
      }
    }
    tmpdirs_.clear();
  }

  static PathUse Use(Call& call, int nr, int arg) {
    auto flag_arg = [&](int idx) { return call.arg(idx); };
    switch (nr) {
      case SYS_access:
        return {(flag_arg(1) & W_OK) != 0, true};
      case SYS_faccessat:
        return {(flag_arg(2) & W_OK) != 0, true};
      case SYS_acct:
        return {true, true};
      case SYS_open:
      case SYS_openat:
      case SYS_openat2:
      case SYS_creat: {
        int flags = nr == SYS_creat ? O_CREAT | O_WRONLY | O_TRUNC
                                    : static_cast<int>(flag_arg(nr == SYS_open ? 1 : 2));
        if (nr == SYS_openat2) {
          uint64_t how_flags = 0;  // struct open_how starts with the u64 flags
          if (call.Read(RemotePtr<void>(call.arg(2)), &how_flags, sizeof how_flags) != 0) {
            how_flags = O_RDWR | O_CREAT;  // unreadable: assume the worst
          }
          flags = static_cast<int>(how_flags);
        }
        PathUse u;
        u.writes = (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0;
        u.follow = !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
        return u;
      }
      case SYS_lstat:
      case SYS_readlink:
      case SYS_readlinkat:
      case SYS_lgetxattr:
      case SYS_llistxattr:
        return {false, false};
      case SYS_lchown:
      case SYS_lsetxattr:
      case SYS_lremovexattr:
      case SYS_unlink:
      case SYS_unlinkat:
      case SYS_rmdir:
      case SYS_rename:
      case SYS_renameat:
      case SYS_renameat2:
      case SYS_symlink:
      case SYS_symlinkat:
      case SYS_mkdir:
      case SYS_mkdirat:
      case SYS_mknod:
      case SYS_mknodat:
        return {true, false};
      case SYS_link:
        return {true, false};
      case SYS_linkat:
        return {true, arg == 1 && (flag_arg(4) & AT_SYMLINK_FOLLOW)};
      case SYS_chmod:
      case SYS_chown:
      case SYS_utime:
      case SYS_utimes:
      case SYS_futimesat:
      case SYS_truncate:
      case SYS_setxattr:
      case SYS_removexattr:
      case SYS_fchmodat:
        return {true, true};
      case SYS_fchownat:
        return {true, !(flag_arg(4) & AT_SYMLINK_NOFOLLOW)};
      case SYS_utimensat:
        return {true, !(flag_arg(3) & AT_SYMLINK_NOFOLLOW)};
      case SYS_newfstatat:
        return {false, !(flag_arg(3) & AT_SYMLINK_NOFOLLOW)};
      case SYS_statx:
        return {false, !(flag_arg(2) & AT_SYMLINK_NOFOLLOW)};
      case SYS_faccessat2:
        return {(flag_arg(2) & W_OK) != 0, !(flag_arg(3) & AT_SYMLINK_NOFOLLOW)};
      case SYS_name_to_handle_at:
        return {false, (flag_arg(4) & AT_SYMLINK_FOLLOW) != 0};
      case SYS_execveat:
        return {false, !(flag_arg(4) & AT_SYMLINK_NOFOLLOW)};
    }
    return {false, true};
  }

  // Where view path v is on the host: the mount table, then the layers of a union. above: the
  // layers of a directory above v looked up in the same call (LocateInUnion), or null.
  Place Locate(const std::string& v, LayerHit* layer = nullptr, const LayerHit* above = nullptr) {
    Place p = table_.Find(v);
    if (p.mount != nullptr && p.mount->kind == MountKind::kUnion) {
      LayerHit h = LocateInUnion(*p.mount, p.rel, above);
      p.host = h.host;
      p.translated = p.host != v;
      if (h.whiteout) p.hidden = true;
      if (layer) *layer = h;
    }
    return p;
  }

  // The view path of the directory a relative path starts from; "" with *err on failure.
  // With cached_fd, a directory descriptor's path may come from the cache: *cached_fd is then
  // umview's duplicate of that very directory (else -1). With kernel_base, also the host path
  // of the directory the kernel starts from (where the cwd or descriptor is open: in a union,
  // the layer it was opened in), or "" where only the view has it (a FUSE mount).
  std::string Base(Call& call, int dirfd, int* err, int* cached_fd = nullptr,
                   std::string* kernel_base = nullptr) {
    if (kernel_base) kernel_base->clear();
    if (dirfd == AT_FDCWD && fuse_) {
      std::string v = fuse_->Cwd(call.tid());  // a cwd in a FUSE mount: only the view has it
      if (!v.empty()) return v;
    }
    std::string cached;
    if (cached_fd != nullptr && dirfd != AT_FDCWD &&
        (*cached_fd = CachedDirHost(call, dirfd, &cached)) >= 0) {
      *err = 0;
      if (kernel_base) *kernel_base = cached;
      return table_.ToView(cached);
    }
    std::string link =
        dirfd == AT_FDCWD
            ? ReadLink("/proc/" + std::to_string(call.tid()) + "/cwd", err)
            : ReadLink("/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(dirfd), err);
    if (*err != 0) {
      *err = dirfd == AT_FDCWD ? ENOENT : EBADF;
      return "";
    }
    if (link.empty() || link[0] != '/') {
      *err = ENOTDIR;
      return "";
    }
    if (kernel_base) *kernel_base = link;
    return table_.ToView(link);
  }

  // The target of a /proc magic link (cwd, root, exe, fd/N) read on the tracee's behalf, as a
  // view path; "" for a non-path object (pipe:[...]).
  std::string MagicTarget(const std::string& host_link) {
    // /proc/N/exe of a program viewfs started through its own loader names the program.
    static constexpr std::string_view kExe = "/exe";
    if (host_link.size() > kExe.size() &&
        host_link.compare(host_link.size() - kExe.size(), kExe.size(), kExe) == 0) {
      auto parts = Split(host_link);
      pid_t n = atoi(parts[parts.size() - 2].c_str());
      auto it = exe_.find(n);
      if (it != exe_.end()) return it->second;
    }
    int err = 0;
    std::string t = ReadLink(host_link, &err);
    if (err != 0 || t.empty() || t[0] != '/') return "";
    return table_.ToView(t);
  }

  static bool IsMagic(const std::vector<std::string>& c) {
    // /proc/N/{cwd,root,exe}, /proc/N/fd/M, /proc/N/task/T/{cwd,root,exe}, .../task/T/fd/M
    if (c.size() < 3 || c[0] != "proc" || !IsNumber(c[1])) return false;
    size_t i = 2;
    if (c.size() >= 5 && c[2] == "task" && IsNumber(c[3])) i = 4;
    if (c.size() == i + 1) return c[i] == "cwd" || c[i] == "root" || c[i] == "exe";
    return c.size() == i + 2 && c[i] == "fd" && IsNumber(c[i + 1]);
  }

  // jail: openat2's RESOLVE_IN_ROOT (kInRoot: `..` and absolute symlinks stop at `base`) or
  // RESOLVE_BENEATH (kBeneath: leaving `base` is EXDEV), as the kernel resolves them.
  enum class Jail { kNone, kInRoot, kBeneath };
  Resolved Walk(Call& call, const std::string& base, std::string_view raw, bool follow_last,
                Jail jail = Jail::kNone) {
    Resolved r;
    const size_t floor = jail == Jail::kNone ? 0 : Split(base).size();
    if (jail != Jail::kNone) {
      if (!raw.empty() && raw[0] == '/' && jail == Jail::kBeneath) {
        r.err = EXDEV;
        return r;
      }
      while (!raw.empty() && raw[0] == '/') raw.remove_prefix(1);  // IN_ROOT: "/" is base
    }
    std::vector<std::string> cur =
        raw.empty() || raw[0] != '/' ? Split(base) : std::vector<std::string>();
    std::deque<std::string> todo;
    for (auto& c : Split(raw)) todo.push_back(std::move(c));
    int links = 0;
    // The last component looked up: a union's Locate costs several lstat calls.
    struct {
      std::string view;
      Place place;
      LayerHit layer;
    } located;
    while (!todo.empty()) {
      std::string c = std::move(todo.front());
      todo.pop_front();
      if (c == "." || c == "..") {
        // The kernel walks "x/." and "x/.." only if x is a directory.
        if (!cur.empty()) {
          std::string here = Join(cur);
          struct stat st;
          // A mount point, or a directory on the way to one, is a directory of the view even
          // where the host has nothing.
          bool holds_mount = table_.HasMountAtOrUnder(here);
          if (lstat(Locate(here).host.c_str(), &st) != 0) {
            if (!holds_mount) {
              r.err = errno;
              return r;
            }
          } else if (!S_ISDIR(st.st_mode) && !holds_mount) {
            r.err = ENOTDIR;
            return r;
          }
        }
        if (c == ".." && cur.size() <= floor && jail != Jail::kNone) {
          if (jail == Jail::kBeneath) {
            r.err = EXDEV;
            return r;
          }
          continue;  // IN_ROOT: ".." of the root is the root
        }
        if (c == ".." && !cur.empty()) cur.pop_back();
        continue;
      }
      // /proc/self and /proc/thread-self name the tracee, not umview.
      if (cur.size() == 1 && cur[0] == "proc" && (c == "self" || c == "thread-self")) {
        cur.push_back(std::to_string(call.pid()));
        if (c == "thread-self") {
          cur.push_back("task");
          cur.push_back(std::to_string(call.tid()));
        }
        continue;
      }
      cur.push_back(c);
      std::string view = Join(cur);
      LayerHit layer;
      // The previous component is the directory above this one unless a symlink or ".."
      // intervened; LocateInUnion checks that it is above.
      Place pl = Locate(view, &layer, &located.layer);
      located = {view, pl, layer};  // the end's Locate when the walk ends here
      bool last = todo.empty();
      // A hidden directory stays traversable only toward an except=PATH below it; a name
      // deleted in a union may be created again.
      if (pl.hidden && !(last && layer.whiteout) && (last || !table_.HasExceptUnder(view))) {
        r.err = ENOENT;
        return r;
      }
      if (last && !follow_last) break;
      std::string target;
      if (jail != Jail::kNone && IsMagic(cur)) {
        r.err = EXDEV;  // both flags forbid magic links
        return r;
      }
      if (IsMagic(cur)) {
        target = MagicTarget(pl.host);
        if (target.empty()) {
          if (last) {
            r.opaque = true;  // e.g. /proc/self/fd/N of a pipe: the kernel's business
            break;
          }
          r.err = ENOTDIR;
          return r;
        }
      } else if (layer.exists && !S_ISLNK(layer.mode)) {
        continue;  // a union's layer has it, and it is not a symlink (LocateInUnion's lstat)
      } else {
        int err = 0;
        target = ReadLink(pl.host, &err);
        if (err != 0) {
          // Not a symlink (EINVAL), or absent: absent only matters where no mount is below.
          if ((err == ENOENT || err == ENOTDIR) && !last && !table_.Touches(view)) {
            r.err = err;
            return r;
          }
          continue;
        }
      }
      if (++links > kMaxLinks) {
        r.err = ELOOP;
        return r;
      }
      r.followed = true;
      cur.pop_back();
      if (!target.empty() && target[0] == '/') {
        if (jail == Jail::kBeneath) {
          r.err = EXDEV;
          return r;
        }
        if (jail == Jail::kInRoot) {
          cur = Split(base);
          cur.resize(floor);
        } else {
          cur.clear();
        }
      }
      auto parts = Split(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
    }
    r.view = Join(cur);
    if (r.view == located.view) {
      r.place = std::move(located.place);
      r.layer = std::move(located.layer);
    } else {
      r.place = Locate(r.view, &r.layer);
    }
    if (r.place.hidden && !r.layer.whiteout) r.err = ENOENT;
    return r;
  }

  // Fast path: nothing mounted at or around the path, no "..", no symlink on the way: the
  // kernel resolves it exactly as the view does. (/proc/PID/... magic links answer host paths
  // unless viewfs reads them: no fast path.)
  // With a cached directory (cached_fd >= 0) the symlink check looks up the relative path
  // under that very directory, not under its path (which a rename may have changed).
  bool FastPath(const std::string& raw, const std::string& lexical, const PathUse& use,
                int cached_fd = -1) {
    const bool proc = lexical.rfind("/proc/", 0) == 0 && table_.has_content();
    if (proc || table_.Touches(lexical) || HasDotDot(raw)) return false;
    // A trailing slash makes the kernel follow the last name (`lexical` has lost it).
    const bool follow = use.follow || (raw.size() > 1 && raw.back() == '/');
    if (SingleUnfollowedName(raw, follow)) return true;
    return cached_fd >= 0 ? NoSymlinks(cached_fd, raw, follow)
                          : NoSymlinks(AT_FDCWD, lexical, follow);
  }

  // The host path of directory descriptor fd from the cache: only in a view that protects
  // nothing (where a stale path could at worst send a call the kernel's way unresolved, never
  // past a hide or ro) and while no rename is in flight.
  // Returns umview's duplicate of the directory, or -1.
  int CachedDirHost(Call& call, int fd, std::string* host) {
    if (protective_ || !renaming_.empty() || !dirs_.usable()) return -1;
    return dirs_.Get(call.pid(), call.tid(), fd, host);
  }

  static bool IsRename(int nr) {
    return nr == SYS_rename || nr == SYS_renameat || nr == SYS_renameat2;
  }

  // Resolves path argument i; returns false if it completed the call.
  bool HandlePath(Call& call, const SyscallInfo& info, int i) {
    // A call the kernel restarts after a signal comes back with the arguments viewfs gave it:
    // already a checked host path, not a view path to resolve again.
    if (call.InScratch(call.arg(i))) return true;
    if (call.arg(i) == 0) {
      // futimens() is utimensat(fd, NULL, ...): the descriptor's file, which ro protects too.
      if (call.nr() == SYS_utimensat) return FdPathWrite(call, static_cast<int>(call.arg(0)), 0, 1);
      return true;
    }
    std::string raw;
    int64_t n = call.ReadString(RemotePtr<char>(call.arg(i)), &raw, PATH_MAX);
    if (n < 0) {
      call.Fail(n == -ENAMETOOLONG ? ENAMETOOLONG : EFAULT);
      return false;
    }
    int dirfd = AT_FDCWD;
    if (i > 0 && info.args[i - 1] == Arg::kDirFd) dirfd = static_cast<int>(call.arg(i - 1));
    if (raw.empty()) {
      // AT_EMPTY_PATH: the call acts on the descriptor's file, which ro protects too.
      if (dirfd != AT_FDCWD && Use(call, call.nr(), i).writes) {
        return FdPathWrite(call, dirfd, i - 1, i);
      }
      return true;  // otherwise the kernel decides (ENOENT without AT_EMPTY_PATH)
    }
    const bool relative = raw[0] != '/';
    std::string base = "/";
    std::string kernel_base = "/";
    int cached_fd = -1;
    if (relative) {
      int err = 0;
      base = Base(call, dirfd, &err, call.nr() == SYS_openat2 ? nullptr : &cached_fd, &kernel_base);
      if (err != 0) return true;  // bad dirfd: the kernel reports it
      if (kernel_base.empty()) kernel_base = Locate(base).host;
    }
    PathUse use = Use(call, call.nr(), i);
    // A lookup of "name/" follows name even without follow (stat -c %F link/); calls that
    // change the name (rmdir link/: ENOTDIR) act on it as the kernel decides.
    if (!use.writes && raw.size() > 1 && raw.back() == '/') use.follow = true;
    std::string lexical = Normalize(relative ? base + "/" + raw : raw);
    // A process's memory file opened for writing reaches past page protections (FOLL_FORCE):
    // it would rewrite the checked paths in umview's read-only scratch area.
    if (use.writes && IsProcMem(lexical)) {
      call.Fail(EACCES);
      return false;
    }
    // openat2 RESOLVE_IN_ROOT/BENEATH make the dirfd a root: the kernel would resolve the
    // checked (absolute) path below it. viewfs resolves the path as they say and hands the
    // kernel the result without those two flags.
    if (call.nr() == SYS_openat2) {
      int jailed = JailedOpenat2(call, i, dirfd, raw, use);
      if (jailed == 0) return false;  // completed (failed)
      if (jailed == 1) return true;   // done
    }

    // The kernel resolves the path exactly as the view does (FastPath). PinChecked needs the
    // absolute host path only in a view that protects something.
    if (FastPath(raw, lexical, use, cached_fd)) {
      return PinChecked(call, i, raw,
                        !relative     ? lexical
                        : protective_ ? Normalize(kernel_base + "/" + raw)
                                      : std::string(),
                        raw.back() == '/');
    }
    if (cached_fd >= 0) {
      // The cached directory path only ever takes the fast path (where the kernel gets the
      // name relative to the descriptor itself); a path the view resolves reads it afresh.
      int err = 0;
      base = Base(call, dirfd, &err, nullptr, &kernel_base);
      if (err != 0) return true;
      if (kernel_base.empty()) kernel_base = Locate(base).host;
      lexical = Normalize(base + "/" + raw);
      if (use.writes && IsProcMem(lexical)) {
        call.Fail(EACCES);
        return false;
      }
      if (FastPath(raw, lexical, use)) {
        return PinChecked(call, i, raw, Normalize(kernel_base + "/" + raw), raw.back() == '/');
      }
    }
    Resolved r = Walk(call, relative ? base : "/", raw, use.follow);
    if (r.err != 0) {
      call.Fail(r.err);
      return false;
    }
    if (r.opaque) return true;
    if (use.writes && IsProcMem(r.place.host)) {
      call.Fail(EACCES);
      return false;
    }
    if (int err = MountPointChange(call, r.view); err != 0) {
      call.Fail(err);
      return false;
    }
    if (use.writes && r.place.read_only) {
      call.Fail(EROFS);
      return false;
    }
    if (use.writes && r.place.mount != nullptr && r.place.mount->kind == MountKind::kUnion) {
      if (!UnionWrite(call, i, r)) return false;
    } else if (r.layer.whiteout) {
      call.Fail(ENOENT);
      return false;
    }
    if (call.nr() == SYS_readlink || call.nr() == SYS_readlinkat) {
      if (IsMagic(Split(r.view)) && table_.has_content()) {
        ReadMagicLink(call, r, info);
        return false;
      }
    }
    std::string host = r.place.host;
    if (raw.size() > 1 && raw.back() == '/' && host != "/") host += '/';
    const std::string kernel_view = Normalize(relative ? kernel_base + "/" + raw : raw);
    const bool slash = raw.size() > 1 && raw.back() == '/';
    if (r.followed || r.place.translated || host != kernel_view ||
        (relative && base != kernel_base)) {
      return PinChecked(call, i, host, Normalize(host), slash);
    }
    return PinChecked(call, i, raw, Normalize(host), slash);
  }

  // A write through a descriptor (utimensat(fd, NULL), fchownat/utimensat with AT_EMPTY_PATH)
  // acts on the file the descriptor is open on: EROFS under ro; on a union's lower layer the
  // file is copied up and the call pointed at the copy (the lower file must not change).
  // Returns false if it completed the call.
  bool FdPathWrite(Call& call, int fd, int dirfd_arg, int path_arg) {
    if (!writes_guarded_) return true;
    std::string host = FdHost(call, fd);
    if (host.empty()) return true;
    Place p = table_.Find(table_.ToView(host));
    if (p.read_only) {
      call.Fail(EROFS);
      return false;
    }
    if (p.mount == nullptr || p.mount->kind != MountKind::kUnion) return true;
    const Mount& m = *p.mount;
    if (host == m.src + p.rel || host.rfind(m.src + "/", 0) == 0) return true;  // already upper
    int rc = CopyUp(m, p.rel);
    if (rc < 0) {
      call.Fail(-rc);
      return false;
    }
    call.SetArg(dirfd_arg, static_cast<uint64_t>(static_cast<int64_t>(AT_FDCWD)));
    return Pin(call, path_arg, m.src + p.rel);
  }

  // /proc/N/mem or /proc/N/task/T/mem (N may be "self" or "thread-self").
  static bool IsProcMem(const std::string& path) {
    auto c = Split(path);
    if (c.size() < 3 || c[0] != "proc" || c.back() != "mem") return false;
    return (c.size() == 3) || (c.size() == 5 && c[c.size() - 3] == "task");
  }

  // openat2 with RESOLVE_IN_ROOT or RESOLVE_BENEATH: resolves path argument i under the
  // dirfd as root, checks it like any path, and gives the kernel the checked host path with
  // an open_how copy that lacks those flags. Returns -1 if the call has neither flag, 0 if it
  // completed the call, 1 if the call goes on rewritten.
  int JailedOpenat2(Call& call, int i, int dirfd, const std::string& raw, const PathUse& use) {
    size_t size = call.arg(3);
    struct open_how how {};
    if (size < sizeof how || size > 4096 ||
        call.Read(RemotePtr<void>(call.arg(2)), &how, sizeof how) != 0) {
      return -1;  // the kernel answers EINVAL/EFAULT/E2BIG itself
    }
    if (!(how.resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH))) return -1;
    int err = 0;
    std::string base = Base(call, dirfd, &err);
    if (err != 0) return -1;  // bad dirfd: the kernel reports it
    Jail jail = how.resolve & RESOLVE_IN_ROOT ? Jail::kInRoot : Jail::kBeneath;
    Resolved r = Walk(call, base, raw, use.follow, jail);
    auto fail = [&](int e) {
      call.Fail(e);
      return 0;
    };
    if (r.err != 0) return fail(r.err);
    if (use.writes && r.place.read_only) return fail(EROFS);
    if (use.writes && r.place.mount != nullptr && r.place.mount->kind == MountKind::kUnion) {
      if (!UnionWrite(call, i, r)) return 0;
    } else if (r.layer.whiteout) {
      return fail(ENOENT);
    }
    how.resolve &= ~static_cast<uint64_t>(RESOLVE_IN_ROOT | RESOLVE_BENEATH);
    RemotePtr<void> copy = call.PutScratch(&how, sizeof how);
    if (!copy) return fail(ENOMEM);
    call.SetArg(2, copy.addr());
    call.SetArg(3, sizeof how);
    const bool slash = raw.size() > 1 && raw.back() == '/';
    return PinChecked(call, i, r.place.host + (slash ? "/" : ""), Normalize(r.place.host), slash)
               ? 1
               : 0;
  }

  // In a view that protects something (hide, ro, cow, merge, except), the directories on the way
  // could be swapped for a symlink between viewfs's check and the kernel's lookup. So the kernel
  // gets "/proc/<umview>/fd/N/NAME": N is a descriptor umview opened (O_PATH, no symlinks
  // followed) on the very directory it checked, and only NAME is looked up again. The
  // descriptor is closed at the thread's next call. execve keeps the plain path: a script's
  // interpreter receives it and opens it later.
  bool PinChecked(Call& call, int i, const std::string& path, const std::string& abs_host,
                  bool trailing_slash) {
    const int nr = call.nr();
    if (!protective_ || nr == SYS_execve || nr == SYS_execveat || abs_host == "/" ||
        abs_host.empty() || abs_host[0] != '/') {
      return Pin(call, i, path);
    }
    size_t slash = abs_host.rfind('/');
    std::string parent = slash == 0 ? "/" : abs_host.substr(0, slash);
    std::string name = abs_host.substr(slash + 1);
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = syscall(SYS_openat2, AT_FDCWD, parent.c_str(), &how, sizeof how);
    if (fd < 0) {
      // A symlink where the check saw none is the race this prevents. A parent missing on the
      // host is left to the kernel (it fails the call, or the path is a view path of a viewfs
      // stacked below this one).
      if (errno == ELOOP) {
        call.Fail(ELOOP);
        return false;
      }
      return Pin(call, i, path);
    }
    held_[call.tid()].push_back(static_cast<int>(fd));
    static const pid_t self = getpid();  // umview does not fork after start-up
    std::string pinned = "/proc/" + std::to_string(self) + "/fd/" + std::to_string(fd) + "/" +
                         name + (trailing_slash ? "/" : "");
    return Pin(call, i, pinned);
  }

  static bool Restarted(Call& call) {
    const SyscallInfo* info = call.info();
    if (info == nullptr) return false;
    for (int a = 0; a < info->nargs; ++a) {
      if (info->args[a] == Arg::kPath && call.InScratch(call.arg(a))) return true;
    }
    return false;
  }

  void ReleaseHeld(pid_t tid) {
    auto it = held_.find(tid);
    if (it == held_.end()) return;
    for (int fd : it->second) close(fd);
    held_.erase(it);
  }

  void UpdateProtective() {
    hides_ = false;
    writes_guarded_ = false;
    for (const Mount& m : table_.mounts()) {
      writes_guarded_ |= m.kind == MountKind::kReadOnly || m.kind == MountKind::kUnion;
      // root= confines too: a symlink swapped in after the check would resolve on the host.
      hides_ |= m.kind == MountKind::kHide || m.kind == MountKind::kExcept ||
                (m.kind == MountKind::kBind && m.dst == "/");
    }
    protective_ = hides_ || writes_guarded_;
  }

  // The kernel must act on the path viewfs checked, not on the tracee's buffer, which another
  // thread (or a process sharing the memory) could rewrite between the check and the call:
  // the checked path goes to the thread's scratch area, read-only for the tracee.
  bool Pin(Call& call, int i, const std::string& path) {
    int rc = call.SetPath(i, path);
    if (rc < 0) {
      call.Fail(-rc);
      return false;
    }
    return true;
  }

  // AF_UNIX socket addresses are paths: bind (creates a socket file: a write), connect and
  // sendto resolve them in the view; the kernel gets a copy of the address with the host path.
  void UnixAddress(Call& call, int addr_arg, int len_arg) {
    uint64_t addr = call.arg(addr_arg);
    if (call.InScratch(addr)) return;  // restarted: already rewritten
    socklen_t len = static_cast<socklen_t>(call.arg(len_arg));
    if (addr == 0 || len <= sizeof(sa_family_t) || len > sizeof(sockaddr_un)) return;
    sockaddr_un sun{};
    if (call.Read(RemotePtr<void>(addr), &sun, len) != 0) return;
    if (sun.sun_family != AF_UNIX || sun.sun_path[0] == 0) return;  // abstract names: no path
    size_t max = len - offsetof(sockaddr_un, sun_path);
    std::string raw(sun.sun_path, strnlen(sun.sun_path, max));
    int err = 0;
    std::string base = raw[0] == '/' ? "/" : Base(call, AT_FDCWD, &err);
    if (err != 0) return;
    Resolved r = Walk(call, base, raw, call.nr() != SYS_bind);
    if (r.err != 0) return call.Fail(r.err);
    if (call.nr() == SYS_bind && r.place.read_only) return call.Fail(EROFS);
    std::string host = r.place.host;
    if (r.place.mount != nullptr && r.place.mount->kind == MountKind::kUnion &&
        call.nr() == SYS_bind) {
      const Mount& m = *r.place.mount;
      if (EnsureUpperParents(m, r.place.rel) != 0) return call.Fail(EACCES);
      RemoveWhiteout(m, r.place.rel);
      host = m.src + r.place.rel;
    }
    // sun_path may use all its 108 bytes without a NUL.
    if (host.size() > sizeof sun.sun_path) return call.Fail(ENAMETOOLONG);
    sockaddr_un out{};
    out.sun_family = AF_UNIX;
    memcpy(out.sun_path, host.data(), host.size());
    socklen_t out_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + host.size() +
                                               (host.size() < sizeof sun.sun_path ? 1 : 0));
    RemotePtr<void> p = call.PutScratch(&out, out_len);
    if (!p) return call.Fail(ENOMEM);
    call.SetArg(addr_arg, p.addr());
    call.SetArg(len_arg, out_len);
  }

  // getsockname/getpeername of a Unix socket answer the view path.
  void UnixNameExit(Call& call) {
    if (call.result() != 0 || call.arg(1) == 0 || call.arg(2) == 0) return;
    socklen_t len = 0;
    if (call.Read(RemotePtr<void>(call.arg(2)), &len, sizeof len) != 0) return;
    sockaddr_un sun{};
    socklen_t got = std::min<socklen_t>(len, sizeof sun);
    if (got <= sizeof(sa_family_t) || call.Read(RemotePtr<void>(call.arg(1)), &sun, got) != 0) {
      return;
    }
    if (sun.sun_family != AF_UNIX || sun.sun_path[0] != '/') return;
    std::string host(sun.sun_path, strnlen(sun.sun_path, got - offsetof(sockaddr_un, sun_path)));
    std::string view = table_.ToView(host);
    if (view == host || view.size() >= sizeof sun.sun_path) return;
    sockaddr_un out{};
    out.sun_family = AF_UNIX;
    memcpy(out.sun_path, view.c_str(), view.size() + 1);
    socklen_t full = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + view.size() + 1);
    call.Write(RemotePtr<void>(call.arg(1)), &out, std::min<socklen_t>(len, full));
    call.Write(RemotePtr<void>(call.arg(2)), &full, sizeof full);
  }

  // execve: the kernel would look up the ELF interpreter and a script's "#!" interpreter on
  // the host. When the view remaps paths, viewfs resolves them in the view and runs the
  // program through the view's own loader: execve(LOADER, [LOADER, --argv0, ARGV0, PROGRAM,
  // ARGS...]), PROGRAM being a view path (the loader's opens go through the view).
  // fuse= options: the view's first execve (the command) becomes
  //   /bin/sh -c 'PROG ARG... MNT || exit 2; ...; "$@"; s=$?; umount MNT...; exit $s'
  //     umview-fuse ARGV...
  // so each FUSE program mounts (and, as FUSE programs do by default, goes to the background
  // once mounted) in the view before the command starts, and is unmounted when it ends. A plugin
  // cannot start a tracee of its own; the shell of the view does it. False if the call was failed.
  bool StartFusePrograms(Call& call) {
    fuse_started_ = true;
    if (call.InScratch(call.arg(0))) return true;
    auto quote = [](const std::string& a) {
      std::string q = "'";
      for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      return q + "'";
    };
    std::string script;
    for (const auto& argv : fuse_starts_) {
      std::string cmd;
      for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + quote(a);
      script += cmd + " || { echo " +
                quote("umview: fuse=" + argv.back() + ": " + argv[0] + " failed") +
                " >&2; exit 2; }; ";
    }
    // The command runs as the shell's child, so that the mounts can be undone when it ends
    // (a FUSE program left in the background would keep the view alive).
    script += "\"$@\"; s=$?; ";
    for (const auto& argv : fuse_starts_) {
      script += "umount " + quote(argv.back()) + " 2>/dev/null || fusermount3 -u " +
                quote(argv.back()) + " 2>/dev/null; ";
    }
    script += "exit $s";
    std::vector<uint64_t> ptrs;
    for (const char* h : {"sh", "-c", script.c_str(), "umview-fuse"}) {
      RemotePtr<void> p = call.PutScratch(h, strlen(h) + 1);
      if (!p) return call.Fail(E2BIG), false;
      ptrs.push_back(p.addr());
    }
    for (uint64_t p = call.arg(1); p != 0 && ptrs.size() < 100000; p += 8) {
      uint64_t a = 0;
      if (call.Read(RemotePtr<void>(p), &a, sizeof a) != 0) return call.Fail(EFAULT), false;
      if (a == 0) break;
      ptrs.push_back(a);
    }
    ptrs.push_back(0);
    RemotePtr<void> array = call.PutScratch(ptrs.data(), ptrs.size() * sizeof(uint64_t));
    if (!array) return call.Fail(E2BIG), false;
    if (int rc = call.SetPath(0, "/bin/sh"); rc < 0) return call.Fail(-rc), false;
    call.SetArg(1, array.addr());
    return true;
  }

  void Exec(Call& call) {
    if (call.InScratch(call.arg(0))) return;  // restarted: already rewritten
    std::string raw;
    if (call.ReadString(RemotePtr<char>(call.arg(0)), &raw, PATH_MAX) < 0) return call.Fail(EFAULT);
    const SyscallInfo& info = *call.info();
    if (!HandlePath(call, info, 0)) return;
    if (!table_.has_content() || raw.empty()) return;
    int err = 0;
    std::string view_cwd = Base(call, AT_FDCWD, &err);
    if (err != 0) return;
    // argv as the program passed it (pointers into its memory).
    std::vector<uint64_t> argv;
    for (uint64_t p = call.arg(1); p != 0 && argv.size() < 100000; p += 8) {
      uint64_t a = 0;
      if (call.Read(RemotePtr<void>(p), &a, sizeof a) != 0) return call.Fail(EFAULT);
      if (a == 0) break;
      argv.push_back(a);
    }
    // New leading strings (owned here) and the rest of argv (tracee pointers).
    std::vector<std::string> head;
    size_t keep_from = 1;  // argv[keep_from..] follow `head`
    std::string argv0;
    if (!argv.empty()) call.ReadString(RemotePtr<char>(argv[0]), &argv0, PATH_MAX);
    // The program as the walk resolves it (symlinks and /proc/self/exe included).
    Resolved prog = Walk(call, raw[0] == '/' ? "/" : view_cwd, raw, true);
    if (prog.err != 0) return call.Fail(prog.err);
    std::string file_view = prog.view;
    std::string file_host = prog.place.host;
    std::string exec_host;  // what the kernel finally runs, if it differs from file_host
    std::string prev_interp;
    bool changed = false;
    head.push_back(argv0);
    for (int depth = 0; depth < 5; ++depth) {
      ExecImage img = ReadExecImage(file_host);
      if (img.kind == ExecImage::kScript) {
        Resolved r = Walk(call, img.interp[0] == '/' ? "/" : view_cwd, img.interp, true);
        if (r.err != 0) return call.Fail(r.err);
        // binfmt_script: argv[0] is replaced by [interp, arg?, filename]; the rest stays. For
        // a chain, filename is the previous interpreter as its "#!" line named it.
        std::vector<std::string> h = {img.interp};
        if (img.has_interp_arg) h.push_back(img.interp_arg);
        h.push_back(depth == 0 ? raw : prev_interp);
        h.insert(h.end(), head.begin() + 1, head.end());
        head = h;
        prev_interp = img.interp;
        keep_from = 1;
        file_view = r.view;
        file_host = r.place.host;
        changed = true;
        continue;
      }
      if (img.kind == ExecImage::kElf && !img.interp.empty()) {
        Resolved r = Walk(call, "/", img.interp, true);
        if (r.err != 0) return call.Fail(r.err);
        // The kernel finds the interpreter on the host: the loader is needed only where the
        // view resolves it to another file. (/lib64/ld-linux-x86-64.so.2 is a symlink, so the
        // host path differs from the name even when no mount is involved.)
        char real[PATH_MAX];
        const bool same_file =
            r.place.host == img.interp ||
            (realpath(img.interp.c_str(), real) != nullptr && r.place.host == real);
        if (!same_file) {
          bool musl = img.interp.find("ld-musl") != std::string::npos;
          std::vector<std::string> h = {img.interp};
          if (!musl) {
            h.push_back("--argv0");
            h.push_back(head[0]);
          }
          h.push_back(file_view);
          h.insert(h.end(), head.begin() + 1, head.end());
          head = h;
          exec_host = r.place.host;
          changed = true;
        }
      }
      break;
    }
    pending_exe_[call.tid()] = file_view;
    if (!changed) return;
    // Strings, then the pointer array, in the thread's scratch area.
    std::string target = exec_host.empty() ? file_host : exec_host;
    RemotePtr<void> path = call.PutScratch(target.c_str(), target.size() + 1);
    std::vector<uint64_t> ptrs;
    for (const auto& h : head) {
      RemotePtr<void> p = call.PutScratch(h.c_str(), h.size() + 1);
      if (!p) return call.Fail(E2BIG);
      ptrs.push_back(p.addr());
    }
    for (size_t i = keep_from; i < argv.size(); ++i) ptrs.push_back(argv[i]);
    ptrs.push_back(0);
    RemotePtr<void> array = call.PutScratch(ptrs.data(), ptrs.size() * sizeof(uint64_t));
    if (!path || !array) return call.Fail(E2BIG);
    call.SetArg(0, path.addr());
    call.SetArg(1, array.addr());
  }

  // A call that changes something in a union mount: the upper layer gets the change. Copies
  // up what is modified, makes the parents of what is created, turns removals of lower names
  // into whiteouts. Returns false if it completed the call.
  bool UnionWrite(Call& call, int arg, Resolved& r) {
    const Mount& m = *r.place.mount;
    const std::string& rel = r.place.rel;
    const int nr = call.nr();
    const bool rename = nr == SYS_rename || nr == SYS_renameat || nr == SYS_renameat2;
    const bool link = nr == SYS_link || nr == SYS_linkat;
    const bool first_path =
        arg == (nr == SYS_renameat || nr == SYS_renameat2 || nr == SYS_linkat ? 1 : 0);
    const bool is_rmdir = nr == SYS_rmdir || (nr == SYS_unlinkat && (call.arg(2) & AT_REMOVEDIR));
    const bool removal = nr == SYS_unlink || nr == SYS_unlinkat || nr == SYS_rmdir;
    bool creates = nr == SYS_mkdir || nr == SYS_mkdirat || nr == SYS_mknod || nr == SYS_mknodat ||
                   nr == SYS_symlink || nr == SYS_symlinkat || ((rename || link) && !first_path);
    if (nr == SYS_open || nr == SYS_openat || nr == SYS_creat) {
      int flags = nr == SYS_creat ? O_CREAT : static_cast<int>(call.arg(nr == SYS_open ? 1 : 2));
      creates = (flags & O_CREAT) && !r.layer.exists;
    }
    const std::string upper = m.src + rel;
    auto fail = [&](int err) {
      call.Fail(err);
      return false;
    };
    if (removal) {
      if (!r.layer.exists) return true;  // the kernel says ENOENT for the upper path
      if (is_rmdir && !ListUnion(m, rel).empty()) return fail(ENOTEMPTY);
      if (r.layer.in_upper) {
        if (is_rmdir) ClearUpperDir(m, rel);
        if (r.layer.in_lower) AddPending(call, {Pending::kWhiteout, &m, rel});
        r.place.host = upper;
        return true;
      }
      int rc = AddWhiteout(m, rel);  // only below: record the deletion, nothing to remove
      call.Return(rc);
      return false;
    }
    if (rename && first_path) {
      if (!r.layer.exists) return true;
      struct stat st;
      if (lstat(r.place.host.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && r.layer.in_lower) {
        return fail(EXDEV);  // as overlayfs: mv falls back to copy and delete
      }
      if (!r.layer.in_upper) {
        int rc = CopyUp(m, rel);
        if (rc < 0) return fail(-rc);
      }
      if (r.layer.in_lower) AddPending(call, {Pending::kWhiteout, &m, rel});
    } else if (creates) {
      // The look-up found the upper layer's directory of the name (its gap is the name itself):
      // nothing to make. A whiteout of the name is there only if the look-up saw it.
      if (r.layer.upper_gap != rel) {
        int rc = EnsureUpperParents(m, rel);
        if (rc < 0) return fail(-rc);
      }
      bool was_deleted = r.layer.whiteout && RemoveWhiteout(m, rel);
      if (was_deleted && (nr == SYS_mkdir || nr == SYS_mkdirat)) {
        AddPending(call, {Pending::kOpaque, &m, rel});
      }
    } else if (r.layer.exists && !r.layer.in_upper) {
      int rc = CopyUp(m, rel);
      if (rc < 0) return fail(-rc);
    }
    r.place.host = upper;
    r.place.translated = true;
    return true;
  }

  struct Pending {
    enum Kind { kWhiteout, kOpaque } kind;
    const Mount* mount;
    std::string rel;
  };
  void AddPending(Call& call, Pending p) {
    pending_[call.tid()].push_back(std::move(p));
    call.RequestExit();
  }
  void FinishPending(Call& call) {
    auto it = pending_.find(call.tid());
    if (it == pending_.end()) return;
    std::vector<Pending> todo = std::move(it->second);
    pending_.erase(it);
    if (call.result() < 0) return;
    for (const auto& p : todo) {
      if (p.kind == Pending::kWhiteout) {
        AddWhiteout(*p.mount, p.rel);
      } else {
        MarkOpaque(*p.mount, p.rel);
      }
    }
  }

  // Removing or renaming a mount point would move or delete what it shows (a bind's source
  // on the host): EBUSY, as for a real mount point. Renaming a directory above a hide, ro or
  // except mount would carry what it protects out from under it: EXDEV (mv copies instead,
  // through the view).
  int MountPointChange(Call& call, const std::string& view) {
    const int nr = call.nr();
    const bool rename = nr == SYS_rename || nr == SYS_renameat || nr == SYS_renameat2;
    const bool remove = nr == SYS_unlink || nr == SYS_unlinkat || nr == SYS_rmdir;
    if (!rename && !remove) return 0;
    for (const Mount& m : table_.mounts()) {
      if (m.dst == view && m.dst != "/") return EBUSY;
      if (rename && m.dst.size() > view.size() && m.dst.compare(0, view.size(), view) == 0 &&
          (view == "/" || m.dst[view.size()] == '/')) {
        return m.kind == MountKind::kHide || m.kind == MountKind::kReadOnly ||
                       m.kind == MountKind::kExcept
                   ? EXDEV
                   : EBUSY;
      }
    }
    return 0;
  }

  // openat2(RESOLVE_NO_SYMLINKS) says whether the kernel meets a symlink on the way; for a
  // name that does not exist yet, the directory it would be created in is checked.
  // `path` is looked up under directory descriptor dirfd (AT_FDCWD for an absolute path).
  static bool NoSymlinks(int dirfd, const std::string& path, bool follow_last) {
    // A last name the call does not follow cannot lead through a symlink: only the directory
    // it is in needs checking, one lookup whether the name exists or is being created (tar,
    // mkdir). A trailing slash makes the kernel follow it after all.
    if (!follow_last && !path.empty() && path.back() != '/')
      return ParentHasNoSymlinks(dirfd, path);
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC | (follow_last ? 0 : O_NOFOLLOW);
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0) {
      close(static_cast<int>(fd));
      return true;
    }
    if (errno == ELOOP) return false;
    if (errno != ENOENT) return true;  // EACCES, ENOTDIR: the kernel fails the same way
    return ParentHasNoSymlinks(dirfd, path);
  }

  static bool ParentHasNoSymlinks(int dirfd, const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return true;  // a name in dirfd itself
    std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC | O_DIRECTORY;
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = syscall(SYS_openat2, dirfd, parent.c_str(), &how, sizeof how);
    if (fd >= 0) {
      close(static_cast<int>(fd));
      return true;
    }
    return errno != ELOOP;  // ENOENT, ENOTDIR, EACCES: the kernel fails the same way
  }

  void ReadMagicLink(Call& call, const Resolved& r, const SyscallInfo& info) {
    std::string target = MagicTarget(r.place.host);
    if (target.empty()) {
      int err = 0;
      target = ReadLink(r.place.host, &err);  // pipe:[...], socket:[...]
      if (err != 0) return call.Fail(err);
    }
    int buf_arg = FindArg(info, Arg::kOutBuf);
    size_t size = call.arg(buf_arg + 1);
    if (static_cast<int64_t>(size) <= 0) return call.Fail(EINVAL);
    size_t len = std::min(size, target.size());
    if (call.Write(RemotePtr<void>(call.arg(buf_arg)), target.data(), len) != 0) {
      return call.Fail(EFAULT);
    }
    call.Return(static_cast<int64_t>(len));
  }

  void GetCwd(Call& call) {
    if (!table_.has_content()) return;
    int err = 0;
    std::string host = ReadLink("/proc/" + std::to_string(call.tid()) + "/cwd", &err);
    if (err != 0) return;
    static constexpr std::string_view kDeleted = " (deleted)";
    if (host.size() > kDeleted.size() &&
        host.compare(host.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
      return;  // the kernel answers ENOENT for a removed cwd
    }
    std::string view = table_.ToView(host);
    if (view == host) return;
    size_t size = call.arg(1);
    if (view.size() + 1 > size) return call.Fail(ERANGE);
    if (call.Write(RemotePtr<void>(call.arg(0)), view.c_str(), view.size() + 1) != 0) {
      return call.Fail(EFAULT);
    }
    call.Return(static_cast<int64_t>(view.size() + 1));
  }

  // Directory listings: the kernel lists the host directory the descriptor is open on; viewfs
  // removes hidden and whiteout names from each batch and, at the end of the directory, adds
  // what the view has beyond it: mount points that do not exist on the host, and the names of
  // a union's other layers. A long list is added over several calls.
  struct Dents {
    int fd = -1;
    std::string host_dir;
    std::vector<UnionEntry> extra;
    std::set<std::string> hidden;
    bool hide_whiteouts = false;
  };

  std::string FdHost(Call& call, int fd) {
    int err = 0;
    std::string host =
        ReadLink("/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(fd), &err);
    if (err != 0 || host.empty() || host[0] != '/') return "";
    return host;
  }

  std::string FdView(Call& call, int fd) {
    std::string host = FdHost(call, fd);
    return host.empty() ? "" : table_.ToView(host);
  }

  void GetDentsEntry(Call& call) {
    int fd = static_cast<int>(call.arg(0));
    std::string host_dir;
    // A view that protects nothing changes a listing only to add mount points missing on the
    // host: most directories have none, and the cached path says so without reading /proc.
    if (CachedDirHost(call, fd, &host_dir) >= 0 &&
        table_.MountsIn(table_.ToView(host_dir)).empty()) {
      return;
    }
    host_dir = FdHost(call, fd);
    if (host_dir.empty()) return;
    std::string dir = table_.ToView(host_dir);
    Dents d;
    d.fd = fd;
    d.host_dir = host_dir;
    std::set<std::string> names;
    LayerHit layer;
    Place here = Locate(dir, &layer);
    if (here.mount != nullptr && here.mount->kind == MountKind::kUnion) {
      std::set<std::string> on_host;
      if (DIR* dd = opendir(host_dir.c_str())) {
        while (struct dirent* e = readdir(dd)) {
          // The kernel's listing needs no change (no exit stop) unless it has whiteouts to
          // drop, names the union hides, or misses names of the other layers: a directory of
          // a cow tree that only the lower layer has lists as it is.
          d.hide_whiteouts |= IsWhiteoutName(e->d_name);
          on_host.insert(e->d_name);
        }
        closedir(dd);
      } else {
        d.hide_whiteouts = true;  // unknown: filter what the kernel lists
      }
      for (auto& e : ListUnion(*here.mount, here.rel, layer)) {
        names.insert(e.name);
        if (!on_host.count(e.name)) d.extra.push_back(std::move(e));
      }
      // Names the kernel lists that the union does not show (whited out in the upper layer).
      for (const auto& n : on_host) {
        if (n != "." && n != ".." && !names.count(n)) d.hidden.insert(n);
      }
    }
    for (const Mount* m : table_.MountsIn(dir)) {
      std::string name = m->dst.substr(m->dst.rfind('/') + 1);
      if (m->kind == MountKind::kHide) {
        d.hidden.insert(name);
        continue;
      }
      if (m->kind != MountKind::kBind && m->kind != MountKind::kTmp &&
          m->kind != MountKind::kUnion) {
        continue;
      }
      struct stat st;
      if (names.count(name) || lstat((host_dir + "/" + name).c_str(), &st) == 0) continue;
      struct stat src {};
      stat(m->src.c_str(), &src);
      d.extra.push_back({name, src.st_ino ? src.st_ino : 1,
                         static_cast<unsigned char>(S_ISDIR(src.st_mode) ? DT_DIR : DT_UNKNOWN)});
    }
    if (d.extra.empty() && d.hidden.empty() && !d.hide_whiteouts) return;
    dents_[call.tid()] = std::move(d);
    call.RequestExit();
  }

  void GetDentsExit(Call& call) {
    auto it = dents_.find(call.tid());
    if (it == dents_.end()) return;
    Dents d = std::move(it->second);
    dents_.erase(it);
    int64_t n = call.result();
    if (n < 0) return;
    uint64_t buf = call.arg(1);
    size_t size = call.arg(2);
    auto key = std::make_tuple(call.pid(), d.fd, d.host_dir);
    if (n > 0) {
      // The kernel lists entries again: a new pass (reopened, or rewound), not the end of one.
      cursor_.erase(key);
      std::vector<char> data(n), out;
      if (call.Read(RemotePtr<void>(buf), data.data(), n) != 0) return;
      for (int64_t off = 0; off < n;) {
        auto* e = reinterpret_cast<struct dirent64*>(data.data() + off);
        if (e->d_reclen == 0) break;
        std::string name = e->d_name;
        bool drop = d.hidden.count(name) || (d.hide_whiteouts && IsWhiteoutName(name));
        if (!drop) out.insert(out.end(), data.data() + off, data.data() + off + e->d_reclen);
        off += e->d_reclen;
      }
      if (static_cast<int64_t>(out.size()) == n) return;
      // Everything dropped: 0 would end the listing. EINVAL is the kernel's answer for a buffer
      // too small for the next entry; the directory position is past the hidden names, so a
      // caller that retries with a bigger buffer goes on where it should.
      if (out.empty()) {
        call.SetResult(-EINVAL);
        return;
      }
      call.Write(RemotePtr<void>(buf), out.data(), out.size());
      call.SetResult(static_cast<int64_t>(out.size()));
      return;
    }
    // End of the directory: add what the view has beyond it, from where the last call stopped.
    auto cur = cursor_.find(key);
    size_t start = cur == cursor_.end() ? 0 : cur->second;
    if (start >= d.extra.size()) {
      if (cur != cursor_.end()) cursor_.erase(cur);  // this pass is over: a real end
      return;
    }
    std::vector<char> out;
    size_t i = start;
    for (; i < d.extra.size(); ++i) {
      const UnionEntry& x = d.extra[i];
      size_t reclen = (offsetof(struct dirent64, d_name) + x.name.size() + 1 + 7) & ~size_t{7};
      if (out.size() + reclen > size) break;
      std::vector<char> rec(reclen, 0);
      auto* e = reinterpret_cast<struct dirent64*>(rec.data());
      e->d_ino = x.ino ? x.ino : 1;
      e->d_off = static_cast<int64_t>((1LL << 40) + i + 1);
      e->d_reclen = static_cast<unsigned short>(reclen);
      e->d_type = x.type;
      memcpy(e->d_name, x.name.c_str(), x.name.size() + 1);
      out.insert(out.end(), rec.begin(), rec.end());
    }
    if (out.empty()) {
      call.SetResult(-EINVAL);  // the buffer cannot hold one entry
      return;
    }
    if (call.Write(RemotePtr<void>(buf), out.data(), out.size()) != 0) return;
    cursor_[key] = i == d.extra.size() ? d.extra.size() : i;
    call.SetResult(static_cast<int64_t>(out.size()));
  }

  // fchmod/fchown/fsetxattr/fremovexattr change the file a descriptor is open on: under ro
  // that is EROFS; on a union's lower layer it would change the original, so the file is
  // copied up and the change made to the copy (the descriptor still reads the old contents,
  // which the call does not touch).
  void FdWrite(Call& call) {
    if (!writes_guarded_) return;
    std::string host = FdHost(call, static_cast<int>(call.arg(0)));
    if (host.empty()) return;
    std::string view = table_.ToView(host);
    Place p = table_.Find(view);
    if (p.read_only) return call.Fail(EROFS);
    if (p.mount == nullptr || p.mount->kind != MountKind::kUnion) return;
    const Mount& m = *p.mount;
    if (host == m.src + p.rel || host.rfind(m.src + "/", 0) == 0) return;  // already upper
    int rc = CopyUp(m, p.rel);
    if (rc < 0) return call.Fail(-rc);
    std::string upper = m.src + p.rel;
    switch (call.nr()) {
      case SYS_fchmod:
        rc = chmod(upper.c_str(), static_cast<mode_t>(call.arg(1))) == 0 ? 0 : -errno;
        break;
      case SYS_fchown:
        rc = lchown(upper.c_str(), static_cast<uid_t>(call.arg(1)),
                    static_cast<gid_t>(call.arg(2))) == 0
                 ? 0
                 : -errno;
        break;
      default: {
        std::string name;
        if (call.ReadString(RemotePtr<char>(call.arg(1)), &name, 256) < 0) return call.Fail(EFAULT);
        if (call.nr() == SYS_fremovexattr) {
          rc = lremovexattr(upper.c_str(), name.c_str()) == 0 ? 0 : -errno;
          break;
        }
        size_t size = call.arg(3);
        if (size > 65536) return call.Fail(E2BIG);
        std::vector<char> value(size);
        if (size && call.Read(RemotePtr<void>(call.arg(2)), value.data(), size) != 0) {
          return call.Fail(EFAULT);
        }
        rc = lsetxattr(upper.c_str(), name.c_str(), value.data(), size,
                       static_cast<int>(call.arg(4))) == 0
                 ? 0
                 : -errno;
      }
    }
    call.Return(rc);
  }

  MountTable table_;
  std::vector<std::vector<std::string>> fuse_starts_;  // fuse=: PROGRAM ARG... MNT
  bool fuse_started_ = false;                          // the first execve has been rewritten
  std::unique_ptr<FuseClient> fuse_;                   // FUSE in a view (fuse_client.h)
  std::vector<std::pair<uint64_t, Option>> opts_;      // the option behind each mount, by seq
  std::vector<std::string> tmpdirs_;
  std::string skeleton_;  // private tree of directories leading to mount points (AddSkeleton)
  std::unordered_map<pid_t, Dents> dents_;
  std::map<std::tuple<pid_t, int, std::string>, size_t> cursor_;  // listings being extended
  std::unordered_map<pid_t, std::vector<Pending>> pending_;       // whiteouts to record at exit
  std::unordered_map<pid_t, std::vector<int>> held_;  // directories pinned for a thread's call
  DirFdCache dirs_;           // host paths of directory descriptors (CachedDirHost)
  std::set<pid_t> renaming_;  // threads with a rename between entry and exit
  Host* host_ = nullptr;
  bool prefilter_ = false;         // prefilter=on (default with ptrace): see Init, UpdatePrefilter
  bool prefilter_chosen_ = false;  // by the option or the environment, not by default
  bool mount_seen_ = false;        // a mount call was made in the view: no prefilter any more
  bool protective_ = false;        // some mount protects something: pin directories (PinChecked)
  bool hides_ = false;             // ... from being read (hide, except, root=): no prefilter
  // Some mount is ro or a union: a write through a descriptor (fchmod, futimens...) may have
  // to be refused or copied up. Without one, such calls need no look at the descriptor.
  bool writes_guarded_ = false;
  std::unordered_map<pid_t, std::string> exe_;          // view path of each task's program
  std::unordered_map<pid_t, std::string> pending_exe_;  // set by execve, taken at the exec event
};

}  // namespace
}  // namespace umview::viewfs

UMVIEW_PLUGIN(umview::viewfs::ViewFs, "viewfs",
              "filesystem views: bind, tmp, hide, ro and except mounts")
