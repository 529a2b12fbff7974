// memfs: an in-memory libfuse3 file system for the FUSE-in-a-view tests. It implements every
// operation the view's FUSE client sends and logs the name of each one it serves to the file
// named by $MEMFS_LOG (one per line), so a test can check that every request type was used.
// With MEMFS_BLOCK=1 it also has /block, whose reads never end unless the request is
// interrupted (FUSE_INTERRUPT): they log "read-block", wait, log "interrupted", fail with EINTR.
// Listings answered as READDIRPLUS log "readdirplus" instead of "readdir".
// With MEMFS_SPLICE=1 it asks for libfuse's splice paths: requests are spliced from the device
// into a pipe, and reads answer from a descriptor, so replies are spliced to the device
// (logged as "read-splice").
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Node {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  dev_t rdev = 0;
  nlink_t nlink = 1;
  std::string data;  // file contents or symlink target
  std::map<std::string, std::string> xattrs;
  struct timespec atime {
  }, mtime{}, ctime{};
  ino_t ino = 0;
};

std::map<std::string, std::shared_ptr<Node>> g_tree;  // by absolute path in the fs
std::mutex g_mu;
ino_t g_next_ino = 2;
FILE* g_log = nullptr;

void Log(const char* op) {
  if (g_log) {
    fprintf(g_log, "%s\n", op);
    fflush(g_log);
  }
}

std::shared_ptr<Node> Find(const char* path) {
  auto it = g_tree.find(path);
  return it == g_tree.end() ? nullptr : it->second;
}

std::string Parent(const std::string& p) {
  size_t k = p.rfind('/');
  return k == 0 ? "/" : p.substr(0, k);
}

std::shared_ptr<Node> Make(mode_t mode) {
  auto n = std::make_shared<Node>();
  n->mode = mode;
  fuse_context* ctx = fuse_get_context();
  n->uid = ctx ? ctx->uid : 0;
  n->gid = ctx ? ctx->gid : 0;
  clock_gettime(CLOCK_REALTIME, &n->mtime);
  n->atime = n->ctime = n->mtime;
  n->ino = g_next_ino++;
  return n;
}

int Add(const char* path, std::shared_ptr<Node> n) {
  if (g_tree.count(path)) return -EEXIST;
  auto parent = Find(Parent(path).c_str());
  if (!parent) return -ENOENT;
  if (!S_ISDIR(parent->mode)) return -ENOTDIR;
  g_tree[path] = std::move(n);
  return 0;
}

bool HasChildren(const std::string& dir) {
  std::string prefix = dir == "/" ? "/" : dir + "/";
  auto it = g_tree.upper_bound(prefix);
  return it != g_tree.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

void Fill(const Node* n, struct stat* st) {
  memset(st, 0, sizeof *st);
  st->st_ino = n->ino;
  st->st_mode = n->mode;
  st->st_nlink = n->nlink;
  st->st_uid = n->uid;
  st->st_gid = n->gid;
  st->st_rdev = n->rdev;
  st->st_size = static_cast<off_t>(n->data.size());
  st->st_blocks = (st->st_size + 511) / 512;
  st->st_atim = n->atime;
  st->st_mtim = n->mtime;
  st->st_ctim = n->ctime;
}

int Getattr(const char* path, struct stat* st, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("getattr");
  auto n = Find(path);
  if (!n) return -ENOENT;
  Fill(n.get(), st);
  return 0;
}

int Readlink(const char* path, char* buf, size_t size) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("readlink");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (!S_ISLNK(n->mode)) return -EINVAL;
  snprintf(buf, size, "%s", n->data.c_str());
  return 0;
}

int Mknod(const char* path, mode_t mode, dev_t rdev) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("mknod");
  auto n = Make(mode);
  n->rdev = rdev;
  return Add(path, n);
}

int Mkdir(const char* path, mode_t mode) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("mkdir");
  auto n = Make(S_IFDIR | mode);
  n->nlink = 2;
  return Add(path, n);
}

int Unlink(const char* path) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("unlink");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (S_ISDIR(n->mode)) return -EISDIR;
  --n->nlink;
  g_tree.erase(path);
  return 0;
}

