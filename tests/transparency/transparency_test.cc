// Transparency: real programs print the same and exit the same with and without umview, with no
// plugin and with every call trapped by umtrace.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

struct Mode {
  const char* name;
  std::vector<std::string> umview_args;      // before "--"
  std::vector<std::string> umview_env = {};  // added to umview's environment
};

// Names the mode in test listings instead of dumping its bytes.
void PrintTo(const Mode& m, std::ostream* os) { *os << m.name; }

class TransparencyTest : public ::testing::TestWithParam<Mode> {
 protected:
  // Runs `cmd` natively and under umview with the same stdin, environment and cwd; checks the
  // two runs printed the same and exited the same. Returns the run under umview.
  RunResult Compare(const std::vector<std::string>& cmd, const RunOptions& opts = {},
                    const RunOptions* native_opts = nullptr) {
    std::string shown;
    for (const auto& a : cmd) shown += " '" + a + "'";
    SCOPED_TRACE("command:" + shown);
    // Run() leaves SIGPIPE ignored in this process after feeding stdin, and a command inherits
    // an ignored signal: start both runs from default dispositions, as from a login shell.
    signal(SIGPIPE, SIG_DFL);
    RunResult native = test::Run(cmd, native_opts ? *native_opts : opts);
    signal(SIGPIPE, SIG_DFL);
    std::vector<std::string> args = GetParam().umview_args;
    args.push_back("--");
    args.insert(args.end(), cmd.begin(), cmd.end());
    RunOptions viewed_opts = opts;
    for (const auto& e : GetParam().umview_env) viewed_opts.extra_env.push_back(e);
    RunResult viewed = RunUmview(args, viewed_opts);
    EXPECT_NE(native.status, -1) << "the native run failed to start";
    EXPECT_EQ(native.signal, 0) << "the native run was killed";
    EXPECT_EQ(viewed.signal, 0) << "umview was killed by signal " << viewed.signal;
    EXPECT_EQ(viewed.exit_code, native.exit_code) << "under umview stderr:\n" << viewed.err;
    EXPECT_EQ(viewed.out, native.out) << "under umview stderr:\n" << viewed.err;
    return viewed;
  }
};

// Deterministic pseudo-random lines, so sort has real work to do.
std::string ShuffledLines(int n) {
  std::string s;
  unsigned x = 12345;
  for (int i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s += std::to_string((x >> 8) % 100000) + " line" + std::to_string(i % 97) + "\n";
  }
  return s;
}

TEST_P(TransparencyTest, LsOfUsrBin) { Compare({"sh", "-c", "ls -la /usr/bin | head -n 60"}); }

TEST_P(TransparencyTest, Sort) {
  RunOptions o;
  o.stdin_data = ShuffledLines(3000);  // under a pipe buffer: Run() writes stdin before reading
  Compare({"sort"}, o);
  Compare({"sort", "-n", "-r", "-k1,1"}, o);
  Compare({"sh", "-c", "sort -u | tail -n 5"}, o);
}

TEST_P(TransparencyTest, Wc) {
  RunOptions o;
  o.stdin_data = ShuffledLines(2000);
  Compare({"wc"}, o);
  Compare({"wc", "-l", "/etc/passwd", "/etc/group"});
}

TEST_P(TransparencyTest, SeqMd5sum) {
  RunResult r = Compare({"sh", "-c", "seq 1 10000 | md5sum"});
  EXPECT_EQ(r.out.size(), 32u + 4u) << r.out;
}

TEST_P(TransparencyTest, LargeOutput) {
  RunResult r = Compare({"seq", "1", "200000"});
  EXPECT_EQ(r.out.substr(r.out.size() - 7), "200000\n");
}

TEST_P(TransparencyTest, TextPipeline) {
  Compare({"sh", "-c", "tr a-z A-Z </etc/passwd | cut -d: -f1,7 | sort | uniq -c | sort -rn"});
  Compare(
      {"sh", "-c", "find /usr/include -maxdepth 1 -name '*.h' | sort | head -n 20 | xargs wc -c"});
}

TEST_P(TransparencyTest, ExitStatusesOfFailingTools) {
  Compare({"ls", "/nonexistent-dir"});
  Compare({"grep", "-q", "no-such-text-anywhere", "/etc/passwd"});
  Compare({"sh", "-c", "false | true; exit 17"});
}

