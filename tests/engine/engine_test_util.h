// Shared by the engine tests: the `--stats` parser, small option builders, and the fixture base
// that runs every test on every engine (skipping an engine this machine or build lacks).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {

// One row of `umview --stats`.
struct Stops {
  uint64_t stops = 0, entry = 0, entry_exit = 0, skipped = 0;
};

inline std::optional<Stops> StatsFor(const std::string& err, const std::string& name) {
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string first;
    Stops s;
    if (fields >> first && first == name &&
        fields >> s.stops >> s.entry >> s.entry_exit >> s.skipped) {
      return s;
    }
  }
  return std::nullopt;
}

inline RunOptions InDir(const std::string& dir) {
  RunOptions o;
  o.cwd = dir;
  return o;
}

inline std::string Sysvm(const std::string& opts) { return TestPluginPath("sysvm") + "," + opts; }

// Names each instantiation after its engine.
inline std::string EngineName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

// Parameterized on the engine name; an engine this machine or build lacks is skipped.
class EngineFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    static std::map<std::string, std::string> unavailable;  // engine -> reason ("" = usable)
    auto it = unavailable.find(GetParam());
    if (it == unavailable.end()) {
      RunOptions opts;
      opts.timeout_seconds = 10;
      RunResult r = RunUmview({"-e", GetParam(), "--", "true"}, opts);
      std::string why;
      if (r.exit_code != 0) {
        why = r.err.empty() ? "umview -e " + GetParam() + " -- true failed" : r.err;
      }
      it = unavailable.emplace(GetParam(), why.substr(0, why.find('\n'))).first;
    }
    if (!it->second.empty()) GTEST_SKIP() << it->second;
  }

  // The full argv of `umview -e ENGINE ARGS...`.
  std::vector<std::string> UmArgs(const std::vector<std::string>& args) {
    std::vector<std::string> a = {UmviewBin(), "-e", GetParam()};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }

  // `umview -e ENGINE ARGS...`; a hang is a failure (killed after 20 s).
  RunResult Um(const std::vector<std::string>& args, RunOptions opts = {}) {
    if (opts.timeout_seconds == 60) opts.timeout_seconds = 20;
    return test::Run(UmArgs(args), opts);  // unqualified, Run is ::testing::Test::Run
  }
};

}  // namespace umview::test
