// viewfs prefilter=on on the ptrace engine: path calls outside the mounts are decided by the
// notification prefilter (core/notify_prefilter.h) and run without a ptrace stop, while
// everything that concerns a mount still reaches viewfs — through relative paths, "..", a cwd
// or directory descriptor inside the bind, mounts added at run time — with the documented limit
// of the kernel prefilter's (a host symlink outside the mounts that points into one) gone: the
// host's walk is checked here.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

long Prefiltered(const std::string& err) {
  const std::string key = "\nprefiltered calls";
  size_t at = err.find(key);
  return at == std::string::npos ? 0 : std::stol(err.substr(at + key.size()));
}

// Host: T/src/{x, sub/y}, T/out/{a/f, b/g}, T/out/link -> T/view/data/x (a host symlink into the
// bind's view path), T/view/data/x (host-side). View: T/view/data -> T/src.
class VfsPrefilter : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = t_ / "src";
    dst_ = t_ / "view/data";
    out_ = t_ / "out";
    Put(src_ + "/x", "X\n");
    Put(src_ + "/sub/y", "Y\n");
    Put(out_ + "/a/f", "F\n");
    Put(out_ + "/b/g", "G\n");
    Put(dst_ + "/x", "host-side\n");
    ASSERT_EQ(symlink((dst_ + "/x").c_str(), (out_ + "/link").c_str()), 0);
  }
  // The ptrace engine's prefilter, whatever engine -e auto would pick (kmview has its own,
  // tested in its guest) and whatever UMVIEW_VIEWFS_PREFILTER says.
  std::vector<std::string> Pf() const {
    return With({"bind=" + src_ + ":" + dst_, "prefilter=on"});
  }
  std::vector<std::string> Plain() const {
    return With({"bind=" + src_ + ":" + dst_, "prefilter=off"});
  }
  static std::vector<std::string> With(const std::vector<std::string>& options) {
    std::vector<std::string> a = {"-e", "ptrace"};
    for (const std::string& s : Viewfs(options)) a.push_back(s);
    return a;
  }
  // The prefilter answering nothing inside the bind itself (UMVIEW_PREFILTER_BINDS=off): every
  // call there is escalated to a ptrace stop, for the tests of that path.
  static RunOptions Escalating() {
    RunOptions o;
    o.extra_env = {"UMVIEW_PREFILTER_BINDS=off"};
    return o;
  }
  static std::vector<std::string> Stats(std::vector<std::string> a) {
    a.insert(a.begin(), "--stats");
    return a;
  }

  TempDir t_;
  std::string src_, dst_, out_;
};

TEST_F(VfsPrefilter, OutsideCallsRunWithoutAStopAndTheBindStillShows) {
  RunResult with = ShIn(Stats(Pf()), "cat " + dst_ + "/x; find " + out_ + " -type f | sort");
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(with.out, "X\n" + out_ + "/a/f\n" + out_ + "/b/g\n");
  RunResult without = ShIn(Stats(Plain()), "find " + out_ + " -type f >/dev/null");
  ASSERT_EQ(without.exit_code, 0) << without.err;
  // find lists three directories outside the bind: unseen with the prefilter, stops without.
  EXPECT_EQ(StatsColumn(with.err, "getdents64", 1), 0) << with.err;
  EXPECT_GT(StatsColumn(with.err, "getdents64", 5), 0) << with.err;
  EXPECT_GT(StatsColumn(without.err, "getdents64", 1), 0) << without.err;
  EXPECT_GT(Prefiltered(with.err), 0) << with.err;
  EXPECT_EQ(Prefiltered(without.err), 0) << without.err;
}

