// viewfs: filesystem views. Mounts bind, tmp, hide, ro and except remap view paths to host
// paths; every path argument of every call is resolved in the view, symlinks included.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugins/viewfs/mount_table.h"
#include "umview/plugin.h"

namespace umview::viewfs {
namespace {

constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS

std::string Normalize(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    std::string_view c = path.substr(i, j - i);
    i = j;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(c);
  }
  std::string out;
  for (auto p : parts) (out += '/') += p;
  return out.empty() ? "/" : out;
}

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
  for (const auto& c : Split(raw)) {
    if (c == "..") return true;
  }
  return false;
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
    for (const Option& o : options) {
      if (!AddOption(o, error)) {
        RemoveTmpDirs();
        return false;
      }
    }
    host.AddMount("/");  // symlinks and dirfds can lead anywhere: every path call is ours
    host.NeedScratch();
    for (int nr : {SYS_getcwd, SYS_getdents64, SYS_fchmod, SYS_fchown, SYS_fsetxattr,
                   SYS_fremovexattr, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot,
                   SYS_io_uring_setup, SYS_open_by_handle_at}) {
      host.ClaimSyscall(nr);
    }
    return true;
  }

  void OnShutdown() override { RemoveTmpDirs(); }

  void OnEntry(Call& call) override {
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
      case SYS_mount:
      case SYS_umount2:
      case SYS_pivot_root:
      case SYS_chroot:
      case SYS_open_by_handle_at:
        return call.Fail(EPERM);  // never a host mount; handles bypass path resolution
      case SYS_io_uring_setup:
        return call.Fail(ENOSYS);  // its path operations would bypass the view
    }
    const SyscallInfo* info = call.info();
    if (info == nullptr || !(info->classes & kClassPath)) return;
    for (int i = 0; i < info->nargs; ++i) {
      if (info->args[i] != Arg::kPath) continue;
      if (!HandlePath(call, *info, i)) return;  // the call was completed
    }
  }

  void OnExit(Call& call) override {
    if (call.nr() == SYS_getdents64) GetDentsExit(call);
  }

  void OnTaskExit(pid_t tid, int) override { dents_.erase(tid); }

 private:
  bool AddOption(const Option& o, std::string* error) {
    auto bad = [&](const std::string& what) {
      *error = o.key + "=" + o.value + ": " + what;
      return false;
    };
    if (!o.has_value || o.value.empty()) {
      *error = "option '" + o.key +
               "' needs a value (bind=SRC:DST, ro=DST, hide=PATH, tmp=DST, "
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
      table_.Add(MountKind::kBind, Normalize(dst), real);
    } else if (o.key == "ro" || o.key == "hide" || o.key == "except") {
      if (!absolute(o.value)) return bad("expected an absolute path");
      table_.Add(o.key == "ro"     ? MountKind::kReadOnly
                 : o.key == "hide" ? MountKind::kHide
                                   : MountKind::kExcept,
                 Normalize(o.value));
    } else if (o.key == "tmp") {
      if (!absolute(o.value)) return bad("expected an absolute path");
      const char* t = getenv("TMPDIR");
      std::string tmpl = std::string(t && *t ? t : "/tmp") + "/umview-tmp-XXXXXX";
      std::vector<char> buf(tmpl.begin(), tmpl.end());
      buf.push_back(0);
      if (mkdtemp(buf.data()) == nullptr) return bad(std::string("mkdtemp: ") + strerror(errno));
      tmpdirs_.push_back(buf.data());
      table_.Add(MountKind::kTmp, Normalize(o.value), buf.data());
    } else {
      *error = "unknown option '" + o.key + "' (expected bind, ro, hide, tmp, except)";
      return false;
    }
    return true;
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

  static PathUse Use(const Call& call, int nr, int arg) {
    auto flag_arg = [&](int idx) { return call.arg(idx); };
    switch (nr) {
      case SYS_open:
      case SYS_openat:
      case SYS_creat: {
        int flags = nr == SYS_creat ? O_CREAT | O_WRONLY | O_TRUNC
                                    : static_cast<int>(flag_arg(nr == SYS_open ? 1 : 2));
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
        return {false, !(flag_arg(3) & AT_SYMLINK_NOFOLLOW)};
      case SYS_name_to_handle_at:
        return {false, (flag_arg(4) & AT_SYMLINK_FOLLOW) != 0};
      case SYS_execveat:
        return {false, !(flag_arg(4) & AT_SYMLINK_NOFOLLOW)};
    }
    return {false, true};
  }

  // The view path of the directory a relative path starts from; "" with *err on failure.
  std::string Base(Call& call, int dirfd, int* err) {
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
    return table_.ToView(link);
  }

  // The target of a /proc magic link (cwd, root, exe, fd/N) read on the tracee's behalf, as a
  // view path; "" for a non-path object (pipe:[...]).
  std::string MagicTarget(const std::string& host_link) {
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

  Resolved Walk(Call& call, const std::string& base, std::string_view raw, bool follow_last) {
    Resolved r;
    std::vector<std::string> cur =
        raw.empty() || raw[0] != '/' ? Split(base) : std::vector<std::string>();
    std::deque<std::string> todo;
    for (auto& c : Split(raw)) todo.push_back(std::move(c));
    int links = 0;
    while (!todo.empty()) {
      std::string c = std::move(todo.front());
      todo.pop_front();
      if (c == ".") continue;
      if (c == "..") {
        if (!cur.empty()) cur.pop_back();
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
      Place pl = table_.Find(view);
      bool last = todo.empty();
      // A hidden directory stays traversable only toward an except=PATH below it.
      if (pl.hidden && (last || !table_.HasExceptUnder(view))) {
        r.err = ENOENT;
        return r;
      }
      if (last && !follow_last) break;
      std::string target;
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
      if (!target.empty() && target[0] == '/') cur.clear();
      auto parts = Split(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
    }
    r.view = Join(cur);
    r.place = table_.Find(r.view);
    if (r.place.hidden) r.err = ENOENT;
    return r;
  }

  // Resolves path argument i; returns false if it completed the call.
  bool HandlePath(Call& call, const SyscallInfo& info, int i) {
    std::string raw;
    int64_t n = call.ReadString(RemotePtr<char>(call.arg(i)), &raw, PATH_MAX);
    if (n < 0) {
      call.Fail(n == -ENAMETOOLONG ? ENAMETOOLONG : EFAULT);
      return false;
    }
    if (raw.empty()) return true;  // AT_EMPTY_PATH or ENOENT: the kernel decides
    // symlink/symlinkat's target (a kString) is stored as is; only kPath args come here.
    int dirfd = AT_FDCWD;
    if (i > 0 && info.args[i - 1] == Arg::kDirFd) dirfd = static_cast<int>(call.arg(i - 1));
    const bool relative = raw[0] != '/';
    std::string base = "/";
    std::string kernel_base = "/";
    if (relative) {
      int err = 0;
      base = Base(call, dirfd, &err);
      if (err != 0) return true;  // bad dirfd: the kernel reports it
      kernel_base = table_.Find(base).host;
    }
    PathUse use = Use(call, call.nr(), i);
    const std::string lexical = Normalize(relative ? base + "/" + raw : raw);

    // Fast path: nothing mounted at or around the path, no "..", no symlink on the way: the
    // kernel resolves it exactly as the view does.
    if (!table_.Touches(lexical) && !HasDotDot(raw) && NoSymlinks(lexical, use.follow)) {
      return true;
    }
    Resolved r = Walk(call, relative ? base : "/", raw, use.follow);
    if (r.err != 0) {
      call.Fail(r.err);
      return false;
    }
    if (r.opaque) return true;
    if (use.writes && r.place.read_only) {
      call.Fail(EROFS);
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
    if (r.followed || r.place.translated || host != kernel_view ||
        (relative && base != kernel_base)) {
      if (host == raw) return true;
      int rc = call.SetPath(i, host);
      if (rc < 0) {
        call.Fail(-rc);
        return false;
      }
    }
    return true;
  }

  // openat2(RESOLVE_NO_SYMLINKS) says whether the kernel meets a symlink on the way; for a
  // name that does not exist yet, the directory it would be created in is checked.
  static bool NoSymlinks(const std::string& path, bool follow_last) {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC | (follow_last ? 0 : O_NOFOLLOW);
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
    if (fd >= 0) {
      close(static_cast<int>(fd));
      return true;
    }
    if (errno == ELOOP) return false;
    if (errno != ENOENT) return true;  // EACCES, ENOTDIR: the kernel fails the same way
    size_t slash = path.rfind('/');
    std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    how.flags = O_PATH | O_CLOEXEC | O_DIRECTORY;
    fd = syscall(SYS_openat2, AT_FDCWD, parent.c_str(), &how, sizeof how);
    if (fd >= 0) {
      close(static_cast<int>(fd));
      return true;
    }
    return errno != ELOOP;
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

  // Directory listings: mount points that do not exist on the host are added at the end of the
  // listing; hidden names are removed.
  struct Dents {
    int fd = -1;
    std::vector<std::pair<std::string, const Mount*>> extra;
    std::set<std::string> hidden;
  };

  std::string FdView(Call& call, int fd) {
    int err = 0;
    std::string host =
        ReadLink("/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(fd), &err);
    if (err != 0 || host.empty() || host[0] != '/') return "";
    return table_.ToView(host);
  }

  void GetDentsEntry(Call& call) {
    int fd = static_cast<int>(call.arg(0));
    std::string dir = FdView(call, fd);
    if (dir.empty()) return;
    Dents d;
    d.fd = fd;
    std::string host_dir = table_.Find(dir).host;
    for (const Mount* m : table_.MountsIn(dir)) {
      std::string name = m->dst.substr(m->dst.rfind('/') + 1);
      if (m->kind == MountKind::kHide) {
        d.hidden.insert(name);
        continue;
      }
      if (m->kind != MountKind::kBind && m->kind != MountKind::kTmp) continue;
      struct stat st;
      if (lstat((host_dir + "/" + name).c_str(), &st) != 0) d.extra.push_back({name, m});
    }
    if (d.extra.empty() && d.hidden.empty()) return;
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
    if (n > 0) {
      if (d.hidden.empty()) return;
      std::vector<char> data(n), out;
      if (call.Read(RemotePtr<void>(buf), data.data(), n) != 0) return;
      for (int64_t off = 0; off < n;) {
        auto* e = reinterpret_cast<struct dirent64*>(data.data() + off);
        if (e->d_reclen == 0) break;
        if (!d.hidden.count(e->d_name)) {
          out.insert(out.end(), data.data() + off, data.data() + off + e->d_reclen);
        }
        off += e->d_reclen;
      }
      if (static_cast<int64_t>(out.size()) == n) return;
      // If everything was hidden the caller would take 0 for the end of the directory: leave
      // one entry rather than lie (rare: needs a whole batch of hidden names).
      if (out.empty()) return;
      call.Write(RemotePtr<void>(buf), out.data(), out.size());
      call.SetResult(static_cast<int64_t>(out.size()));
      return;
    }
    // End of the directory: add the mount points once per pass over it.
    auto key = std::make_pair(call.pid(), d.fd);
    if (injected_.erase(key) > 0 || d.extra.empty()) return;
    std::vector<char> out;
    int64_t off = 1 << 30;
    for (const auto& [name, m] : d.extra) {
      struct stat st {};
      stat(m->src.c_str(), &st);
      size_t reclen = (offsetof(struct dirent64, d_name) + name.size() + 1 + 7) & ~size_t{7};
      if (out.size() + reclen > size) break;
      std::vector<char> rec(reclen, 0);
      auto* e = reinterpret_cast<struct dirent64*>(rec.data());
      e->d_ino = st.st_ino ? st.st_ino : 1;
      e->d_off = ++off;
      e->d_reclen = static_cast<unsigned short>(reclen);
      e->d_type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      memcpy(e->d_name, name.c_str(), name.size() + 1);
      out.insert(out.end(), rec.begin(), rec.end());
    }
    if (out.empty()) {
      if (!d.extra.empty()) call.SetResult(-EINVAL);  // buffer too small for one entry
      return;
    }
    if (call.Write(RemotePtr<void>(buf), out.data(), out.size()) != 0) return;
    injected_.insert(key);
    call.SetResult(static_cast<int64_t>(out.size()));
  }

  void FdWrite(Call& call) {
    std::string view = FdView(call, static_cast<int>(call.arg(0)));
    if (!view.empty() && table_.Find(view).read_only) call.Fail(EROFS);
  }

  MountTable table_;
  std::vector<std::string> tmpdirs_;
  std::unordered_map<pid_t, Dents> dents_;
  std::set<std::pair<pid_t, int>> injected_;
};

}  // namespace
}  // namespace umview::viewfs

UMVIEW_PLUGIN(umview::viewfs::ViewFs, "viewfs",
              "filesystem views: bind, tmp, hide, ro and except mounts")
