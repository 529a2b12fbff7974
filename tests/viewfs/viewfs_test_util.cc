// Shared helpers of the viewfs tests; see viewfs_test_util.h.
#include "tests/viewfs/viewfs_test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

namespace umview::test {

std::vector<std::string> Viewfs(const std::vector<std::string>& options) {
  std::string spec = "viewfs";
  for (const auto& o : options) spec += "," + o;
  return {"-p", spec};
}

RunResult ShIn(const std::vector<std::string>& umview_args, const std::string& script,
               const RunOptions& opts) {
  std::vector<std::string> args = umview_args;
  args.insert(args.end(), {"--", "sh", "-c", script});
  RunOptions o = opts;
  o.timeout_seconds = std::min(o.timeout_seconds, 20);
  return RunUmview(args, o);
}

std::string DoorResults::Of(const std::string& call) const {
  std::string found;
  int n = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i] == call) {
      found = results[i];
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << "no single call '" << call << "' in:\n" << run.out << run.err;
  return found;
}

DoorResults RunDoors(const std::vector<std::string>& umview_args,
                     const std::vector<std::vector<std::string>>& ops, const RunOptions& opts) {
  std::vector<std::string> args = umview_args;
  args.push_back("--");
  args.push_back(Tracee("vfs_door"));
  for (const auto& op : ops) args.insert(args.end(), op.begin(), op.end());
  RunOptions o = opts;
  o.timeout_seconds = std::min(o.timeout_seconds, 20);
  DoorResults d;
  d.run = RunUmview(args, o);
  EXPECT_EQ(d.run.exit_code, 0) << d.run.err;
  std::istringstream in(d.run.out);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    d.calls.push_back(line.substr(0, eq));
    d.results.push_back(line.substr(eq + 3));
  }
  EXPECT_EQ(d.calls.size(), ops.size()) << "vfs_door stopped early:\n" << d.run.out << d.run.err;
  return d;
}

void ExpectAll(const DoorResults& d, const std::string& want) {
  for (size_t i = 0; i < d.calls.size(); ++i) {
    EXPECT_EQ(d.results[i], want) << d.calls[i];
  }
}

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Walk(const std::string& root, const std::string& rel, TreeSnapshot* out) {
  std::string path = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  std::ostringstream s;
  s << (S_ISDIR(st.st_mode)    ? "dir"
        : S_ISLNK(st.st_mode)  ? "link"
        : S_ISREG(st.st_mode)  ? "file"
        : S_ISFIFO(st.st_mode) ? "fifo"
                               : "other")
    << " mode=" << std::oct << (st.st_mode & 07777) << std::dec << " uid=" << st.st_uid
    << " gid=" << st.st_gid << " nlink=" << st.st_nlink << " size=" << st.st_size
    << " mtime=" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << " ctime=" << st.st_ctim.tv_sec
    << "." << st.st_ctim.tv_nsec;
  if (S_ISREG(st.st_mode)) s << " content=" << Escape(ReadFile(path));
  if (S_ISLNK(st.st_mode)) {
    char t[4096];
    ssize_t n = readlink(path.c_str(), t, sizeof t);
    s << " target=" << std::string(t, n > 0 ? n : 0);
  }
  if (!S_ISLNK(st.st_mode)) {
    char names[4096];
    ssize_t n = llistxattr(path.c_str(), names, sizeof names);
    std::vector<std::string> xs;
    for (ssize_t i = 0; i < n;) {
      std::string name(names + i);
      i += name.size() + 1;
      if (name.rfind("user.", 0) != 0) continue;
      char v[4096];
      ssize_t k = lgetxattr(path.c_str(), name.c_str(), v, sizeof v);
      xs.push_back(name + "=" + std::string(v, k > 0 ? k : 0));
    }
    std::sort(xs.begin(), xs.end());
    for (const auto& x : xs) s << " xattr:" << x;
  }
  (*out)[rel.empty() ? "." : rel] = s.str();
  if (S_ISDIR(st.st_mode)) {
    for (const auto& name : HostList(path)) Walk(root, rel.empty() ? name : rel + "/" + name, out);
  }
}

}  // namespace

TreeSnapshot Snapshot(const std::string& dir) {
  TreeSnapshot out;
  Walk(dir, "", &out);
  return out;
}

void ExpectSameTree(const TreeSnapshot& before, const TreeSnapshot& after) {
  for (const auto& [path, what] : before) {
    auto it = after.find(path);
    if (it == after.end()) {
      ADD_FAILURE() << "host " << path << " disappeared (was " << what << ")";
    } else {
      EXPECT_EQ(it->second, what) << "host " << path << " changed";
    }
  }
  for (const auto& [path, what] : after) {
    if (!before.count(path)) ADD_FAILURE() << "host " << path << " appeared: " << what;
  }
}

bool SupportsUserXattr(const std::string& dir) {
  std::string probe = dir + "/.xattr-probe";
  WriteFile(probe, "");
  bool ok = setxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
  unlink(probe.c_str());
  return ok;
}

void Put(const std::string& path, const std::string& data) {
  for (size_t i = 1; (i = path.find('/', i)) != std::string::npos; ++i) {
    mkdir(path.substr(0, i).c_str(), 0755);
  }
  WriteFile(path, data);
}

std::vector<std::string> HostList(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

long StatsColumn(const std::string& err, const std::string& call, int column) {
  size_t at = 0;
  while ((at = err.find("\n" + call + " ", at)) != std::string::npos) {
    ++at;
    size_t eol = err.find('\n', at);
    std::string line = err.substr(at, eol - at);
    std::vector<long> nums;
    size_t p = call.size();
    while (p < line.size()) {
      while (p < line.size() && line[p] == ' ') ++p;
      size_t q = line.find(' ', p);
      if (q == std::string::npos) q = line.size();
      if (q > p) nums.push_back(std::stol(line.substr(p, q - p)));
      p = q;
    }
    return column <= static_cast<int>(nums.size()) ? nums[column - 1] : 0;
  }
  return 0;
}

}  // namespace umview::test
