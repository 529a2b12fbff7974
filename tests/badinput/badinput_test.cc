// Bad input everywhere (flags, view files, plugin options, umctl commands) gets exactly one line
// on stderr naming what is wrong and exit status 2: no crash, no core dump, no half-started view
// and no process left behind. A table of cases, each run as the real binaries in a session of
// its own, so anything it leaves running is found by its session id.
// tests/cli and tests/views check the wording of the common errors; this checks the contract
// over many more kinds of input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

struct Outcome {
  int status = 0;
  std::string out, err;
  std::vector<pid_t> left;  // processes of the session still alive after the run
};

// The session of a process, from /proc/PID/stat (field 6), or -1.
pid_t SessionOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  try {
    stat.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    return -1;  // the process exited between open and read (ESRCH): not in any session now
  }
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  long ppid, pgrp, session;
  if (!(rest >> state >> ppid >> pgrp >> session)) return -1;
  return state == "Z" ? -1 : static_cast<pid_t>(session);
}

std::vector<pid_t> SessionMembers(pid_t sid) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (SessionOf(std::stoi(name)) == sid) out.push_back(std::stoi(name));
  }
  return out;
}

// Runs argv as the leader of a new session, with stdout and stderr collected (stderr through a
// file so a large report cannot block the child), core dumps allowed to show in the status.
Outcome RunInSession(const std::vector<std::string>& argv, const std::string& dir) {
  std::string err_file = dir + "/stderr", out_file = dir + "/stdout";
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0), dup2(out, 1), dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  Outcome o;
  waitpid(pid, &o.status, 0);
  o.left = SessionMembers(pid);
  for (pid_t p : o.left) kill(p, SIGKILL);
  o.out = ReadFile(out_file);
  o.err = ReadFile(err_file);
  return o;
}

struct Case {
  Case(const char* name, std::vector<std::string> args, const char* needle,
       const char* file_name = nullptr, std::string file_text = "", bool umctl_in_view = false)
      : name(name),
        args(std::move(args)),
        needle(needle),
        file_name(file_name),
        file_text(std::move(file_text)),
        umctl_in_view(umctl_in_view) {}
  const char* name;
  std::vector<std::string> args;  // after the binary; "@" + NAME: a file of the case's dir
  const char* needle;             // a word the one line must contain
  const char* file_name;          // a file written before the run, or null
  std::string file_text;
  bool umctl_in_view;  // run `umview -p viewfs -- umctl ARGS...` instead
};

void Check(const Case& c) {
  SCOPED_TRACE(c.name);
  TempDir dir;
  if (c.file_name) WriteFile(dir / c.file_name, c.file_text);
  std::vector<std::string> argv = {UmviewBin()};
  if (c.umctl_in_view) argv.insert(argv.end(), {"-p", "viewfs", "--", UMCTL_BIN});
  std::string marker = dir / "command-ran";
  for (const auto& a : c.args) argv.push_back(a[0] == '@' ? dir / a.substr(1) : a);
  if (!c.umctl_in_view) argv.insert(argv.end(), {"--", "/bin/sh", "-c", "touch " + marker});
  Outcome o = RunInSession(argv, dir.path());
  std::string shown;
  for (const auto& a : argv) shown += " '" + a + "'";
  SCOPED_TRACE(shown);
  ASSERT_TRUE(WIFEXITED(o.status)) << "killed by signal " << WTERMSIG(o.status)
                                   << (WCOREDUMP(o.status) ? " (core dumped)" : "") << "\n"
                                   << o.err;
  EXPECT_EQ(WEXITSTATUS(o.status), 2) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << "stderr:\n" << o.err;
  EXPECT_TRUE(!o.err.empty() && o.err.back() == '\n') << o.err;
  EXPECT_NE(o.err.find(c.needle), std::string::npos) << "no '" << c.needle << "' in " << o.err;
  EXPECT_EQ(o.out, "");
  EXPECT_TRUE(o.left.empty()) << o.left.size() << " process(es) left running, e.g. pid "
                              << (o.left.empty() ? 0 : o.left[0]);
  struct stat st;
  EXPECT_NE(lstat(marker.c_str(), &st), 0) << "the command ran although the input was refused";
}

const char kViewHead[] = "version: 1\nplugins:\n";

std::string Viewfs(const std::string& mount) {
  return std::string(kViewHead) + "  - name: viewfs\n    options:\n      mounts:\n        - " +
         mount + "\n";
}

std::string Nested(int depth) {
  return "version: 1\nplugins: " + std::string(depth, '[') + std::string(depth, ']') + "\n";
}

