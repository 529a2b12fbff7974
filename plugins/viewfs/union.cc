// Union mounts; see union.h.
#include "plugins/viewfs/union.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <set>

namespace umview::viewfs {
namespace {

constexpr const char* kOpaque = ".wh..wh..opq";

bool Exists(const std::string& p, struct stat* st = nullptr) {
  struct stat s;
  return lstat(p.c_str(), st ? st : &s) == 0;
}

std::string Parent(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos || slash == 0 ? "" : rel.substr(0, slash);
}

std::string Name(const std::string& rel) { return rel.substr(rel.rfind('/') + 1); }

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

int CopyFile(const std::string& from, const std::string& to, const struct stat& st) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return -errno;
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
  if (out < 0) {
    int e = errno;
    close(in);
    return -e;
  }
  char buf[1 << 16];
  int rc = 0;
  while (true) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0) {
      rc = -errno;
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, n - off);
      if (w < 0) {
        rc = -errno;
        break;
      }
      off += w;
    }
    if (rc) break;
  }
  if (rc == 0) {
    fchmod(out, st.st_mode & 07777);
    if (fchown(out, st.st_uid, st.st_gid) != 0) {
      // not permitted for an ordinary user: the copy is theirs, as with any copy they make
    }
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    futimens(out, times);
    if (fsync(out) != 0) rc = -errno;
  }
  close(in);
  if (close(out) != 0 && rc == 0) rc = -errno;
  return rc;
}

}  // namespace

namespace {

// The first lower layer that has rel, if no opaque upper directory hides them.
void FindInLowers(const Mount& m, const std::string& rel, LayerHit* h) {
  if (h->lowers_hidden) return;
  for (const auto& l : m.lowers) {
    std::string p = l + rel;
    struct stat st;
    if (Exists(p, &st)) {
      h->in_lower = true;
      if (!h->exists) {
        h->exists = true;
        h->host = p;
        h->mode = st.st_mode;
      }
      return;
    }
  }
}

bool StrictlyBelow(const std::string& rel, const std::string& dir) {
  return rel.size() > dir.size() && rel.compare(0, dir.size(), dir) == 0 && rel[dir.size()] == '/';
}

}  // namespace

LayerHit LocateInUnion(const Mount& m, const std::string& rel, const LayerHit* above) {
  LayerHit h;
  h.mount = &m;
  h.rel = rel;
  h.host = m.src + rel;
  auto comps = Components(rel);
  for (const auto& c : comps) {
    if (IsWhiteoutName(c)) {
      h.whiteout = true;
      return h;
    }
  }
  // Below a directory the upper layer lacks, the upper layer has nothing (no copy, whiteout
  // or opaque marker): only the lower layers are looked at. A walk passes each component's
  // hit to the next, so a path in a tree only the lower layer has costs one lstat a name.
  if (above != nullptr && above->mount == &m && !above->upper_gap.empty() &&
      StrictlyBelow(rel, above->upper_gap)) {
    h.upper_gap = above->upper_gap;
    h.lowers_hidden = above->lowers_hidden;
    FindInLowers(m, rel, &h);
    return h;
  }
  // The parent's look-up found it in the upper layer: what it saw above still holds, and only
  // the parent's own directory is left to look at (a tree the view made, as tar x makes one,
  // no longer costs two lstat calls per component of every name).
  if (above != nullptr && above->mount == &m && above->in_upper && !above->whiteout &&
      Parent(rel) == above->rel && !comps.empty()) {
    const std::string parent = m.src + above->rel;
    if (Exists(parent + "/.wh." + comps.back())) {
      h.whiteout = true;
      return h;
    }
    // The mount's own directory is not among those whose marker hides the lowers (as below).
    h.lowers_hidden =
        above->lowers_hidden || (!above->rel.empty() && Exists(parent + "/" + kOpaque));
    struct stat st;
    if (Exists(h.host, &st)) {
      h.exists = h.in_upper = true;
      h.mode = st.st_mode;
    } else {
      h.upper_gap = rel;
    }
    FindInLowers(m, rel, &h);
    return h;
  }
  // Whiteouts and opaque markers are files in the upper layer's directories. Where the upper
  // layer lacks a directory of the path, nothing below it is there either: the look-up stops
  // at the first one it does not have. When the name itself is in the upper layer, so is
  // every directory above it: no such check.
  struct stat upper_st;
  const bool in_upper = Exists(h.host, &upper_st);
  bool dirs = true;  // every directory above the name is a directory in the upper layer
  std::string up = m.src;
  for (size_t i = 0; i < comps.size(); ++i) {
    if (Exists(up + "/.wh." + comps[i])) {
      h.whiteout = true;
      return h;
    }
    up += "/" + comps[i];
    if (i + 1 == comps.size()) break;
    if (!in_upper) {
      struct stat st;
      const bool found = lstat(up.c_str(), &st) == 0;
      if (found ? !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) : errno == ENOENT) {
        // What is below `up` fails with ENOENT or ENOTDIR there.
        h.upper_gap = up.substr(m.src.size());
        break;
      }
      dirs = dirs && found && S_ISDIR(st.st_mode);  // a symlink: looked through, as before
    }
    if (Exists(up + "/" + kOpaque)) h.lowers_hidden = true;
  }
  if (in_upper) {
    h.exists = h.in_upper = true;
    h.mode = upper_st.st_mode;
  } else if (h.upper_gap.empty() && dirs) {
    h.upper_gap = rel;  // its directory is there, it is not (a creation needs no mkdir -p)
  }
  FindInLowers(m, rel, &h);
  return h;
}

