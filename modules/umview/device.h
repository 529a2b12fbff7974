// The device-driver interface: a plugin adds a kind of device by implementing Device (open,
// read, write, ioctl, size); DeviceTable makes its nodes visible (stat, access, listings of the
// parent directory) and openable, and DeviceFile serves the descriptors, with positions, bounds
// and the generic block-device ioctls. Header-only, so a third-party plugin needs nothing else.
//
//   class Ring : public umview::Device { ... Size/Read/Write ... };
//   class MyPlugin : public umview::Plugin {
//     bool Init(umview::Host& h, const umview::Options&, std::string* e) override {
//       table_.Add({"/dev/ring0", umview::DeviceType::kBlock, 240, 0, 0660, 0,
//                   std::make_shared<Ring>()});
//       table_.Attach(h);
//       return true;
//     }
//     void OnEntry(umview::Call& c) override { table_.OnEntry(c); }
//     void OnExit(umview::Call& c) override { table_.OnExit(c); }
//     void OnTaskExit(pid_t tid, int) override { table_.OnTaskExit(tid); }
//     umview::DeviceTable table_;
//   };
//
// Device numbers: the kernel reserves majors 240-254 for local/experimental use; umdev uses 240
// (see plugins/umdev/README.md). Two plugins that both list nodes in the same directory each add
// their names at the end of the listing; stacking them is not supported yet.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "umview/plugin.h"

namespace umview {

// Block-device ioctl numbers (<linux/fs.h>, <linux/hdreg.h>), spelled out so that this header
// does not pull <linux/fs.h> (which clashes with <sys/mount.h> in glibc 2.36).
namespace blkio {
inline constexpr unsigned long kRoSet = _IO(0x12, 93);
inline constexpr unsigned long kRoGet = _IO(0x12, 94);
inline constexpr unsigned long kRrPart = _IO(0x12, 95);
inline constexpr unsigned long kGetSize = _IO(0x12, 96);  // unsigned long, 512-byte sectors
inline constexpr unsigned long kFlsBuf = _IO(0x12, 97);
inline constexpr unsigned long kSszGet = _IO(0x12, 104);           // int: logical sector size
inline constexpr unsigned long kBszGet = _IOR(0x12, 112, size_t);  // int: soft block size
inline constexpr unsigned long kBszSet = _IOW(0x12, 113, size_t);
inline constexpr unsigned long kGetSize64 = _IOR(0x12, 114, size_t);  // uint64_t bytes
inline constexpr unsigned long kDiscard = _IO(0x12, 119);
inline constexpr unsigned long kIoMin = _IO(0x12, 120);
inline constexpr unsigned long kIoOpt = _IO(0x12, 121);
inline constexpr unsigned long kAlignOff = _IO(0x12, 122);
inline constexpr unsigned long kPbszGet = _IO(0x12, 123);  // unsigned int: physical sector
inline constexpr unsigned long kZeroOut = _IO(0x12, 127);  // uint64_t[2]: start, length
inline constexpr unsigned long kHdioGetGeo = 0x0301;       // struct hd_geometry
}  // namespace blkio

enum class DeviceType { kChar, kBlock };

// One device as its driver sees it. Every method returns a value >= 0 or a negative errno and
// runs with the calling tracee thread stopped (one call at a time: no locking needed).
class Device {
 public:
  virtual ~Device() = default;
  // Each open of a node of this device, with the open's O_* flags. E.g. -EROFS for a write open
  // of a read-only device.
  virtual int Open(int flags) { return (void)flags, 0; }
  // Size in bytes. Negative for a stream device with no size and no position (null, zero): its
  // Read/Write get offset -1 and DeviceFile does no bounds checks.
  virtual int64_t Size() = 0;
  // At `offset` in [0, Size()); DeviceFile clips the count to the end (short read/write) and
  // answers ENOSPC for a write at or past it, so a driver only sees in-bounds requests.
  virtual int64_t Read(void* buf, size_t count, int64_t offset) = 0;
  virtual int64_t Write(const void* buf, size_t count, int64_t offset) = 0;
  // Asked first; -ENOTTY lets DeviceFile answer the generic block requests (sizes, geometry,
  // BLKFLSBUF, BLKROGET, BLKZEROOUT...). `arg` is a tracee address: use call.Read/Write.
  virtual int64_t Ioctl(Call& call, unsigned long request, uint64_t arg) {
    return (void)call, (void)request, (void)arg, -ENOTTY;
  }
  // Optional: fsync/fdatasync/BLKFLSBUF.
  virtual int Sync() { return 0; }
  virtual bool ReadOnly() { return false; }
  virtual uint32_t SectorSize() { return 512; }
};

// A device node: where it appears in the view and what stat says about it.
struct DeviceNode {
  std::string path;  // absolute, normalized
  DeviceType type = DeviceType::kBlock;
  unsigned major = 240, minor = 0;
  mode_t perm = 0660;  // permission bits; the node belongs to the user running the view
  int64_t start = 0;   // byte offset in the whole disk for a partition (HDIO_GETGEO), else 0
  std::shared_ptr<Device> device;
};

namespace device_detail {

inline uint64_t NodeInode(const std::string& path) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : path) h = (h ^ c) * 1099511628211ull;
  return (h & 0xffffffffull) | 0x80000000ull;
}