// On the ptrace engine the prefilter is viewfs's default (its decisions follow symlinks as the
// view does); UMVIEW_VIEWFS_PREFILTER=off, or the option, turns it off.
TEST_F(VfsPrefilter, OnByDefaultWithThePtraceEngine) {
  auto run = [&](const std::string& env, const std::string& option) {
    std::vector<std::string> argv = {"env", "-u", "UMVIEW_VIEWFS_PREFILTER"};
    if (!env.empty()) argv.push_back(env);
    argv.insert(argv.end(), {UmviewBin(), "--stats", "-e", "ptrace"});
    std::vector<std::string> opts = {"bind=" + src_ + ":" + dst_};
    if (!option.empty()) opts.push_back(option);
    for (const std::string& a : Viewfs(opts)) argv.push_back(a);
    argv.insert(argv.end(),
                {"--", "sh", "-c",
                 "cat " + dst_ + "/x " + out_ + "/link; find " + out_ + " -type f | wc -l"});
    return umview::test::Run(argv);
  };
  RunResult def = run("", "");
  ASSERT_EQ(def.exit_code, 0) << def.err;
  EXPECT_EQ(def.out, "X\nX\n2\n");
  EXPECT_GT(Prefiltered(def.err), 0) << def.err;
  EXPECT_EQ(StatsColumn(def.err, "getdents64", 1), 0) << def.err;
  for (const auto& [env, option] :
       {std::pair<std::string, std::string>{"UMVIEW_VIEWFS_PREFILTER=off", ""},
        {"", "prefilter=off"}}) {
    RunResult off = run(env, option);
    ASSERT_EQ(off.exit_code, 0) << off.err;
    EXPECT_EQ(off.out, def.out);
    EXPECT_EQ(Prefiltered(off.err), 0) << env << option << off.err;
    EXPECT_GT(StatsColumn(off.err, "getdents64", 1), 0) << off.err;
  }
}

// The bind's source named by its host path is the host's, in the view as outside it: calls by
// absolute path there run unseen — as many stops as the same commands on a twin directory
// outside (the stops both make are the programs' own: fstat of a pipe...) — and show what they
// show without the prefilter; a cwd entered there is still the view's path.
TEST_F(VfsPrefilter, TheSourceByItsHostPathRunsUnseen) {
  Put(out_ + "/twin/x", "X\n");
  Put(out_ + "/twin/sub/y", "Y\n");
  auto cmd = [](const std::string& d) {
    return "cat " + d + "/x; stat -c %s " + d + "/sub/y; ls " + d + "; cat " + d + "/sub/y";
  };
  RunResult plain = ShIn(Plain(), cmd(src_) + "; cd " + src_ + "/sub && /bin/pwd");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out, "X\n2\nsub\nx\nY\n" + dst_ + "/sub\n");
  RunResult pf = ShIn(Pf(), cmd(src_) + "; cd " + src_ + "/sub && /bin/pwd");
  EXPECT_EQ(pf.out, plain.out) << pf.err;
  RunResult source = ShIn(Stats(Pf()), cmd(src_)), twin = ShIn(Stats(Pf()), cmd(out_ + "/twin"));
  ASSERT_EQ(source.exit_code, 0) << source.err;
  EXPECT_EQ(StatsColumn(source.err, "total calls", 1), StatsColumn(twin.err, "total calls", 1))
      << source.err << twin.err;
}

TEST_F(VfsPrefilter, CwdDescriptorsAndDotDotInsideTheBindReachViewfs) {
  RunResult r = RunUmview([&] {
    auto a = Pf();
    a.insert(a.end(), {"-w", dst_, "--", "sh", "-c",
                       "cat x; cat sub/../x; cd sub && cat y ../x; cd /etc && cat ../" + dst_ +
                           "//x; ls " + dst_ + "; find " + dst_ + " -type f | sort; /bin/pwd -P"});
    return a;
  }());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\nX\nY\nX\nX\nsub\nx\n" + dst_ + "/sub/y\n" + dst_ + "/x\n/etc\n");
}