const Case kFlags[] = {
    {"spin-not-a-number", {"--spin", "abc"}, "--spin"},
    {"spin-too-large", {"--spin", "100001"}, "--spin"},
    {"spin-negative", {"--spin=-5"}, "--spin"},
    {"bind-without-colon", {"-b", "/usr"}, "SRC:DST"},
    {"bind-empty-source", {"-b", ":/x"}, "SRC:DST"},
    {"bind-empty-target", {"--bind=/usr:"}, "SRC:DST"},
    {"rootfs-empty", {"-r", ""}, "-r"},
    {"cwd-empty", {"-w", ""}, "-w"},
    {"engine-empty", {"--engine="}, "engine"},
    {"log-in-missing-dir", {"--log", "/nonexistent/dir/log"}, "/nonexistent/dir/log"},
    {"check-missing-file", {"--check", "/nonexistent/view.yaml"}, "/nonexistent/view.yaml"},
    {"file-missing", {"-f", "/nonexistent/view.yaml"}, "/nonexistent/view.yaml"},
    {"file-is-a-directory", {"-f", "/"}, "/"},
    {"unknown-view", {"--view", "no-such-view"}, "no-such-view"},
    {"show-unknown-view", {"--show=no-such-view"}, "no-such-view"},
    {"plugin-empty-name", {"-p", ",a=b"}, "missing plugin name"},
    {"plugin-not-found", {"-p", "/nonexistent/plugin.so"}, "/nonexistent/plugin.so"},
    {"plugin-is-a-text-file", {"-p", "@notso.so"}, "notso.so", "notso.so", "not a library\n"},
    {"rootfs-missing", {"-r", "/nonexistent/root"}, "/nonexistent/root"},
    {"rootfs-is-a-file", {"-r", "/etc/passwd"}, "not a directory"},
};