int Rmdir(const char* path) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("rmdir");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (!S_ISDIR(n->mode)) return -ENOTDIR;
  if (HasChildren(path)) return -ENOTEMPTY;
  g_tree.erase(path);
  return 0;
}

int Symlink(const char* target, const char* path) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("symlink");
  auto n = Make(S_IFLNK | 0777);
  n->data = target;
  return Add(path, n);
}

int Rename(const char* from, const char* to, unsigned int flags) {
  std::lock_guard<std::mutex> l(g_mu);
  Log(flags ? "rename2" : "rename");
  auto n = Find(from);
  if (!n) return -ENOENT;
  auto existing = Find(to);
  if ((flags & RENAME_NOREPLACE) && existing) return -EEXIST;
  if (existing && S_ISDIR(existing->mode) && HasChildren(to)) return -ENOTEMPTY;
  if (!Find(Parent(to).c_str())) return -ENOENT;
  // Move the node and everything below it.
  std::string f = from, t = to;
  std::vector<std::pair<std::string, std::shared_ptr<Node>>> moved;
  for (auto it = g_tree.begin(); it != g_tree.end();) {
    if (it->first == f || it->first.compare(0, f.size() + 1, f + "/") == 0) {
      moved.push_back({t + it->first.substr(f.size()), it->second});
      it = g_tree.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, node] : moved) g_tree[p] = node;
  return 0;
}

int Link(const char* from, const char* to) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("link");
  auto n = Find(from);
  if (!n) return -ENOENT;
  int rc = Add(to, n);
  if (rc == 0) ++n->nlink;
  return rc;
}

int Chmod(const char* path, mode_t mode, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("chmod");
  auto n = Find(path);
  if (!n) return -ENOENT;
  n->mode = (n->mode & S_IFMT) | (mode & 07777);
  return 0;
}

int Chown(const char* path, uid_t uid, gid_t gid, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("chown");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (uid != static_cast<uid_t>(-1)) n->uid = uid;
  if (gid != static_cast<gid_t>(-1)) n->gid = gid;
  return 0;
}

int Truncate(const char* path, off_t size, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("truncate");
  auto n = Find(path);
  if (!n) return -ENOENT;
  n->data.resize(static_cast<size_t>(size));
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("open");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (fi->flags & O_TRUNC) n->data.clear();
  return 0;
}

// /block: waits until libfuse says the request was interrupted (FUSE_INTERRUPT received for
// it); with interrupts enabled (cfg->intr, Init) libfuse also sends this thread SIGUSR1, which
// ends the sleep early.
int ReadBlock() {
  Log("read-block");
  while (!fuse_interrupted()) usleep(10000);
  Log("interrupted");
  return -EINTR;
}

int Read(const char* path, char* buf, size_t size, off_t off, fuse_file_info*) {
  if (strcmp(path, "/block") == 0) return ReadBlock();
  std::lock_guard<std::mutex> l(g_mu);
  Log("read");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (static_cast<size_t>(off) >= n->data.size()) return 0;
  size_t k = std::min(size, n->data.size() - static_cast<size_t>(off));
  memcpy(buf, n->data.data() + off, k);
  return static_cast<int>(k);
}