// Relative calls in the bind (cwd or descriptor there) that the host resolves below their
// directory run unseen — find's listings, opens and stats — and still see the view: a symlink
// in the bind that is absolute, or leaves it, is resolved by viewfs; a mount below the bind
// keeps the listings above it seen; a rename is seen.
TEST_F(VfsPrefilter, RelativeCallsInTheBindRunUnseenWhereTheHostAgreesWithTheView) {
  ASSERT_EQ(symlink((dst_ + "/x").c_str(), (src_ + "/abs").c_str()), 0);  // host: host-side
  ASSERT_EQ(symlink("..", (src_ + "/up").c_str()), 0);  // view: T/view (up/data is dst); host: T
  Put(out_ + "/a/nested-file", "N\n");
  const std::string script =
      "find . -type f | sort; cat x sub/y abs up/data/x; mv x x2 && cat x2 && mv x2 x";
  auto run = [&](std::vector<std::string> view) {
    view.insert(view.begin(), "--stats");
    view.insert(view.end(), {"-w", dst_, "--", "sh", "-c", script});
    return RunUmview(view);
  };
  RunResult pf = run(Pf());
  ASSERT_EQ(pf.exit_code, 0) << pf.err;
  EXPECT_EQ(pf.out, "./sub/y\n./x\nX\nY\nX\nX\nX\n");
  EXPECT_EQ(StatsColumn(pf.err, "getdents64", 1), 0) << pf.err;
  EXPECT_GE(StatsColumn(pf.err, "getdents64", 5), 4) << pf.err;
  EXPECT_GE(StatsColumn(pf.err, "rename", 1) + StatsColumn(pf.err, "renameat2", 1), 2) << pf.err;
  RunResult plain = run(Plain());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out, pf.out);
  // A mount below the bind: listings of the directories above it are the view's.
  RunResult nested = run(With({"bind=" + src_ + ":" + dst_,
                               "bind=" + out_ + "/a:" + dst_ + "/sub/nested", "prefilter=on"}));
  ASSERT_EQ(nested.exit_code, 0) << nested.err;
  EXPECT_EQ(nested.out, "./sub/nested/f\n./sub/nested/nested-file\n./sub/y\n./x\nX\nY\nX\nX\nX\n");
  EXPECT_GT(StatsColumn(nested.err, "getdents64", 1), 0) << nested.err;
}

