// The umview command line: options, usage errors, plugin loading and lookup, exit statuses and
// the environment the command sees, all observed by running the real binary.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/run.h"
#include "umview/plugin.h"

namespace umview::test {
namespace {

namespace fs = std::filesystem;

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "'" : " '") + a + "'";
  return s;
}

size_t CountLines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

// Exactly one line: one '\n', at the end.
::testing::AssertionResult IsOneLine(const std::string& s) {
  if (CountLines(s) == 1 && s.back() == '\n') return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected exactly one line, got:\n" << s;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Runs `umview ARGS... [sh -c 'touch MARKER']` and checks that umview refused to start: status 2,
// nothing on stdout, one line on stderr containing every `needles` item, and the command never ran.
void ExpectRefused(const std::vector<std::string>& args, const std::vector<std::string>& needles,
                   bool with_command = true, const RunOptions& opts = {}) {
  SCOPED_TRACE("umview " + Join(args));
  TempDir dir;
  std::string marker = dir / "command-ran";
  std::vector<std::string> argv = args;
  if (with_command) argv.insert(argv.end(), {"sh", "-c", "touch '" + marker + "'"});
  RunResult r = RunUmview(argv, opts);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(IsOneLine(r.err));
  EXPECT_EQ(r.err.rfind("umview: ", 0), 0u) << r.err;
  for (const auto& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << "no '" << n << "' in " << r.err;
  EXPECT_FALSE(Exists(marker)) << "the command ran although umview refused its arguments";
}

// --- help and version --------------------------------------------------------------------------

TEST(CliHelp, LongHelpExitsZeroAndDescribesPlugins) {
  RunResult r = RunUmview({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("Usage: umview"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-p, --plugin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-e, --engine"), std::string::npos) << r.out;
}

TEST(CliHelp, ShortHelpEqualsLongHelp) {
  RunResult a = RunUmview({"-h"});
  RunResult b = RunUmview({"--help"});
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
}

TEST(CliHelp, HelpDoesNotRunTheCommand) {
  TempDir dir;
  RunResult r = RunUmview({"--help", "sh", "-c", "touch '" + (dir / "ran") + "'"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(Exists(dir / "ran"));
}

TEST(CliVersion, PrintsVersionAndPluginAbi) {
  for (const char* flag : {"--version", "-V"}) {
    SCOPED_TRACE(flag);
    RunResult r = RunUmview({flag});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(IsOneLine(r.out));
    EXPECT_EQ(r.out.rfind("umview ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("ABI " + std::to_string(kAbiVersion)), std::string::npos) << r.out;
  }
}

// --- usage errors: exit 2, one line, nothing started ------------------------------------------

TEST(CliUsage, UnknownLongOption) { ExpectRefused({"--bogus"}, {"unknown option", "--bogus"}); }

TEST(CliUsage, UnknownShortOption) { ExpectRefused({"-x"}, {"unknown option", "-x"}); }

TEST(CliUsage, UnknownOptionAfterValidOnes) {
  ExpectRefused({"-v", "-e", "ptrace", "--frobnicate"}, {"--frobnicate"});
}

TEST(CliUsage, MissingPluginArgument) {
  ExpectRefused({"-p"}, {"-p", "needs an argument"}, false);
  ExpectRefused({"--plugin"}, {"--plugin", "needs an argument"}, false);
}

TEST(CliUsage, MissingEngineArgument) {
  ExpectRefused({"-e"}, {"-e", "needs an argument"}, false);
  ExpectRefused({"--engine"}, {"--engine", "needs an argument"}, false);
}

TEST(CliUsage, MissingLogArgument) {
  ExpectRefused({"--log"}, {"--log", "needs an argument"}, false);
}

TEST(CliUsage, BadEngine) { ExpectRefused({"-e", "bogus"}, {"engine", "bogus"}); }

TEST(CliUsage, EmptyPluginSpec) { ExpectRefused({"-p", ""}, {"missing plugin name"}); }

TEST(CliUsage, PluginSpecWithTrailingComma) {
  ExpectRefused({"-p", "x,"}, {"'x,'", "empty option"});
}

TEST(CliUsage, PluginOptionWithoutName) { ExpectRefused({"-p", "x,=v"}, {"'=v'", "no name"}); }

TEST(CliUsage, EmptyOptionInTheMiddle) { ExpectRefused({"-p", "x,a,,b"}, {"empty option"}); }

TEST(CliUsage, UnwritableLogFile) {
  ExpectRefused({"--log", "/nonexistent-dir/umview.log"}, {"--log", "/nonexistent-dir/umview.log"});
}

// --- plugin loading errors ---------------------------------------------------------------------

TEST(CliPlugin, UnknownPluginName) {
  TempDir empty;
  RunOptions o;
  o.extra_env = {"UMVIEW_PLUGIN_PATH=" + empty.path(), "XDG_DATA_HOME=" + empty.path()};
  ExpectRefused({"-p", "no-such-plugin"}, {"unknown plugin 'no-such-plugin'"}, true, o);
}

TEST(CliPlugin, MissingPluginFile) {
  ExpectRefused({"-p", "/nonexistent-dir/plugin.so"}, {"/nonexistent-dir/plugin.so"});
}

TEST(CliPlugin, SharedObjectWithoutDescriptor) {
  ExpectRefused({"-p", TestPluginPath("notaplugin")}, {"notaplugin.so", "not a umview plugin"});
}

TEST(CliPlugin, FileThatIsNotASharedObject) {
  TempDir dir;
  WriteFile(dir / "text.so", "this is not an ELF file\n");
  ExpectRefused({"-p", dir / "text.so"}, {"text.so", "cannot load"});
}

TEST(CliPlugin, WrongAbiVersion) {
  ExpectRefused({"-p", TestPluginPath("badabi")},
                {"badabi.so", "ABI " + std::to_string(kAbiVersion + 1),
                 "ABI " + std::to_string(kAbiVersion)});
}

TEST(CliPlugin, InitReturnsFalse) {
  ExpectRefused({"-p", TestPluginPath("badinit") + ",fail"},
                {"badinit", "failing on request (option 'fail')"});
}

TEST(CliPlugin, InitThrows) {
  ExpectRefused({"-p", TestPluginPath("badinit") + ",throw"},
                {"badinit", "throwing on request (option 'throw')"});
}

TEST(CliPlugin, BadOptionForPlugin) {
  ExpectRefused({"-p", TestPluginPath("badinit") + ",colour=blue"}, {"badinit", "'colour'"});
}

TEST(CliPlugin, FailureOfSecondPluginStartsNothing) {
  ExpectRefused({"-p", TestPluginPath("badinit"), "-p", TestPluginPath("badinit") + ",fail"},
                {"failing on request"});
}

// --- plugin lookup ------------------------------------------------------------------------------

// The environment for a lookup test: no user plugin directories but the ones the test makes.
RunOptions IsolatedLookup(const TempDir& home, const std::string& plugin_path) {
  RunOptions o;
  o.extra_env = {"HOME=" + home.path(), "XDG_DATA_HOME=" + (home / "xdg"),
                 "UMVIEW_PLUGIN_PATH=" + plugin_path};
  return o;
}

const char kPrintPlugins[] = "echo \"plugins=$UMVIEW_PLUGINS\"";

TEST(CliPluginLookup, ByPath) {
  RunResult r = RunUmview({"-p", TestPluginPath("badinit"), "sh", "-c", kPrintPlugins});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit\n");
}

TEST(CliPluginLookup, ByRelativePath) {
  RunOptions o;
  o.cwd = fs::path(TestPluginPath("badinit")).parent_path();
  RunResult r = RunUmview({"-p", "./badinit.so", "sh", "-c", kPrintPlugins}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit\n");
}

TEST(CliPluginLookup, BareNameInUmviewPluginPath) {
  TempDir home, dir;
  fs::create_symlink(TestPluginPath("badinit"), dir / "lookupprobe.so");
  RunOptions o = IsolatedLookup(home, "/nonexistent-dir::" + dir.path());
  for (const char* spec : {"lookupprobe", "lookupprobe.so"}) {
    SCOPED_TRACE(spec);
    RunResult r = RunUmview({"-p", spec, "sh", "-c", kPrintPlugins}, o);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "plugins=badinit\n");
  }
  // Options still reach the plugin when it is found by name.
  ExpectRefused({"-p", "lookupprobe,fail"}, {"failing on request"}, true, o);
}

TEST(CliPluginLookup, BareNameNotFoundWithoutPathEntry) {
  TempDir home;
  ExpectRefused({"-p", "lookupprobe"}, {"unknown plugin 'lookupprobe'"}, true,
                IsolatedLookup(home, ""));
}

TEST(CliPluginLookup, BareNameInXdgDataHome) {
  TempDir home;
  fs::create_directories(home / "xdg/umview/plugins");
  fs::copy_file(TestPluginPath("badinit"), home / "xdg/umview/plugins/lookupprobe.so");
  RunResult r =
      RunUmview({"-p", "lookupprobe", "sh", "-c", kPrintPlugins}, IsolatedLookup(home, ""));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit\n");
}

TEST(CliPluginLookup, BareNameInHomeWhenXdgUnset) {
  TempDir home;
  fs::create_directories(home / ".local/share/umview/plugins");
  fs::create_symlink(TestPluginPath("badinit"), home / ".local/share/umview/plugins/probe2.so");
  RunOptions o;
  o.extra_env = {"HOME=" + home.path(), "XDG_DATA_HOME=", "UMVIEW_PLUGIN_PATH="};
  RunResult r = RunUmview({"-p", "probe2.so", "sh", "-c", kPrintPlugins}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit\n");
}

TEST(CliPluginLookup, BuildTreePluginByBareName) {
  TempDir home;
  RunResult r = RunUmview({"-p", "umtrace,output=/dev/null", "sh", "-c", kPrintPlugins},
                          IsolatedLookup(home, ""));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=umtrace\n");
}

TEST(CliPluginLookup, UmviewPluginPathComesBeforeBuildTree) {
  TempDir home, dir;
  fs::create_symlink(TestPluginPath("badinit"), dir / "umtrace.so");
  RunResult r =
      RunUmview({"-p", "umtrace", "sh", "-c", kPrintPlugins}, IsolatedLookup(home, dir.path()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit\n");
}

TEST(CliPluginLookup, DirectoryNamedLikeAPluginIsSkipped) {
  TempDir home, first, second;
  fs::create_directory(first / "lookupprobe.so");
  fs::create_symlink(TestPluginPath("badinit"), second / "lookupprobe.so");
  RunResult r = RunUmview({"-p", "lookupprobe", "sh", "-c", kPrintPlugins},
                          IsolatedLookup(home, first.path() + ":" + second.path()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit\n");
}

// --- exit status --------------------------------------------------------------------------------

TEST(CliExitStatus, CommandsOwnStatus) {
  for (int code : {0, 1, 42, 255}) {
    RunResult r = RunUmview({"sh", "-c", "exit " + std::to_string(code)});
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.err, "");
  }
}

TEST(CliExitStatus, KilledBySignalIs128PlusN) {
  RunResult term = RunUmview({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(term.exit_code, 143) << term.err;
  RunResult kill = RunUmview({"sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(kill.exit_code, 137) << kill.err;
}

TEST(CliExitStatus, StatusOfTheCommandNotOfItsLastChild) {
  // The command exits 3 while a child it left behind is still running and exits 9 later.
  RunResult r = RunUmview({"sh", "-c", "(sleep 0.3; exit 9) & exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST(CliExitStatus, CommandNotFound) {
  RunResult r = RunUmview({"no-such-command-for-umview"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(IsOneLine(r.err));
  EXPECT_NE(r.err.find("no-such-command-for-umview"), std::string::npos) << r.err;
}

// -w names the directory the command starts in; one that is not there is one line and status
// 2, in a view with no plugin (untraced) and with the tracer kept alike.
TEST(CliExitStatus, StartDirectoryWithNoPlugin) {
  for (const std::vector<std::string>& env :
       {std::vector<std::string>{}, std::vector<std::string>{"UMVIEW_TRACE_IDLE=1"}}) {
    RunOptions o;
    o.extra_env = env;
    RunResult r = RunUmview({"-w", "/tmp", "--", "sh", "-c", "pwd"}, o);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "/tmp\n");
    r = RunUmview({"-w", "/no-such-dir-for-umview", "--", "true"}, o);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(IsOneLine(r.err));
    EXPECT_NE(r.err.find("-w /no-such-dir-for-umview: No such file or directory"),
              std::string::npos)
        << r.err;
  }
}

TEST(CliExitStatus, CommandPathDoesNotExist) {
  RunResult r = RunUmview({"/nonexistent-dir/cmd"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_TRUE(IsOneLine(r.err));
  EXPECT_NE(r.err.find("/nonexistent-dir/cmd"), std::string::npos) << r.err;
}

TEST(CliExitStatus, CommandNotExecutable) {
  TempDir dir;
  WriteFile(dir / "script", "#!/bin/sh\necho should-not-run\n");
  chmod((dir / "script").c_str(), 0644);
  RunResult r = RunUmview({dir / "script"});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(IsOneLine(r.err));
  EXPECT_NE(r.err.find(dir / "script"), std::string::npos) << r.err;
}

TEST(CliExitStatus, CommandIsADirectory) {
  TempDir dir;
  RunResult r = RunUmview({dir.path()});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_TRUE(IsOneLine(r.err));
}

// --- default command ----------------------------------------------------------------------------

TEST(CliDefaultCommand, RunsShell) {
  RunOptions o;
  o.extra_env = {"SHELL=/bin/sh"};
  o.stdin_data = "echo $UMVIEW; exit 3\n";
  RunResult r = RunUmview({}, o);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "1\n");
}

TEST(CliDefaultCommand, RunsShellNamedBySHELL) {
  // SHELL names bash: BASH_VERSION is set only if bash, not /bin/sh, was started.
  if (!Exists("/bin/bash")) GTEST_SKIP() << "no /bin/bash";
  RunOptions o;
  o.extra_env = {"SHELL=/bin/bash"};
  o.stdin_data = "echo \"bash=${BASH_VERSION:+yes}\"; exit 4\n";
  RunResult r = RunUmview({}, o);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out, "bash=yes\n");
}

TEST(CliDefaultCommand, BinShWithoutSHELL) {
  RunOptions o;
  o.stdin_data = "echo \"umview=$UMVIEW\"; exit 5\n";
  RunResult r = test::Run({"env", "-u", "SHELL", UmviewBin()}, o);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "umview=1\n");
}

TEST(CliDefaultCommand, BinShWithEmptySHELL) {
  RunOptions o;
  o.extra_env = {"SHELL="};
  o.stdin_data = "echo \"umview=$UMVIEW\"; exit 6\n";
  RunResult r = RunUmview({}, o);
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_EQ(r.out, "umview=1\n");
}

TEST(CliDefaultCommand, OptionsThenNoCommand) {
  RunOptions o;
  o.extra_env = {"SHELL=/bin/sh"};
  o.stdin_data = "echo \"$UMVIEW_PLUGINS\"\n";
  RunResult r = RunUmview({"-p", TestPluginPath("badinit"), "--"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "badinit\n");
}

// --- environment markers ------------------------------------------------------------------------

TEST(CliEnvironment, MarkersWithoutPlugins) {
  RunResult r = RunUmview({"sh", "-c", "echo \"$UMVIEW|${UMVIEW_PLUGINS-unset}\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1|\n");
}

TEST(CliEnvironment, UmviewPidIsTheParentOfTheCommand) {
  RunResult r =
      RunUmview({"sh", "-c", "echo \"$UMVIEW_PID\"; echo \"$PPID\"; readlink /proc/$PPID/exe"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  size_t i = 0;
  for (size_t j; (j = r.out.find('\n', i)) != std::string::npos; i = j + 1) {
    lines.push_back(r.out.substr(i, j - i));
  }
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_FALSE(lines[0].empty());
  EXPECT_EQ(lines[0], lines[1]) << "UMVIEW_PID is not the parent of the command";
  EXPECT_EQ(lines[2], fs::canonical(UmviewBin()).string());
}

TEST(CliEnvironment, PluginNamesInLoadOrder) {
  RunResult r = RunUmview({"-p", TestPluginPath("badinit"), "-p", "umtrace,output=/dev/null", "sh",
                           "-c", kPrintPlugins});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit,umtrace\n");
}

TEST(CliEnvironment, InheritedMarkersAreReplaced) {
  RunOptions o;
  o.extra_env = {"UMVIEW=stale", "UMVIEW_PID=1", "UMVIEW_PLUGINS=stale"};
  RunResult r = RunUmview({"sh", "-c",
                           "echo \"$UMVIEW|$UMVIEW_PLUGINS\"; env | grep -c '^UMVIEW='; "
                           "[ \"$UMVIEW_PID\" = \"$PPID\" ] && echo pid-ok"},
                          o);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1|\n1\npid-ok\n");
}

TEST(CliEnvironment, RestOfEnvironmentPassesThrough) {
  RunOptions o;
  o.extra_env = {"UMVIEW_TEST_VALUE=a b=c"};
  RunResult r = RunUmview({"sh", "-c", "echo \"$UMVIEW_TEST_VALUE\""}, o);
  EXPECT_EQ(r.out, "a b=c\n");
}

// BUG (ptrace engine): umview cannot run inside a traced umview (a view with a plugin). The
// outer engine traces every new task (PTRACE_O_TRACEFORK/CLONE), so the inner umview's child is
// already traced by the outer umview when the inner one seizes it: the inner one says
// "ptrace(PTRACE_SEIZE, pid=N): Operation not permitted" and exits 2. Same root cause as
// strace/gdb failing under umview (tracees get no ptrace of their own): the engine would have
// to virtualize ptrace for its tracees.
TEST(CliEnvironment, DISABLED_UmviewInsideATracedUmview) {
  RunResult r =
      RunUmview({"-p", "umtrace,output=/dev/null", "--", UmviewBin(), "--", "sh", "-c",
                 "echo \"$UMVIEW\"; [ \"$UMVIEW_PID\" = \"$PPID\" ] && echo pid-ok; exit 9"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_EQ(r.out, "1\npid-ok\n");
  EXPECT_EQ(r.err, "");
}

// An outer view with no plugin runs untraced: an inner umview (here with a plugin, so it
// traces) works in it, and sees its own environment.
TEST(CliEnvironment, UmviewInsideAViewWithNoPlugin) {
  RunResult r = RunUmview({"--", UmviewBin(), "-p", "umtrace,output=/dev/null", "--", "sh", "-c",
                           "echo \"$UMVIEW_PLUGINS\"; [ \"$UMVIEW_PID\" = \"$PPID\" ] && "
                           "echo pid-ok; exit 9"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_EQ(r.out, "umtrace\npid-ok\n");
  EXPECT_EQ(r.err, "");
}

// --- option parsing stops at the command --------------------------------------------------------

TEST(CliParsing, OptionsAfterTheCommandBelongToIt) {
  RunResult r = RunUmview({"ls", "-l", "/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("total ", 0), 0u) << "ls did not get -l:\n" << r.out;
}

TEST(CliParsing, UmviewLikeOptionsAfterTheCommand) {
  RunResult r = RunUmview({"sh", "-c", "echo \"$*\"", "x", "-p", "-e", "--help", "-v", "--", "-x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-p -e --help -v -- -x\n");
}

TEST(CliParsing, DoubleDashEndsOptions) {
  RunResult r = RunUmview({"-v", "--", "sh", "-c", "echo \"$1\"", "x", "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "--version\n");
}

TEST(CliParsing, AttachedAndLongFormArguments) {
  RunResult r = RunUmview({"-eptrace", "--engine=auto", "-p" + TestPluginPath("badinit"),
                           "--plugin=" + TestPluginPath("badinit"), "sh", "-c", kPrintPlugins});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "plugins=badinit,badinit\n");
}

// --- engines, logging, statistics ---------------------------------------------------------------

TEST(CliEngine, KmviewWithoutDevice) {
  if (Exists("/dev/kmview")) GTEST_SKIP() << "/dev/kmview exists on this machine";
  ExpectRefused({"-e", "kmview"}, {"kmview", "/dev/kmview"});
}

TEST(CliEngine, AutoAndPtraceRunTheCommand) {
  for (const char* engine : {"auto", "ptrace"}) {
    SCOPED_TRACE(engine);
    RunResult r = RunUmview({"-e", engine, "sh", "-c", "echo \"in view $UMVIEW\"; exit 5"});
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_EQ(r.out, "in view 1\n");
  }
}

TEST(CliLog, LogFileIsCreatedAndStderrStaysClean) {
  TempDir dir;
  RunResult r = RunUmview({"--log", dir / "umview.log", "-v", "sh", "-c", "echo hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(Exists(dir / "umview.log"));
}

TEST(CliStats, CountersOnStderrOutputUnchanged) {
  RunResult r =
      RunUmview({"--stats", "-p", "umtrace,output=/dev/null", "sh", "-c", "echo hi; exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_NE(r.err.find("total calls"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("execve"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace umview::test