inline std::string Parent(const std::string& path) {
  size_t s = path.rfind('/');
  return s == 0 || s == std::string::npos ? "/" : path.substr(0, s);
}

inline std::string Base(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The node's stat, shared by stat on the path and fstat on a descriptor. Like a kernel device
// node, st_size is 0: sizes come from BLKGETSIZE64.
inline void NodeStat(const DeviceNode& n, const struct stat& parent, time_t birth,
                     struct stat* st) {
  memset(st, 0, sizeof *st);
  st->st_dev = parent.st_dev;
  st->st_ino = NodeInode(n.path);
  st->st_mode = (n.type == DeviceType::kBlock ? S_IFBLK : S_IFCHR) | (n.perm & 07777);
  st->st_nlink = 1;
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_rdev = makedev(n.major, n.minor);
  st->st_blksize = 4096;
  st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = birth;
}

inline void NodeStatx(const struct stat& st, struct statx* sx) {
  memset(sx, 0, sizeof *sx);
  sx->stx_mask = STATX_BASIC_STATS;
  sx->stx_blksize = static_cast<uint32_t>(st.st_blksize);
  sx->stx_nlink = static_cast<uint32_t>(st.st_nlink);
  sx->stx_uid = st.st_uid;
  sx->stx_gid = st.st_gid;
  sx->stx_mode = static_cast<uint16_t>(st.st_mode);
  sx->stx_ino = st.st_ino;
  sx->stx_atime.tv_sec = st.st_atim.tv_sec;
  sx->stx_mtime.tv_sec = st.st_mtim.tv_sec;
  sx->stx_ctime.tv_sec = st.st_ctim.tv_sec;
  sx->stx_btime.tv_sec = st.st_ctim.tv_sec;
  sx->stx_rdev_major = major(st.st_rdev);
  sx->stx_rdev_minor = minor(st.st_rdev);
  sx->stx_dev_major = major(st.st_dev);
  sx->stx_dev_minor = minor(st.st_dev);
}

}  // namespace device_detail

// One open file description of a device: keeps the position (shared by dup'ed descriptors) and
// the access mode, clips I/O to the device size, and answers the generic block ioctls.
class DeviceFile : public VirtualFile {
 public:
  DeviceFile(DeviceNode node, const struct stat& st, int flags)
      : node_(std::move(node)), st_(st), flags_(flags) {}

