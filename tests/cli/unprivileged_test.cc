// Key scenarios run as an ordinary user (setpriv/runuser when the tests run as root): umview
// needs no privilege.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

class Unprivileged : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      uid_ = geteuid();  // already an ordinary user: run as ourselves
      return;
    }
    std::string user = UnprivilegedUser();
    if (user.empty()) GTEST_SKIP() << "running as root and no unprivileged user can be had";
    const passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) GTEST_SKIP() << "getpwnam(" << user << ") failed";
    uid_ = pw->pw_uid;
    if (uid_ == 0) GTEST_SKIP() << "user '" << user << "' is root";
    std::string uid = std::to_string(pw->pw_uid), gid = std::to_string(pw->pw_gid);
    if (access("/usr/bin/setpriv", X_OK) == 0 || access("/bin/setpriv", X_OK) == 0) {
      prefix_ = {"setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--"};
    } else if (access("/usr/sbin/runuser", X_OK) == 0 || access("/sbin/runuser", X_OK) == 0) {
      prefix_ = {"runuser", "-u", user, "--"};
    } else {
      GTEST_SKIP() << "neither setpriv nor runuser to drop privileges";
    }
    RunResult who = AsUser({"id", "-u"});
    if (who.out != std::to_string(uid_) + "\n") {
      GTEST_SKIP() << "cannot run as user '" << user << "': " << who.err;
    }
    RunResult reach = AsUser({"test", "-x", UmviewBin()});
    if (reach.exit_code != 0) {
      GTEST_SKIP() << "user '" << user << "' cannot execute " << UmviewBin()
                   << " (build tree not readable by others)";
    }
  }

  RunResult AsUser(const std::vector<std::string>& argv, RunOptions opts = {}) {
    std::vector<std::string> a = prefix_;
    a.insert(a.end(), argv.begin(), argv.end());
    if (opts.cwd.empty()) opts.cwd = "/";
    // The test runner's PATH may hold directories only root can search (/root/...); an ordinary
    // user's PATH does not.
    opts.extra_env.insert(opts.extra_env.begin(), "PATH=/usr/local/bin:/usr/bin:/bin");
    return test::Run(a, opts);
  }

  RunResult UmviewAsUser(const std::vector<std::string>& args, RunOptions opts = {}) {
    std::vector<std::string> a = {UmviewBin()};
    a.insert(a.end(), args.begin(), args.end());
    return AsUser(a, std::move(opts));
  }

  // Skips unless the user can read `path` (a plugin in the build tree).
  bool UserCanRead(const std::string& path) { return AsUser({"test", "-r", path}).exit_code == 0; }

  std::vector<std::string> prefix_;
  uid_t uid_ = 0;
};

TEST_F(Unprivileged, RunsAsTheUser) {
  RunResult r = UmviewAsUser({"--", "sh", "-c", "id -u; echo $UMVIEW"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::to_string(uid_) + "\n1\n");
}

TEST_F(Unprivileged, LsMatchesNative) {
  RunResult native = AsUser({"ls", "/"});
  RunResult viewed = UmviewAsUser({"--", "ls", "/"});
  ASSERT_EQ(native.exit_code, 0) << native.err;
  EXPECT_EQ(viewed.exit_code, 0) << viewed.err;
  EXPECT_EQ(viewed.out, native.out);
  EXPECT_EQ(viewed.err, "");
}

TEST_F(Unprivileged, PipelineMatchesNative) {
  const std::vector<std::string> cmd = {"sh", "-c", "seq 1 5000 | md5sum; ls /usr/bin | wc -l"};
  RunResult native = AsUser(cmd);
  RunResult viewed = UmviewAsUser(cmd);
  EXPECT_EQ(viewed.exit_code, native.exit_code) << viewed.err;
  EXPECT_EQ(viewed.out, native.out);
}

TEST_F(Unprivileged, ExitStatusesPass) {
  EXPECT_EQ(UmviewAsUser({"--", "sh", "-c", "exit 42"}).exit_code, 42);
  EXPECT_EQ(UmviewAsUser({"--", "sh", "-c", "kill -TERM $$"}).exit_code, 143);
  RunResult nf = UmviewAsUser({"--", "no-such-command-for-umview"});
  EXPECT_EQ(nf.exit_code, 127);
  EXPECT_NE(nf.err.find("no-such-command-for-umview"), std::string::npos) << nf.err;
}

// A bare command name in no PATH directory, with a PATH entry the user cannot search: glibc's
// execvpe reports EACCES, but bash and dash say "command not found" and exit 127; so does umview.
// Typical trigger: `sudo -u user umview cmd` keeping root's PATH (/root/.cargo/bin, ...).
TEST_F(Unprivileged, CommandNotFoundWithUnsearchablePathEntry) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a directory the user cannot search";
  TempDir locked;
  chmod(locked.path().c_str(), 0700);
  RunOptions o;
  o.extra_env = {"PATH=" + locked.path() + ":/usr/bin:/bin"};
  RunResult shell = AsUser({"/bin/bash", "-c", "no-such-command-for-umview"}, o);
  ASSERT_EQ(shell.exit_code, 127) << shell.err;
  RunResult r = UmviewAsUser({"--", "no-such-command-for-umview"}, o);
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_NE(r.err.find("command not found"), std::string::npos) << r.err;
}

TEST_F(Unprivileged, UsageErrorStillExits2) {
  RunResult r = UmviewAsUser({"--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

TEST_F(Unprivileged, UmtraceWritesItsLog) {
  if (!UserCanRead(PluginPath("umtrace"))) {
    GTEST_SKIP() << "the user cannot read " << PluginPath("umtrace");
  }
  TempDir dir;
  chmod(dir.path().c_str(), 01777);
  std::string log = dir / "trace.log";
  RunResult r = UmviewAsUser({"-p", "umtrace,output=" + log, "--", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat(log.c_str(), &st), 0) << "umtrace wrote no " << log;
  EXPECT_EQ(st.st_uid, uid_) << "the log was not written by the user";
  std::string text = ReadFile(log);
  EXPECT_NE(text.find("execve("), std::string::npos) << text;
  EXPECT_NE(text.find("exit_group(0)"), std::string::npos) << text;
}

TEST_F(Unprivileged, UmtraceOutputStaysIdentical) {
  if (!UserCanRead(PluginPath("umtrace"))) {
    GTEST_SKIP() << "the user cannot read " << PluginPath("umtrace");
  }
  RunResult native = AsUser({"ls", "-l", "/usr"});
  RunResult viewed = UmviewAsUser({"-p", "umtrace,output=/dev/null", "--", "ls", "-l", "/usr"});
  EXPECT_EQ(viewed.exit_code, 0) << viewed.err;
  EXPECT_EQ(viewed.out, native.out);
}

TEST_F(Unprivileged, TestPluginLoads) {
  if (!UserCanRead(TestPluginPath("badinit"))) {
    GTEST_SKIP() << "the user cannot read " << TestPluginPath("badinit");
  }
  RunResult r =
      UmviewAsUser({"-p", TestPluginPath("badinit"), "--", "sh", "-c", "echo \"$UMVIEW_PLUGINS\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "badinit\n");
}

}  // namespace
}  // namespace umview::test
