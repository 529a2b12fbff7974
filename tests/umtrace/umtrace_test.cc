// umtrace: runs real programs under `umview -p umtrace` and checks the log against what the
// programs did, alone and stacked with the rewrite test plugin on either side.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

// With UMTRACE_TEST_THREADS set, this binary is itself the multi-threaded tracee: two threads
// each fail an open of their own path and print their tid, then the process exits. It runs
// before gtest's main, so the suite needs no separate tracee program.
[[maybe_unused]] const bool kRanAsThreadTracee = [] {
  if (getenv("UMTRACE_TEST_THREADS") == nullptr) return false;
  auto body = [](int n) {
    char path[64];
    snprintf(path, sizeof path, "/nonexistent-umtrace/thread-%d", n);
    // The raw call: libc may pick another syscall for open().
    (void)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
    char line[64];
    int len = snprintf(line, sizeof line, "%d %ld\n", n, static_cast<long>(syscall(SYS_gettid)));
    (void)!write(1, line, len);
  };
  std::thread a(body, 1);
  a.join();  // one after the other: the output order is fixed
  std::thread b(body, 2);
  b.join();
  _exit(0);
}();

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Escapes regex metacharacters (temporary paths contain '.' and '-').
std::string Quote(const std::string& s) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, kSpecial, R"(\$&)");
}

// The log lines that match `pattern` (ECMAScript, whole line).
std::vector<std::string> Grep(const std::string& log, const std::string& pattern) {
  std::regex re(pattern);
  std::vector<std::string> out;
  for (const std::string& l : Lines(log)) {
    if (std::regex_match(l, re)) out.push_back(l);
  }
  return out;
}

constexpr char kPid[] = R"(\[pid [0-9]+\] )";

std::string Describe(const RunResult& r, const std::string& log) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err +
         "\nlog:\n" + log;
}

TEST(Umtrace, CatLogsOpenReadAndWriteAndKeepsOutput) {
  TempDir d;
  const std::string file = d / "in.txt";
  const std::string log = d / "trace.log";
  WriteFile(file, "hello umtrace\n");
  RunResult r = RunUmview({"-p", "umtrace,output=" + log, "--", "cat", file});
  std::string text = ReadFile(log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, text);
  EXPECT_EQ(r.out, "hello umtrace\n");
  EXPECT_EQ(r.err, "") << "with output=FILE nothing goes to stderr";
  EXPECT_EQ(Grep(text, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(file) +
                           R"(", O_RDONLY\) = [0-9]+)")
                .size(),
            1u)
      << text;
  EXPECT_EQ(
      Grep(text, kPid + std::string(R"(read\([0-9]+, "hello umtrace\\n", [0-9]+\) = 14)")).size(),
      1u)
      << text;
  EXPECT_EQ(Grep(text, kPid + std::string(R"(write\(1, "hello umtrace\\n", 14\) = 14)")).size(), 1u)
      << text;
  // The exec of cat itself, with its argv, and the final exit logged at entry.
  EXPECT_EQ(Grep(text, kPid + std::string(R"(execve\("[^"]*/cat", \["cat", ")") + Quote(file) +
                           R"("\], \[.*\]\) = 0)")
                .size(),
            1u)
      << text;
  EXPECT_EQ(Grep(text, kPid + std::string(R"(exit_group\(0\) = \?)")).size(), 1u) << text;
  // Every line has the one format.
  EXPECT_EQ(Grep(text, kPid + std::string(R"([a-z_0-9]+\(.*\) = .*)")).size(), Lines(text).size())
      << text;
  // mmap results are addresses.
  EXPECT_FALSE(Grep(text, kPid + std::string(R"(mmap\(.*\) = 0x[0-9a-f]+)")).empty()) << text;
}