  int64_t Read(void* buf, size_t count) override {
    int64_t n = Pread(buf, count, pos_);
    if (n > 0 && Sized()) pos_ += n;
    return n;
  }
  int64_t Write(const void* buf, size_t count) override {
    int64_t n = Pwrite(buf, count, pos_);
    if (n > 0 && Sized()) pos_ += n;
    return n;
  }
  int64_t Pread(void* buf, size_t count, int64_t offset) override {
    if ((flags_ & O_ACCMODE) == O_WRONLY) return -EBADF;
    if (offset < 0) return -EINVAL;
    int64_t size = node_.device->Size();
    if (size < 0) return node_.device->Read(buf, count, -1);
    if (offset >= size || count == 0) return 0;
    return node_.device->Read(buf, std::min<uint64_t>(count, size - offset), offset);
  }
  int64_t Pwrite(const void* buf, size_t count, int64_t offset) override {
    if ((flags_ & O_ACCMODE) == O_RDONLY) return -EBADF;
    if (offset < 0) return -EINVAL;
    int64_t size = node_.device->Size();
    if (size < 0) return node_.device->Write(buf, count, -1);
    if (count == 0) return 0;
    if (offset >= size) return -ENOSPC;
    return node_.device->Write(buf, std::min<uint64_t>(count, size - offset), offset);
  }
  // Like block_llseek: SEEK_END is the device size and no position lies past it. A stream
  // device (null, zero) always stays at 0, like the kernel's.
  int64_t Lseek(int64_t offset, int whence) override {
    int64_t size = node_.device->Size();
    if (size < 0) return 0;
    int64_t base;
    switch (whence) {
      case SEEK_SET:
        base = 0;
        break;
      case SEEK_CUR:
        base = pos_;
        break;
      case SEEK_END:
        base = size;
        break;
      case SEEK_DATA:
        if (offset < 0 || offset >= size) return -ENXIO;
        return pos_ = offset;
      case SEEK_HOLE:
        if (offset < 0 || offset >= size) return -ENXIO;
        return pos_ = size;
      default:
        return -EINVAL;
    }
    int64_t to = base + offset;
    if (to < 0 || to > size) return -EINVAL;
    return pos_ = to;
  }
  int Fstat(struct stat* st) override {
    *st = st_;
    return 0;
  }
  int64_t Ioctl(Call& call, unsigned long request, uint64_t arg) override {
    int64_t r = node_.device->Ioctl(call, request, arg);
    if (r != -ENOTTY || node_.type != DeviceType::kBlock) return r;
    return BlockIoctl(call, request, arg);
  }
  int Fsync() override { return node_.device->Sync(); }
  int Ftruncate(int64_t) override { return -EINVAL; }

 private:
  bool Sized() { return node_.device->Size() >= 0; }

  template <typename T>
  int64_t Put(Call& call, uint64_t arg, T value) {
    return call.Write(RemotePtr<void>(arg), &value, sizeof value);
  }

  int64_t BlockIoctl(Call& call, unsigned long request, uint64_t arg) {
    Device& d = *node_.device;
    uint64_t size = static_cast<uint64_t>(std::max<int64_t>(d.Size(), 0));
    switch (request) {
      case blkio::kGetSize64:
        return Put<uint64_t>(call, arg, size);
      case blkio::kGetSize:
        return Put<unsigned long>(call, arg, size >> 9);
      case blkio::kSszGet:
        return Put<int>(call, arg, static_cast<int>(d.SectorSize()));
      case blkio::kPbszGet:
      case blkio::kIoMin:
        return Put<unsigned int>(call, arg, d.SectorSize());
      case blkio::kIoOpt:
        return Put<unsigned int>(call, arg, 0);
      case blkio::kAlignOff:
        return Put<int>(call, arg, 0);
      case blkio::kBszGet:
        return Put<int>(call, arg, 4096);
      case blkio::kBszSet:
        return 0;
      case blkio::kRoGet:
        return Put<int>(call, arg, d.ReadOnly() ? 1 : 0);
      case blkio::kRoSet:
        return -EACCES;  // needs CAP_SYS_ADMIN on a real device
      case blkio::kFlsBuf:
        return d.Sync();
      case blkio::kRrPart:
        return -EINVAL;  // not a partitionable disk (the driver answers for those)
      case blkio::kDiscard:
        return -EOPNOTSUPP;
      case blkio::kZeroOut: {
        uint64_t range[2];
        if (call.Read(RemotePtr<void>(arg), range, sizeof range) != 0) return -EFAULT;
        if ((flags_ & O_ACCMODE) == O_RDONLY) return -EBADF;
        if (range[0] % 512 || range[1] % 512 || range[0] + range[1] > size ||
            range[0] + range[1] < range[0]) {
          return -EINVAL;
        }
        std::vector<char> zero(std::min<uint64_t>(range[1], 1 << 20), 0);
        for (uint64_t done = 0; done < range[1];) {
          size_t n = std::min<uint64_t>(zero.size(), range[1] - done);
          int64_t w = d.Write(zero.data(), n, static_cast<int64_t>(range[0] + done));
          if (w < 0) return w;
          if (w == 0) return -EIO;
          done += w;
        }
        return 0;
      }
      case blkio::kHdioGetGeo: {
        // struct hd_geometry: heads, sectors, cylinders, start (the usual 255/63 fake geometry).
        struct {
          unsigned char heads, sectors;
          unsigned short cylinders;
          unsigned long start;
        } geo{255, 63,
              static_cast<unsigned short>(std::min<uint64_t>(size / (255 * 63 * 512), 65535)),
              static_cast<unsigned long>(node_.start / 512)};
        return call.Write(RemotePtr<void>(arg), &geo, sizeof geo);
      }
    }
    return -ENOTTY;
  }

