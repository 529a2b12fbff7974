// FUSE in a view; see fuse_client.h. Every call under a FUSE mount is deferred (Call::Defer)
// and finished from the reply: the tracer never blocks on the FUSE program, which is itself a
// tracee and may make trapped calls (or wait for its own worker threads) before it answers.
#include "plugins/viewfs/fuse_client.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/kcmp.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <set>

#include "umview/move.h"
#include "umview/paths.h"

namespace umview::viewfs {
namespace {

constexpr uint32_t kProtoMinor = 31;  // what we offer; the program may answer lower
constexpr size_t kMaxRead = 128 * 1024;
// Read-only opens and execs of regular files up to this size get a sealed memfd copy.
constexpr uint64_t kSnapshotMax = 64 << 20;
constexpr size_t kMaxReply = 4 * 1024 * 1024;
constexpr int kMaxLinks = 40;
// Since 7.28 a request's unique is even and its INTERRUPT's unique is the same with bit 0 set
// (FUSE_INT_REQ_BIT, which older headers lack).
constexpr uint64_t kIntReqBit = 1;

// The tracee's pipe `fd`, opened anew without blocking (same pipe, own flags), or -errno.
int OpenTraceePipe(pid_t tid, int fd, int mode) {
  std::string p = "/proc/" + std::to_string(tid) + "/fd/" + std::to_string(fd);
  struct stat st {};
  if (stat(p.c_str(), &st) != 0) return -EBADF;
  if (!S_ISFIFO(st.st_mode)) return -EINVAL;
  int r = open(p.c_str(), mode | O_NONBLOCK | O_CLOEXEC);
  return r < 0 ? -errno : r;
}

bool IsTraceePipe(pid_t tid, int fd) {
  int p = OpenTraceePipe(tid, fd, O_RDONLY);
  if (p < 0) return false;
  close(p);
  return true;
}

// A request spliced from the device: all of it goes into the pipe or the splice fails (EIO, as
// the kernel's when the pipe lacks room).
int64_t PutInTraceePipe(pid_t tid, int fd, const std::string& req) {
  int p = OpenTraceePipe(tid, fd, O_WRONLY);
  if (p < 0) return p;
  ssize_t n = write(p, req.data(), req.size());
  int err = errno;
  close(p);
  if (n < 0) return err == EAGAIN ? -EIO : -err;
  return static_cast<size_t>(n) == req.size() ? n : -EIO;
}

// A reply spliced to the device: up to `max` bytes read from the pipe.
int64_t TakeFromTraceePipe(pid_t tid, int fd, size_t max, std::string* out) {
  int p = OpenTraceePipe(tid, fd, O_RDONLY);
  if (p < 0) return p;
  out->resize(max);
  ssize_t n = read(p, out->data(), max);
  int err = errno;
  close(p);
  if (n < 0) return -err;
  out->resize(static_cast<size_t>(n));
  return n;
}

struct Creds {
  uint32_t uid = 0, gid = 0, pid = 0;
  mode_t umask = 022;
};

using ReplyFn = std::function<void(int err, const std::string& payload)>;

std::vector<std::string> Components(const std::string& rel) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    if (j > i) out.push_back(rel.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string JoinRel(const std::string& a, const std::string& b) {
  return a.empty() ? b : b.empty() ? a : a + "/" + b;
}

std::string ParentRel(const std::string& rel) {
  size_t k = rel.rfind('/');
  return k == std::string::npos ? "" : rel.substr(0, k);
}

template <typename T>
void Append(std::string* s, const T& v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// The struct a reply carries, zero-filled when the program sent a shorter (older) one.
template <typename T>
T Take(const std::string& payload, size_t at = 0) {
  T v{};
  if (payload.size() > at) memcpy(&v, payload.data() + at, std::min(sizeof v, payload.size() - at));
  return v;
}

// fuse_attr.rdev is the kernel's "new" device encoding.
dev_t DecodeDev(uint32_t r) {
  return makedev((r >> 8) & 0xfff, (r & 0xff) | ((r >> 12) & 0xfff00));
}
int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint32_t EncodeDev(dev_t d) {
  uint32_t ma = major(d), mi = minor(d);
  return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

}  // namespace

// One connection: a /dev/fuse opened in the view, and the mount made with it.
struct FuseConn {
  uint64_t seq = 0;
  std::deque<std::string> queue;  // requests the program has not read yet
  struct Reader {
    uint64_t token;
    uint64_t buf;
    size_t size;
    int pipe = -1;  // splice(device, pipe): the tracee's pipe descriptor the request goes into
  };
  std::deque<Reader> readers;            // the program's reads waiting for a request
  std::map<uint64_t, ReplyFn> waiting;   // by unique
  std::map<uint64_t, uint64_t> owner;    // unique -> the deferred call (token) it serves
  bool no_interrupt = false;             // INTERRUPT answered ENOSYS once
  std::set<uint64_t> interrupt_on_send;  // interrupted before the program read them
  uint64_t NextUnique() { return seq += 2; }
  bool init_queued = false, initialized = false;
  bool dead = false;       // the program closed the device: calls get ENOTCONN
  bool unmounted = false;  // the program's reads get ENODEV
  uint32_t max_write = 4096;
  bool no_access = false;    // ACCESS answered ENOSYS once
  bool readdirplus = false;  // the program does READDIRPLUS (FUSE_DO_READDIRPLUS in INIT)
  // Attributes cached from READDIRPLUS are good until their timeout and while no request that
  // changes the file system has been sent since (attr_gen then moves on).
  uint64_t attr_gen = 0;
  std::set<pid_t> servers;  // processes that read requests: the FUSE program
  uint32_t minor = 0;
  uint64_t ino = 0;   // inode of the device's FIFO, once known
  std::string point;  // view mount point ("" until mounted)
  std::string was;    // where it was mounted, after the unmount
  dev_t dev = 0;      // st_dev shown for its files
  struct Node {
    uint64_t id;
    uint64_t nlookup;
    uint32_t mode;
    fuse_attr attr{};         // from READDIRPLUS, usable while Fresh()
    int64_t valid_until = 0;  // CLOCK_MONOTONIC ns
    uint64_t gen = 0;         // attr_gen when cached
  };
  bool Fresh(const Node& n) const {
    return n.valid_until != 0 && n.gen == attr_gen && MonotonicNs() < n.valid_until;
  }
  std::map<std::string, Node> nodes;  // by path below the mount point
  // Nodes with open files (OPEN/OPENDIR answered, RELEASE not sent yet), and the lookups to
  // FORGET once their last file is released: as the kernel, which keeps an inode while a file
  // is open on it, a node removed by unlink/rmdir is not forgotten before its RELEASE, which
  // names it (libfuse aborts on a request for a node it no longer knows).
  std::map<uint64_t, int> open_files;
  std::map<uint64_t, uint64_t> forget_after_release;
  // RELEASEs sent and not answered, and the unlink/rmdir/rename requests held until they are:
  // libfuse's high-level API hides a removed or replaced name that is still open (renames it to
  // .fuse_hidden*) and counts a file open until its release handler has returned, so a rename
  // served by one thread while another still serves the RELEASE of the close just before would
  // see the target open (a RENAME_NOREPLACE over it then succeeded). The kernel sends RELEASE
  // when the file is closed, so the window is small there; here the close is noticed at the
  // next stop, right before the request that follows it.
  int releases_in_flight = 0;
  std::deque<std::function<void()>> held;
};

namespace {

struct Looked {
  int err = 0;
  uint64_t parent = FUSE_ROOT_ID;
  std::string name;  // last component ("" for the root)
  std::string rel;   // resolved path below the mount point
  uint64_t id = 0;   // 0: not looked up (or ENOENT)
  fuse_attr attr{};
  std::string outside;  // a symlink led out of the mount: this view path instead
};

}  // namespace

class FuseFile;

struct FuseClient::Impl {
  Impl(Host& h, BaseFn b) : host(h), base(std::move(b)) {}
  Host& host;
  BaseFn base;
  std::vector<std::shared_ptr<FuseConn>> conns;
  std::map<pid_t, std::shared_ptr<FuseConn>> opening_dev;   // open of /dev/fuse in flight
  std::map<pid_t, std::shared_ptr<FuseFile>> opening_file;  // open of a FUSE file in flight
  std::map<uint64_t, std::weak_ptr<FuseFile>> files_by_ino;
  uint32_t next_dev = 0;
  // Interrupts (FUSE_INTERRUPT): the deferred call on whose behalf requests are sent now (0:
  // none; set while a call handler runs after DeferCall, and while a reply's callback runs),
  // and the calls whose thread got a signal meanwhile.
  uint64_t ctx = 0;
  std::map<uint64_t, bool> interrupted;  // token -> by a signal that ends the process
  struct CtxScope {
    CtxScope(Impl* i, uint64_t token) : impl(i), saved(i->ctx) { i->ctx = token; }
    ~CtxScope() { impl->ctx = saved; }
    Impl* impl;
    uint64_t saved;
  };
  // Call::Defer for a call answered from FUSE replies: a signal to the waiting thread
  // interrupts its requests (Interrupt), and the requests sent from here on serve it.
  uint64_t DeferCall(Call& call) {
    uint64_t token = call.Defer();
    if (token == 0) return 0;
    host.WatchSignal(token, [this, token](int, bool fatal) { Interrupt(token, fatal); });
    ctx = token;
    return token;
  }
  // View cwds of tasks whose cwd is in a FUSE mount (the kernel cwd is left where it was): one
  // record per fs_struct as the kernel's, shared by the tasks made with CLONE_FS (threads), so
  // that a chdir by one is seen by all of them; "" when the kernel's cwd is the cwd.
  std::map<pid_t, std::shared_ptr<std::string>> cwd;
  std::string CwdOf(pid_t tid) const {
    auto it = cwd.find(tid);
    return it == cwd.end() ? "" : *it->second;
  }
  void SetCwd(pid_t tid, std::string view) {
    auto& rec = cwd[tid];
    if (!rec) rec = std::make_shared<std::string>();
    *rec = std::move(view);
  }
  void EndCwd(pid_t tid) {
    if (auto it = cwd.find(tid); it != cwd.end()) it->second->clear();
  }
  std::set<pid_t> leaving;  // a chdir/fchdir out of a view cwd in flight (exit requested)

  bool CwdCall(Call& call);
  // memfd copies handed to the kernel by path (/proc/<umview>/fd/N) for an open or an exec in
  // flight: closed at its exit.
  std::map<pid_t, int> opening_memfd;
  ~Impl() {
    for (auto& [tid, fd] : opening_memfd) close(fd);
  }
  void Snapshot(const std::shared_ptr<FuseConn>& c, const Creds& cr, uint64_t node, uint64_t fh,
                std::function<void(int err, int fd)> done);
  void GiveMemfd(uint64_t token, int fd, int path_arg, int flags_arg);
  void RunScript(uint64_t token, std::string line, std::string raw, bool at);
  void ExecFuse(Call& call, const std::shared_ptr<FuseConn>& c, const std::string& rel,
                uint64_t token);
  void ChdirFuse(Call& call, const std::shared_ptr<FuseConn>& c, const std::string& rel,
                 uint64_t token);

  // --- the protocol ----------------------------------------------------------------------
  void Send(const std::shared_ptr<FuseConn>& c, uint32_t opcode, uint64_t nodeid, const Creds& cr,
            const std::string& body, ReplyFn cb) {
    if (c->dead || c->unmounted) {
      if (cb) cb(-ENOTCONN, "");
      return;
    }
    const bool removes = opcode == FUSE_UNLINK || opcode == FUSE_RMDIR || opcode == FUSE_RENAME ||
                         opcode == FUSE_RENAME2;
    if (removes && c->releases_in_flight > 0) {
      c->held.push_back([this, c, opcode, nodeid, cr, body, cb, on_behalf = ctx] {
        CtxScope scope(this, on_behalf);
        Send(c, opcode, nodeid, cr, body, cb);
      });
      return;
    }
    switch (opcode) {
      case FUSE_SETATTR:
      case FUSE_WRITE:
      case FUSE_CREATE:
      case FUSE_MKNOD:
      case FUSE_MKDIR:
      case FUSE_UNLINK:
      case FUSE_RMDIR:
      case FUSE_RENAME:
      case FUSE_RENAME2:
      case FUSE_LINK:
      case FUSE_SYMLINK:
      case FUSE_SETXATTR:
      case FUSE_REMOVEXATTR:
      case FUSE_FALLOCATE:
        ++c->attr_gen;  // what READDIRPLUS told may be out of date now
        break;
      default:
        break;
    }
    auto intr = cb && ctx != 0 ? interrupted.find(ctx) : interrupted.end();
    if (intr != interrupted.end() && intr->second) {
      return cb(-EINTR, "");  // the caller is dying of its signal: nothing more to ask
    }
    fuse_in_header h{};
    h.len = static_cast<uint32_t>(sizeof h + body.size());
    h.opcode = opcode;
    h.unique = c->NextUnique();
    h.nodeid = nodeid;
    h.uid = cr.uid;
    h.gid = cr.gid;
    h.pid = cr.pid;
    std::string req;
    Append(&req, h);
    req += body;
    if (cb && ctx != 0) c->owner[h.unique] = ctx;
    // A request of an interrupted call is interrupted as soon as the program reads it, as in
    // the kernel (the signal is still pending when the call asks it).
    if (intr != interrupted.end() && !c->no_interrupt) c->interrupt_on_send.insert(h.unique);
    if (opcode != FUSE_FORGET)
      c->waiting[h.unique] = cb ? std::move(cb) : [](int, const std::string&) {};
    c->queue.push_back(std::move(req));
    Deliver(c);
  }

  // Hands queued requests to waiting reads of the program. Until INIT is answered only INIT
  // goes out (a library answers other requests before INIT with EIO).
  void Deliver(const std::shared_ptr<FuseConn>& c) {
    while (!c->readers.empty() && !c->queue.empty()) {
      const std::string& next = c->queue.front();
      uint32_t op = Take<fuse_in_header>(next).opcode;
      if (!c->initialized && op != FUSE_INIT) break;
      FuseConn::Reader r = c->readers.front();
      c->readers.pop_front();
      std::string req = std::move(c->queue.front());
      c->queue.pop_front();
      if (op == FUSE_INTERRUPT) {
        host.Log(LogLevel::kDebug,
                 "FUSE " + c->point + ": INTERRUPT of request " +
                     std::to_string(Take<fuse_interrupt_in>(req, sizeof(fuse_in_header)).unique) +
                     " to the program");
      }
      const bool taken = host.Resume(r.token, [req, r](Call& call) {
        if (req.size() > r.size) return call.Fail(EINVAL);
        if (r.pipe >= 0) return call.Return(PutInTraceePipe(call.tid(), r.pipe, req));
        if (call.Write(RemotePtr<void>(r.buf), req.data(), req.size()) != 0) {
          return call.Fail(EFAULT);
        }
        call.Return(static_cast<int64_t>(req.size()));
      });
      // A reader that is gone (killed, or its read already ended) must not take the request
      // with it: the next reader gets it.
      const uint64_t unique = Take<fuse_in_header>(req).unique;
      if (!taken) {
        c->queue.push_front(std::move(req));
      } else if (c->interrupt_on_send.erase(unique)) {
        c->queue.push_front(InterruptRequest(unique));  // the next reader takes it
      }
    }
    if (c->unmounted && c->queue.empty()) {
      auto readers = std::move(c->readers);
      c->readers.clear();
      for (const auto& r : readers) host.Resume(r.token, [](Call& call) { call.Fail(ENODEV); });
    }
  }

  void FailAll(const std::shared_ptr<FuseConn>& c, int err) {
    auto waiting = std::move(c->waiting);
    auto owner = std::move(c->owner);
    c->waiting.clear();
    c->owner.clear();
    c->queue.clear();
    c->interrupt_on_send.clear();
    for (auto& [u, cb] : waiting) {
      auto o = owner.find(u);
      CtxScope scope(this, o == owner.end() ? 0 : o->second);
      cb(-err, "");
    }
  }

  // The thread waiting in deferred call `token` got a signal. As the kernel does: the program
  // gets FUSE_INTERRUPT for the call's requests it has read, and for the others (and those the
  // call asks later) right after it reads them; the call finishes with whatever the replies
  // say (EINTR from a program that gave up, or the result if it completed). A signal ending the
  // process does not wait for the program (the kernel kills such a waiter): the requests not
  // read yet are withdrawn and the call ends with EINTR at once.
  void Interrupt(uint64_t token, bool fatal) {
    interrupted[token] = fatal;
    for (const auto& c : std::vector<std::shared_ptr<FuseConn>>(conns)) {
      std::vector<uint64_t> mine;
      for (const auto& [u, t] : c->owner) {
        if (t == token) mine.push_back(u);
      }
      if (!mine.empty()) {
        host.Log(LogLevel::kDebug, "FUSE " + c->point + ": a signal interrupts call " +
                                       std::to_string(token) + " (" + std::to_string(mine.size()) +
                                       " request(s))" + (fatal ? ", fatal" : ""));
      }
      for (uint64_t u : mine) {
        auto q = std::find_if(c->queue.begin(), c->queue.end(), [u](const std::string& r) {
          return Take<fuse_in_header>(r).unique == u;
        });
        if (q == c->queue.end()) {
          if (!c->no_interrupt) SendInterrupt(c, u);
          continue;
        }
        if (!fatal) {
          // Not read yet: it goes out, and its INTERRUPT right after it (kernel: FR_INTERRUPTED
          // is seen when the request is read).
          if (!c->no_interrupt) c->interrupt_on_send.insert(u);
          continue;
        }
        c->queue.erase(q);
        c->owner.erase(u);
        auto w = c->waiting.find(u);
        if (w == c->waiting.end()) continue;
        ReplyFn cb = std::move(w->second);
        c->waiting.erase(w);
        CtxScope scope(this, token);
        cb(-EINTR, "");
      }
    }
    if (fatal) host.Resume(token, [](Call& call) { call.Fail(EINTR); });
  }

  // FUSE_INTERRUPT for request `unique` (read by the program already). It goes before the
  // requests queued, as the kernel's interrupt queue does; it has no reply unless the program
  // answers ENOSYS (it does not do interrupts) or EAGAIN (ask again).
  void SendInterrupt(const std::shared_ptr<FuseConn>& c, uint64_t unique) {
    c->queue.push_front(InterruptRequest(unique));
    Deliver(c);
  }
  static std::string InterruptRequest(uint64_t unique) {
    fuse_interrupt_in in{};
    in.unique = unique;
    fuse_in_header h{};
    h.len = sizeof h + sizeof in;
    h.opcode = FUSE_INTERRUPT;
    h.unique = unique | kIntReqBit;
    std::string req;
    Append(&req, h);
    Append(&req, in);
    return req;
  }

  // Calls waiting on the mount fail; the program gets DESTROY, then ENODEV from its reads.
  // `done` runs once the program has answered DESTROY (it has written back what it buffered),
  // or at once if it cannot be asked.
  void Unmount(const std::shared_ptr<FuseConn>& c, const Creds& cr, std::function<void()> done) {
    c->unmounted = true;
    c->was = c->point;
    c->point.clear();
    FailAll(c, ENOTCONN);
    if (c->initialized && !c->dead) {
      fuse_in_header h{};
      h.len = sizeof h;
      h.opcode = FUSE_DESTROY;
      h.unique = c->NextUnique();
      h.uid = cr.uid, h.gid = cr.gid, h.pid = cr.pid;
      std::string req;
      Append(&req, h);
      c->waiting[h.unique] = [done](int, const std::string&) { done(); };
      c->queue.push_back(req);
      Deliver(c);  // the next read takes DESTROY, the ones after get ENODEV
      return;
    }
    Deliver(c);
    done();
  }

  void DeviceGone(const std::shared_ptr<FuseConn>& c) {
    c->dead = true;
    FailAll(c, ENOTCONN);
  }

  // A reply written by the program: returns 0 or -errno for its write().
  int Reply(const std::shared_ptr<FuseConn>& c, const std::string& msg) {
    if (msg.size() < sizeof(fuse_out_header)) return -EINVAL;
    fuse_out_header h = Take<fuse_out_header>(msg);
    if (h.len != msg.size()) return -EINVAL;
    if (h.unique == 0) return 0;  // a notification: nothing we cache needs it
    if (h.unique & kIntReqBit) {
      // The answer to an INTERRUPT: the program cannot interrupt, or asks to be asked again.
      const uint64_t orig = h.unique & ~kIntReqBit;
      if (!c->waiting.count(orig)) return -ENOENT;
      if (h.error == -ENOSYS) c->no_interrupt = true;
      if (h.error == -EAGAIN) SendInterrupt(c, orig);
      return 0;
    }
    auto it = c->waiting.find(h.unique);
    if (it == c->waiting.end()) return -ENOENT;
    ReplyFn cb = std::move(it->second);
    c->waiting.erase(it);
    uint64_t token = 0;
    if (auto o = c->owner.find(h.unique); o != c->owner.end()) {
      token = o->second;
      c->owner.erase(o);
    }
    if (h.error > 0 || h.error < -4095) h.error = -EIO;
    CtxScope scope(this, token);
    cb(h.error, msg.substr(sizeof h));
    return 0;
  }

  void QueueInit(const std::shared_ptr<FuseConn>& c) {
    fuse_init_in in{};
    in.major = FUSE_KERNEL_VERSION;
    in.minor = kProtoMinor;
    in.max_readahead = kMaxRead;
    in.flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC | FUSE_DO_READDIRPLUS;
    std::string body;
    Append(&body, in);
    c->init_queued = true;
    std::weak_ptr<FuseConn> w = c;
    Send(c, FUSE_INIT, 0, Creds{}, body, [this, w](int err, const std::string& p) {
      auto c = w.lock();
      if (!c) return;
      fuse_init_out out = Take<fuse_init_out>(p);
      if (err != 0 || out.major != FUSE_KERNEL_VERSION) {
        host.Log(LogLevel::kWarning, "FUSE program at " + c->point + " refused INIT");
        DeviceGone(c);
        return;
      }
      c->minor = out.minor;
      c->max_write = std::max<uint32_t>(4096, out.max_write);
      c->readdirplus = out.minor >= 21 && (out.flags & FUSE_DO_READDIRPLUS);
      c->initialized = true;
      Deliver(c);
    });
  }

  // --- paths ------------------------------------------------------------------------------
  std::shared_ptr<FuseConn> MountFor(const std::string& view, std::string* rel) const {
    std::shared_ptr<FuseConn> best;
    for (const auto& c : conns) {
      if (c->point.empty() || !PathUnder(view, c->point)) continue;
      if (!best || c->point.size() > best->point.size()) best = c;
    }
    if (best && rel)
      *rel = view.size() > best->point.size()
                 ? view.substr(best->point.size() + (best->point == "/" ? 0 : 1))
                 : "";
    return best;
  }

  std::shared_ptr<FuseFile> FileByFd(Call& call, int fd);
  // True if process `pid` has a descriptor on the FIFO with inode `ino`.
  static bool Holds(pid_t pid, uint64_t ino) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    std::string want = "pipe:[" + std::to_string(ino) + "]";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return false;
    bool found = false;
    while (dirent* e = readdir(d)) {
      char buf[64];
      ssize_t n = readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
      if (n > 0 && std::string(buf, n) == want) found = true;
    }
    closedir(d);
    return found;
  }

  // The view path of path argument i, lexically (symlinks under a FUSE mount are the FUSE
  // client's to follow; a symlink on the host leading into a FUSE mount is not seen).
  bool ViewPath(Call& call, int i, std::string* raw, std::string* view);

  void Lookup(const std::shared_ptr<FuseConn>& c, const Creds& cr, const std::string& rel,
              bool follow_last, std::function<void(Looked)> cb) {
    auto st = std::make_shared<std::pair<std::deque<std::string>, int>>();
    for (auto& s : Components(rel)) st->first.push_back(std::move(s));
    st->second = 0;
    Step(c, cr, st, "", FUSE_ROOT_ID, follow_last, std::move(cb));
  }

  // One component of a walk. `done` is the resolved path so far, `id` its node.
  void Step(const std::shared_ptr<FuseConn>& c, const Creds& cr,
            std::shared_ptr<std::pair<std::deque<std::string>, int>> st, std::string done,
            uint64_t id, bool follow_last, std::function<void(Looked)> cb) {
    auto& todo = st->first;
    while (!todo.empty() && (todo.front() == "." || todo.front() == "..")) {
      if (todo.front() == "..") {
        if (done.empty()) {  // above the mount point: back in the host's tree
          std::string rest;
          for (auto& s : todo) rest += "/" + s;
          Looked l;
          l.outside = NormalizePath(c->point + "/" + rest);
          return cb(l);
        }
        done = ParentRel(done);
        id = done.empty() ? FUSE_ROOT_ID : c->nodes[done].id;
      }
      todo.pop_front();
    }
    if (todo.empty()) {
      // The path names a directory already resolved (or the root): its attributes.
      std::string body;
      Append(&body, fuse_getattr_in{});
      Send(c, FUSE_GETATTR, id, cr, body, [cb, id, done](int err, const std::string& p) {
        Looked l;
        l.err = -err;
        l.id = id;
        l.rel = done;
        l.name = done.empty() ? "" : done.substr(done.rfind('/') + 1);
        l.attr = Take<fuse_attr_out>(p).attr;
        cb(l);
      });
      return;
    }
    std::string name = todo.front();
    todo.pop_front();
    bool last = todo.empty();
    std::string rel = JoinRel(done, name);
    if (!last) {
      auto it = c->nodes.find(rel);
      if (it != c->nodes.end() && S_ISDIR(it->second.mode)) {
        return Step(c, cr, st, rel, it->second.id, follow_last, std::move(cb));
      }
    } else if (auto it = c->nodes.find(rel); it != c->nodes.end() && c->Fresh(it->second) &&
                                             !(S_ISLNK(it->second.mode) && follow_last)) {
      // Listed by READDIRPLUS a moment ago (`ls -l`): no LOOKUP, as the kernel's dentry and
      // attribute caches would answer.
      Looked l;
      l.parent = id;
      l.name = name;
      l.rel = rel;
      l.id = it->second.id;
      l.attr = it->second.attr;
      return cb(l);
    }
    std::string body = name + '\0';
    std::weak_ptr<FuseConn> w = c;
    Send(c, FUSE_LOOKUP, id, cr, body,
         [this, w, cr, st, done, id, name, rel, last, follow_last, cb](int err,
                                                                       const std::string& p) {
           auto c = w.lock();
           Looked l;
           l.parent = id;
           l.name = name;
           l.rel = rel;
           if (!c) return (void)(l.err = ENOTCONN, cb(l));
           fuse_entry_out e = Take<fuse_entry_out>(p);
           if (err == 0 && e.nodeid == 0) err = -ENOENT;  // a negative entry
           if (err != 0) {
             l.err = -err;
             if (l.err == ENOENT && !last) l.err = ENOENT;
             return cb(l);
           }
           Remember(c, rel, e);
           const uint32_t mode = e.attr.mode;
           if (S_ISLNK(mode) && (!last || follow_last)) {
             if (++st->second > kMaxLinks) return (void)(l.err = ELOOP, cb(l));
             Send(c, FUSE_READLINK, e.nodeid, cr, "",
                  [this, w, cr, st, done, id, follow_last, cb](int err, const std::string& t) {
                    auto c = w.lock();
                    if (!c || err != 0 || t.empty()) {
                      Looked l;
                      l.err = !c ? ENOTCONN : err != 0 ? -err : ENOENT;
                      return cb(l);
                    }
                    std::string target = t;
                    if (target[0] == '/') {
                      std::string rest;
                      for (auto& s : st->first) rest += "/" + s;
                      std::string v = NormalizePath(target + rest);
                      std::string inner;
                      if (MountFor(v, &inner) == c) {
                        return Lookup(c, cr, inner, follow_last, cb);
                      }
                      Looked l;
                      l.outside = v;
                      return cb(l);
                    }
                    auto parts = Components(target);
                    st->first.insert(st->first.begin(), parts.begin(), parts.end());
                    Step(c, cr, st, done, id, follow_last, cb);
                  });
             return;
           }
           if (last) {
             l.id = e.nodeid;
             l.attr = e.attr;
             return cb(l);
           }
           if (!S_ISDIR(mode)) return (void)(l.err = ENOTDIR, cb(l));
           Step(c, cr, st, rel, e.nodeid, follow_last, cb);
         });
  }

  // A LOOKUP (or an entry of READDIRPLUS, `listed`) gave node e.nodeid for `rel`: one more
  // lookup of it to FORGET later. Only listed entries keep their attributes (until their
  // timeout), as only `ls -l` gains from it.
  void Remember(const std::shared_ptr<FuseConn>& c, const std::string& rel, const fuse_entry_out& e,
                bool listed = false) {
    auto it = c->nodes.find(rel);
    if (it != c->nodes.end() && it->second.id != e.nodeid) {
      Forget(c, it->second);
      it = c->nodes.end();
      c->nodes.erase(rel);
    }
    if (it == c->nodes.end()) {
      it = c->nodes.emplace(rel, FuseConn::Node{e.nodeid, 1, e.attr.mode}).first;
    } else {
      ++it->second.nlookup;
      it->second.mode = e.attr.mode;
    }
    FuseConn::Node& n = it->second;
    n.valid_until = 0;
    if (listed) {
      const uint64_t secs = std::min(e.entry_valid, e.attr_valid);
      const uint32_t nsec = e.entry_valid < e.attr_valid ? e.entry_valid_nsec
                            : e.attr_valid < e.entry_valid
                                ? e.attr_valid_nsec
                                : std::min(e.entry_valid_nsec, e.attr_valid_nsec);
      if (secs > 0 || nsec > 0) {
        n.attr = e.attr;
        n.gen = c->attr_gen;
        n.valid_until = MonotonicNs() +
                        static_cast<int64_t>(std::min<uint64_t>(secs, 3600)) * 1000000000LL + nsec;
      }
    }
  }

  // A READDIRPLUS reply: each entry with a node counts as a LOOKUP of it (remembered, FORGET
  // later) and its attributes are kept for the stats that follow; "." and ".." are not
  // looked up (as the kernel, which neither links nor forgets them). Returns the entries as
  // READDIR would have given them; one cut off at the end of the reply is dropped.
  std::string Listed(const std::shared_ptr<FuseConn>& c, const std::string& dir,
                     const std::string& p) {
    std::string out;
    size_t at = 0;
    while (at + sizeof(fuse_direntplus) <= p.size()) {
      fuse_direntplus d;
      memcpy(&d, p.data() + at, sizeof d);
      const size_t whole = sizeof(fuse_direntplus) + d.dirent.namelen;
      if (d.dirent.namelen == 0 || d.dirent.namelen > 1024 || at + whole > p.size()) break;
      std::string name = p.substr(at + sizeof(fuse_direntplus), d.dirent.namelen);
      if (d.entry_out.nodeid != 0 && name != "." && name != ".." &&
          name.find('/') == std::string::npos) {
        Remember(c, JoinRel(dir, name), d.entry_out, true);
      }
      std::string rec(reinterpret_cast<const char*>(&d.dirent), sizeof(fuse_dirent));
      rec += name;
      rec.resize(FUSE_DIRENT_ALIGN(rec.size()), '\0');
      out += rec;
      at += FUSE_DIRENTPLUS_SIZE(&d);
    }
    return out;
  }

  void Forget(const std::shared_ptr<FuseConn>& c, const FuseConn::Node& n) {
    if (c->open_files.count(n.id)) {
      c->forget_after_release[n.id] += n.nlookup;
      return;
    }
    SendForget(c, n.id, n.nlookup);
  }

  void SendForget(const std::shared_ptr<FuseConn>& c, uint64_t id, uint64_t nlookup) {
    fuse_forget_in f{};
    f.nlookup = nlookup;
    std::string body;
    Append(&body, f);
    Send(c, FUSE_FORGET, id, Creds{}, body, nullptr);
  }

  void FileOpened(const std::shared_ptr<FuseConn>& c, uint64_t id) { ++c->open_files[id]; }

  // A RELEASE counted in releases_in_flight has been answered (or failed).
  void ReleaseAnswered(const std::shared_ptr<FuseConn>& c) {
    if (--c->releases_in_flight > 0) return;
    auto held = std::move(c->held);
    c->held.clear();
    for (auto& send : held) send();
  }

  // After the RELEASE of a file on node `id` has been answered.
  void FileReleased(const std::shared_ptr<FuseConn>& c, uint64_t id) {
    ReleaseAnswered(c);
    auto it = c->open_files.find(id);
    if (it == c->open_files.end() || --it->second > 0) return;
    c->open_files.erase(it);
    auto f = c->forget_after_release.find(id);
    if (f == c->forget_after_release.end()) return;
    uint64_t n = f->second;
    c->forget_after_release.erase(f);
    SendForget(c, id, n);
  }

  // A name removed or renamed: its nodes (and those below it) are looked up afresh next time.
  void Drop(const std::shared_ptr<FuseConn>& c, const std::string& rel) {
    for (auto it = c->nodes.begin(); it != c->nodes.end();) {
      if (it->first == rel ||
          (it->first.size() > rel.size() && it->first.compare(0, rel.size() + 1, rel + "/") == 0)) {
        Forget(c, it->second);
        it = c->nodes.erase(it);
      } else {
        ++it;
      }
    }
  }

  // --- results into the tracee --------------------------------------------------------------
  struct stat ToStat(const std::shared_ptr<FuseConn>& c, const fuse_attr& a) {
    struct stat st {};
    st.st_dev = c->dev;
    st.st_ino = a.ino;
    st.st_mode = a.mode;
    st.st_nlink = a.nlink;
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = DecodeDev(a.rdev);
    st.st_size = static_cast<off_t>(a.size);
    st.st_blksize = a.blksize ? a.blksize : 4096;
    st.st_blocks = static_cast<blkcnt_t>(a.blocks);
    st.st_atim = {static_cast<time_t>(a.atime), static_cast<long>(a.atimensec)};
    st.st_mtim = {static_cast<time_t>(a.mtime), static_cast<long>(a.mtimensec)};
    st.st_ctim = {static_cast<time_t>(a.ctime), static_cast<long>(a.ctimensec)};
    return st;
  }

  struct statx ToStatx(const std::shared_ptr<FuseConn>& c, const fuse_attr& a) {
    struct statx x {};
    x.stx_mask = STATX_BASIC_STATS;
    x.stx_blksize = a.blksize ? a.blksize : 4096;
    x.stx_nlink = a.nlink;
    x.stx_uid = a.uid;
    x.stx_gid = a.gid;
    x.stx_mode = static_cast<uint16_t>(a.mode);
    x.stx_ino = a.ino;
    x.stx_size = a.size;
    x.stx_blocks = a.blocks;
    x.stx_atime = {static_cast<int64_t>(a.atime), a.atimensec, 0};
    x.stx_mtime = {static_cast<int64_t>(a.mtime), a.mtimensec, 0};
    x.stx_ctime = {static_cast<int64_t>(a.ctime), a.ctimensec, 0};
    dev_t r = DecodeDev(a.rdev);
    x.stx_rdev_major = major(r);
    x.stx_rdev_minor = minor(r);
    x.stx_dev_major = major(c->dev);
    x.stx_dev_minor = minor(c->dev);
    return x;
  }

  // Answers the deferred call `token` with `value` (and writes `data` at `addr` first).
  void Finish(uint64_t token, int64_t value, uint64_t addr = 0, std::string data = "") {
    host.Resume(token, [value, addr, data = std::move(data)](Call& call) {
      if (value >= 0 && !data.empty() &&
          call.Write(RemotePtr<void>(addr), data.data(), data.size()) != 0) {
        return call.Fail(EFAULT);
      }
      call.Return(value);
    });
  }

  void FinishStat(const std::shared_ptr<FuseConn>& c, uint64_t token, int nr, uint64_t buf,
                  const fuse_attr& a) {
    if (nr == SYS_statx) {
      struct statx x = ToStatx(c, a);
      return Finish(token, 0, buf, std::string(reinterpret_cast<char*>(&x), sizeof x));
    }
    struct stat st = ToStat(c, a);
    Finish(token, 0, buf, std::string(reinterpret_cast<char*>(&st), sizeof st));
  }

  Creds CredsOf(Call& call) {
    Creds cr;
    Call::ProcessState ps{};
    if (call.GetProcessState(&ps) == 0) {
      cr.uid = ps.fsuid;
      cr.gid = ps.fsgid;
      cr.umask = ps.umask;
    }
    cr.pid = static_cast<uint32_t>(call.pid());
    return cr;
  }

  // --- serving calls ----------------------------------------------------------------------
  bool OpenDevice(Call& call, int flags);
  bool Mount(Call& call);
  bool Umount(Call& call);
  void Serve(Call& call, const std::shared_ptr<FuseConn>& c, const std::vector<std::string>& rels,
             const std::vector<int>& args);
  void Open(Call& call, uint64_t token, const std::shared_ptr<FuseConn>& c, const Creds& cr,
            const std::string& rel, int flags, mode_t mode);
  void SetAttr(uint64_t token, const std::shared_ptr<FuseConn>& c, const Creds& cr,
               const std::string& rel, bool follow, fuse_setattr_in in);
  bool PathCall(Call& call);
  static bool ModeAllows(const Creds& cr, const fuse_attr& a, int mode) {
    const uint32_t m = a.mode;
    if (cr.uid == 0) return !(mode & X_OK) || S_ISDIR(m) || (m & 0111);
    int shift = cr.uid == a.uid ? 6 : cr.gid == a.gid ? 3 : 0;
    return (((m >> shift) & 7) & static_cast<uint32_t>(mode)) == static_cast<uint32_t>(mode);
  }
  // utimensat's times (or NULL: now) as SETATTR fields; false if they cannot be read.
  static bool TimesToSetattr(Call& call, uint64_t addr, fuse_setattr_in* in) {
    if (addr == 0) {
      in->valid |= FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW;
      return true;
    }
    struct timespec ts[2];
    if (call.Read(RemotePtr<void>(addr), ts, sizeof ts) != 0) return false;
    for (int k = 0; k < 2; ++k) {
      if (ts[k].tv_nsec == UTIME_OMIT) continue;
      in->valid |= k == 0 ? FATTR_ATIME : FATTR_MTIME;
      if (ts[k].tv_nsec == UTIME_NOW) {
        in->valid |= k == 0 ? FATTR_ATIME_NOW : FATTR_MTIME_NOW;
      } else if (k == 0) {
        in->atime = ts[0].tv_sec, in->atimensec = static_cast<uint32_t>(ts[0].tv_nsec);
      } else {
        in->mtime = ts[1].tv_sec, in->mtimensec = static_cast<uint32_t>(ts[1].tv_nsec);
      }
    }
    return true;
  }
  bool FileCall(FuseFile& f, Call& call);
  // sendfile/splice/copy_file_range with the file on either side: one FUSE_READ or FUSE_WRITE.
  void MoveCall(FuseFile& f, Call& call);
};

// A file or directory opened under a FUSE mount: the tracee holds a virtual descriptor.
class FuseFile final : public VirtualFile, public std::enable_shared_from_this<FuseFile> {
 public:
  FuseFile(FuseClient::Impl* impl, std::shared_ptr<FuseConn> c, uint64_t node, uint64_t fh,
           int flags, bool dir, std::string rel, Creds cr)
      : impl(impl),
        conn(std::move(c)),
        node(node),
        fh(fh),
        flags(flags),
        dir(dir),
        rel(std::move(rel)),
        creds(cr) {
    impl->FileOpened(conn, node);
  }
  int Fstat(struct stat* st) override {
    *st = {};
    st->st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
    return 0;
  }
  bool Intercept(Call& call) override {
    FuseClient::Impl::CtxScope scope(impl, 0);
    return impl->FileCall(*this, call);
  }
  void Release() override {
    FuseClient::Impl::CtxScope scope(impl, 0);
    if (conn->dead || conn->unmounted) return;
    fuse_release_in in{};
    in.fh = fh;
    in.flags = static_cast<uint32_t>(flags);
    std::string body;
    Append(&body, in);
    if (!dir) {
      fuse_flush_in fl{};
      fl.fh = fh;
      std::string fb;
      Append(&fb, fl);
      impl->Send(conn, FUSE_FLUSH, node, creds, fb, nullptr);
    }
    // Like the kernel, which holds the inode until the RELEASE is answered: a FORGET that was
    // waiting for this file goes out only then (a multi-threaded program could otherwise drop
    // the node while another thread still serves the RELEASE).
    auto impl_ = impl;
    auto conn_ = conn;
    const uint64_t node_ = node;
    ++conn->releases_in_flight;
    impl->Send(
        conn, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node, creds, body,
        [impl_, conn_, node_](int, const std::string&) { impl_->FileReleased(conn_, node_); });
  }

  FuseClient::Impl* impl;
  std::shared_ptr<FuseConn> conn;
  uint64_t node;
  uint64_t fh;
  int flags;
  bool dir;
  std::string rel;
  Creds creds;
  uint64_t pos = 0;
  // Directory stream: entries read from the program but not yet given to the tracee.
  std::string pending_dents;
  uint64_t dir_off = 0;
  bool dir_eof = false;
};

// The view's /dev/fuse as the FUSE program holds it.
class FuseDevice final : public VirtualFile {
 public:
  FuseDevice(FuseClient::Impl* impl, std::shared_ptr<FuseConn> c)
      : impl_(impl), conn_(std::move(c)) {}
  int Fstat(struct stat* st) override {
    *st = {};
    st->st_mode = S_IFCHR | 0666;
    st->st_rdev = makedev(10, 229);
    return 0;
  }
  bool Intercept(Call& call) override;
  void Release() override { impl_->DeviceGone(conn_); }

 private:
  // Reads an iovec array / a buffer of the program's write.
  FuseClient::Impl* impl_;
  std::shared_ptr<FuseConn> conn_;
};

bool FuseDevice::Intercept(Call& call) {
  FuseClient::Impl::CtxScope scope(impl_, 0);
  auto& c = conn_;
  switch (call.nr()) {
    case SYS_splice:
      // libfuse splices requests into a pipe when it may (and, racing its own INIT, sometimes
      // when it should not) and may splice replies out of one.
      if (call.arg(1) != 0 || call.arg(3) != 0) return call.Fail(ESPIPE), true;
      if (call.vfd_arg() == 2) {
        std::string msg;
        int64_t n = TakeFromTraceePipe(call.tid(), static_cast<int>(call.arg(0)),
                                       std::min<size_t>(call.arg(4), kMaxReply), &msg);
        if (n <= 0) return call.Return(n), true;
        if (c->dead) return call.Fail(ENODEV), true;
        int rc = impl_->Reply(c, msg);
        return call.Return(rc < 0 ? rc : n), true;
      }
      if (!IsTraceePipe(call.tid(), static_cast<int>(call.arg(2)))) {
        return call.Fail(EINVAL), true;
      }
      [[fallthrough]];
    case SYS_read: {
      if (c->dead || (c->unmounted && c->queue.empty())) return call.Fail(ENODEV), true;
      uint64_t token = call.Defer();
      if (token == 0) return call.Fail(ENOSYS), true;
      // A signal ends the wait with EINTR, as the kernel's device read (libfuse's loop then
      // looks whether its handler asked it to exit).
      std::weak_ptr<FuseConn> w = c;
      impl_->host.WatchSignal(token, [impl = impl_, w, token](int, bool) {
        auto c = w.lock();
        if (!c) return;
        auto r = std::find_if(c->readers.begin(), c->readers.end(),
                              [token](const FuseConn::Reader& r) { return r.token == token; });
        if (r == c->readers.end()) return;
        c->readers.erase(r);
        impl->host.Resume(token, [](Call& call) { call.Fail(EINTR); });
      });
      if (call.nr() == SYS_splice) {
        c->readers.push_back(
            {token, 0, static_cast<size_t>(call.arg(4)), static_cast<int>(call.arg(2))});
      } else {
        c->readers.push_back({token, call.arg(1), static_cast<size_t>(call.arg(2))});
      }
      c->servers.insert(call.pid());
      impl_->Deliver(c);
      return true;
    }
    case SYS_write:
    case SYS_writev: {
      std::string msg;
      if (call.nr() == SYS_write) {
        size_t n = std::min<size_t>(call.arg(2), kMaxReply);
        msg.resize(n);
        if (call.Read(RemotePtr<void>(call.arg(1)), msg.data(), n) != 0)
          return call.Fail(EFAULT), true;
      } else {
        size_t cnt = std::min<size_t>(call.arg(2), 1024);
        std::vector<iovec> iov(cnt);
        if (cnt && call.Read(RemotePtr<void>(call.arg(1)), iov.data(), cnt * sizeof(iovec)) != 0) {
          return call.Fail(EFAULT), true;
        }
        for (const iovec& v : iov) {
          if (msg.size() + v.iov_len > kMaxReply) return call.Fail(EINVAL), true;
          size_t at = msg.size();
          msg.resize(at + v.iov_len);
          if (v.iov_len && call.Read(RemotePtr<void>(reinterpret_cast<uint64_t>(v.iov_base)),
                                     msg.data() + at, v.iov_len) != 0) {
            return call.Fail(EFAULT), true;
          }
        }
      }
      if (c->dead) return call.Fail(ENODEV), true;
      int rc = impl_->Reply(c, msg);
      call.Return(rc < 0 ? rc : static_cast<int64_t>(msg.size()));
      return true;
    }
    case SYS_ioctl:
      return call.Fail(ENOTTY), true;  // FUSE_DEV_IOC_CLONE: libfuse falls back to one fd
  }
  return false;
}

std::shared_ptr<FuseFile> FuseClient::Impl::FileByFd(Call& call, int fd) {
  char buf[64];
  std::string p = "/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(p.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return nullptr;
  buf[n] = 0;
  unsigned long long ino = 0;
  if (sscanf(buf, "pipe:[%llu]", &ino) != 1) return nullptr;
  auto it = files_by_ino.find(ino);
  if (it == files_by_ino.end()) return nullptr;
  return it->second.lock();
}

bool FuseClient::Impl::ViewPath(Call& call, int i, std::string* raw, std::string* view) {
  const SyscallInfo* info = call.info();
  if (call.arg(i) == 0 || call.InScratch(call.arg(i))) return false;
  if (call.ReadString(RemotePtr<char>(call.arg(i)), raw, PATH_MAX) < 0) return false;
  if (raw->empty()) return false;
  if ((*raw)[0] == '/') {
    *view = NormalizePath(*raw);
    return true;
  }
  int dirfd = AT_FDCWD;
  if (i > 0 && info->args[i - 1] == Arg::kDirFd) dirfd = static_cast<int>(call.arg(i - 1));
  if (dirfd != AT_FDCWD) {
    if (auto f = FileByFd(call, dirfd)) {
      *view = NormalizePath(f->conn->point + "/" + f->rel + "/" + *raw);
      return true;
    }
  }
  int err = 0;
  std::string b = base(call, dirfd, &err);
  if (err != 0) return false;
  *view = NormalizePath(b + "/" + *raw);
  return true;
}

bool FuseClient::Impl::OpenDevice(Call& call, int flags) {
  auto c = std::make_shared<FuseConn>();
  c->dev = makedev(0, 0x4600 + (next_dev++ & 0xff));
  if (int rc = call.ReturnFile(std::make_shared<FuseDevice>(this, c), flags); rc < 0) {
    call.Return(rc);
    return true;
  }
  call.RequestExit();  // to learn the descriptor's inode (mount names the device by fd)
  conns.push_back(c);
  opening_dev[call.tid()] = c;
  return true;
}

bool FuseClient::Impl::Mount(Call& call) {
  std::string type;
  if (call.ReadString(RemotePtr<char>(call.arg(2)), &type, 256) < 0) return false;
  if (type != "fuse" && type != "fuseblk" && type.rfind("fuse.", 0) != 0 &&
      type.rfind("fuseblk.", 0) != 0) {
    return false;
  }
  std::string data, raw, view;
  if (call.arg(4) == 0 || call.ReadString(RemotePtr<char>(call.arg(4)), &data, 4096) < 0 ||
      !ViewPath(call, 1, &raw, &view)) {
    return call.Fail(EINVAL), true;
  }
  int fd = -1;
  for (size_t i = 0; i < data.size();) {
    size_t j = data.find(',', i);
    if (j == std::string::npos) j = data.size();
    std::string o = data.substr(i, j - i);
    if (o.rfind("fd=", 0) == 0) fd = atoi(o.c_str() + 3);
    i = j + 1;
  }
  char buf[64];
  std::string p = "/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(fd);
  ssize_t n = fd < 0 ? -1 : readlink(p.c_str(), buf, sizeof buf - 1);
  unsigned long long ino = 0;
  if (n > 0) buf[n] = 0;
  if (n <= 0 || sscanf(buf, "pipe:[%llu]", &ino) != 1) return call.Fail(EINVAL), true;
  std::shared_ptr<FuseConn> c;
  for (auto& x : conns) {
    if (x->ino == ino) c = x;
  }
  if (!c || !c->point.empty() || c->unmounted || c->dead) return call.Fail(EINVAL), true;
  for (auto& x : conns) {
    if (x->point == view) return call.Fail(EBUSY), true;
  }
  c->point = view;
  QueueInit(c);
  call.Return(0);
  return true;
}

bool FuseClient::Impl::Umount(Call& call) {
  std::string raw, view;
  if (!ViewPath(call, 0, &raw, &view)) return false;
  // A FUSE program whose mount was already undone (fusermount3 -u) unmounts again as it exits
  // (libfuse asks the kernel's device for POLLERR first, which a FIFO never reports, and may
  // have closed it already): it must not take away a newer mount at the same place.
  for (auto& c : conns) {
    if (c->unmounted && c->was == view &&
        (c->servers.count(call.pid()) || (c->ino != 0 && Holds(call.pid(), c->ino)))) {
      return call.Fail(EINVAL), true;
    }
  }
  for (auto& c : conns) {
    if (c->point == view) {
      // umount2 returns once the program has answered DESTROY, so that a program started
      // next on the same image (fuse2fs) finds it written back.
      uint64_t token = call.Defer();
      Unmount(c, CredsOf(call), [this, token] {
        if (token != 0) Finish(token, 0);
      });
      if (token == 0) call.Return(0);
      return true;
    }
  }
  return false;
}

void FuseClient::Impl::SetAttr(uint64_t token, const std::shared_ptr<FuseConn>& c, const Creds& cr,
                               const std::string& rel, bool follow, fuse_setattr_in in) {
  Lookup(c, cr, rel, follow, [this, token, c, cr, in](Looked l) {
    if (l.err != 0 || !l.outside.empty()) return Finish(token, l.err ? -l.err : -EXDEV);
    std::string body;
    Append(&body, in);
    Send(c, FUSE_SETATTR, l.id, cr, body,
         [this, token](int err, const std::string&) { Finish(token, err); });
  });
}

// A read-only regular file as a real descriptor: its whole content is read (READ until EOF)
// into a memfd of umview's, sealed, and the file released; the tracee's call then opens
// /proc/<umview>/fd/N, so mmap and exec work on it. Later changes to the file are not seen
// through that descriptor (a snapshot, as a private copy would be).
void FuseClient::Impl::Snapshot(const std::shared_ptr<FuseConn>& c, const Creds& cr, uint64_t node,
                                uint64_t fh, std::function<void(int err, int fd)> done) {
  int fd = memfd_create("umview-fuse", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  auto release = [this, c, cr, node, fh] {
    fuse_release_in in{};
    in.fh = fh;
    std::string body;
    Append(&body, in);
    ++c->releases_in_flight;
    Send(c, FUSE_RELEASE, node, cr, body,
         [this, c](int, const std::string&) { ReleaseAnswered(c); });
  };
  if (fd < 0) {
    release();
    return done(-errno, -1);
  }
  auto step = std::make_shared<std::function<void(uint64_t)>>();
  *step = [this, c, cr, node, fh, fd, done, release, step](uint64_t off) {
    fuse_read_in in{};
    in.fh = fh;
    in.offset = off;
    in.size = static_cast<uint32_t>(kMaxRead);
    in.flags = O_RDONLY;
    std::string body;
    Append(&body, in);
    Send(c, FUSE_READ, node, cr, body, [=](int err, const std::string& p) {
      if (err == 0 && !p.empty() && off + p.size() <= kSnapshotMax &&
          pwrite(fd, p.data(), p.size(), static_cast<off_t>(off)) ==
              static_cast<ssize_t>(p.size())) {
        return (*step)(off + p.size());
      }
      release();
      *step = nullptr;  // ends the cycle step -> lambda -> step
      if (err != 0 || !p.empty()) {
        close(fd);
        return done(err != 0 ? err : -EFBIG, -1);
      }
      fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
      done(0, fd);
    });
  };
  (*step)(0);
}

// Resume a deferred open/exec with its path argument naming memfd `fd` through /proc; flags
// that would stop the kernel there (O_NOFOLLOW on the magic link, O_CREAT/O_EXCL/O_TRUNC,
// AT_SYMLINK_NOFOLLOW) are cleared.
void FuseClient::Impl::GiveMemfd(uint64_t token, int fd, int path_arg, int flags_arg) {
  bool resumed = host.Resume(token, [this, fd, path_arg, flags_arg](Call& call) {
    std::string p = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
    if (int rc = call.SetPath(path_arg, p); rc < 0) {
      close(fd);
      return call.Return(rc);
    }
    if (call.nr() == SYS_execveat) {
      call.SetArg(flags_arg, call.arg(flags_arg) & ~static_cast<uint64_t>(AT_SYMLINK_NOFOLLOW));
    } else if (call.nr() != SYS_execve) {
      call.SetArg(flags_arg,
                  call.arg(flags_arg) & ~static_cast<uint64_t>(O_NOFOLLOW | O_CREAT | O_EXCL));
    }
    call.RequestExit();
    opening_memfd[call.tid()] = fd;
  });
  if (!resumed) close(fd);
}

// A "#!" script of a FUSE mount, as binfmt_script does it: the interpreter runs with argv
// [interp, arg?, path as given, argv[1]...] and reads the script through the view.
void FuseClient::Impl::RunScript(uint64_t token, std::string line, std::string raw, bool at) {
  line = line.substr(0, line.find('\n'));
  auto blank = [](char ch) { return ch == ' ' || ch == '\t'; };
  size_t b = 0;
  while (b < line.size() && blank(line[b])) ++b;
  size_t e = b;
  while (e < line.size() && !blank(line[e])) ++e;
  std::string interp = line.substr(b, e - b), arg;
  while (e < line.size() && blank(line[e])) ++e;
  arg = line.substr(e);
  while (!arg.empty() && blank(arg.back())) arg.pop_back();
  if (interp.empty()) return Finish(token, -ENOEXEC);
  host.Resume(token, [interp, arg, raw, at](Call& call) {
    std::vector<uint64_t> ptrs;
    std::vector<std::string> head = {interp};
    if (!arg.empty()) head.push_back(arg);
    head.push_back(raw);
    for (const auto& h : head) {
      RemotePtr<void> p = call.PutScratch(h.c_str(), h.size() + 1);
      if (!p) return call.Fail(E2BIG);
      ptrs.push_back(p.addr());
    }
    uint64_t argv = call.arg(at ? 2 : 1);
    for (uint64_t p = argv, i = 0; p != 0 && i < 100000; p += 8, ++i) {
      uint64_t a = 0;
      if (call.Read(RemotePtr<void>(p), &a, sizeof a) != 0) return call.Fail(EFAULT);
      if (a == 0) break;
      if (i > 0) ptrs.push_back(a);
    }
    ptrs.push_back(0);
    RemotePtr<void> array = call.PutScratch(ptrs.data(), ptrs.size() * sizeof(uint64_t));
    if (!array) return call.Fail(E2BIG);
    if (int rc = call.SetPath(at ? 1 : 0, interp); rc < 0) return call.Fail(-rc);
    call.SetArg(at ? 2 : 1, array.addr());
  });
}

// execve of a file of a FUSE mount: a memfd copy is what the kernel runs (an ELF); a script
// runs its interpreter on the script's path.
void FuseClient::Impl::ExecFuse(Call& call, const std::shared_ptr<FuseConn>& c,
                                const std::string& rel, uint64_t token) {
  const Creds cr = CredsOf(call);
  const bool at = call.nr() == SYS_execveat;
  const bool follow = !(at && (call.arg(4) & AT_SYMLINK_NOFOLLOW));
  std::string raw;
  call.ReadString(RemotePtr<char>(call.arg(at ? 1 : 0)), &raw, PATH_MAX);
  Lookup(c, cr, rel, follow, [this, c, cr, token, at, raw](Looked l) {
    if (l.err != 0 || !l.outside.empty()) return Finish(token, l.err ? -l.err : -EXDEV);
    if (!S_ISREG(l.attr.mode) || !(l.attr.mode & 0111)) return Finish(token, -EACCES);
    if (l.attr.size > kSnapshotMax) return Finish(token, -ENOEXEC);
    fuse_open_in in{};
    in.flags = O_RDONLY;
    std::string body;
    Append(&body, in);
    Send(c, FUSE_OPEN, l.id, cr, body, [=, this](int err, const std::string& p) {
      if (err != 0) return Finish(token, err);
      Snapshot(c, cr, l.id, Take<fuse_open_out>(p).fh, [=, this](int err, int fd) {
        if (err != 0) return Finish(token, err);
        char line[256] = {};
        ssize_t n = pread(fd, line, sizeof line - 1, 0);
        if (n >= 2 && line[0] == '#' && line[1] == '!') {
          close(fd);
          return RunScript(token, std::string(line + 2, n - 2), raw, at);
        }
        GiveMemfd(token, fd, at ? 1 : 0, 4);
      });
    });
  });
}

void FuseClient::Impl::Open(Call& call, uint64_t token, const std::shared_ptr<FuseConn>& c,
                            const Creds& cr, const std::string& rel, int flags, mode_t mode) {
  const int nr = call.nr();
  const bool follow = !(flags & O_NOFOLLOW);
  Lookup(c, cr, rel, follow, [this, token, c, cr, rel, flags, mode, nr](Looked l) {
    auto give = [this, token, c, cr, flags](uint64_t node, uint64_t fh, bool dir,
                                            const std::string& rel) {
      auto f = std::make_shared<FuseFile>(this, c, node, fh, flags, dir, rel, cr);
      host.Resume(token, [this, f, flags](Call& call) {
        int rc = call.ReturnFile(f, flags);
        if (rc < 0) return call.Return(rc);
        call.RequestExit();
        opening_file[call.tid()] = f;
      });
    };
    if (!l.outside.empty()) return Finish(token, -EXDEV);
    if (l.err == ENOENT && (flags & O_CREAT) && !l.name.empty()) {
      fuse_create_in in{};
      in.flags = static_cast<uint32_t>(flags & ~(O_CREAT | O_EXCL | O_NOCTTY));
      in.mode = S_IFREG | (mode & 07777 & ~cr.umask);
      in.umask = cr.umask;
      std::string body;
      Append(&body, in);
      body += l.name + '\0';
      std::string frel = l.rel;
      Send(c, FUSE_CREATE, l.parent, cr, body,
           [this, token, c, frel, give](int err, const std::string& p) {
             if (err != 0) return Finish(token, err);
             fuse_entry_out e = Take<fuse_entry_out>(p);
             fuse_open_out o = Take<fuse_open_out>(p, sizeof(fuse_entry_out));
             Remember(c, frel, e);
             give(e.nodeid, o.fh, false, frel);
           });
      return;
    }
    if (l.err != 0) return Finish(token, -l.err);
    if ((flags & O_CREAT) && (flags & O_EXCL)) return Finish(token, -EEXIST);
    const uint32_t m = l.attr.mode;
    if (S_ISLNK(m)) return Finish(token, -ELOOP);  // O_NOFOLLOW on a symlink
    const int acc = flags & O_ACCMODE;
    if (S_ISDIR(m)) {
      if (acc != O_RDONLY || (flags & O_CREAT)) return Finish(token, -EISDIR);
      fuse_open_in in{};
      in.flags = static_cast<uint32_t>(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
      std::string body;
      Append(&body, in);
      Send(c, FUSE_OPENDIR, l.id, cr, body, [this, token, give, l](int err, const std::string& p) {
        if (err != 0) return Finish(token, err);
        give(l.id, Take<fuse_open_out>(p).fh, true, l.rel);
      });
      return;
    }
    if (flags & O_DIRECTORY) return Finish(token, -ENOTDIR);
    if (!S_ISREG(m)) return Finish(token, -ENXIO);  // devices and FIFOs of a FUSE fs: not served
    fuse_open_in in{};
    in.flags = static_cast<uint32_t>(flags & ~(O_CREAT | O_EXCL | O_NOCTTY));
    std::string body;
    Append(&body, in);
    const bool snapshot =
        acc == O_RDONLY && !(flags & O_TRUNC) && nr != SYS_openat2 && l.attr.size <= kSnapshotMax;
    Send(c, FUSE_OPEN, l.id, cr, body,
         [this, token, give, l, c, cr, snapshot, nr](int err, const std::string& p) {
           if (err != 0) return Finish(token, err);
           uint64_t fh = Take<fuse_open_out>(p).fh;
           if (!snapshot) return give(l.id, fh, false, l.rel);
           Snapshot(c, cr, l.id, fh, [this, token, nr](int err, int fd) {
             if (err != 0) return Finish(token, err);
             GiveMemfd(token, fd, nr == SYS_open ? 0 : 1, nr == SYS_open ? 1 : 2);
           });
         });
  });
}

// A path call with all its path arguments under FUSE mount `c` (rels below its mount point).
void FuseClient::Impl::Serve(Call& call, const std::shared_ptr<FuseConn>& c,
                             const std::vector<std::string>& rels, const std::vector<int>& args) {
  if (c->dead) return call.Fail(ENOTCONN);
  const int nr = call.nr();
  const int first = args[0];
  const Creds cr = CredsOf(call);
  const std::string rel = rels[0];
  auto a = [&](int i) { return call.arg(i); };
  // Arguments after the path (their index relative to it).
  auto after = [&](int k) { return call.arg(first + k); };
  switch (nr) {
    default:
      break;
  }
  uint64_t token = DeferCall(call);
  if (token == 0) return call.Fail(ENOSYS);
  switch (nr) {
    case SYS_chdir:
      return ChdirFuse(call, c, rel, token);
    case SYS_execve:
    case SYS_execveat:
      return ExecFuse(call, c, rel, token);
    case SYS_stat:
    case SYS_lstat:
    case SYS_newfstatat:
    case SYS_statx: {
      bool follow = nr == SYS_stat;
      uint64_t buf = after(1);
      if (nr == SYS_newfstatat) follow = !(after(2) & AT_SYMLINK_NOFOLLOW);
      if (nr == SYS_statx) {
        follow = !(after(1) & AT_SYMLINK_NOFOLLOW);
        buf = after(3);
      }
      Lookup(c, cr, rel, follow, [this, c, token, nr, buf](Looked l) {
        if (!l.outside.empty()) return Finish(token, -EXDEV);
        if (l.err != 0) return Finish(token, -l.err);
        FinishStat(c, token, nr, buf, l.attr);
      });
      return;
    }
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2: {
      const int mode = static_cast<int>(after(1));
      const bool follow = !(nr == SYS_faccessat2 && (after(2) & AT_SYMLINK_NOFOLLOW));
      Lookup(c, cr, rel, follow, [this, c, token, mode, cr](Looked l) {
        if (l.err != 0 || !l.outside.empty()) return Finish(token, l.err ? -l.err : -EXDEV);
        if (mode == F_OK) return Finish(token, 0);
        if (!c->no_access) {
          fuse_access_in in{};
          in.mask = static_cast<uint32_t>(mode);
          std::string body;
          Append(&body, in);
          Send(c, FUSE_ACCESS, l.id, cr, body,
               [this, c, token, mode, cr, l](int err, const std::string&) {
                 if (err != -ENOSYS) return Finish(token, err);
                 c->no_access = true;  // as the kernel: never asked again, the mode bits decide
                 Finish(token, ModeAllows(cr, l.attr, mode) ? 0 : -EACCES);
               });
          return;
        }
        Finish(token, ModeAllows(cr, l.attr, mode) ? 0 : -EACCES);
      });
      return;
    }
    case SYS_open:
    case SYS_openat:
    case SYS_creat:
    case SYS_openat2: {
      int flags;
      mode_t mode;
      if (nr == SYS_creat) {
        flags = O_CREAT | O_WRONLY | O_TRUNC;
        mode = static_cast<mode_t>(after(1));
      } else if (nr == SYS_openat2) {
        open_how how{};
        if (call.Read(RemotePtr<void>(after(1)), &how, std::min<size_t>(sizeof how, after(2))) !=
            0) {
          return Finish(token, -EFAULT);
        }
        flags = static_cast<int>(how.flags);
        mode = static_cast<mode_t>(how.mode);
      } else {
        flags = static_cast<int>(after(1));
        mode = static_cast<mode_t>(after(2));
      }
      return Open(call, token, c, cr, rel, flags, mode);
    }
    case SYS_readlink:
    case SYS_readlinkat: {
      uint64_t buf = after(1);
      size_t size = after(2);
      Lookup(c, cr, rel, false, [this, c, cr, token, buf, size](Looked l) {
        if (l.err != 0) return Finish(token, -l.err);
        if (!S_ISLNK(l.attr.mode)) return Finish(token, -EINVAL);
        Send(c, FUSE_READLINK, l.id, cr, "",
             [this, token, buf, size](int err, const std::string& t) {
               if (err != 0) return Finish(token, err);
               std::string s = t.substr(0, size);
               Finish(token, static_cast<int64_t>(s.size()), buf, s);
             });
      });
      return;
    }
    case SYS_mkdir:
    case SYS_mkdirat:
    case SYS_mknod:
    case SYS_mknodat:
    case SYS_symlink:
    case SYS_symlinkat: {
      std::string parent = ParentRel(rel), name = rel.substr(rel.rfind('/') + 1);
      if (rel.empty()) return Finish(token, -EEXIST);
      uint32_t op;
      std::string body;
      if (nr == SYS_mkdir || nr == SYS_mkdirat) {
        op = FUSE_MKDIR;
        fuse_mkdir_in in{};
        in.mode = static_cast<uint32_t>(after(1) & 07777 & ~cr.umask);
        in.umask = cr.umask;
        Append(&body, in);
        body += name + '\0';
      } else if (nr == SYS_mknod || nr == SYS_mknodat) {
        op = FUSE_MKNOD;
        fuse_mknod_in in{};
        mode_t m = static_cast<mode_t>(after(1));
        if ((m & S_IFMT) == 0) m |= S_IFREG;
        in.mode = static_cast<uint32_t>((m & S_IFMT) | (m & 07777 & ~cr.umask));
        in.rdev = EncodeDev(static_cast<dev_t>(after(2)));
        in.umask = cr.umask;
        Append(&body, in);
        body += name + '\0';
      } else {
        op = FUSE_SYMLINK;
        std::string target;
        if (call.ReadString(RemotePtr<char>(a(0)), &target, PATH_MAX) < 0) {
          return Finish(token, -EFAULT);
        }
        body = name + '\0' + target + '\0';
      }
      Lookup(c, cr, parent, true, [this, c, cr, token, op, body, rel](Looked l) {
        if (l.err != 0 || !l.outside.empty()) return Finish(token, l.err ? -l.err : -EXDEV);
        if (!S_ISDIR(l.attr.mode)) return Finish(token, -ENOTDIR);
        Send(c, op, l.id, cr, body, [this, c, token, rel](int err, const std::string& p) {
          if (err == 0) Remember(c, rel, Take<fuse_entry_out>(p));
          Finish(token, err);
        });
      });
      return;
    }
    case SYS_unlink:
    case SYS_unlinkat:
    case SYS_rmdir: {
      bool dir = nr == SYS_rmdir || (nr == SYS_unlinkat && (after(1) & AT_REMOVEDIR));
      if (rel.empty()) return Finish(token, -EBUSY);
      std::string parent = ParentRel(rel), name = rel.substr(rel.rfind('/') + 1);
      Lookup(c, cr, parent, true, [this, c, cr, token, dir, name, rel](Looked l) {
        if (l.err != 0 || !l.outside.empty()) return Finish(token, l.err ? -l.err : -EXDEV);
        Send(c, dir ? FUSE_RMDIR : FUSE_UNLINK, l.id, cr, name + '\0',
             [this, c, token, rel](int err, const std::string&) {
               if (err == 0) Drop(c, rel);
               Finish(token, err);
             });
      });
      return;
    }
    case SYS_rename:
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_link:
    case SYS_linkat: {
      const std::string to = rels[1];
      if (rel.empty() || to.empty()) return Finish(token, -EBUSY);
      const bool link = nr == SYS_link || nr == SYS_linkat;
      const uint32_t rflags = nr == SYS_renameat2 ? static_cast<uint32_t>(a(4)) : 0;
      Lookup(c, cr, ParentRel(rel), true, [=, this](Looked from) {
        if (from.err != 0 || !from.outside.empty()) {
          return Finish(token, from.err ? -from.err : -EXDEV);
        }
        Lookup(c, cr, ParentRel(to), true, [=, this](Looked dst) {
          if (dst.err != 0 || !dst.outside.empty()) {
            return Finish(token, dst.err ? -dst.err : -EXDEV);
          }
          const std::string oldname = rel.substr(rel.rfind('/') + 1);
          const std::string newname = to.substr(to.rfind('/') + 1);
          if (link) {
            Lookup(c, cr, rel, false, [=, this](Looked src) {
              if (src.err != 0) return Finish(token, -src.err);
              fuse_link_in in{};
              in.oldnodeid = src.id;
              std::string body;
              Append(&body, in);
              body += newname + '\0';
              Send(c, FUSE_LINK, dst.id, cr, body, [=, this](int err, const std::string& p) {
                if (err == 0) Remember(c, to, Take<fuse_entry_out>(p));
                Finish(token, err);
              });
            });
            return;
          }
          std::string body;
          uint32_t op = FUSE_RENAME;
          if (rflags != 0) {
            op = FUSE_RENAME2;
            fuse_rename2_in in{};
            in.newdir = dst.id;
            in.flags = rflags;
            Append(&body, in);
          } else {
            fuse_rename_in in{};
            in.newdir = dst.id;
            Append(&body, in);
          }
          body += oldname + '\0' + newname + '\0';
          Send(c, op, from.id, cr, body, [=, this](int err, const std::string&) {
            if (err == 0) {
              Drop(c, rel);
              Drop(c, to);
            }
            Finish(token, err);
          });
        });
      });
      return;
    }
    case SYS_chmod:
    case SYS_fchmodat: {
      fuse_setattr_in in{};
      in.valid = FATTR_MODE;
      in.mode = static_cast<uint32_t>(after(1) & 07777);
      return SetAttr(token, c, cr, rel, true, in);
    }
    case SYS_chown:
    case SYS_lchown:
    case SYS_fchownat: {
      fuse_setattr_in in{};
      const uint32_t uid = static_cast<uint32_t>(after(1)), gid = static_cast<uint32_t>(after(2));
      if (uid != UINT32_MAX) in.valid |= FATTR_UID, in.uid = uid;
      if (gid != UINT32_MAX) in.valid |= FATTR_GID, in.gid = gid;
      bool follow = nr == SYS_chown || (nr == SYS_fchownat && !(after(3) & AT_SYMLINK_NOFOLLOW));
      return SetAttr(token, c, cr, rel, follow, in);
    }
    case SYS_truncate: {
      fuse_setattr_in in{};
      in.valid = FATTR_SIZE;
      in.size = after(1);
      return SetAttr(token, c, cr, rel, true, in);
    }
    case SYS_utimensat: {
      fuse_setattr_in in{};
      if (!TimesToSetattr(call, after(1), &in)) return Finish(token, -EFAULT);
      return SetAttr(token, c, cr, rel, !(after(2) & AT_SYMLINK_NOFOLLOW), in);
    }
    case SYS_statfs: {
      uint64_t buf = after(1);
      Lookup(c, cr, rel, true, [this, c, cr, token, buf](Looked l) {
        if (l.err != 0) return Finish(token, -l.err);
        Send(c, FUSE_STATFS, l.id, cr, "", [this, token, buf](int err, const std::string& p) {
          if (err != 0) return Finish(token, err);
          fuse_kstatfs k = Take<fuse_statfs_out>(p).st;
          struct statfs s {};
          s.f_type = 0x65735546;  // FUSE_SUPER_MAGIC
          s.f_bsize = k.bsize;
          s.f_blocks = k.blocks;
          s.f_bfree = k.bfree;
          s.f_bavail = k.bavail;
          s.f_files = k.files;
          s.f_ffree = k.ffree;
          s.f_namelen = k.namelen;
          s.f_frsize = k.frsize ? k.frsize : k.bsize;
          Finish(token, 0, buf, std::string(reinterpret_cast<char*>(&s), sizeof s));
        });
      });
      return;
    }
    case SYS_getxattr:
    case SYS_lgetxattr:
    case SYS_listxattr:
    case SYS_llistxattr:
    case SYS_setxattr:
    case SYS_lsetxattr:
    case SYS_removexattr:
    case SYS_lremovexattr: {
      const bool list = nr == SYS_listxattr || nr == SYS_llistxattr;
      const bool follow =
          nr == SYS_getxattr || nr == SYS_listxattr || nr == SYS_setxattr || nr == SYS_removexattr;
      std::string name;
      if (!list && call.ReadString(RemotePtr<char>(after(1)), &name, 256) < 0) {
        return Finish(token, -EFAULT);
      }
      uint32_t op;
      std::string body;
      uint64_t out = 0;
      size_t size = 0;
      if (nr == SYS_setxattr || nr == SYS_lsetxattr) {
        op = FUSE_SETXATTR;
        size = std::min<size_t>(after(3), 65536);
        std::string value(size, '\0');
        if (size && call.Read(RemotePtr<void>(after(2)), value.data(), size) != 0) {
          return Finish(token, -EFAULT);
        }
        fuse_setxattr_in in{};
        in.size = static_cast<uint32_t>(size);
        in.flags = static_cast<uint32_t>(after(4));
        // Before 7.33 (or without FUSE_SETXATTR_EXT) the struct is the first 8 bytes.
        body.append(reinterpret_cast<char*>(&in), 8);
        body += name + '\0' + value;
      } else if (nr == SYS_removexattr || nr == SYS_lremovexattr) {
        op = FUSE_REMOVEXATTR;
        body = name + '\0';
      } else {
        op = list ? FUSE_LISTXATTR : FUSE_GETXATTR;
        out = list ? after(1) : after(2);
        size = std::min<size_t>(list ? after(2) : after(3), 65536);
        fuse_getxattr_in in{};
        in.size = static_cast<uint32_t>(size);
        Append(&body, in);
        if (!list) body += name + '\0';
      }
      Lookup(c, cr, rel, follow, [=, this](Looked l) {
        if (l.err != 0 || !l.outside.empty()) return Finish(token, l.err ? -l.err : -EXDEV);
        Send(c, op, l.id, cr, body, [=, this](int err, const std::string& p) {
          if (err == -ENOSYS) err = op == FUSE_LISTXATTR ? 0 : -EOPNOTSUPP;
          if (err != 0) return Finish(token, err);
          if (op == FUSE_SETXATTR || op == FUSE_REMOVEXATTR) return Finish(token, 0);
          if (size == 0) return Finish(token, Take<fuse_getxattr_out>(p).size);
          if (p.size() > size) return Finish(token, -ERANGE);
          Finish(token, static_cast<int64_t>(p.size()), out, p);
        });
      });
      return;
    }
    default:
      return Finish(token, -ENOTSUP);
  }
}

// Path calls: `dirfd` arguments that are FUSE directories are followed here too.
bool FuseClient::Impl::PathCall(Call& call) {
  const SyscallInfo* info = call.info();
  if (info == nullptr || !(info->classes & kClassPath)) return false;
  std::vector<std::string> rels;
  std::vector<int> args;
  std::shared_ptr<FuseConn> conn;
  bool other = false;  // a path outside every FUSE mount
  for (int i = 0; i < info->nargs; ++i) {
    if (info->args[i] != Arg::kPath) continue;
    std::string raw, view, rel;
    if (!ViewPath(call, i, &raw, &view)) {
      other = true;
      continue;
    }
    if (view == "/dev/fuse" && rels.empty() &&
        (call.nr() == SYS_open || call.nr() == SYS_openat || call.nr() == SYS_openat2)) {
      int flags = static_cast<int>(call.arg(call.nr() == SYS_open ? 1 : 2));
      if (call.nr() == SYS_openat2) {
        open_how how{};
        call.Read(RemotePtr<void>(call.arg(2)), &how, std::min<size_t>(sizeof how, call.arg(3)));
        flags = static_cast<int>(how.flags);
      }
      return OpenDevice(call, flags);
    }
    auto c = MountFor(view, &rel);
    if (!c) {
      other = true;
      continue;
    }
    if (conn && conn != c) return call.Fail(EXDEV), true;
    conn = c;
    rels.push_back(rel);
    args.push_back(i);
  }
  if (!conn) return false;
  if (other) return call.Fail(EXDEV), true;  // rename/link between a FUSE mount and elsewhere
  Serve(call, conn, rels, args);
  return true;
}

void FuseClient::Impl::MoveCall(FuseFile& f, Call& call) {
  uint64_t a[6];
  for (int i = 0; i < 6; ++i) a[i] = call.arg(i);
  MoveArgs m;
  if (int rc = DecodeMove(call.nr(), a, call.vfd_arg(), &m); rc < 0) return call.Return(rc);
  if (f.dir) return call.Fail(EINVAL);
  if ((f.flags & O_ACCMODE) == (m.from_virtual ? O_WRONLY : O_RDONLY)) return call.Fail(EBADF);
  auto other = std::make_shared<MoveEnd>();
  if (int rc = other->Open(call.pid(), m, true); rc < 0) return call.Return(rc);
  int64_t vpos = -1, opos = -1;
  if (m.voff != 0 && call.Read(RemotePtr<void>(m.voff), &vpos, sizeof vpos) != 0) {
    return call.Fail(EFAULT);
  }
  if (m.ooff != 0 && call.Read(RemotePtr<void>(m.ooff), &opos, sizeof opos) != 0) {
    return call.Fail(EFAULT);
  }
  if ((m.voff != 0 && vpos < 0) || (m.ooff != 0 && opos < 0)) return call.Fail(EINVAL);
  auto c = f.conn;
  std::shared_ptr<FuseFile> self = f.shared_from_this();
  // The end of the call: positions and offset pointers advance by what moved.
  auto done = [this, self, m, vpos, opos](uint64_t token, int64_t moved) {
    if (moved > 0 && vpos < 0) self->pos += moved;
    host.Resume(token, [m, vpos, opos, moved](Call& call) {
      int64_t v = vpos + moved, o = opos + moved;
      if (moved > 0 && ((vpos >= 0 && call.Write(RemotePtr<void>(m.voff), &v, sizeof v) != 0) ||
                        (opos >= 0 && call.Write(RemotePtr<void>(m.ooff), &o, sizeof o) != 0))) {
        return call.Fail(EFAULT);
      }
      call.Return(moved);
    });
  };
  const uint64_t at = vpos >= 0 ? static_cast<uint64_t>(vpos) : f.pos;
  std::string body;
  if (m.from_virtual) {
    int64_t n = other->Room(std::min<uint64_t>(m.count, kMaxRead));
    if (n <= 0) return call.Return(n);
    uint64_t token = DeferCall(call);
    if (token == 0) return call.Fail(ENOSYS);
    fuse_read_in in{};
    in.fh = f.fh;
    in.offset = at;
    in.size = static_cast<uint32_t>(n);
    in.flags = static_cast<uint32_t>(f.flags);
    Append(&body, in);
    Send(c, FUSE_READ, f.node, CredsOf(call), body,
         [this, other, opos, token, done](int err, const std::string& p) {
           if (err != 0) return Finish(token, err);
           int64_t put = p.empty() ? 0 : other->Put(p.data(), p.size(), opos);
           if (put < 0) return Finish(token, put);
           done(token, put);
         });
    return;
  }
  std::string data(std::min<uint64_t>(m.count, c->max_write), '\0');
  int64_t got = data.empty() ? 0 : other->Take(data.data(), data.size(), opos);
  if (got <= 0) return call.Return(got);
  data.resize(static_cast<size_t>(got));
  uint64_t token = DeferCall(call);
  if (token == 0) return call.Fail(ENOSYS);
  fuse_write_in in{};
  in.fh = f.fh;
  in.offset = at;
  in.size = static_cast<uint32_t>(data.size());
  in.flags = static_cast<uint32_t>(f.flags);
  Append(&body, in);
  body += data;
  Send(c, FUSE_WRITE, f.node, CredsOf(call), body,
       [this, token, done](int err, const std::string& p) {
         if (err != 0) return Finish(token, err);
         done(token, Take<fuse_write_out>(p).size);
       });
}

bool FuseClient::Impl::FileCall(FuseFile& f, Call& call) {
  const int nr = call.nr();
  const SyscallInfo* info = call.info();
  auto c = f.conn;
  // futimens(fd) is utimensat(fd, NULL, ...): the file itself.
  if (nr == SYS_utimensat && call.arg(1) == 0) {
    fuse_setattr_in in{};
    if (!f.dir) in.valid = FATTR_FH, in.fh = f.fh;
    if (!TimesToSetattr(call, call.arg(2), &in)) return call.Fail(EFAULT), true;
    uint64_t token = DeferCall(call);
    if (token == 0) return call.Fail(ENOSYS), true;
    std::string body;
    Append(&body, in);
    Send(c, FUSE_SETATTR, f.node, CredsOf(call), body,
         [this, token](int err, const std::string&) { Finish(token, err); });
    return true;
  }
  // The file as the dirfd of a relative path (or AT_EMPTY_PATH).
  if (info != nullptr && (info->classes & kClassPath) && nr != SYS_newfstatat && nr != SYS_statx) {
    if (!PathCall(call)) call.Fail(ENOTSUP);
    return true;
  }
  if (nr == SYS_newfstatat || nr == SYS_statx) {
    std::string raw;
    call.ReadString(RemotePtr<char>(call.arg(1)), &raw, PATH_MAX);
    if (!raw.empty()) {
      if (!PathCall(call)) call.Fail(ENOTSUP);
      return true;
    }
  }
  if (c->dead) return call.Fail(ENOTCONN), true;
  if (c->unmounted) return call.Fail(EIO), true;
  std::shared_ptr<FuseFile> self = f.shared_from_this();
  const Creds cr = CredsOf(call);
  switch (nr) {
    case SYS_fstat:
    case SYS_newfstatat:
    case SYS_statx: {
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      uint64_t buf = nr == SYS_fstat        ? call.arg(1)
                     : nr == SYS_newfstatat ? call.arg(2)
                                            : call.arg(4);
      fuse_getattr_in in{};
      if (!f.dir) {  // as the kernel: a directory's fh is the program's OPENDIR handle
        in.getattr_flags = FUSE_GETATTR_FH;
        in.fh = f.fh;
      }
      std::string body;
      Append(&body, in);
      Send(c, FUSE_GETATTR, f.node, cr, body,
           [this, c, token, nr, buf](int err, const std::string& p) {
             if (err != 0) return Finish(token, err);
             FinishStat(c, token, nr == SYS_fstat ? SYS_newfstatat : nr, buf,
                        Take<fuse_attr_out>(p).attr);
           });
      return true;
    }
    case SYS_sendfile:
    case SYS_splice:
    case SYS_copy_file_range:
    case SYS_tee:
    case SYS_vmsplice:
      MoveCall(f, call);
      return true;
    case SYS_read:
    case SYS_pread64:
    case SYS_readv:
    case SYS_preadv:
    case SYS_preadv2: {
      if (f.dir) return call.Fail(EISDIR), true;
      if ((f.flags & O_ACCMODE) == O_WRONLY) return call.Fail(EBADF), true;
      uint64_t buf = call.arg(1);
      size_t size = call.arg(2);
      bool positioned = nr == SYS_pread64 || nr == SYS_preadv || nr == SYS_preadv2;
      uint64_t off = nr == SYS_pread64                     ? call.arg(3)
                     : (nr == SYS_read || nr == SYS_readv) ? f.pos
                                                           : call.arg(3);
      if (nr == SYS_preadv2 && static_cast<int64_t>(call.arg(3)) == -1)
        positioned = false, off = f.pos;
      if (nr == SYS_readv || nr == SYS_preadv || nr == SYS_preadv2) {
        // The first non-empty buffer only: a short read, which readv allows.
        size_t cnt = std::min<size_t>(call.arg(2), 1024);
        std::vector<iovec> iov(cnt);
        if (cnt && call.Read(RemotePtr<void>(call.arg(1)), iov.data(), cnt * sizeof(iovec)) != 0) {
          return call.Fail(EFAULT), true;
        }
        buf = 0, size = 0;
        for (const iovec& v : iov) {
          if (v.iov_len) {
            buf = reinterpret_cast<uint64_t>(v.iov_base), size = v.iov_len;
            break;
          }
        }
      }
      if (size == 0) return call.Return(0), true;
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      fuse_read_in in{};
      in.fh = f.fh;
      in.offset = off;
      in.size = static_cast<uint32_t>(std::min(size, kMaxRead));
      in.flags = static_cast<uint32_t>(f.flags);
      std::string body;
      Append(&body, in);
      Send(c, FUSE_READ, f.node, cr, body,
           [this, self, token, buf, positioned](int err, const std::string& p) {
             if (err != 0) return Finish(token, err);
             if (!positioned) self->pos += p.size();
             Finish(token, static_cast<int64_t>(p.size()), buf, p);
           });
      return true;
    }
    case SYS_write:
    case SYS_pwrite64:
    case SYS_writev:
    case SYS_pwritev:
    case SYS_pwritev2: {
      if (f.dir) return call.Fail(EISDIR), true;
      if ((f.flags & O_ACCMODE) == O_RDONLY) return call.Fail(EBADF), true;
      uint64_t buf = call.arg(1);
      size_t size = call.arg(2);
      bool positioned = nr == SYS_pwrite64 || nr == SYS_pwritev || nr == SYS_pwritev2;
      uint64_t off = positioned ? call.arg(3) : f.pos;
      if (nr == SYS_pwritev2 && static_cast<int64_t>(call.arg(3)) == -1)
        positioned = false, off = f.pos;
      if (nr == SYS_writev || nr == SYS_pwritev || nr == SYS_pwritev2) {
        size_t cnt = std::min<size_t>(call.arg(2), 1024);
        std::vector<iovec> iov(cnt);
        if (cnt && call.Read(RemotePtr<void>(call.arg(1)), iov.data(), cnt * sizeof(iovec)) != 0) {
          return call.Fail(EFAULT), true;
        }
        buf = 0, size = 0;
        for (const iovec& v : iov) {
          if (v.iov_len) {
            buf = reinterpret_cast<uint64_t>(v.iov_base), size = v.iov_len;
            break;
          }
        }
      }
      if (size == 0) return call.Return(0), true;
      size = std::min<size_t>(size, c->max_write);  // a short write: callers write the rest
      std::string data(size, '\0');
      if (call.Read(RemotePtr<void>(buf), data.data(), size) != 0) return call.Fail(EFAULT), true;
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      auto send = [this, c, self, cr, token, data, positioned](uint64_t at) {
        fuse_write_in in{};
        in.fh = self->fh;
        in.offset = at;
        in.size = static_cast<uint32_t>(data.size());
        in.flags = static_cast<uint32_t>(self->flags);
        std::string body;
        Append(&body, in);
        body += data;
        Send(c, FUSE_WRITE, self->node, cr, body,
             [this, self, token, at, positioned](int err, const std::string& p) {
               if (err != 0) return Finish(token, err);
               uint32_t n = Take<fuse_write_out>(p).size;
               if (!positioned) self->pos = at + n;
               Finish(token, n);
             });
      };
      if ((f.flags & O_APPEND) && !positioned) {
        std::string body;
        Append(&body, fuse_getattr_in{});
        Send(c, FUSE_GETATTR, f.node, cr, body, [this, token, send](int err, const std::string& p) {
          if (err != 0) return Finish(token, err);
          send(Take<fuse_attr_out>(p).attr.size);
        });
      } else {
        send(off);
      }
      return true;
    }
    case SYS_lseek: {
      int64_t off = static_cast<int64_t>(call.arg(1));
      int whence = static_cast<int>(call.arg(2));
      if (f.dir) {
        if (whence != SEEK_SET || off != 0) return call.Fail(EINVAL), true;
        f.dir_off = 0, f.dir_eof = false, f.pending_dents.clear();
        return call.Return(0), true;
      }
      if (whence == SEEK_SET || whence == SEEK_CUR) {
        int64_t p = whence == SEEK_SET ? off : static_cast<int64_t>(f.pos) + off;
        if (p < 0) return call.Fail(EINVAL), true;
        f.pos = static_cast<uint64_t>(p);
        return call.Return(p), true;
      }
      if (whence != SEEK_END) return call.Fail(EINVAL), true;
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      std::string body;
      Append(&body, fuse_getattr_in{});
      Send(c, FUSE_GETATTR, f.node, cr, body,
           [this, self, token, off](int err, const std::string& p) {
             if (err != 0) return Finish(token, err);
             int64_t np = static_cast<int64_t>(Take<fuse_attr_out>(p).attr.size) + off;
             if (np < 0) return Finish(token, -EINVAL);
             self->pos = static_cast<uint64_t>(np);
             Finish(token, np);
           });
      return true;
    }
    case SYS_getdents64: {
      if (!f.dir) return call.Fail(ENOTDIR), true;
      uint64_t buf = call.arg(1);
      size_t size = call.arg(2);
      // Converts buffered fuse_dirents into linux_dirent64 records that fit.
      auto fill = [self, size](std::string* out) {
        std::string& in = self->pending_dents;
        size_t at = 0;
        while (at + sizeof(fuse_dirent) <= in.size()) {
          fuse_dirent d;
          memcpy(&d, in.data() + at, sizeof d);
          size_t rec = FUSE_DIRENT_ALIGN(sizeof(fuse_dirent) + d.namelen);
          if (at + sizeof(fuse_dirent) + d.namelen > in.size()) {
            // A reply may end in the middle of an entry (libfuse2 slices its buffer): as the
            // kernel, drop it; the next READDIR starts from the last whole entry's offset.
            at = in.size();
            break;
          }
          std::string name = in.substr(at + sizeof(fuse_dirent), d.namelen);
          size_t reclen = (19 + name.size() + 1 + 7) & ~size_t{7};
          if (out->size() + reclen > size) break;
          std::string r(reclen, '\0');
          uint64_t ino = d.ino, off = d.off;
          uint16_t rl = static_cast<uint16_t>(reclen);
          unsigned char type = static_cast<unsigned char>(d.type);
          memcpy(r.data(), &ino, 8);
          memcpy(r.data() + 8, &off, 8);
          memcpy(r.data() + 16, &rl, 2);
          r[18] = static_cast<char>(type);
          memcpy(r.data() + 19, name.data(), name.size());
          *out += r;
          self->dir_off = off;
          at += rec;
        }
        in.erase(0, std::min(at, in.size()));
        if (in.size() < sizeof(fuse_dirent)) in.clear();
      };
      std::string out;
      fill(&out);
      if (!out.empty() || f.dir_eof) {
        if (out.empty() && !f.pending_dents.empty()) return call.Fail(EINVAL), true;
        int64_t n = static_cast<int64_t>(out.size());
        if (n > 0 && call.Write(RemotePtr<void>(buf), out.data(), out.size()) != 0) {
          return call.Fail(EFAULT), true;
        }
        return call.Return(n), true;
      }
      if (!f.pending_dents.empty()) return call.Fail(EINVAL), true;  // buffer too small
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      fuse_read_in in{};
      in.fh = f.fh;
      in.offset = f.dir_off;
      in.size = 4096 * 4;
      std::string body;
      Append(&body, in);
      const bool plus = c->readdirplus;
      Send(c, plus ? FUSE_READDIRPLUS : FUSE_READDIR, f.node, cr, body,
           [this, c, self, token, buf, fill, plus](int err, const std::string& p) {
             if (err != 0) return Finish(token, err);
             if (p.empty()) {
               self->dir_eof = true;
               return Finish(token, 0);
             }
             self->pending_dents += plus ? Listed(c, self->rel, p) : p;
             std::string out;
             fill(&out);
             if (out.empty()) return Finish(token, -EINVAL);
             Finish(token, static_cast<int64_t>(out.size()), buf, out);
           });
      return true;
    }
    case SYS_fsync:
    case SYS_fdatasync: {
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      fuse_fsync_in in{};
      in.fh = f.fh;
      in.fsync_flags = nr == SYS_fdatasync ? 1 : 0;
      std::string body;
      Append(&body, in);
      Send(c, f.dir ? FUSE_FSYNCDIR : FUSE_FSYNC, f.node, cr, body,
           [this, token](int err, const std::string&) { Finish(token, err == -ENOSYS ? 0 : err); });
      return true;
    }
    case SYS_ftruncate:
    case SYS_fchmod:
    case SYS_fchown: {
      fuse_setattr_in in{};
      if (!f.dir) in.valid = FATTR_FH, in.fh = f.fh;
      if (nr == SYS_ftruncate) {
        if (f.dir || (f.flags & O_ACCMODE) == O_RDONLY) return call.Fail(EINVAL), true;
        in.valid |= FATTR_SIZE, in.size = call.arg(1);
      } else if (nr == SYS_fchmod) {
        in.valid |= FATTR_MODE, in.mode = static_cast<uint32_t>(call.arg(1) & 07777);
      } else {
        if (static_cast<uint32_t>(call.arg(1)) != UINT32_MAX) {
          in.valid |= FATTR_UID, in.uid = static_cast<uint32_t>(call.arg(1));
        }
        if (static_cast<uint32_t>(call.arg(2)) != UINT32_MAX) {
          in.valid |= FATTR_GID, in.gid = static_cast<uint32_t>(call.arg(2));
        }
      }
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      std::string body;
      Append(&body, in);
      Send(c, FUSE_SETATTR, f.node, cr, body,
           [this, token](int err, const std::string&) { Finish(token, err); });
      return true;
    }
    case SYS_fstatfs: {
      uint64_t token = DeferCall(call);
      if (token == 0) return call.Fail(ENOSYS), true;
      uint64_t buf = call.arg(1);
      Send(c, FUSE_STATFS, f.node, cr, "", [this, token, buf](int err, const std::string& p) {
        if (err != 0) return Finish(token, err);
        fuse_kstatfs k = Take<fuse_statfs_out>(p).st;
        struct statfs s {};
        s.f_type = 0x65735546;
        s.f_bsize = k.bsize;
        s.f_blocks = k.blocks;
        s.f_bfree = k.bfree;
        s.f_bavail = k.bavail;
        s.f_files = k.files;
        s.f_ffree = k.ffree;
        s.f_namelen = k.namelen;
        s.f_frsize = k.frsize ? k.frsize : k.bsize;
        Finish(token, 0, buf, std::string(reinterpret_cast<char*>(&s), sizeof s));
      });
      return true;
    }
    case SYS_fchdir:
      if (!f.dir) return call.Fail(ENOTDIR), true;
      leaving.erase(call.tid());
      SetCwd(call.tid(), NormalizePath(c->point + "/" + f.rel));
      return call.Return(0), true;
    case SYS_fgetxattr:
    case SYS_flistxattr:
    case SYS_fsetxattr:
    case SYS_fremovexattr:
      return call.Fail(EOPNOTSUPP), true;
  }
  return false;
}

FuseClient::FuseClient(Host& host, BaseFn base)
    : impl_(std::make_unique<Impl>(host, std::move(base))) {}
FuseClient::~FuseClient() = default;

// chdir into a directory of a FUSE mount: LOOKUP (following symlinks), then the thread's view
// cwd is that directory; the kernel does not run the call. A symlink leading out of the mount
// gives the kernel a chdir to where it leads.
void FuseClient::Impl::ChdirFuse(Call& call, const std::shared_ptr<FuseConn>& c,
                                 const std::string& rel, uint64_t token) {
  const pid_t tid = call.tid();
  Lookup(c, CredsOf(call), rel, true, [this, c, tid, token](Looked l) {
    if (l.err != 0) return Finish(token, -l.err);
    if (!l.outside.empty()) {
      std::string out = l.outside;
      // The view cwd ends here, whether or not the kernel's chdir then succeeds.
      EndCwd(tid);
      leaving.erase(tid);
      host.Resume(token, [out](Call& call) {
        if (int rc = call.SetPath(0, out); rc < 0) call.Return(rc);
      });
      return;
    }
    if (!S_ISDIR(l.attr.mode)) return Finish(token, -ENOTDIR);
    if (!(l.attr.mode & 0111)) return Finish(token, -EACCES);
    std::string view = NormalizePath(c->point + "/" + l.rel);
    host.Resume(token, [this, tid, view](Call& call) {
      leaving.erase(tid);
      SetCwd(tid, view);
      call.Return(0);
    });
  });
}

// Calls that depend on a view cwd inside a FUSE mount: getcwd answers it; relative paths (from
// AT_FDCWD) are made absolute against it, for the FUSE client and for the rest of viewfs, since
// the kernel's cwd is elsewhere; a chdir/fchdir elsewhere ends it once the kernel succeeds.
bool FuseClient::Impl::CwdCall(Call& call) {
  const pid_t tid = call.tid();
  const std::string vcwd = CwdOf(tid);
  if (vcwd.empty()) return false;
  const int nr = call.nr();
  if (nr == SYS_getcwd) {
    size_t size = call.arg(1);
    if (vcwd.size() + 1 > size) return call.Fail(ERANGE), true;
    if (call.Write(RemotePtr<void>(call.arg(0)), vcwd.c_str(), vcwd.size() + 1) != 0) {
      return call.Fail(EFAULT), true;
    }
    return call.Return(static_cast<int64_t>(vcwd.size() + 1)), true;
  }
  const SyscallInfo* info = call.info();
  if (info != nullptr && (info->classes & kClassPath)) {
    for (int i = 0; i < info->nargs; ++i) {
      if (info->args[i] != Arg::kPath) continue;
      if (i > 0 && info->args[i - 1] == Arg::kDirFd &&
          static_cast<int>(call.arg(i - 1)) != AT_FDCWD) {
        continue;
      }
      std::string raw;
      if (call.arg(i) == 0 || call.InScratch(call.arg(i)) ||
          call.ReadString(RemotePtr<char>(call.arg(i)), &raw, PATH_MAX) < 0 || raw.empty() ||
          raw[0] == '/') {
        continue;
      }
      std::string abs = NormalizePath(vcwd + "/" + raw);
      if (raw.back() == '/' && abs != "/") abs += '/';
      if (int rc = call.SetPath(i, abs); rc < 0) return call.Fail(-rc), true;
    }
  }
  if (nr == SYS_chdir || nr == SYS_fchdir) {
    leaving.insert(tid);  // ChdirFuse / fchdir of a FUSE directory take it back
    call.RequestExit();
  }
  return false;
}

bool FuseClient::OnEntry(Call& call) {
  Impl::CtxScope scope(impl_.get(), 0);
  if (impl_->CwdCall(call)) return true;
  switch (call.nr()) {
    case SYS_mount:
      return impl_->Mount(call);
    case SYS_umount2:
      return impl_->Umount(call);
  }
  bool mounted = false;
  for (const auto& c : impl_->conns) mounted |= !c->point.empty();
  if (!mounted) {
    // No FUSE mount: only an open of /dev/fuse is ours. A cheap test on the raw string keeps
    // the other opens of every viewfs view from being resolved twice.
    const int nr = call.nr();
    if (nr != SYS_open && nr != SYS_openat && nr != SYS_openat2) return false;
    std::string raw;
    int i = nr == SYS_open ? 0 : 1;
    if (call.InScratch(call.arg(i)) ||
        call.ReadString(RemotePtr<char>(call.arg(i)), &raw, PATH_MAX) < 0 || raw.size() < 4 ||
        raw.compare(raw.size() - 4, 4, "fuse") != 0) {
      return false;
    }
  }
  return impl_->PathCall(call);
}

bool FuseClient::OnExit(Call& call) {
  Impl::CtxScope scope(impl_.get(), 0);
  if (auto it = impl_->opening_memfd.find(call.tid()); it != impl_->opening_memfd.end()) {
    close(it->second);  // the tracee has its own descriptor now (or the call failed)
    impl_->opening_memfd.erase(it);
    return true;
  }
  if (call.nr() == SYS_chdir || call.nr() == SYS_fchdir) {
    if (impl_->leaving.erase(call.tid()) && call.result() == 0) impl_->EndCwd(call.tid());
  }
  auto learn = [&](uint64_t* ino_out) {
    if (call.result() < 0) return false;
    char buf[64];
    std::string p = "/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(call.result());
    ssize_t n = readlink(p.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return false;
    buf[n] = 0;
    unsigned long long ino = 0;
    if (sscanf(buf, "pipe:[%llu]", &ino) != 1) return false;
    *ino_out = ino;
    return true;
  };
  if (auto it = impl_->opening_dev.find(call.tid()); it != impl_->opening_dev.end()) {
    auto c = it->second;
    impl_->opening_dev.erase(it);
    uint64_t ino;
    if (learn(&ino)) {
      c->ino = ino;
    } else {
      std::erase(impl_->conns, c);
    }
    return true;
  }
  if (auto it = impl_->opening_file.find(call.tid()); it != impl_->opening_file.end()) {
    auto f = it->second;
    impl_->opening_file.erase(it);
    uint64_t ino;
    if (learn(&ino)) {
      impl_->files_by_ino[ino] = f;
      for (auto i = impl_->files_by_ino.begin(); i != impl_->files_by_ino.end();) {
        i = i->second.expired() ? impl_->files_by_ino.erase(i) : std::next(i);
      }
    }
    return true;
  }
  return false;
}

std::vector<std::string> FuseClient::MountsIn(const std::string& dir) const {
  std::vector<std::string> out;
  for (const auto& c : impl_->conns) {
    if (!c->point.empty() && c->point != "/" &&
        c->point.substr(0, std::max<size_t>(1, c->point.rfind('/'))) == dir) {
      out.push_back(c->point.substr(c->point.rfind('/') + 1));
    }
  }
  return out;
}

bool FuseClient::Under(const std::string& view) const {
  return impl_->MountFor(view, nullptr) != nullptr;
}

std::string FuseClient::Cwd(pid_t tid) const { return impl_->CwdOf(tid); }

// A new task shares its parent's cwd record if it shares its fs_struct (CLONE_FS: threads, and
// processes made with clone(CLONE_FS), told apart by kcmp(KCMP_FS); without kcmp, threads
// only), else it starts with a copy.
void FuseClient::NewTask(pid_t parent, pid_t tid, bool is_thread) {
  long same = syscall(SYS_kcmp, parent, tid, KCMP_FS, 0, 0);
  const bool shares = same == 0 || (same < 0 && is_thread);
  auto& cwd = impl_->cwd;
  if (shares) {
    auto& rec = cwd[parent];
    if (!rec) rec = std::make_shared<std::string>();
    cwd[tid] = rec;
    return;
  }
  std::string v = impl_->CwdOf(parent);
  if (!v.empty()) cwd[tid] = std::make_shared<std::string>(v);
}

void FuseClient::Exec(pid_t pid, pid_t former_tid) {
  if (former_tid == 0 || former_tid == pid) return;
  auto it = impl_->cwd.find(former_tid);
  if (it == impl_->cwd.end()) return (void)impl_->cwd.erase(pid);
  auto rec = it->second;
  impl_->cwd.erase(it);
  impl_->cwd[pid] = rec;
}

void FuseClient::TaskExit(pid_t tid) {
  if (auto it = impl_->opening_memfd.find(tid); it != impl_->opening_memfd.end()) {
    close(it->second);
    impl_->opening_memfd.erase(it);
  }
  impl_->cwd.erase(tid);
  impl_->leaving.erase(tid);
}

}  // namespace umview::viewfs