TEST_P(TransparencyTest, BashScript) {
  if (access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no /bin/bash";
  TempDir dir;
  WriteFile(dir / "script.sh", R"SH(set -u
trap 'echo "trap EXIT status=$?"' EXIT
trap 'echo "got USR1"' USR1
count=$(seq 1 100 | grep -c 5)
echo "count=$count"
( cd /; echo "subshell pwd=$(pwd)"; exit 3 ); echo "subshell status=$?"
diff <(seq 1 50) <(seq 1 50) && echo "procsub same"
paste <(seq 1 3) <(printf 'a\nb\nc\n')
while read -r a b; do echo "$b-$a"; done < <(printf '1 x\n2 y\n')
kill -USR1 $$
echo "sorted: $(printf 'c\nb\na\n' | sort | tr '\n' ' ')"
{ echo one; echo two; } | while read -r l; do echo "l=$l"; done
sq() { local x=$1; echo $((x * x)); }
echo "sq=$(sq 12) nested=$(echo $(echo $(echo deep)))"
false | true | (exit 4); echo "pipestatus=${PIPESTATUS[*]}"
sleep 0.1 & wait $!; echo "bg status=$?"
(trap 'echo sub-trap' TERM; kill -TERM $BASHPID; echo after-sub-kill)
for i in 1 2 3; do ( exit $i ) || echo "fail $i"; done
yes | head -n 2 >/dev/null; echo "sigpipe=${PIPESTATUS[*]}"
exec 3>"$(dirname "$0")/fd3.txt"; echo via-fd-3 >&3; exec 3>&-; cat "$(dirname "$0")/fd3.txt"
exit 5
)SH");
  RunResult r = Compare({"bash", dir / "script.sh"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.out.find("got USR1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trap EXIT status=5\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("procsub same\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pipestatus=1 0 4\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sub-trap\nafter-sub-kill\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sigpipe=141 0\n"), std::string::npos) << r.out;
}

TEST_P(TransparencyTest, PythonThreadsSubprocessFork) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  TempDir dir;
  WriteFile(dir / "script.py", R"PY(import hashlib, os, subprocess, sys, threading

results = [None] * 8
def work(i):
    h = hashlib.sha256()
    for j in range(3000):
        h.update(f"{i}:{j}".encode())
    results[i] = h.hexdigest()[:12]
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", results)

out = subprocess.run(["sh", "-c", "echo sub $((6*7)); exit 3"], capture_output=True, text=True)
print("subprocess", out.stdout.strip(), out.returncode)

# Threads that each start a process at the same time.
spawned = [None] * 6
def spawn(i):
    spawned[i] = subprocess.run(["echo", str(i * i)], capture_output=True, text=True).stdout.strip()
threads = [threading.Thread(target=spawn, args=(i,)) for i in range(6)]
for t in threads: t.start()
for t in threads: t.join()
print("spawned", spawned)

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b"hello from the child")
    os._exit(7)
os.close(w)
data = os.read(r, 100)
_, status = os.waitpid(pid, 0)
print("fork", data.decode(), os.waitstatus_to_exitcode(status))
import multiprocessing
ctx = multiprocessing.get_context("fork")
with ctx.Pool(2) as pool:
    print("pool", pool.map(abs, range(-5, 5)))

sys.stdout.flush()
sys.exit(4)
)PY");
  RunResult r = Compare({"/usr/bin/python3", dir / "script.py"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.out.find("fork hello from the child 7\n"), std::string::npos) << r.out;
}

// 19 functions and a main in 20 files, and a Makefile with a pattern rule.
void WriteCProject(const std::string& dir) {
  std::string decls, calls;
  for (int i = 0; i < 19; ++i) {
    char name[16];
    snprintf(name, sizeof name, "f%02d", i);
    WriteFile(dir + "/" + name + ".c", "int " + std::string(name) + "(int x) { return x * " +
                                           std::to_string(i + 3) + " + " + std::to_string(i) +
                                           "; }\n");
    decls += "int " + std::string(name) + "(int);\n";
    calls += "  v = " + std::string(name) + "(v) % 100003; printf(\"" + name + " %d\\n\", v);\n";
  }
  WriteFile(dir + "/main.c", "#include <stdio.h>\n" + decls + "int main(void) {\n  int v = 1;\n" +
                                 calls + "  printf(\"done %d\\n\", v);\n  return 0;\n}\n");
  WriteFile(dir + "/Makefile",
            "SRCS := $(sort $(wildcard *.c))\nOBJS := $(SRCS:.c=.o)\n"
            "prog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n"
            "%.o: %.c\n\t$(CC) -O1 -c $< -o $@\n");
}

TEST_P(TransparencyTest, ParallelMakeOfACProgram) {
  if (access("/usr/bin/make", X_OK) != 0) GTEST_SKIP() << "no make";
  if (test::Run({"cc", "--version"}).exit_code != 0) GTEST_SKIP() << "no C compiler (cc)";
  TempDir native_dir, viewed_dir;
  WriteCProject(native_dir.path());
  WriteCProject(viewed_dir.path());
  RunOptions native_opts, viewed_opts;
  native_opts.cwd = native_dir.path();
  viewed_opts.cwd = viewed_dir.path();
  native_opts.timeout_seconds = viewed_opts.timeout_seconds = 100;
  // -s: with -j2 the order of echoed commands would vary from run to run.
  RunResult build = Compare({"make", "-s", "-j2"}, viewed_opts, &native_opts);
  ASSERT_EQ(build.exit_code, 0) << build.err;
  RunResult native_prog = test::Run({native_dir / "prog"});
  RunResult viewed_prog = test::Run({viewed_dir / "prog"});
  EXPECT_EQ(native_prog.exit_code, 0);
  EXPECT_EQ(viewed_prog.exit_code, 0);
  EXPECT_NE(native_prog.out.find("done "), std::string::npos) << native_prog.out;
  EXPECT_EQ(viewed_prog.out, native_prog.out);
  for (const auto& e : std::filesystem::directory_iterator(native_dir.path())) {
    if (e.path().extension() != ".o") continue;
    std::string name = e.path().filename();
    EXPECT_EQ(ReadFile(viewed_dir / name), ReadFile(e.path())) << name << " differs";
  }
  // The program built under umview also runs the same under umview.
  Compare({viewed_dir / "prog"});
}

// A plain exec keeps ignored signals ignored and blocked signals blocked; so must umview, whatever
// it set up for itself: `nohup umview cmd`, `umview cmd &` in a script (SIGINT ignored), and
// `yes | head` with SIGPIPE ignored behave as without umview.
TEST_P(TransparencyTest, InheritedIgnoredSignalsAndMask) {
  if (test::Run({"env", "--ignore-signal=HUP", "--block-signal=USR2", "true"}).exit_code != 0) {
    GTEST_SKIP() << "env has no --ignore-signal/--block-signal (coreutils < 9)";
  }
  std::vector<std::string> env = {"env", "--ignore-signal=HUP,INT,QUIT,PIPE,USR1",
                                  "--block-signal=USR2,TERM"};
  std::vector<std::string> show = {"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"};
  std::vector<std::string> native = env, viewed = env;
  native.insert(native.end(), show.begin(), show.end());
  viewed.push_back(UmviewBin());
  viewed.insert(viewed.end(), GetParam().umview_args.begin(), GetParam().umview_args.end());
  viewed.push_back("--");
  viewed.insert(viewed.end(), show.begin(), show.end());
  RunResult n = test::Run(native), v = test::Run(viewed);
  ASSERT_EQ(n.exit_code, 0) << n.err;
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out, n.out);
}

// BUG (ptrace engine): programs that use ptrace themselves fail in a traced view; strace says
// "ptrace(PTRACE_TRACEME, ...): Operation not permitted" and exits 1, because every task is
// already traced by umview. Same root cause as umview-inside-umview (see cli_test.cc). A view
// with no plugin runs untraced, and there they work (UntracedView below).
TEST_P(TransparencyTest, DISABLED_ProgramThatUsesPtrace) {
  if (access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "no strace";
  RunResult r = Compare({"sh", "-c", "strace -o /dev/null -f sh -c 'echo traced; exit 6'"});
  EXPECT_EQ(r.out, "traced\n");
}

// Instantiated as "transparency/..." so that `ctest -R transparency` selects the suite.
// NoPlugin runs untraced (PtraceEngine::StartUntraced); NoPluginTraced is the same view with the
// tracer kept (UMVIEW_TRACE_IDLE=1), as any view with a plugin that claims nothing runs.
INSTANTIATE_TEST_SUITE_P(
    transparency, TransparencyTest,
    ::testing::Values(Mode{"NoPlugin", {}}, Mode{"NoPluginTraced", {}, {"UMVIEW_TRACE_IDLE=1"}},
                      Mode{"UmtraceEveryCall", {"-p", "umtrace,output=/dev/null"}}),
    [](const auto& info) { return std::string(info.param.name); });

// What only an untraced view can do: its programs may trace (nobody traces them).
class UntracedView : public TransparencyTest {};

TEST_P(UntracedView, ProgramThatUsesPtrace) {
  if (access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "no strace";
  RunResult r = Compare({"sh", "-c", "strace -o /dev/null -f sh -c 'echo traced; exit 6'"});
  EXPECT_EQ(r.out, "traced\n");
  EXPECT_EQ(r.exit_code, 6);
}

TEST_P(UntracedView, NobodyTracesTheCommand) {
  RunResult r = Compare({"sh", "-c", "grep TracerPid: /proc/self/status"});
  EXPECT_EQ(r.out, "TracerPid:\t0\n");
}

INSTANTIATE_TEST_SUITE_P(transparency, UntracedView, ::testing::Values(Mode{"NoPlugin", {}}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace umview::test