TEST(Umtrace, DefaultOutputIsStderr) {
  RunResult r = RunUmview({"-p", "umtrace", "--", "sh", "-c", "echo out; exit 0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_FALSE(Grep(r.err, kPid + std::string(R"(write\(1, "out\\n", 4\) = 4)")).empty()) << r.err;
  EXPECT_FALSE(Grep(r.err, kPid + std::string(R"(exit_group\(0\) = \?)")).empty()) << r.err;
}

TEST(Umtrace, FailingCallShowsErrno) {
  TempDir d;
  const std::string missing = d / "no/such/file";
  const std::string log = d / "trace.log";
  RunResult r = RunUmview({"-p", "umtrace,output=" + log, "--", "cat", missing});
  std::string text = ReadFile(log);
  EXPECT_EQ(r.exit_code, 1) << Describe(r, text);
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  EXPECT_EQ(Grep(text, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(missing) +
                           R"(", O_RDONLY\) = -1 ENOENT \(No such file or directory\))")
                .size(),
            1u)
      << text;
}

TEST(Umtrace, DecodesBuffersFlagsAndLongStrings) {
  TempDir d;
  const std::string data = d / "data";
  const std::string log = d / "trace.log";
  WriteFile(data, std::string("a\tb\"\\\x01\xff\n") + std::string(40, 'z'));
  // Two components: one of 300 bytes would fail with ENAMETOOLONG before any lookup.
  const std::string long_name = d / (std::string(150, 'x') + "/" + std::string(150, 'y'));
  // A read of binary data, a write longer than 32 bytes (to the pipe: into a file cat would use
  // copy_file_range), a created file (flags and mode) and an over-long path.
  RunResult r = RunUmview({"-p", "umtrace,output=" + log, "--", "sh", "-c",
                           "cat \"$1\"; echo hi > \"$2\"; cat \"$3\" 2>/dev/null; exit 0", "sh",
                           data, d / "copy", long_name});
  std::string text = ReadFile(log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, text);
  EXPECT_EQ(r.out, ReadFile(data));
  EXPECT_EQ(ReadFile(d / "copy"), "hi\n");
  const std::string shown = R"("a\\tb\\"\\\\\\x01\\xff\\n)" + std::string(24, 'z') + R"("\.\.\.)";
  EXPECT_FALSE(
      Grep(text, kPid + std::string(R"(read\([0-9]+, )") + shown + R"(, [0-9]+\) = 48)").empty())
      << text;
  EXPECT_FALSE(Grep(text, kPid + std::string(R"(write\(1, )") + shown + R"(, 48\) = 48)").empty())
      << text;
  EXPECT_FALSE(Grep(text, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(d / "copy") +
                              R"(", O_WRONLY\|O_CREAT\|O_TRUNC, 0666\) = [0-9]+)")
                   .empty())
      << text;
  const std::string cut = long_name.substr(0, 256);
  EXPECT_FALSE(Grep(text, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(cut) +
                              R"("\.\.\., O_RDONLY\) = -1 ENOENT .*)")
                   .empty())
      << text;
}

TEST(Umtrace, FilterRestrictsTheLog) {
  TempDir d;
  const std::string file = d / "in.txt";
  const std::string log = d / "trace.log";
  WriteFile(file, "filtered\n");
  RunResult r =
      RunUmview({"-p", "umtrace,output=" + log + ",filter=openat+close", "--", "cat", file});
  std::string text = ReadFile(log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, text);
  EXPECT_EQ(r.out, "filtered\n");
  std::vector<std::string> lines = Lines(text);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(Grep(text, kPid + std::string(R"((openat|close)\(.*)")).size(), lines.size()) << text;
  EXPECT_EQ(
      Grep(text, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(file) + R"(", .*)").size(),
      1u)
      << text;
}

