// The escape suite: every attempt of the escape_attempt tracee, one umview run each, against a
// view with hide=, ro=, cow= or -r root. An attempt is blocked when the tracee saw nothing of
// the protected path (it says so) and the protected host trees are unchanged afterwards. Each
// test prints "escape suite (VIEW): N tried, M blocked" and asserts N == M.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

// A fresh host tree per attempt:
//   T/top/h/{key,prog,sock,sub/}   protected by hide= (or outside the -r root)
//   T/top/r/{file,sub/}            ro=
//   T/top/c/{file,sub/}            cow= with upper T/upper
//   T/top/w/ok                     the view's writable work directory, an allowed program
//   T/root/w/ok                    the -r root's work directory
struct Tree {
  TempDir t;
  std::string top = t / "top";
  int listener = -1;
  int inherited = -1;

  Tree() {
    Put(top + "/h/key", "SECRET\n");
    Put(top + "/h/prog", "#!/bin/sh\nexit 42\n");
    chmod((top + "/h/prog").c_str(), 0755);
    mkdir((top + "/h/sub").c_str(), 0755);
    for (const char* d : {"r", "c"}) {
      Put(top + "/" + d + "/file", "SECRET-ORIGINAL\n");
      mkdir((top + "/" + d + "/sub").c_str(), 0755);
      setxattr((top + "/" + d + "/file").c_str(), "user.keep", "1", 1, 0);  // best effort
    }
    mkdir((t / "upper").c_str(), 0755);
    for (const std::string& w : {top + "/w/ok", t / "root/w/ok"}) {
      Put(w, "#!/bin/sh\nexit 0\n");
      chmod(w.c_str(), 0755);
    }
    mkdir((t / "root/proc").c_str(), 0755);
    mkdir((t / "root/tmp").c_str(), 01777);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s/h/sock", top.c_str());
    if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) listen(listener, 64);
  }
  ~Tree() {
    close(listener);
    if (inherited >= 0) close(inherited);
  }
};

enum class ViewKind { kHide, kReadOnly, kCow, kRoot };

struct Outcome {
  std::string name;
  bool blocked = false;
  std::string detail;
};

