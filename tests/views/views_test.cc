// Views as YAML files and umctl: the shipped examples run, every class of error names its
// file:line:col, the user's views shadow the system's, and umctl changes a running view.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

std::string Umctl() { return UMCTL_BIN; }

// Runs umview with a private user and system view directory.
class Views : public ::testing::Test {
 protected:
  void SetUp() override {
    mkdir((dir_ / "user").c_str(), 0755);
    mkdir((dir_ / "user/umview").c_str(), 0755);
    mkdir((dir_ / "user/umview/views").c_str(), 0755);
    mkdir((dir_ / "system").c_str(), 0755);
  }
  RunResult Um(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    RunOptions o;
    o.extra_env = {"XDG_CONFIG_HOME=" + (dir_ / "user"),
                   "UMVIEW_SYSTEM_VIEWS=" + (dir_ / "system")};
    o.extra_env.insert(o.extra_env.end(), env.begin(), env.end());
    o.cwd = dir_.path();
    return RunUmview(args, o);
  }
  std::string File(const std::string& name, const std::string& yaml) {
    WriteFile(dir_ / name, yaml);
    return dir_ / name;
  }
  TempDir dir_;
};

TEST_F(Views, ShippedExamplesRun) {
  std::string src = UMVIEW_SOURCE_DIR;
  // clean-home wants its upper directory; rootfs wants $UMVIEW_ROOTFS with a shell in it.
  std::string home = dir_ / "home";
  TempDir upper;  // stands for /var/tmp/umview-home-upper-$USER, through a symlink
  std::string user = "umview-test-" + std::to_string(getpid());
  std::string link = "/var/tmp/umview-home-upper-" + user;
  ASSERT_EQ(symlink(upper.path().c_str(), link.c_str()), 0);
  ASSERT_EQ(test::Run({"sh", "-c",
                       "mkdir -p '" + home + "' && r='" + (dir_ / "rfs") +
                           "' && mkdir -p $r/bin $r/proc $r/dev $r/sys && cp /bin/sh $r/bin/ && "
                           "for l in $(ldd /bin/sh | grep -o '/[^ ]*'); do mkdir -p "
                           "$r$(dirname $l); cp -L $l $r$l; done"})
                .exit_code,
            0);
  for (const char* view : {"default", "dev-sandbox", "clean-home", "rootfs"}) {
    SCOPED_TRACE(view);
    RunResult r = Um(
        {"-f", src + "/config/" + view + ".yaml", "--", "/bin/sh", "-c", "echo $UMVIEW_VIEW"},
        {"HOME=" + home, "USER=" + user, "UMVIEW_ROOTFS=" + (dir_ / "rfs"), "PWD=" + dir_.path()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::string(view) + "\n");
  }
  unlink(link.c_str());
}

struct BrokenCase {
  const char* name;
  const char* yaml;
  const char* position;  // "LINE:COL"
  const char* message;
};

TEST_F(Views, EveryErrorNamesFileLineAndColumn) {
  const BrokenCase cases[] = {
      {"syntax", "version: 1\nplugins: [\n", "3:1", ""},
      {"version", "version: 2\n", "1:10", "unsupported version '2'"},
      {"no-version", "plugins: []\n", "1:1", "missing field 'version'"},
      {"unknown-key", "version: 1\nplugns: []\n", "2:1", "did you mean 'plugins'?"},
      {"type", "version: 1\nplugins: {name: viewfs}\n", "2:10", "plugins must be a list"},
      {"no-name", "version: 1\nplugins:\n  - options: {}\n", "3:5", "missing field 'name'"},
      {"plugin", "version: 1\nplugins:\n  - name: nosuchplugin\n", "3:11",
       "unknown plugin 'nosuchplugin'"},
      {"mount-type",
       "version: 1\nplugins:\n  - name: viewfs\n    options:\n      mounts:\n"
       "        - {type: bnd, target: /x}\n",
       "6:18", "unknown mount type 'bnd' (expected bind"},
      {"mount-field",
       "version: 1\nplugins:\n  - name: viewfs\n    options:\n      mounts:\n"
       "        - {type: bind, target: /x}\n",
       "6:11", "missing field 'source' for a bind mount"},
      {"path",
       "version: 1\nplugins:\n  - name: viewfs\n    options:\n      mounts:\n"
       "        - {type: bind, source: /no/such/dir, target: /x}\n",
       "6:32", "source '/no/such/dir' does not exist"},
      {"engine", "version: 1\nengine: fast\n", "2:9", "unknown engine 'fast'"},
      {"env", "version: 1\nenv: [A]\n", "2:6", "env must be a map"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string f = File(std::string(c.name) + ".yaml", c.yaml);
    std::string marker = dir_ / (std::string(c.name) + ".ran");
    RunResult r = Um({"-f", f, "--", "touch", marker});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.rfind("umview: " + f + ":" + c.position + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    struct stat st;
    EXPECT_NE(stat(marker.c_str(), &st), 0) << "the command ran";
    RunResult check = Um({"--check", f});
    EXPECT_EQ(check.exit_code, 2);
    EXPECT_EQ(check.err, r.err);
  }
}

TEST_F(Views, CheckAndShowRoundTrip) {
  std::string f = File("v.yaml",
                       "version: 1\ndescription: test\ncwd: /\nenv: {GREETING: hello}\n"
                       "plugins:\n  - name: viewfs\n    options:\n      mounts:\n"
                       "        - {type: bind, source: \"$HOME\", target: /h, readonly: true}\n"
                       "        - {type: tmp, target: /scratch}\n"
                       "  - name: umtrace\n    options: {output: /dev/null, filter: [getpid, "
                       "getppid]}\n");
  RunResult check = Um({"--check", f});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out, f + ": ok\n");
  RunResult show = Um({"-f", f, "--show"}, {"HOME=/tmp"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("{type: bind, source: /tmp, target: /h}"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("filter: getpid+getppid"), std::string::npos) << show.out;
  std::string again = File("again.yaml", show.out);
  RunResult show2 = Um({"-f", again, "--show"}, {"HOME=/tmp"});
  EXPECT_EQ(show2.out, show.out);
  RunResult run = Um({"-f", f, "--", "sh", "-c", "echo $GREETING; pwd; touch /h/x"}, {"HOME=/tmp"});
  EXPECT_EQ(run.out, "hello\n/\n");
  EXPECT_NE(run.err.find("Read-only file system"), std::string::npos) << run.err;
}

TEST_F(Views, UserViewShadowsSystemViewAndDefault) {
  WriteFile(dir_ / "system/v.yaml", "version: 1\ndescription: from-system\n");
  RunResult sys = Um({"--view", "v", "--show"});
  EXPECT_NE(sys.out.find("from-system"), std::string::npos) << sys.out << sys.err;
  WriteFile(dir_ / "user/umview/views/v.yaml", "version: 1\ndescription: from-user\n");
  RunResult user = Um({"--view", "v", "--show"});
  EXPECT_NE(user.out.find("from-user"), std::string::npos) << user.out << user.err;
  // A view named "default" is what a bare umview runs; -p leaves it out.
  WriteFile(dir_ / "user/umview/views/default.yaml",
            "version: 1\nplugins: [{name: umtrace, options: {output: /dev/null}}]\n");
  RunResult bare = Um({"--", "sh", "-c", "echo $UMVIEW_VIEW $UMVIEW_PLUGINS"});
  EXPECT_EQ(bare.out, "default umtrace\n");
  RunResult with_p = Um({"-p", "viewfs", "--", "sh", "-c", "echo $UMVIEW_VIEW $UMVIEW_PLUGINS"});
  EXPECT_EQ(with_p.out, "cmdline viewfs\n");
  // -p plugins stack on top of the file's.
  RunResult stacked =
      Um({"--view", "default", "-p", "viewfs", "--", "sh", "-c", "echo $UMVIEW_PLUGINS"});
  EXPECT_EQ(stacked.out, "umtrace,viewfs\n");
  RunResult unknown = Um({"--view", "nosuch", "--", "true"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown view 'nosuch'"), std::string::npos);
}

TEST_F(Views, UmctlOutsideAViewSaysSo) {
  RunResult r = test::Run({Umctl(), "info"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "umctl: not inside a umview view (or the view has no plugin to answer)\n");
}

TEST_F(Views, UmctlMountUmountSaveRoundTrip) {
  ASSERT_EQ(test::Run({"sh", "-c",
                       "cd '" + dir_.path() + "' && mkdir -p a b && echo A > a/f && echo B > b/f"})
                .exit_code,
            0);
  std::string script = "u=" + Umctl() + "; $u mount bind " + (dir_ / "a") +
                       " /mnt/v && cat /mnt/v/f && " + "$u mount bind " + (dir_ / "b") +
                       " /mnt/v && cat /mnt/v/f && $u umount /mnt/v && " +
                       "cat /mnt/v/f && $u mount tmp /scratch && $u info | tail -n +3 > " +
                       (dir_ / "info1") + " && $u save saved && $u umount /nothing; echo rc=$?";
  RunResult r = Um({"-p", "viewfs", "--", "sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The second bind hides the first; umount reveals it again.
  EXPECT_EQ(r.out, "mounted bind " + (dir_ / "a") + " /mnt/v\nA\nmounted bind " + (dir_ / "b") +
                       " /mnt/v\nB\nunmounted /mnt/v\nA\nmounted tmp /scratch\nsaved " +
                       (dir_ / "user/umview/views/saved.yaml") + "\nrc=2\n");
  EXPECT_NE(r.err.find("umctl: umount /nothing: nothing mounted at /nothing"), std::string::npos);
  // Starting from the saved view gives the same stack.
  RunResult again = Um({"--view", "saved", "--", "sh", "-c", Umctl() + " info | tail -n +3"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, ReadFile(dir_ / "info1"));
  EXPECT_NE(again.out.find("bind=" + (dir_ / "a") + ":/mnt/v"), std::string::npos) << again.out;
}

TEST_F(Views, TwoViewsDoNotSeeEachOthersMounts) {
  ASSERT_EQ(mkdir((dir_ / "shared").c_str(), 0755), 0);
  WriteFile(dir_ / "shared/f", "S\n");
  std::string ready = dir_ / "ready", done = dir_ / "done";
  // View 1 mounts and waits; view 2 looks while view 1 is still running.
  std::string one = Umctl() + " mount bind " + (dir_ / "shared") + " /mnt/one >/dev/null && " +
                    "cat /mnt/one/f && touch " + ready + " && i=0; while [ ! -e " + done +
                    " ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; cat /mnt/one/f";
  std::string two = "i=0; while [ ! -e " + ready + " ] && [ $i -lt 300 ]; do sleep 0.1; " +
                    "i=$((i+1)); done; ls /mnt/one 2>/dev/null || echo absent; touch " + done;
  pid_t pid = fork();
  if (pid == 0) {
    RunResult r = Um({"-p", "viewfs", "--", "sh", "-c", one});
    WriteFile(dir_ / "one.out", r.out);
    _exit(r.exit_code);
  }
  RunResult r2 = Um({"-p", "viewfs", "--", "sh", "-c", two});
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_EQ(r2.out, "absent\n");
  EXPECT_EQ(ReadFile(dir_ / "one.out"), "S\nS\n");
}

}  // namespace
}  // namespace umview::test

namespace umview::test {
namespace {

// umctl load pushes a plugin on the running view: the shell and the processes it starts from
// then on go through it; unload takes it out again; plugins that own mounts stay.
TEST(UmctlLoad, LoadAndUnloadAtRunTime) {
  TempDir dir;
  std::string log = dir / "trace.log";
  std::string u = UMCTL_BIN;
  std::string script = u + " load umtrace,output=" + log + ",filter=openat && cat " +
                       (dir / "one") + " && " + u + " info | tail -n +4 && " + u +
                       " unload umtrace && cat " + (dir / "two") + " && " + u + " unload viewfs; " +
                       u + " unload nosuch; echo rc=$?";
  WriteFile(dir / "one", "1\n");
  WriteFile(dir / "two", "2\n");
  RunResult r = RunUmview({"-p", "viewfs", "--", "sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "loaded umtrace (each process picks it up at its next trapped call)\n1\n"
            "  viewfs\n  umtrace output=" +
                log +
                " filter=openat\nunloaded umtrace\n2\n"
                "rc=2\n");
  EXPECT_NE(r.err.find("umctl: unload viewfs: viewfs still has mounts"), std::string::npos);
  EXPECT_NE(r.err.find("umctl: unload nosuch: no plugin 'nosuch' in this view"), std::string::npos);
  std::string trace = ReadFile(log);
  EXPECT_NE(trace.find("openat(AT_FDCWD, \"" + (dir / "one") + "\""), std::string::npos) << trace;
  EXPECT_EQ(trace.find(dir / "two"), std::string::npos) << "logged after unload:\n" << trace;
}

TEST(UmctlLoad, RefusedWhereTheViewCannotTakeIt) {
  // umtrace with filter=none claims nothing: no filter, so umctl cannot even reach umview.
  RunResult none = RunUmview({"-p", "umtrace,filter=none", "--", UMCTL_BIN, "load", "viewfs"});
  EXPECT_EQ(none.exit_code, 2);
  // A view that traps calls but never rewrites any has no scratch memory for the new filter.
  RunResult r = RunUmview({"-p", "umtrace,output=/dev/null,filter=getpid", "--", UMCTL_BIN, "load",
                           "umtrace,output=/dev/null"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("without scratch memory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace umview::test