  DeviceNode node_;
  struct stat st_;
  int flags_;
  int64_t pos_ = 0;
};

// The nodes one plugin serves, and the path calls on them. Calls that name a node: open-like
// calls give a DeviceFile; stat/lstat/newfstatat/statx/access/faccessat(2) are answered here;
// statfs reports the parent directory's file system; readlink and truncate fail with EINVAL,
// chdir and rmdir with ENOTDIR, execve with EACCES, creating a name there (mkdir, mknod, link,
// symlink) with EEXIST, getxattr with ENODATA, listxattr returns 0 and other changes (unlink,
// rename, chmod, chown, utimes, setxattr...) fail with EPERM: the nodes are the view's, not
// files. A path below a node fails with ENOTDIR. Listings of a node's parent directory get the
// node names the host does not have at their end.
class DeviceTable {
 public:
  DeviceTable() : birth_(time(nullptr)) {}

  // Registers the routes (one mount per node, getdents64, scratch memory for descriptors).
  // Nodes added before or after are served.
  void Attach(Host& host) {
    host_ = &host;
    host.NeedScratch();
    host.ClaimSyscall(SYS_getdents64);
    for (const auto& [path, n] : nodes_) host.AddMount(path);
    // A device node is neither a program nor an interpreter: an execve concerns the table only
    // if it names a node, which the prefilter's path rule sees.
    host.SetPrefilterExec(true);
  }