// The reply data in a descriptor (a memfd per thread, reused), so libfuse splices the reply.
int ReadBuf(const char* path, fuse_bufvec** out, size_t size, off_t off, fuse_file_info*) {
  static thread_local int memfd = memfd_create("memfs-read", MFD_CLOEXEC);
  std::string data;
  {
    std::lock_guard<std::mutex> l(g_mu);
    Log("read-splice");
    auto n = Find(path);
    if (!n) return -ENOENT;
    if (static_cast<size_t>(off) < n->data.size()) {
      data = n->data.substr(off, std::min(size, n->data.size() - static_cast<size_t>(off)));
    }
  }
  if (memfd < 0 || ftruncate(memfd, 0) != 0 ||
      pwrite(memfd, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) {
    return -EIO;
  }
  auto* v = static_cast<fuse_bufvec*>(malloc(sizeof(fuse_bufvec)));
  if (v == nullptr) return -ENOMEM;
  *v = FUSE_BUFVEC_INIT(data.size());
  v->buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  v->buf[0].fd = memfd;
  v->buf[0].pos = 0;
  *out = v;
  return 0;
}

int Write(const char* path, const char* buf, size_t size, off_t off, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("write");
  auto n = Find(path);
  if (!n) return -ENOENT;
  if (n->data.size() < static_cast<size_t>(off) + size) n->data.resize(off + size);
  memcpy(n->data.data() + off, buf, size);
  clock_gettime(CLOCK_REALTIME, &n->mtime);
  return static_cast<int>(size);
}

int Statfs(const char*, struct statvfs* s) {
  Log("statfs");
  memset(s, 0, sizeof *s);
  s->f_bsize = 4096;
  s->f_frsize = 4096;
  s->f_blocks = 1000;
  s->f_bfree = 500;
  s->f_bavail = 400;
  s->f_files = 100;
  s->f_ffree = 50;
  s->f_namemax = 255;
  return 0;
}

int Flush(const char*, fuse_file_info*) {
  Log("flush");
  return 0;
}
int Release(const char*, fuse_file_info*) {
  Log("release");
  return 0;
}
int Fsync(const char*, int, fuse_file_info*) {
  Log("fsync");
  return 0;
}

int Setxattr(const char* path, const char* name, const char* value, size_t size, int flags) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("setxattr");
  auto n = Find(path);
  if (!n) return -ENOENT;
  bool has = n->xattrs.count(name) > 0;
  if ((flags & XATTR_CREATE) && has) return -EEXIST;
  if ((flags & XATTR_REPLACE) && !has) return -ENODATA;
  n->xattrs[name] = std::string(value, size);
  return 0;
}

int Getxattr(const char* path, const char* name, char* value, size_t size) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("getxattr");
  auto n = Find(path);
  if (!n) return -ENOENT;
  auto it = n->xattrs.find(name);
  if (it == n->xattrs.end()) return -ENODATA;
  if (size == 0) return static_cast<int>(it->second.size());
  if (size < it->second.size()) return -ERANGE;
  memcpy(value, it->second.data(), it->second.size());
  return static_cast<int>(it->second.size());
}

int Listxattr(const char* path, char* list, size_t size) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("listxattr");
  auto n = Find(path);
  if (!n) return -ENOENT;
  std::string all;
  for (auto& [k, v] : n->xattrs) all += k + '\0';
  if (size == 0) return static_cast<int>(all.size());
  if (size < all.size()) return -ERANGE;
  memcpy(list, all.data(), all.size());
  return static_cast<int>(all.size());
}

int Removexattr(const char* path, const char* name) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("removexattr");
  auto n = Find(path);
  if (!n) return -ENOENT;
  return n->xattrs.erase(name) ? 0 : -ENODATA;
}

int Opendir(const char* path, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("opendir");
  auto n = Find(path);
  if (!n) return -ENOENT;
  return S_ISDIR(n->mode) ? 0 : -ENOTDIR;
}

// Entries with their offsets (index + 1), from `off` on, until fill says the reply is full:
// libfuse then answers READDIRPLUS with a node for each entry (it looks each one up; with
// offsets of 0 libfuse 3.14 sends entries without nodes).
int Readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t off, fuse_file_info*,
            fuse_readdir_flags flags) {
  std::lock_guard<std::mutex> l(g_mu);
  const bool plus = flags & FUSE_READDIR_PLUS;
  Log(plus ? "readdirplus" : "readdir");
  std::string prefix = std::string(path) == "/" ? "/" : std::string(path) + "/";
  std::vector<std::pair<std::string, std::shared_ptr<Node>>> entries = {{".", Find(path)},
                                                                        {"..", nullptr}};
  for (auto it = g_tree.upper_bound(prefix); it != g_tree.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = it->first.substr(prefix.size());
    if (rest.empty() || rest.find('/') != std::string::npos) continue;
    entries.push_back({rest, it->second});
  }
  for (size_t i = static_cast<size_t>(std::max<off_t>(off, 0)); i < entries.size(); ++i) {
    struct stat st {};
    if (entries[i].second) Fill(entries[i].second.get(), &st);  // all of it, for READDIRPLUS
    st.st_mode |= entries[i].second ? 0 : S_IFDIR;
    if (fill(buf, entries[i].first.c_str(), &st, static_cast<off_t>(i + 1), FUSE_FILL_DIR_PLUS)) {
      break;
    }
  }
  return 0;
}