// stat, ls -l, readlink of absolute paths in the bind: answered by the prefilter on the host
// path, without a stop, as viewfs would answer them — except where the view resolves a symlink
// differently (an absolute one: the view's file), and for a thread whose credentials are not
// umview's (it makes the call with its own, through viewfs).
TEST_F(VfsPrefilter, AttributeReadsInTheBindAreAnsweredAsTheViewWould) {
  ASSERT_EQ(symlink((dst_ + "/x").c_str(), (src_ + "/abs").c_str()), 0);  // view X, host host-side
  ASSERT_EQ(symlink("sub/y", (src_ + "/near").c_str()), 0);
  RunResult r =
      ShIn(Stats(Pf()), "stat -c %s " + dst_ + "/x " + dst_ + "/near; stat -L -c %s " + dst_ +
                            "/abs; readlink " + dst_ + "/near " + dst_ + "/abs; ls -l " + dst_ +
                            " | wc -l; stat " + dst_ + "/none 2>&1 | grep -c 'No such'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2\n5\n2\n" + std::string("sub/y\n") + dst_ + "/x\n5\n1\n");
  EXPECT_GE(StatsColumn(r.err, "statx", 5), 6) << r.err;
  EXPECT_GE(StatsColumn(r.err, "lgetxattr", 5), 4) << r.err;  // ls -l
  EXPECT_GE(StatsColumn(r.err, "readlink", 5) + StatsColumn(r.err, "readlinkat", 5), 2) << r.err;
  // stat -L of the absolute symlink: resolved by viewfs (a stop).
  EXPECT_EQ(StatsColumn(r.err, "statx", 1), 1) << r.err;
  if (geteuid() != 0) GTEST_SKIP() << "the other half needs root (a thread with other ids)";
  // A directory only root may search: root in the view reads below it, nobody does not —
  // whether it dropped its ids after an answer, or a child made its first call with them.
  ASSERT_EQ(chmod(t_.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod(src_.c_str(), 0755), 0);
  Put(src_ + "/private/f", "P\n");
  ASSERT_EQ(chmod((src_ + "/private").c_str(), 0700), 0);
  RunResult drop = RunUmview([&] {
    auto a = Pf();
    a.insert(a.end(), {"--", Tracee("vfs_drop_ids"), dst_ + "/private/f", dst_ + "/x"});
    return a;
  }());
  const std::string eacces = std::to_string(EACCES);
  EXPECT_EQ(drop.out, "before=0 after=" + eacces + " child=" + eacces + " child_other=0\n")
      << drop.err;
}

// Opens of existing files and directories at absolute paths in the bind: opened by the
// prefilter and handed over as the call's descriptor (inherited by children as any). A FIFO,
// a creation, a symlink the view resolves itself: viewfs's.
TEST_F(VfsPrefilter, OpensOfWhatExistsInTheBindAreAnsweredWithADescriptor) {
  ASSERT_EQ(symlink((dst_ + "/x").c_str(), (src_ + "/abs").c_str()), 0);
  ASSERT_EQ(mkfifo((src_ + "/fifo").c_str(), 0600), 0);
  const std::string d = dst_;
  const std::string script = "cat " + d + "/x; exec 4<" + d + "/x; sh -c 'cat <&4'; find " + d +
                             "/sub -type f; exec 3<>" + d + "/fifo; echo through >&3; " +
                             "read l <&3; echo $l; echo new >" + d + "/new; cat " + d + "/new " +
                             d + "/abs; rm " + d + "/new";
  RunResult escalated = ShIn(Stats(Pf()), script, Escalating());
  ASSERT_EQ(escalated.exit_code, 0) << escalated.err;
  RunResult r = ShIn(Stats(Pf()), script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\nX\n" + d + "/sub/y\nthrough\nnew\nX\n");
  EXPECT_EQ(r.out, escalated.out);
  // Answered: x twice, the directory sub, new once it exists. Left to viewfs: the FIFO, the
  // creation, the absolute symlink (and what the programs open in /proc).
  EXPECT_EQ(StatsColumn(escalated.err, "openat", 1) - StatsColumn(r.err, "openat", 1), 4)
      << escalated.err << r.err;
}

TEST_F(VfsPrefilter, ResultsOfEscalatedCallsAreTranslated) {
  // getcwd (a descriptor call) and readlink of /proc/self/cwd inside the bind: their exits are
  // reported after the escalation, and viewfs puts the view's path in them. (getcwd is
  // answered by the prefilter itself unless the binds are ignored: both ways.)
  for (const char* binds : {"on", "off"}) {
    RunOptions o;
    o.extra_env = {std::string("UMVIEW_PREFILTER_BINDS=") + binds};
    RunResult r = RunUmview(
        [&] {
          auto a = Stats(Pf());
          a.insert(a.end(), {"-w", dst_ + "/sub", "--", "sh", "-c",
                             "/bin/pwd -P; readlink /proc/self/cwd; realpath ../x"});
          return a;
        }(),
        o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, dst_ + "/sub\n" + dst_ + "/sub\n" + dst_ + "/x\n") << binds;
    EXPECT_EQ(StatsColumn(r.err, "getcwd", 1) > 0, std::string(binds) == "off") << r.err;
  }
}

TEST_F(VfsPrefilter, HostSymlinkIntoTheBindIsFollowedInTheView) {
  // A host symlink outside the mounts that leads into one: the view follows it into the bind,
  // with the prefilter as without (the kernel would follow it to the host's file).
  ASSERT_EQ(symlink("../view", (out_ + "/up").c_str()), 0);     // out/up/data/x: the bind
  ASSERT_EQ(symlink("a/f", (out_ + "/near").c_str()), 0);       // relative, outside
  ASSERT_EQ(symlink(out_.c_str(), (t_ / "alias").c_str()), 0);  // absolute, outside
  const std::string cmd = "cat " + out_ + "/link " + out_ + "/up/data/x; cd " + out_ +
                          " && cat link up/data/x; stat -L -c %s up/data/sub/y link";
  RunResult plain = ShIn(Plain(), cmd);
  EXPECT_EQ(plain.out, "X\nX\nX\nX\n2\n2\n") << plain.err;  // sub/y's size, x's
  RunResult pf = ShIn(Pf(), cmd);
  EXPECT_EQ(pf.out, plain.out) << pf.err;
  // Symlinks that stay outside are still decided without a stop.
  RunResult out = ShIn(Stats(Pf()), "cat " + out_ + "/near " + t_.path() + "/alias/b/g; cd " +
                                        t_.path() + "/alias && cat near b/g");
  EXPECT_EQ(out.out, "F\nG\nF\nG\n") << out.err;
  EXPECT_EQ(StatsColumn(out.err, "openat", 1), 0) << out.err;
  EXPECT_GE(StatsColumn(out.err, "openat", 5), 4) << out.err;
}

// A directory reached through a host symlink that stays outside (T/out/vlnk -> ../view) is
// checked once and kept; a name in it that is a mount point in the view (data) is still the
// view's: ls lists the bind's source, not the host's directory.
TEST_F(VfsPrefilter, MountPointBehindASymlinkedDirectoryIsTheViews) {
  Put(t_.path() + "/view/file0", "0\n");
  ASSERT_EQ(symlink("../view", (out_ + "/vlnk").c_str()), 0);
  const std::string cmd = "ls " + out_ + "/vlnk/file0 " + out_ + "/vlnk/data; cat " + out_ +
                          "/vlnk/file0 " + out_ + "/vlnk/data/x";
  RunResult plain = ShIn(Plain(), cmd);
  EXPECT_EQ(plain.out, out_ + "/vlnk/file0\n\n" + out_ + "/vlnk/data:\nsub\nx\n0\nX\n")
      << plain.err;
  RunResult pf = ShIn(Pf(), cmd);
  EXPECT_EQ(pf.out, plain.out) << pf.err;
}

TEST_F(VfsPrefilter, MountsChangedAtRunTimeAreInForceForTheNextCall) {
  Put(t_ / "pf2/file", "host-pf2\n");
  const std::string umctl = UmviewBin().substr(0, UmviewBin().rfind('/')) + "/umctl";
  RunResult r =
      ShIn(Pf(), umctl + " mount bind " + src_ + " " + t_.path() + "/pf2 >/dev/null && cat " +
                     t_.path() + "/pf2/x && " + umctl + " umount " + t_.path() +
                     "/pf2 >/dev/null && cat " + t_.path() + "/pf2/file");
  EXPECT_EQ(r.out, "X\nhost-pf2\n") << r.err;
  // A protective mount turns the prefilter off: the symlink is followed in the view again.
  RunResult h =
      ShIn(Pf(), umctl + " mount hide " + t_.path() + "/pf2 >/dev/null && cat " + out_ + "/link");
  EXPECT_EQ(h.out, "X\n") << h.err;
}

// A view that gains an ro mount at run time has notified writes so far: the prefilter itself
// now sends every call that may write to viewfs, which refuses it (and lets reads through).
TEST_F(VfsPrefilter, ReadOnlyMountedAtRunTimeRefusesWritesTheFilterStillNotifies) {
  const std::string locked = t_ / "locked";
  Put(locked + "/f", "ORIGINAL\n");
  const std::string umctl = UmviewBin().substr(0, UmviewBin().rfind('/')) + "/umctl";
  RunResult r =
      ShIn(Pf(), umctl + " mount ro " + locked + " >/dev/null && cat " + locked +
                     "/f && { echo x > " + locked + "/f || echo refused; } && { echo y >> " +
                     locked + "/f || echo refused; } && { test -w " + locked +
                     "/f || echo not-writable; } && mkdir " + locked + "/d || echo refused");
  EXPECT_EQ(r.out, "ORIGINAL\nrefused\nrefused\nnot-writable\nrefused\n") << r.err;
  EXPECT_EQ(ReadFile(locked + "/f"), "ORIGINAL\n");
  EXPECT_FALSE(Exists(locked + "/d"));
}

TEST_F(VfsPrefilter, ListingAboveAMountShowsItsMountPoint) {
  const std::string fresh = t_ / "view/fresh";
  RunResult r = RunUmview([&] {
    auto a = With({"bind=" + src_ + ":" + fresh, "prefilter=on"});
    a.insert(a.end(), {"--", "sh", "-c", "ls " + t_.path() + "/view; ls " + fresh});
    return a;
  }());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "data\nfresh\nsub\nx\n");
}

TEST_F(VfsPrefilter, DevMagicLinksStaySeenTheRestOfDevDoesNot) {
  // /dev/stdin leads to /proc/self/fd/0, a magic link viewfs translates: seen. /dev/shm and
  // /dev/null are plain (temporary files of many programs live in /dev/shm): unseen.
  RunResult r = ShIn(Stats(Pf()),
                     "readlink /dev/stdin >/dev/null; readlink /dev/shm; "
                     "readlink /dev/null; true");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(StatsColumn(r.err, "readlink", 1), 1) << r.err;
  EXPECT_EQ(StatsColumn(r.err, "readlink", 5), 2) << r.err;
}

TEST_F(VfsPrefilter, SignalsWithoutSaRestartDoNotTurnCallsIntoEintr) {
  Put(out_ + "/plain", "P\n");
  // The bind's file answered by the prefilter, and escalated.
  for (const RunOptions& o : {RunOptions(), Escalating()}) {
    RunResult r = RunUmview(
        [&] {
          auto a = Pf();
          a.insert(a.end(),
                   {"--", Tracee("vfs_prefilter_signals"), "300", dst_ + "/x", out_ + "/plain"});
          return a;
        }(),
        o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "eintr=0 errors=0 mismatch=0 rounds=1200 alarms=yes\n");
  }
}

TEST_F(VfsPrefilter, ParallelProcessesGetTheirOwnAnswersWhicheverThreadServes) {
  // Four shells at once, each opening a file inside the bind (escalated, or answered by the
  // prefilter itself) and one outside (let through) 400 times with the shell's own
  // redirections (no exec between calls): the serving threads overlap, and the wake-up mode
  // switches under them (NotifyPrefilter::State::Adapt). Also with one thread, and with more
  // unpinned threads than CPUs.
  const std::string loop =
      "i=0; bad=0; while [ $i -lt 400 ]; do read a < " + dst_ + "/x; read b < " + out_ +
      "/a/f; [ \"$a$b\" = XF ] || bad=$((bad+1)); i=$((i+1)); done; " + "echo $bad";
  const std::string script = "for n in 1 2 3 4; do (" + loop + ") > " + t_.path() +
                             "/r$n & done; wait; cat " + t_.path() + "/r1 " + t_.path() + "/r2 " +
                             t_.path() + "/r3 " + t_.path() + "/r4";
  for (const bool answered : {false, true}) {
    for (const char* threads : {"", "1", "3"}) {
      RunOptions o = answered ? RunOptions() : Escalating();
      if (*threads) o.extra_env.push_back(std::string("UMVIEW_PREFILTER_THREADS=") + threads);
      RunResult r = ShIn(Stats(Pf()), script, o);
      ASSERT_EQ(r.exit_code, 0) << threads << ": " << r.err;
      EXPECT_EQ(r.out, "0\n0\n0\n0\n") << threads;
      EXPECT_GE(Prefiltered(r.err), answered ? 3200 : 1600) << threads << ": " << r.err;
      EXPECT_GE(StatsColumn(r.err, "openat", 1), answered ? 0 : 1600) << threads << ": " << r.err;
      if (answered) {
        EXPECT_LT(StatsColumn(r.err, "openat", 1), 100) << threads << ": " << r.err;
      }
    }
  }
}

TEST_F(VfsPrefilter, ProgramsAndInterpretersOutsideTheMountsExecWithoutAStop) {
  // Host programs, a script whose interpreter is the host's, a command that does not exist:
  // no execve stop. A script whose "#!" names an interpreter inside the bind (it exists only
  // there), and a program inside it: viewfs runs them.
  ASSERT_EQ(system(("cp /bin/sh " + src_ + "/sh && cp /bin/echo " + src_ + "/echo").c_str()), 0);
  Put(out_ + "/host-script", "#!/bin/sh\necho host script\n");
  Put(out_ + "/view-script", "#!" + dst_ + "/sh\necho view script\n");
  ASSERT_EQ(chmod((out_ + "/host-script").c_str(), 0755), 0);
  ASSERT_EQ(chmod((out_ + "/view-script").c_str(), 0755), 0);
  RunResult outside =
      ShIn(Stats(Pf()), "/bin/true; " + out_ + "/host-script; no-such-command; " + "echo $?");
  ASSERT_EQ(outside.exit_code, 0) << outside.err;
  EXPECT_EQ(outside.out, "host script\n127\n");
  EXPECT_EQ(StatsColumn(outside.err, "execve", 1), 0) << outside.err;
  EXPECT_GE(StatsColumn(outside.err, "execve", 5), 3) << outside.err;
  RunResult inside = ShIn(Stats(Pf()), out_ + "/view-script; " + dst_ + "/echo view program");
  ASSERT_EQ(inside.exit_code, 0) << inside.err;
  EXPECT_EQ(inside.out, "view script\nview program\n");
  EXPECT_EQ(StatsColumn(inside.err, "execve", 1), 2) << inside.err;
}

// The scratch area (where viewfs puts rewritten paths) is mapped in a process the first time
// one of its calls stops for a plugin, not at each execve: with the prefilter, a shell whose
// calls so far all ran unseen has no such mapping; once it reads a file of the bind it has it
// (and reads the bind's file). Without the prefilter its first library open stops already.
TEST_F(VfsPrefilter, ScratchIsMappedOnlyInProgramsThatStop) {
  const std::string maps = "grep -c '^10000000-12000000 r--p' /proc/$$/maps; ";
  const std::string script = maps + "read x < " + dst_ + "/x; echo $x; " + maps;
  RunResult r = ShIn(Pf(), script, Escalating());
  EXPECT_EQ(r.out, "0\nX\n1\n") << r.err;
  r = ShIn(Pf(), script);  // the open answered by the prefilter: no stop at all
  EXPECT_EQ(r.out, "0\nX\n0\n") << r.err;
  r = ShIn(Plain(), script);
  EXPECT_EQ(r.out, "1\nX\n1\n") << r.err;
}

// A program that put its own memory where the scratch area goes (an address hint, before any
// of its calls stopped) keeps it, may unmap it, and its calls in the bind still work: the area
// is mapped elsewhere.
TEST_F(VfsPrefilter, ScratchMovesAsideForTheProgramsOwnMemory) {
  RunResult r = RunUmview(
      [&] {
        auto a = Pf();
        a.insert(a.end(), {"--", Tracee("vfs_low_hint"), dst_ + "/x"});
        return a;
      }(),
      Escalating());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hint=at read=X munmap=0\n") << r.err;
}

// Threads whose first stops come together: one maps the scratch area, the others make their
// calls again until it is there, and every call still reads the bind's file.
TEST_F(VfsPrefilter, ThreadsStoppingTogetherShareOneScratchArea) {
  for (const auto& view : {Pf(), Plain()}) {
    RunResult r = RunUmview(
        [&] {
          auto a = view;
          a.insert(a.end(), {"--", Tracee("eng_open_threads"), dst_ + "/x", "X\n"});
          return a;
        }(),
        Escalating());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "opens=1600 bad=0\n") << r.err;
  }
}

