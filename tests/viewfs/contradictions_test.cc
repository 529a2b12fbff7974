// Options that cannot both hold are refused before anything starts: one line, exit 2.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

TEST(ViewfsContradictions, RefusedWithOneLine) {
  TempDir dir;
  const std::string p = dir / "p", marker = dir / "ran";
  ASSERT_EQ(mkdir(p.c_str(), 0755), 0);
  for (const std::string& opts :
       {"hide=" + p + ",except=" + p, "except=" + p + ",ro=" + p,
        "bind=" + dir.path() + ":" + p + ",hide=" + p, "tmp=" + p + ",hide=" + p}) {
    SCOPED_TRACE(opts);
    RunResult r = RunUmview({"-p", "viewfs," + opts, "--", "touch", marker});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("contradict each other on " + p), std::string::npos) << r.err;
    struct stat st;
    EXPECT_NE(stat(marker.c_str(), &st), 0) << "the command ran";
  }
  // A later mount over the same path is not a contradiction: it wins.
  RunResult ok = RunUmview(
      {"-p", "viewfs,tmp=" + p + ",bind=" + dir.path() + ":" + p + ",ro=" + p, "--", "true"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

}  // namespace
}  // namespace umview::test