int Releasedir(const char*, fuse_file_info*) {
  Log("releasedir");
  return 0;
}

int Access(const char* path, int) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("access");
  return Find(path) ? 0 : -ENOENT;
}

int Create(const char* path, mode_t mode, fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("create");
  return Add(path, Make(S_IFREG | (mode & 07777)));
}

int Utimens(const char* path, const struct timespec tv[2], fuse_file_info*) {
  std::lock_guard<std::mutex> l(g_mu);
  Log("utimens");
  auto n = Find(path);
  if (!n) return -ENOENT;
  n->atime = tv[0];
  n->mtime = tv[1];
  return 0;
}

void* Init(fuse_conn_info* conn, fuse_config* cfg) {
  if (const char* sp = getenv("MEMFS_SPLICE"); sp && strcmp(sp, "1") == 0) {
    conn->want |=
        conn->capable & (FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  }
  cfg->use_ino = 1;
  // Long entry and attribute timeouts: what READDIRPLUS returns stays valid for the stats of
  // `ls -l` that follow even on a loaded machine (the view drops it on any change it makes).
  cfg->entry_timeout = 60;
  cfg->attr_timeout = 60;
  // libfuse's interrupt handling (what `-o intr` did in libfuse 2): on FUSE_INTERRUPT it
  // signals the thread serving the request with intr_signal. fuse_new installs a handler for
  // it only when intr is set before init, so main installs one.
  cfg->intr = 1;
  cfg->intr_signal = SIGUSR1;
  Log("init");
  return nullptr;
}

void Destroy(void*) { Log("destroy"); }

}  // namespace

void OnIntrSignal(int) {}

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = OnIntrSignal;
  sigaction(SIGUSR1, &sa, nullptr);
  if (const char* log = getenv("MEMFS_LOG")) g_log = fopen(log, "a");
  auto root = std::make_shared<Node>();
  root->mode = S_IFDIR | 0755;
  root->nlink = 2;
  root->ino = 1;
  g_tree["/"] = root;
  auto hello = std::make_shared<Node>();
  hello->mode = S_IFREG | 0644;
  hello->data = "hello from memfs\n";
  hello->ino = g_next_ino++;
  g_tree["/hello"] = hello;
  if (const char* b = getenv("MEMFS_BLOCK"); b && strcmp(b, "1") == 0) {
    auto block = std::make_shared<Node>();
    block->mode = S_IFREG | 0666;
    block->data = "never read";
    block->ino = g_next_ino++;
    g_tree["/block"] = block;
  }
  static fuse_operations ops{};
  ops.getattr = Getattr;
  ops.readlink = Readlink;
  ops.mknod = Mknod;
  ops.mkdir = Mkdir;
  ops.unlink = Unlink;
  ops.rmdir = Rmdir;
  ops.symlink = Symlink;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = Chmod;
  ops.chown = Chown;
  ops.truncate = Truncate;
  ops.open = Open;
  ops.read = Read;
  if (const char* sp = getenv("MEMFS_SPLICE"); sp && strcmp(sp, "1") == 0) ops.read_buf = ReadBuf;
  ops.write = Write;
  ops.statfs = Statfs;
  ops.flush = Flush;
  ops.release = Release;
  ops.fsync = Fsync;
  ops.setxattr = Setxattr;
  ops.getxattr = Getxattr;
  ops.listxattr = Listxattr;
  ops.removexattr = Removexattr;
  ops.opendir = Opendir;
  ops.readdir = Readdir;
  ops.releasedir = Releasedir;
  ops.access = Access;
  ops.create = Create;
  ops.utimens = Utimens;
  ops.init = Init;
  ops.destroy = Destroy;
  return fuse_main(argc, argv, &ops, nullptr);
}