TEST(Umtrace, FilterNoneTracesNothing) {
  TempDir d;
  const std::string log = d / "trace.log";
  RunResult r =
      RunUmview({"-p", "umtrace,output=" + log + ",filter=none", "--", "sh", "-c", "echo quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "quiet\n");
  EXPECT_EQ(ReadFile(log), "");
}

TEST(Umtrace, BadOptionsExitTwoWithOneLine) {
  struct Case {
    std::string spec;
    std::string message;
  };
  const Case cases[] = {
      {"umtrace,filter=openat+bogus_call",
       "umview: umtrace: filter: unknown system call "
       "'bogus_call'\n"},
      {"umtrace,colour=yes",
       "umview: umtrace: unknown option 'colour' (expected output, "
       "filter)\n"},
      {"umtrace,output=/nonexistent-umtrace/dir/log",
       "umview: umtrace: output=/nonexistent-umtrace/dir/log: No such file or directory\n"},
  };
  for (const Case& c : cases) {
    RunResult r = RunUmview({"-p", c.spec, "--", "sh", "-c", "echo should not run"});
    EXPECT_EQ(r.exit_code, 2) << c.spec;
    EXPECT_EQ(r.err, c.message) << c.spec;
    EXPECT_EQ(r.out, "") << c.spec;
  }
}

TEST(Umtrace, ExitStatusPassesThrough) {
  TempDir d;
  const std::string log = d / "trace.log";
  RunResult r = RunUmview({"-p", "umtrace,output=" + log, "--", "sh", "-c", "exit 7"});
  std::string text = ReadFile(log);
  EXPECT_EQ(r.exit_code, 7) << Describe(r, text);
  EXPECT_EQ(Grep(text, kPid + std::string(R"(exit_group\(7\) = \?)")).size(), 1u) << text;

  // Killed by a signal: 128+N, and the kill is decoded.
  r = RunUmview({"-p", "umtrace,output=" + log, "--", "sh", "-c", "kill -TERM $$"});
  text = ReadFile(log);
  EXPECT_EQ(r.exit_code, 128 + 15) << Describe(r, text);
  EXPECT_EQ(Grep(text, kPid + std::string(R"(kill\([0-9]+, SIGTERM\) = .*)")).size(), 1u) << text;
}

// The stack `-p rewrite,from=A,to=B -p umtrace`: umtrace, loaded last, is outermost and logs the
// call as the program made it; loaded first, it is innermost and logs what rewrite made of it.
class UmtraceNesting : public ::testing::Test {
 protected:
  void SetUp() override {
    // The core resolves relative paths through /proc/PID/cwd, which has no symlinks: compare
    // with the canonical name of the directory ($TMPDIR may contain a symlink).
    char* real = realpath(tmp_.path().c_str(), nullptr);
    ASSERT_NE(real, nullptr);
    base_ = real;
    free(real);
    ASSERT_EQ(system(("mkdir -p '" + base_ + "/A' '" + base_ + "/B'").c_str()), 0);
    WriteFile(Dir("A/f"), "A");
    WriteFile(Dir("B/f"), "B");
  }

  std::string Dir(const std::string& rel) const { return base_ + "/" + rel; }

  // Runs `cat A/<name>` from inside the temporary directory with umtrace outside or inside.
  RunResult Cat(const std::string& name, bool umtrace_outermost, std::string* log_text) {
    const std::string log = Dir("trace.log");
    std::vector<std::string> rewrite = {
        "-p", TestPluginPath("rewrite") + ",from=" + Dir("A") + ",to=" + Dir("B")};
    std::vector<std::string> umtrace = {"-p", "umtrace,output=" + log + ",filter=openat"};
    std::vector<std::string> args = umtrace_outermost ? rewrite : umtrace;
    const auto& second = umtrace_outermost ? umtrace : rewrite;
    args.insert(args.end(), second.begin(), second.end());
    args.insert(args.end(), {"--", "cat", "A/" + name});
    RunOptions opts;
    opts.cwd = base_;
    RunResult r = RunUmview(args, opts);
    *log_text = ReadFile(log);
    return r;
  }

  TempDir tmp_;
  std::string base_;
};

TEST_F(UmtraceNesting, OutermostSeesTheProgramsCall) {
  std::string log;
  RunResult r = Cat("f", true, &log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, log);
  EXPECT_EQ(r.out, "B");
  EXPECT_EQ(Grep(log, kPid + std::string(R"(openat\(AT_FDCWD, "A/f", O_RDONLY\) = [0-9]+)")).size(),
            1u)
      << log;
  EXPECT_EQ(log.find("/B/f"), std::string::npos) << log;
}

TEST_F(UmtraceNesting, InnermostSeesTheRewrittenCall) {
  std::string log;
  RunResult r = Cat("f", false, &log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, log);
  EXPECT_EQ(r.out, "B");
  EXPECT_EQ(Grep(log, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(Dir("B/f")) +
                          R"(", O_RDONLY\) = [0-9]+)")
                .size(),
            1u)
      << log;
  EXPECT_EQ(log.find("\"A/f\""), std::string::npos) << log;
}

TEST_F(UmtraceNesting, MissingFileFailsTheSameInBothPositions) {
  std::string outer, inner;
  RunResult ro = Cat("missing", true, &outer);
  RunResult ri = Cat("missing", false, &inner);
  EXPECT_EQ(ro.exit_code, 1) << Describe(ro, outer);
  EXPECT_EQ(ri.exit_code, 1) << Describe(ri, inner);
  const std::string enoent = R"(, O_RDONLY\) = -1 ENOENT \(No such file or directory\))";
  EXPECT_EQ(Grep(outer, kPid + std::string(R"(openat\(AT_FDCWD, "A/missing")") + enoent).size(), 1u)
      << outer;
  EXPECT_EQ(Grep(inner, kPid + std::string(R"(openat\(AT_FDCWD, ")") + Quote(Dir("B/missing")) +
                            "\"" + enoent)
                .size(),
            1u)
      << inner;
}

TEST(UmtraceRewrite, MissingOptionsFailInit) {
  RunResult r = RunUmview({"-p", TestPluginPath("rewrite") + ",from=/tmp", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "umview: rewrite: missing to=PREFIX (usage: -p rewrite,from=PREFIX,to=PREFIX)\n");
}

std::set<std::string> PidsOf(const std::string& log) {
  static const std::regex kTid(R"(^\[pid ([0-9]+)\] )");
  std::set<std::string> pids;
  for (const std::string& l : Lines(log)) {
    std::smatch m;
    if (std::regex_search(l, m, kTid)) pids.insert(m[1]);
  }
  return pids;
}

TEST(Umtrace, ForkedChildLogsWithItsOwnPid) {
  TempDir d;
  const std::string log = d / "trace.log";
  RunResult r = RunUmview({"-p", "umtrace,output=" + log, "--", "sh", "-c", "echo x; /bin/true"});
  std::string text = ReadFile(log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, text);
  EXPECT_EQ(r.out, "x\n");
  EXPECT_GE(PidsOf(text).size(), 2u) << text;
  // The child's exec of /bin/true is logged under the pid the parent's vfork/clone returned.
  std::smatch m;
  std::string exec_line;
  for (const std::string& l : Grep(text, R"(\[pid [0-9]+\] execve\("/bin/true", .*\) = 0)")) {
    exec_line = l;
  }
  ASSERT_FALSE(exec_line.empty()) << text;
  ASSERT_TRUE(std::regex_search(exec_line, m, std::regex(R"(^\[pid ([0-9]+)\])")));
  EXPECT_EQ(
      Grep(text, kPid + std::string(R"((vfork|fork|clone|clone3)\(.*\) = )") + m[1].str()).size(),
      1u)
      << text;
}

TEST(Umtrace, ThreadsLogWithTheirOwnTids) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  TempDir d;
  const std::string log = d / "trace.log";
  RunOptions opts;
  opts.extra_env = {"UMTRACE_TEST_THREADS=1"};
  RunResult r = RunUmview({"-p", "umtrace,output=" + log, "--", self}, opts);
  std::string text = ReadFile(log);
  ASSERT_EQ(r.exit_code, 0) << Describe(r, text);
  std::vector<std::string> out = Lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  std::set<std::string> tids;
  for (int t = 1; t <= 2; ++t) {
    std::istringstream in(out[t - 1]);
    int which = 0;
    std::string tid;
    in >> which >> tid;
    EXPECT_EQ(which, t);
    tids.insert(tid);
    EXPECT_EQ(
        Grep(text, R"(\[pid )" + tid + R"(\] openat\(AT_FDCWD, "/nonexistent-umtrace/thread-)" +
                       std::to_string(t) + R"(", O_RDONLY\) = -1 ENOENT .*)")
            .size(),
        1u)
        << "thread " << t << " tid " << tid << "\n"
        << text;
  }
  EXPECT_EQ(tids.size(), 2u) << r.out;
  // Each thread's exit is logged under its own tid too.
  for (const std::string& tid : tids) {
    EXPECT_EQ(Grep(text, R"(\[pid )" + tid + R"(\] exit\(0\) = \?)").size(), 1u) << text;
  }
}

}  // namespace
}  // namespace umview::test
