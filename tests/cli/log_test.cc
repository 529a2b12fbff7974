// umview's own messages: levels (--log-level, -v, -vv), --log FILE, and the one line format,
// observed on the real binary's stderr and log file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool AnyLineHas(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

// A view with a plugin that traps nothing: umview runs the whole machinery, quietly.
const std::vector<std::string> kQuietView = {"-p", "umtrace,filter=none"};

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Log, DefaultLevelSaysNothingWhenAllGoesWell) {
  RunResult r = RunUmview(With(kQuietView, {"--", "sh", "-c", "echo out"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "");
}

TEST(Log, InfoLevelToFileHasTimePidLevelAndTheRunsStory) {
  TempDir dir;
  std::string log = dir / "umview.log";
  RunResult r = RunUmview(
      With({"--log", log, "--log-level", "info"}, With(kQuietView, {"--", "sh", "-c", "exit 7"})));
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(r.err, "") << "messages went to stderr instead of the --log file";
  std::vector<std::string> lines = Lines(ReadFile(log));
  ASSERT_GE(lines.size(), 3u) << ReadFile(log);
  const std::regex kFileLine(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z umview\[[0-9]+\]: (\S+: )?(debug|info|warning|error): .+$)");
  for (const auto& l : lines) EXPECT_TRUE(std::regex_match(l, kFileLine)) << l;
  EXPECT_TRUE(AnyLineHas(lines, "info: plugin umtrace loaded from /")) << ReadFile(log);
  EXPECT_TRUE(AnyLineHas(lines, "runs sh -c exit 7")) << ReadFile(log);
  EXPECT_TRUE(AnyLineHas(lines, "info: the command exited with status 7")) << ReadFile(log);
  EXPECT_FALSE(AnyLineHas(lines, "debug:")) << "info level wrote debug messages";
}

TEST(Log, FileIsAppendedNotTruncated) {
  TempDir dir;
  std::string log = dir / "umview.log";
  WriteFile(log, "earlier line\n");
  RunResult r = RunUmview(With({"--log", log, "-v"}, With(kQuietView, {"--", "true"})));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(ReadFile(log));
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "earlier line");
}

TEST(Log, VerboseWritesInfoOnStderrInTheTerminalFormat) {
  RunResult r = RunUmview(With({"-v"}, With(kQuietView, {"--", "true"})));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.err);
  ASSERT_FALSE(lines.empty());
  const std::regex kTerminalLine(R"(^umview: (\S+: )?(debug|info|warning|error): .+$)");
  for (const auto& l : lines) EXPECT_TRUE(std::regex_match(l, kTerminalLine)) << l;
  EXPECT_TRUE(AnyLineHas(lines, "info: the command exited with status 0")) << r.err;
  EXPECT_FALSE(AnyLineHas(lines, "debug:")) << r.err;
}

TEST(Log, DoubleVerboseAddsDebugMessages) {
  RunResult r = RunUmview(With({"-vv"}, With(kQuietView, {"--", "true"})));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(AnyLineHas(Lines(r.err), "umview: debug: plugin search path ")) << r.err;
}

TEST(Log, ExplicitLevelWinsOverVerbose) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"-v", "--log-level", "error"},
                                                                {"--log-level", "error", "-vv"}}) {
    RunResult r = RunUmview(With(args, With(kQuietView, {"--", "true"})));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
  }
}

TEST(Log, SignalDeathIsLoggedAtInfo) {
  RunResult r = RunUmview(With({"-v"}, With(kQuietView, {"--", "sh", "-c", "kill -TERM $$"})));
  EXPECT_EQ(r.exit_code, 128 + 15) << r.err;
  EXPECT_TRUE(AnyLineHas(Lines(r.err), "info: the command was killed by signal")) << r.err;
}

TEST(Log, BadLevelOrUnwritableFileIsOneLineAndStatusTwo) {
  TempDir dir;
  std::string marker = dir / "ran";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--log-level", "loud"},
                                             {"--log-level", ""},
                                             {"--log-level"},
                                             {"--log", dir / "no/such/dir/log"}}) {
    RunResult r = RunUmview(With(args, {"--", "touch", marker}));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("umview: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("--log"), std::string::npos) << r.err;
    EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the command ran";
  }
}

}  // namespace
}  // namespace umview::test