TEST_F(VfsPrefilter, SwitchedOffByEnvironmentEveryCallStops) {
  RunOptions o;
  o.extra_env = {"UMVIEW_NOTIFY_PREFILTER=off"};
  RunResult r = ShIn(Stats(Pf()), "cat " + dst_ + "/x; find " + out_ + " >/dev/null", o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "X\n");
  EXPECT_EQ(Prefiltered(r.err), 0) << r.err;
  EXPECT_GT(StatsColumn(r.err, "getdents64", 1), 0) << r.err;
}

// ro and unions protect files from changes only. In such a view reads run unseen wherever a
// union does not pick the layer (under ro too: reading there is the host's business), and
// every call that may write stops: ro still refuses it, also through a host symlink outside
// the mount (a link swapped in after the prefilter's look could not be caught there), an
// open that only truncates, and access for writing.
TEST_F(VfsPrefilter, InAReadOnlyViewReadsRunUnseenAndWritesStop) {
  const std::string locked = t_ / "locked";
  Put(locked + "/f", "ORIGINAL\n");
  ASSERT_EQ(symlink((locked + "/f").c_str(), (out_ + "/to_locked").c_str()), 0);
  const auto view = Stats(With({"ro=" + locked, "prefilter=on"}));
  const std::string read_script =
      "cat " + locked + "/f " + out_ + "/a/f " + out_ + "/to_locked; ls " + locked;
  RunResult reads = ShIn(view, read_script);
  ASSERT_EQ(reads.exit_code, 0) << reads.err;
  EXPECT_EQ(reads.out, "ORIGINAL\nF\nORIGINAL\nf\n");
  // As many stops as in a view without ro (those are the programs' own: fstat of a pipe...),
  // many fewer than with every call stopping.
  RunResult plain = ShIn(Stats(Pf()), read_script);
  RunResult all = ShIn(Stats(With({"ro=" + locked, "prefilter=off"})), read_script);
  ASSERT_EQ(plain.out, reads.out);
  ASSERT_EQ(all.out, reads.out);
  for (const char* call : {"openat", "newfstatat", "getdents64"}) {
    EXPECT_EQ(StatsColumn(reads.err, call, 1), StatsColumn(plain.err, call, 1))
        << call << reads.err << plain.err;
  }
  EXPECT_GT(StatsColumn(all.err, "openat", 1), StatsColumn(reads.err, "openat", 1) + 4) << all.err;
  EXPECT_GT(StatsColumn(reads.err, "openat", 5), 0) << reads.err;

  RunResult writes =
      ShIn(view, "echo x > " + locked + "/f || echo refused; echo y > " + out_ +
                     "/to_locked || echo refused; test -w " + locked + "/f || echo not-writable");
  ASSERT_EQ(writes.exit_code, 0) << writes.err;
  EXPECT_EQ(writes.out, "refused\nrefused\nnot-writable\n") << writes.err;
  EXPECT_GE(StatsColumn(writes.err, "openat", 1), 2) << writes.err;
  DoorResults d = RunDoors(view, {{"open", locked + "/f", "r,trunc"},
                                  {"openat", locked + "/f", "r,append"},
                                  {"open", locked, "w,tmpfile"},
                                  {"faccessat", locked + "/f", "w"}});
  ExpectAll(d, "EROFS");
  EXPECT_EQ(ReadFile(locked + "/f"), "ORIGINAL\n");
}