  // Adds or replaces a node. Returns false if `path` is not absolute.
  bool Add(DeviceNode node) {
    if (node.path.empty() || node.path[0] != '/' || !node.device) return false;
    std::string path = node.path;
    if (host_ != nullptr && !nodes_.count(path)) host_->AddMount(path);
    nodes_[path] = std::move(node);
    return true;
  }
  void Remove(const std::string& path) {
    if (nodes_.erase(path) && host_ != nullptr) host_->RemoveMount(path);
  }
  const DeviceNode* Find(const std::string& path) const {
    auto it = nodes_.find(path);
    return it == nodes_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, DeviceNode>& nodes() const { return nodes_; }

  // From Plugin::OnEntry. Returns true if the call was about a node (and is completed or
  // rewritten).
  bool OnEntry(Call& call) {
    if (call.nr() == SYS_getdents64) {
      ListEntry(call);
      return false;
    }
    const SyscallInfo* info = call.info();
    if (info == nullptr || !(info->classes & kClassPath)) return false;
    for (int i = 0; i < info->nargs; ++i) {
      if (info->args[i] != Arg::kPath) continue;
      const std::string* p = call.Path(i);
      if (p == nullptr) continue;
      auto it = nodes_.find(*p);
      if (it != nodes_.end()) {
        PathCall(call, i, it->second);
        return true;
      }
      for (size_t s = p->find('/', 1); s != std::string::npos; s = p->find('/', s + 1)) {
        if (nodes_.count(p->substr(0, s))) {
          call.Fail(ENOTDIR);
          return true;
        }
      }
    }
    return false;
  }

  // From Plugin::OnExit.
  void OnExit(Call& call) {
    if (call.nr() == SYS_getdents64) ListExit(call);
  }

  void OnTaskExit(pid_t tid) { listing_.erase(tid); }

 private:
  struct stat ParentStat(const DeviceNode& n) const {
    struct stat parent {};
    stat(device_detail::Parent(n.path).c_str(), &parent);
    return parent;
  }

  struct stat NodeStat(const DeviceNode& n) const {
    struct stat st;
    device_detail::NodeStat(n, ParentStat(n), birth_, &st);
    return st;
  }

  void PathCall(Call& call, int arg, const DeviceNode& n) {
    int nr = call.nr();
    switch (nr) {
      case SYS_open:
        return Open(call, n, static_cast<int>(call.arg(1)));
      case SYS_openat:
        return Open(call, n, static_cast<int>(call.arg(2)));
      case SYS_creat:
        return Open(call, n, O_WRONLY | O_CREAT | O_TRUNC);
      case SYS_openat2: {
        uint64_t flags = 0;
        if (call.arg(3) < sizeof flags ||
            call.Read(RemotePtr<void>(call.arg(2)), &flags, sizeof flags) != 0) {
          return call.Fail(call.arg(3) < sizeof flags ? EINVAL : EFAULT);
        }
        return Open(call, n, static_cast<int>(flags));
      }
      case SYS_stat:
      case SYS_lstat:
        return PutStat(call, n, call.arg(1));
      case SYS_newfstatat:
        return PutStat(call, n, call.arg(2));
      case SYS_statx: {
        struct stat st = NodeStat(n);
        struct statx sx;
        device_detail::NodeStatx(st, &sx);
        return call.Return(call.Write(RemotePtr<void>(call.arg(4)), &sx, sizeof sx));
      }
      case SYS_access:
        return Access(call, n, static_cast<int>(call.arg(1)));
      case SYS_faccessat:
      case SYS_faccessat2:
        return Access(call, n, static_cast<int>(call.arg(2)));
      case SYS_statfs: {
        int r = call.SetPath(arg, device_detail::Parent(n.path));
        if (r < 0) call.Fail(-r);
        return;
      }
      case SYS_readlink:
      case SYS_readlinkat:
      case SYS_truncate:
        return call.Fail(EINVAL);
      case SYS_chdir:
      case SYS_rmdir:
        return call.Fail(ENOTDIR);
      case SYS_unlinkat:
        return call.Fail(call.arg(2) & AT_REMOVEDIR ? ENOTDIR : EPERM);
      case SYS_execve:
      case SYS_execveat:
        return call.Fail(EACCES);
      case SYS_mkdir:
      case SYS_mkdirat:
      case SYS_mknod:
      case SYS_mknodat:
      case SYS_symlink:
      case SYS_symlinkat:
        return call.Fail(EEXIST);
      case SYS_link:
      case SYS_linkat:
        // The new name is the last path argument.
        return call.Fail((nr == SYS_link ? arg == 1 : arg == 3) ? EEXIST : EPERM);
      case SYS_getxattr:
      case SYS_lgetxattr:
        return call.Fail(ENODATA);
      case SYS_listxattr:
      case SYS_llistxattr:
        return call.Return(0);
    }
    call.Fail(EPERM);
  }

  void PutStat(Call& call, const DeviceNode& n, uint64_t addr) {
    struct stat st = NodeStat(n);
    call.Return(call.Write(RemotePtr<void>(addr), &st, sizeof st));
  }

  // The view's user owns the nodes: the owner bits decide.
  void Access(Call& call, const DeviceNode& n, int mode) {
    if ((mode & R_OK && !(n.perm & S_IRUSR)) || (mode & W_OK && !(n.perm & S_IWUSR)) ||
        (mode & X_OK && !(n.perm & S_IXUSR))) {
      return call.Fail(EACCES);
    }
    call.Return(0);
  }

  void Open(Call& call, const DeviceNode& n, int flags) {
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return call.Fail(EEXIST);
    if (flags & O_DIRECTORY) return call.Fail(ENOTDIR);
    int acc = flags & O_ACCMODE;
    if (!(flags & O_PATH)) {
      if ((acc != O_WRONLY && !(n.perm & S_IRUSR)) || (acc != O_RDONLY && !(n.perm & S_IWUSR))) {
        return call.Fail(EACCES);
      }
      int r = n.device->Open(flags);
      if (r < 0) return call.Fail(-r);
    }
    int r = call.ReturnFile(std::make_shared<DeviceFile>(n, NodeStat(n), flags), flags);
    if (r < 0) call.Fail(-r);
  }

  // getdents64 on a directory holding nodes: at the kernel's end of the directory, the node
  // names the host does not have are added, over as many calls as the buffer needs (a new pass
  // is recognised by the kernel returning entries again).
  struct Listing {
    int fd = -1;
    std::string dir;
    struct Entry {
      std::string name;
      uint64_t ino;
      unsigned char type;
    };
    std::vector<Entry> extra;
  };

  void ListEntry(Call& call) {
    int fd = static_cast<int>(call.arg(0));
    char link[64], buf[4096];
    snprintf(link, sizeof link, "/proc/%d/fd/%d", call.tid(), fd);
    ssize_t len = readlink(link, buf, sizeof buf - 1);
    if (len <= 0 || buf[0] != '/') return;
    std::string dir(buf, len);
    Listing l;
    for (const auto& [path, n] : nodes_) {
      if (device_detail::Parent(path) != dir) continue;
      struct stat st;
      if (lstat(path.c_str(), &st) == 0) continue;  // the kernel lists it already
      l.extra.push_back(
          {device_detail::Base(path), device_detail::NodeInode(path),
           static_cast<unsigned char>(n.type == DeviceType::kBlock ? DT_BLK : DT_CHR)});
    }
    if (l.extra.empty()) return;
    l.fd = fd;
    l.dir = std::move(dir);
    listing_[call.tid()] = std::move(l);
    call.RequestExit();
  }

  void ListExit(Call& call) {
    auto it = listing_.find(call.tid());
    if (it == listing_.end()) return;
    Listing l = std::move(it->second);
    listing_.erase(it);
    int64_t n = call.result();
    auto key = std::make_tuple(call.pid(), l.fd, l.dir);
    if (n != 0) {
      if (n > 0) cursor_.erase(key);  // the kernel lists entries again: a new pass
      return;
    }
    auto cur = cursor_.find(key);
    size_t start = cur == cursor_.end() ? 0 : cur->second;
    if (start >= l.extra.size()) {
      if (cur != cursor_.end()) cursor_.erase(cur);  // this pass is over: a real end
      return;
    }
    size_t size = call.arg(2);
    std::vector<char> out;
    size_t i = start;
    for (; i < l.extra.size(); ++i) {
      const std::string& name = l.extra[i].name;
      size_t reclen = (offsetof(struct dirent64, d_name) + name.size() + 1 + 7) & ~size_t{7};
      if (out.size() + reclen > size) break;
      std::vector<char> rec(reclen, 0);
      auto* e = reinterpret_cast<struct dirent64*>(rec.data());
      e->d_ino = l.extra[i].ino;
      e->d_off = static_cast<int64_t>((1LL << 41) + i + 1);
      e->d_reclen = static_cast<unsigned short>(reclen);
      e->d_type = l.extra[i].type;
      memcpy(e->d_name, name.c_str(), name.size() + 1);
      out.insert(out.end(), rec.begin(), rec.end());
    }
    if (out.empty()) return call.SetResult(-EINVAL);  // the buffer cannot hold one entry
    if (call.Write(RemotePtr<void>(call.arg(1)), out.data(), out.size()) != 0) return;
    cursor_[key] = i;
    call.SetResult(static_cast<int64_t>(out.size()));
  }

  Host* host_ = nullptr;
  time_t birth_;
  std::map<std::string, DeviceNode> nodes_;
  std::unordered_map<pid_t, Listing> listing_;
  std::map<std::tuple<pid_t, int, std::string>, size_t> cursor_;
};

}  // namespace umview