int EnsureUpperParents(const Mount& m, const std::string& rel) {
  std::string up = m.src, rel_so_far;
  auto comps = Components(Parent(rel));
  for (const auto& c : comps) {
    up += "/" + c;
    rel_so_far += "/" + c;
    struct stat st;
    if (Exists(up, &st)) {
      if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
      continue;
    }
    mode_t mode = 0755;
    for (const auto& l : m.lowers) {
      if (Exists(l + rel_so_far, &st)) {
        mode = st.st_mode & 07777;
        break;
      }
    }
    if (mkdir(up.c_str(), mode) != 0 && errno != EEXIST) return -errno;
  }
  return 0;
}

int CopyUp(const Mount& m, const std::string& rel) {
  LayerHit h = LocateInUnion(m, rel, nullptr);
  if (!h.exists) return -ENOENT;
  if (h.in_upper) return 0;
  int rc = EnsureUpperParents(m, rel);
  if (rc) return rc;
  struct stat st;
  if (lstat(h.host.c_str(), &st) != 0) return -errno;
  std::string target = m.src + rel;
  // ".wh." keeps the temporary name out of listings; rename() makes the copy appear whole.
  std::string tmp =
      m.src + Parent(rel) + "/.wh.copyup." + std::to_string(getpid()) + "." + Name(rel);
  unlink(tmp.c_str());
  if (S_ISREG(st.st_mode)) {
    rc = CopyFile(h.host, tmp, st);
  } else if (S_ISLNK(st.st_mode)) {
    char buf[PATH_MAX];
    ssize_t n = readlink(h.host.c_str(), buf, sizeof buf);
    if (n < 0) return -errno;
    rc = symlink(std::string(buf, n).c_str(), tmp.c_str()) == 0 ? 0 : -errno;
  } else if (S_ISDIR(st.st_mode)) {
    return mkdir(target.c_str(), st.st_mode & 07777) == 0 || errno == EEXIST ? 0 : -errno;
  } else if (S_ISFIFO(st.st_mode)) {
    rc = mkfifo(tmp.c_str(), st.st_mode & 07777) == 0 ? 0 : -errno;
  } else {
    return -EPERM;  // devices and sockets cannot be copied without privileges
  }
  if (rc == 0 && rename(tmp.c_str(), target.c_str()) != 0) rc = -errno;
  if (rc != 0) unlink(tmp.c_str());
  return rc;
}

int AddWhiteout(const Mount& m, const std::string& rel) {
  int rc = EnsureUpperParents(m, rel);
  if (rc) return rc;
  std::string wh = m.src + Parent(rel) + "/.wh." + Name(rel);
  int fd = open(wh.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  close(fd);
  return 0;
}

bool RemoveWhiteout(const Mount& m, const std::string& rel) {
  std::string wh = m.src + Parent(rel) + "/.wh." + Name(rel);
  return unlink(wh.c_str()) == 0;
}

int MarkOpaque(const Mount& m, const std::string& rel) {
  std::string p = m.src + rel + "/" + kOpaque;
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  close(fd);
  return 0;
}

std::vector<UnionEntry> ListUnion(const Mount& m, const std::string& rel) {
  return ListUnion(m, rel, LocateInUnion(m, rel, nullptr));
}

std::vector<UnionEntry> ListUnion(const Mount& m, const std::string& rel, const LayerHit& h) {
  std::vector<UnionEntry> out;
  std::set<std::string> seen = {".", ".."}, whiteouts;
  if (h.whiteout) return out;
  // A lower directory shows only if neither the upper directory nor one above it is opaque.
  std::vector<std::string> layers;
  bool opaque = h.lowers_hidden;
  if (h.in_upper) {
    layers.push_back(m.src + rel);
    opaque = opaque || Exists(m.src + rel + "/" + kOpaque);
  }
  if (!opaque) {
    for (const auto& l : m.lowers) layers.push_back(l + rel);
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    DIR* d = opendir(layers[i].c_str());
    if (d == nullptr) continue;
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (IsWhiteoutName(name)) {
        if (i == 0 && h.in_upper && name != kOpaque) whiteouts.insert(name.substr(4));
        continue;
      }
      if (seen.count(name) || whiteouts.count(name)) continue;
      seen.insert(name);
      out.push_back({name, e->d_ino, e->d_type});
    }
    closedir(d);
  }
  return out;
}

void ClearUpperDir(const Mount& m, const std::string& rel) {
  std::string dir = m.src + rel;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    if (IsWhiteoutName(e->d_name)) names.push_back(e->d_name);
  }
  closedir(d);
  for (const auto& n : names) unlink((dir + "/" + n).c_str());
}

}  // namespace umview::viewfs