// The same in a cow view asked for it: reads outside its paths run unseen, reads and writes inside
// them still go through the layers (the change is the view's, the host's original stays).
TEST_F(VfsPrefilter, InACowViewReadsOutsideRunUnseenAndTheLayersStillShow) {
  const std::string lower = t_ / "cow", upper = t_ / "upper";
  Put(lower + "/f", "ORIGINAL\n");
  ASSERT_EQ(mkdir(upper.c_str(), 0755), 0);
  const std::string script = "echo CHANGED > " + lower + "/f && cat " + lower + "/f " + out_ +
                             "/a/f && ls " + lower + " && find " + out_ + " -type f | wc -l";
  RunResult r = ShIn(Stats(With({"cow=" + lower + ":" + upper, "prefilter=on"})), script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "CHANGED\nF\nf\n2\n");
  EXPECT_EQ(ReadFile(lower + "/f"), "ORIGINAL\n");
  EXPECT_EQ(ReadFile(upper + "/f"), "CHANGED\n");
  // find's three directories outside are listed unseen; ls's listing of the union stops.
  ASSERT_EQ(system(("rm -r '" + upper + "' && mkdir '" + upper + "'").c_str()), 0);
  RunResult off = ShIn(Stats(With({"cow=" + lower + ":" + upper, "prefilter=off"})), script);
  ASSERT_EQ(off.out, r.out);
  EXPECT_GT(StatsColumn(r.err, "getdents64", 1), 0) << r.err;
  EXPECT_GE(StatsColumn(off.err, "getdents64", 1), StatsColumn(r.err, "getdents64", 1) + 3)
      << r.err << off.err;
  EXPECT_GT(Prefiltered(r.err), 0) << r.err;
  // Not by default in a view with a union: most calls of work inside it would be escalations.
  ASSERT_EQ(system(("rm -r '" + upper + "' && mkdir '" + upper + "'").c_str()), 0);
  RunResult def = ShIn(Stats(With({"cow=" + lower + ":" + upper})), script);
  ASSERT_EQ(def.out, r.out);
  EXPECT_EQ(Prefiltered(def.err), 0) << def.err;
}

}  // namespace
}  // namespace umview::test