const Case kViewFiles[] = {
    {"binary-garbage", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", std::string("\0\xff\xfe\x01", 4)},
    {"empty-file", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", ""},
    {"only-a-comment", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", "# nothing\n"},
    {"a-scalar", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", "hello\n"},
    {"a-list", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", "- version: 1\n"},
    {"tab-indent", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", "version: 1\nplugins:\n\t- name: x\n"},
    {"unclosed-quote", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", "version: \"1\n"},
    {"version-list", {"-f", "@v.yaml"}, "version", "v.yaml", "version: [1]\n"},
    {"version-map", {"-f", "@v.yaml"}, "version", "v.yaml", "version: {a: 1}\n"},
    {"map-as-key", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", "version: 1\n? [a, b]\n: c\n"},
    {"deep-nesting", {"-f", "@v.yaml"}, "v.yaml", "v.yaml", Nested(5000)},
    {"command-map", {"-f", "@v.yaml"}, "command", "v.yaml", "version: 1\ncommand: {a: b}\n"},
    {"command-empty-list", {"-f", "@v.yaml"}, "command", "v.yaml", "version: 1\ncommand: []\n"},
    {"cwd-empty", {"-f", "@v.yaml"}, "cwd", "v.yaml", "version: 1\ncwd: ''\n"},
    {"env-value-list", {"-f", "@v.yaml"}, "env value", "v.yaml", "version: 1\nenv: {A: [1]}\n"},
    {"plugin-a-string",
     {"-f", "@v.yaml"},
     "a plugin must be a map",
     "v.yaml",
     std::string(kViewHead) + "  - viewfs\n"},
    {"plugin-unknown-key",
     {"-f", "@v.yaml"},
     "expected one of name, options",
     "v.yaml",
     std::string(kViewHead) + "  - {name: viewfs, opts: {}}\n"},
    {"options-a-list",
     {"-f", "@v.yaml"},
     "options must be a map",
     "v.yaml",
     std::string(kViewHead) + "  - {name: umnet, options: [a]}\n"},
    {"generic-option-a-map",
     {"-f", "@v.yaml"},
     "option 'mode'",
     "v.yaml",
     std::string(kViewHead) + "  - {name: umnet, options: {mode: {a: b}}}\n"},
    {"viewfs-unknown-option",
     {"-f", "@v.yaml"},
     "viewfs options",
     "v.yaml",
     std::string(kViewHead) + "  - {name: viewfs, options: {binds: []}}\n"},
    {"mounts-a-map",
     {"-f", "@v.yaml"},
     "mounts must be a list",
     "v.yaml",
     std::string(kViewHead) + "  - {name: viewfs, options: {mounts: {type: bind}}}\n"},
    {"mount-a-string", {"-f", "@v.yaml"}, "a mount must be a map", "v.yaml", Viewfs("bind")},
    {"mount-no-type", {"-f", "@v.yaml"}, "missing field 'type'", "v.yaml", Viewfs("{target: /x}")},
    {"mount-relative-target",
     {"-f", "@v.yaml"},
     "absolute",
     "v.yaml",
     Viewfs("{type: hide, target: x}")},
    {"mount-empty-target",
     {"-f", "@v.yaml"},
     "target",
     "v.yaml",
     Viewfs("{type: hide, target: ''}")},
    {"merge-layers-empty",
     {"-f", "@v.yaml"},
     "layers",
     "v.yaml",
     Viewfs("{type: merge, target: /m, layers: []}")},
    {"merge-layer-missing",
     {"-f", "@v.yaml"},
     "/nonexistent/layer",
     "v.yaml",
     Viewfs("{type: merge, target: /m, layers: [/nonexistent/layer]}")},
    {"readonly-not-bool",
     {"-f", "@v.yaml"},
     "readonly",
     "v.yaml",
     Viewfs("{type: hide, target: /x, readonly: maybe}")},
    {"root-without-source", {"-f", "@v.yaml"}, "source", "v.yaml", Viewfs("{type: root}")},
    {"check-garbage", {"--check", "@v.yaml"}, "v.yaml", "v.yaml", "]]]\n"},
};

const Case kPluginOptions[] = {
    {"viewfs-bind-relative-dst", {"-p", "viewfs,bind=/usr:x"}, "absolute"},
    {"viewfs-flag", {"-p", "viewfs,ro"}, "needs a value"},
    {"viewfs-unknown", {"-p", "viewfs,mirror=/x"}, "unknown option 'mirror'"},
    {"viewfs-cow-no-upper", {"-p", "viewfs,cow=/etc"}, "DST:UPPER"},
    {"viewfs-cow-upper-inside", {"-p", "viewfs,cow=/usr:/usr/share"}, "inside DST"},
    {"viewfs-merge-file-layer", {"-p", "viewfs,merge=/m:/etc/passwd"}, "not a directory"},
    {"viewfs-contradiction", {"-p", "viewfs,hide=/x,except=/x"}, "contradict"},
    {"umnet-mode", {"-p", "umnet,mode=fast"}, "mode"},
    {"umnet-flag", {"-p", "umnet,mode"}, "needs a value"},
    {"umnet-bad-address", {"-p", "umnet,deny=300.1.2.3"}, "300.1.2.3"},
    {"umnet-bad-prefix", {"-p", "umnet,deny=10.0.0.0/33"}, "10.0.0.0/33"},
    {"umnet-bad-port", {"-p", "umnet,allow=10.0.0.1:70000"}, "70000"},
    {"umnet-unclosed-bracket", {"-p", "umnet,deny=[::1"}, "[::1"},
    {"umnet-publish", {"-p", "umnet,publish=x:80"}, "publish"},
    {"umnet-ports", {"-p", "umnet,ports=some"}, "ports"},
    {"umnet-log-dir", {"-p", "umnet,log=/nonexistent/dir/log"}, "/nonexistent/dir/log"},
    {"umnet-unknown", {"-p", "umnet,firewall=on"}, "firewall"},
    {"umdev-nothing", {"-p", "umdev"}, "no device given"},
    {"umdev-relative", {"-p", "umdev,null=dev/n"}, "ABSOLUTE"},
    {"umdev-kind", {"-p", "umdev,tape=/dev/st0"}, "tape"},
    {"umdev-size", {"-p", "umdev,ramdisk=/dev/r:size=lots"}, "size"},
    {"umdev-no-size", {"-p", "umdev,ramdisk=/dev/r"}, "size"},
    {"umdev-no-image", {"-p", "umdev,disk=/dev/d"}, "image"},
    {"umdev-missing-image", {"-p", "umdev,disk=/dev/d:image=/nonexistent.img"}, "/nonexistent.img"},
    {"umdev-misplaced", {"-p", "umdev,null=/dev/n:size=1"}, "size"},
    {"umdev-duplicate", {"-p", "umdev,null=/dev/a,zero=/dev/a"}, "already a device"},
    {"umtrace-unknown", {"-p", "umtrace,loud"}, "loud"},
    {"umtrace-filter", {"-p", "umtrace,filter=nosuchcall"}, "nosuchcall"},
    {"umtrace-filter-empty", {"-p", "umtrace,filter="}, "filter"},
    {"umtrace-output-dir", {"-p", "umtrace,output=/nonexistent/dir/t"}, "/nonexistent/dir/t"},
};

// umctl inside a view: the command's status is umctl's, and its one line is all of stderr.
const Case kUmctl[] = {
    {"no-such-command", {"frob"}, "unknown command", nullptr, "", true},
    {"mount-no-args", {"mount"}, "mount", nullptr, "", true},
    {"mount-bad-type", {"mount", "mirror", "/x"}, "mount", nullptr, "", true},
    {"mount-missing-source",
     {"mount", "bind", "/nonexistent/src", "/x"},
     "/nonexistent/src",
     nullptr,
     "",
     true},
    {"mount-relative", {"mount", "ro", "relative"}, "absolute", nullptr, "", true},
    {"umount-nothing-there", {"umount", "/not/mounted"}, "/not/mounted", nullptr, "", true},
    {"save-with-slash", {"save", "a/b"}, "save", nullptr, "", true},
    {"load-nothing", {"load"}, "load", nullptr, "", true},
    {"unload-unknown", {"unload", "nosuchplugin"}, "nosuchplugin", nullptr, "", true},
};

TEST(BadInput, Flags) {
  for (const Case& c : kFlags) Check(c);
}
TEST(BadInput, ViewFiles) {
  for (const Case& c : kViewFiles) Check(c);
}
TEST(BadInput, PluginOptions) {
  for (const Case& c : kPluginOptions) Check(c);
}
TEST(BadInput, UmctlCommands) {
  for (const Case& c : kUmctl) Check(c);
}

}  // namespace
}  // namespace umview::test
