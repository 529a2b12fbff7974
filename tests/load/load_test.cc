// Load and soak under a view that traps every path call (viewfs with a hide and a cow mount):
// a fork storm, many threads making trapped calls, make -j8 of a generated project, and a
// bounded mixed soak checking that umview's RSS and descriptor count stay flat and every
// process exits with the status it chose. UMVIEW_LOAD_FULL=1 runs the full sizes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

bool Full() { return getenv("UMVIEW_LOAD_FULL") != nullptr; }

std::vector<std::string> View(const TempDir& t) {
  mkdir((t / "lower").c_str(), 0755);
  mkdir((t / "upper").c_str(), 0755);
  mkdir((t / "hidden").c_str(), 0755);
  return Viewfs({"hide=" + t / "hidden", "cow=" + t / "lower" + ":" + t / "upper"});
}

RunResult InView(const TempDir& t, const std::vector<std::string>& cmd, int timeout = 600) {
  std::vector<std::string> a = View(t);
  a.push_back("--");
  a.insert(a.end(), cmd.begin(), cmd.end());
  RunOptions o;
  o.timeout_seconds = timeout;
  o.cwd = t.path();
  return RunUmview(a, o);
}

TEST(Load, ForkStormOf2000Processes) {
  TempDir t;
  const std::string n = Full() ? "20000" : "2000";
  RunResult r = InView(t, {Tracee("load_work"), "forkstorm", n});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "statuses ok " + n + "\n");
}

TEST(Load, SixtyFourThreadsMakingTrappedCalls) {
  TempDir t;
  // 64 x 10,000 in full; CI makes 64 x 1,000 (each call is two context switches here).
  const std::string per = Full() ? "10000" : "1000";
  RunResult r = InView(t, {Tracee("load_work"), "threads", "64", per});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "calls ok " + std::to_string(64 * atoi(per.c_str())) + "\n");
}

TEST(Load, MakeJ8OfAGeneratedProject) {
  if (test::Run({"sh", "-c", "command -v make && command -v cc"}).exit_code != 0) {
    GTEST_SKIP() << "make or cc missing";
  }
  TempDir t;
  const int files = Full() ? 200 : 24;
  std::string src = t / "lower/proj";
  std::string objs, mains = "int main(void) { long s = 0;";
  for (int i = 0; i < files; ++i) {
    Put(src + "/f" + std::to_string(i) + ".c",
        "long f" + std::to_string(i) + "(void) { return " + std::to_string(i) + "; }\n");
    objs += " f" + std::to_string(i) + ".o";
    mains +=
        " { extern long f" + std::to_string(i) + "(void); s += f" + std::to_string(i) + "(); }";
  }
  Put(src + "/main.c", "#include <stdio.h>\n" + mains + " printf(\"%ld\\n\", s); return 0; }\n");
  Put(src + "/Makefile", "prog: main.o" + objs + "\n\tcc -o $@ $^\n%.o: %.c\n\tcc -c -o $@ $<\n");
  TreeSnapshot before = Snapshot(t / "lower");
  std::vector<std::string> a = View(t);
  a.insert(a.end(), {"--", "sh", "-c", "make -s -j8 -C " + src + " && " + src + "/prog"});
  RunOptions o;
  o.timeout_seconds = 600;
  RunResult r = RunUmview(a, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::to_string(files * (files - 1) / 2) + "\n");
  ExpectSameTree(before, Snapshot(t / "lower"));  // the objects went to the upper layer
  EXPECT_TRUE(Exists(t / "upper/proj/prog"));
}

// Mixed rounds for ~60 s (10 min with UMVIEW_LOAD_FULL): umview's RSS and descriptors, sampled
// after each round, must not grow from the first half of the run to the second.
TEST(Soak, RssAndDescriptorsStayFlatAndStatusesAreNative) {
  TempDir t;
  const std::string seconds =
      Full() ? "600" : (getenv("UMVIEW_SOAK_SECONDS") ? getenv("UMVIEW_SOAK_SECONDS") : "60");
  std::vector<std::string> a = View(t);
  mkdir((t / "lower/work").c_str(), 0755);
  RunResult r = InView(t, {Tracee("load_work"), "soak", seconds, t / "lower/work"}, 1200);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out.substr(r.out.size() > 500 ? r.out.size() - 500 : 0);
  std::vector<std::pair<long, int>> samples;
  std::istringstream in(r.out);
  for (std::string w; in >> w;) {
    if (w != "sample") continue;
    long rss;
    int fds;
    in >> rss >> fds;
    samples.push_back({rss, fds});
  }
  ASSERT_GE(samples.size(), 4u) << r.out;
  EXPECT_NE(r.out.find(" ok\n"), std::string::npos) << r.out;
  // The first quarter warms up (allocator arenas, tables); then compare halves of the rest.
  size_t q = samples.size() / 4, mid = q + (samples.size() - q) / 2;
  long rss_first = 0, rss_second = 0;
  int fd_first = 0, fd_second = 0;
  for (size_t i = q; i < samples.size(); ++i) {
    (i < mid ? rss_first : rss_second) =
        std::max(i < mid ? rss_first : rss_second, samples[i].first);
    (i < mid ? fd_first : fd_second) = std::max(i < mid ? fd_first : fd_second, samples[i].second);
  }
  printf("soak: %zu rounds, umview RSS max %ld -> %ld KiB, fds max %d -> %d\n", samples.size(),
         rss_first, rss_second, fd_first, fd_second);
  EXPECT_LE(rss_second, rss_first + rss_first / 10 + 2048) << "umview's RSS grows";
  EXPECT_LE(fd_second, fd_first) << "umview's descriptors grow";
}

}  // namespace
}  // namespace umview::test