std::vector<std::string> List(const std::string& kind) {
  RunResult r = Run({Tracee("escape_attempt"), "--list", kind});
  std::vector<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

// Runs one attempt in a fresh tree and view; judges it by what the tracee said and by the
// protected host trees.
Outcome Attempt(ViewKind kind, const std::string& name, bool inherit_fd = false) {
  Tree tree;
  const std::string& top = tree.top;
  std::vector<std::string> args;
  std::vector<std::string> env = {"ESC_TOP=" + top,
                                  "ESC_DIR=" + top + "/h",
                                  "ESC_FILE=" + top + "/h/key",
                                  "ESC_PROG=" + top + "/h/prog",
                                  "ESC_SOCK=" + top + "/h/sock",
                                  "ESC_WORK=" + top + "/w",
                                  "ESC_OKPROG=" + top + "/w/ok",
                                  "ESC_MODE=read"};
  std::string guarded = top + "/h";
  switch (kind) {
    case ViewKind::kHide:
      args = Viewfs({"hide=" + top + "/h"});
      break;
    case ViewKind::kReadOnly:
      args = Viewfs({"ro=" + top + "/r"});
      env.push_back("ESC_DIR=" + top + "/r");
      env.push_back("ESC_FILE=" + top + "/r/file");
      env.push_back("ESC_MODE=write");
      guarded = top + "/r";
      break;
    case ViewKind::kCow:
      args = Viewfs({"cow=" + top + "/c:" + tree.t / "upper"});
      env.push_back("ESC_DIR=" + top + "/c");
      env.push_back("ESC_FILE=" + top + "/c/file");
      env.push_back("ESC_MODE=cow");
      guarded = top + "/c";
      break;
    case ViewKind::kRoot: {
      // The protected tree is the host's, outside the root; its host paths are tried as is.
      std::string tracees = Tracee("escape_attempt");
      tracees = tracees.substr(0, tracees.rfind('/'));
      args = {"-r", tree.t / "root", "-b", "/usr:/usr",   "-b", "/lib:/lib",
              "-b", "/bin:/bin",     "-b", "/proc:/proc", "-b", tracees + ":" + tracees};
      struct stat st;
      if (lstat("/lib64", &st) == 0) args.insert(args.begin() + 2, {"-b", "/lib64:/lib64"});
      env.push_back("ESC_TOP=/");
      env.push_back("ESC_WORK=/w");
      env.push_back("ESC_OKPROG=/w/ok");
      guarded = top;
      break;
    }
  }
  if (inherit_fd) {
    // fd 3 of the view's first process: the protected directory, opened outside the view.
    tree.inherited = open(guarded.c_str(), O_RDONLY | O_DIRECTORY);
    if (tree.inherited >= 0 && tree.inherited != 3) {
      dup2(tree.inherited, 3);
      close(tree.inherited);
      tree.inherited = 3;
    }
  }
  TreeSnapshot before = Snapshot(guarded);
  args.push_back("--");
  args.push_back(Tracee("escape_attempt"));
  args.push_back(name);
  RunOptions opts;
  opts.extra_env = env;
  opts.timeout_seconds = 60;
  RunResult r = RunUmview(args, opts);
  TreeSnapshot after = Snapshot(guarded);
  Outcome o{name, false, ""};
  std::string line = r.out.substr(0, r.out.find('\n'));
  if (line.rfind("RESULT " + name + " ", 0) != 0) {
    o.detail = "no verdict (exit " + std::to_string(r.exit_code) + ", signal " +
               std::to_string(r.signal) + "): " + r.out + r.err;
    return o;
  }
  std::string verdict = line.substr(7 + name.size() + 1);
  o.detail = verdict;
  o.blocked = verdict.rfind("blocked", 0) == 0 && r.exit_code == 0;
  if (before != after) {
    o.blocked = false;
    o.detail += "; the host tree " + guarded + " changed:";
    for (const auto& [path, what] : after) {
      auto it = before.find(path);
      if (it == before.end() || it->second != what) o.detail += " " + path;
    }
    for (const auto& [path, what] : before) {
      if (!after.count(path)) o.detail += " -" + path;
    }
  }
  return o;
}

void RunSuite(const char* label, ViewKind kind, const std::vector<std::string>& names,
              bool inherit_fd = false) {
  ASSERT_FALSE(names.empty()) << "escape_attempt listed no attempts";
  int tried = 0, blocked = 0;
  for (const auto& n : names) {
    Outcome o = Attempt(kind, n, inherit_fd);
    ++tried;
    if (o.blocked) {
      ++blocked;
    } else {
      ADD_FAILURE() << label << ": " << n << " NOT blocked: " << o.detail;
    }
    if (getenv("UMVIEW_ESCAPE_VERBOSE")) printf("  %-28s %s\n", n.c_str(), o.detail.c_str());
  }
  printf("escape suite (%s): %d tried, %d blocked\n", label, tried, blocked);
  EXPECT_EQ(tried, blocked);
}

TEST(EscapeSuite, HiddenDirectoryEveryDoor) {
  RunSuite("hide, doors", ViewKind::kHide, List("door"));
}

TEST(EscapeSuite, HiddenDirectoryIndirectRoutesRacesAndRefusedDoors) {
  RunSuite("hide, special", ViewKind::kHide, List("special"));
}

TEST(EscapeSuite, HiddenDirectoryThroughAnInheritedDescriptor) {
  RunSuite("hide, inherited fd", ViewKind::kHide, List("inherit"), true);
}

TEST(EscapeSuite, ReadOnlyEveryWriteDoor) {
  RunSuite("ro, writes", ViewKind::kReadOnly, List("write"));
}

TEST(EscapeSuite, CowLowerLayerEveryWriteDoor) {
  RunSuite("cow, writes", ViewKind::kCow, List("write"));
}

TEST(EscapeSuite, RootEveryDoor) { RunSuite("-r root, doors", ViewKind::kRoot, List("door")); }

TEST(EscapeSuite, RootIndirectRoutesRacesAndRefusedDoors) {
  RunSuite("-r root, special", ViewKind::kRoot, List("root"));
}

TEST(EscapeSuite, RootThroughAnInheritedDescriptor) {
  RunSuite("-r root, inherited fd", ViewKind::kRoot, List("inherit"), true);
}

}  // namespace
}  // namespace umview::test
