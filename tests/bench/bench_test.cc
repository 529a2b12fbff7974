// The benchmark suite in its CI mode: bench/run --ci runs one group of variants over every
// workload, and the test checks what it recorded (results.tsv): every cell ran, its numbers are
// sane, and the stop counters say each variant trapped what it should. No timing thresholds:
// on a shared CI machine only the counters are stable.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

// One line of results.tsv; -1 for "-" (no value).
struct Cell {
  std::string row, variant, status, error;
  int runs = 0;
  double median = -1, min = -1, max = -1;
  long stops = -1, exit = -1, skipped = -1, rss_kb = -1, calls = -1;
};

double Num(const std::string& s) { return s == "-" ? -1 : std::stod(s); }

std::vector<Cell> ParseTsv(const std::string& text) {
  std::vector<Cell> cells;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::string field;
    std::istringstream ls(line);
    while (std::getline(ls, field, '\t')) f.push_back(field);
    if (f.size() < 12) {
      ADD_FAILURE() << "short results.tsv line: " << line;
      continue;
    }
    Cell c;
    c.row = f[0];
    c.variant = f[1];
    c.status = f[2];
    c.runs = std::stoi(f[3]);
    c.median = Num(f[4]);
    c.min = Num(f[5]);
    c.max = Num(f[6]);
    c.stops = static_cast<long>(Num(f[7]));
    c.exit = static_cast<long>(Num(f[8]));
    c.skipped = static_cast<long>(Num(f[9]));
    c.rss_kb = static_cast<long>(Num(f[10]));
    c.calls = static_cast<long>(Num(f[11]));
    c.error = f.size() > 12 ? f[12] : "";
    cells.push_back(c);
  }
  return cells;
}

std::string BuildDir() {
  std::string bin = UmviewBin();
  return bin.substr(0, bin.rfind('/'));
}

std::string BenchRun() { return std::string(UMVIEW_SOURCE_DIR) + "/bench/run"; }

bool Have(const std::string& tool) {
  return umview::test::Run({"sh", "-c", "command -v " + tool + " >/dev/null"}).exit_code == 0;
}

// Runs the suite in CI mode for these variants (native is always added) and returns its cells.
std::vector<Cell> RunSuite(const std::string& group, const std::string& variants,
                           const std::string& rows = "") {
  std::string out = std::string(BENCH_OUT_DIR) + "/" + group;
  std::vector<std::string> argv = {"python3", BenchRun(), "--ci",       "--build", BuildDir(),
                                   "--out",   out,        "--variants", variants};
  if (!rows.empty()) {
    argv.push_back("--rows");
    argv.push_back(rows);
  }
  RunOptions opts;
  opts.timeout_seconds = 850;
  RunResult r = umview::test::Run(argv, opts);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(ReadFile(out + "/results.md").find("| workload |"), std::string::npos);
  EXPECT_NE(ReadFile(out + "/results.json").find("\"machine\""), std::string::npos);
  struct stat st;
  if (Have("gnuplot")) {
    EXPECT_EQ(stat((out + "/chart.png").c_str(), &st), 0) << "no chart.png: " << r.err;
  }
  std::vector<Cell> cells = ParseTsv(ReadFile(out + "/results.tsv"));
  EXPECT_FALSE(cells.empty()) << r.err;
  return cells;
}

const Cell* Find(const std::vector<Cell>& cells, const std::string& row, const std::string& v) {
  for (const Cell& c : cells) {
    if (c.row == row && c.variant == v) return &c;
  }
  return nullptr;
}

// Every row has a native cell that ran; every cell that ran has two samples in order.
void ExpectSaneNumbers(const std::vector<Cell>& cells) {
  std::set<std::string> rows;
  for (const Cell& c : cells) rows.insert(c.row);
  for (const std::string& row : rows) {
    const Cell* n = Find(cells, row, "native");
    ASSERT_NE(n, nullptr) << row;
    EXPECT_EQ(n->status, "ok") << row << ": " << n->error;
  }
  for (const Cell& c : cells) {
    if (c.status != "ok") continue;
    SCOPED_TRACE(c.row + " / " + c.variant);
    EXPECT_EQ(c.runs, 2);
    EXPECT_TRUE(std::isfinite(c.median));
    EXPECT_GT(c.min, 0);
    EXPECT_LE(c.min, c.median);
    EXPECT_LE(c.median, c.max);
  }
}

// A variant of umview's own: it ran on every row it applies to, and its --stats run left a
// stop count and a peak RSS. Returns its cells by row.
std::map<std::string, Cell> ExpectOursRan(const std::vector<Cell>& cells,
                                          const std::string& variant) {
  std::map<std::string, Cell> by_row;
  for (const Cell& c : cells) {
    if (c.variant != variant) continue;
    SCOPED_TRACE(c.row + " / " + variant);
    EXPECT_EQ(c.status, "ok") << c.error;
    EXPECT_GE(c.stops, 0) << "no stop count from umview --stats";
    EXPECT_GT(c.rss_kb, 0) << "no peak RSS from umview --stats";
    by_row[c.row] = c;
  }
  EXPECT_FALSE(by_row.empty()) << variant << " ran on no row";
  return by_row;
}

// A reference tool: every cell ran to an outcome (a tool failing a workload is a result, e.g.
// PRoot's -b on ls -lR), and at least one produced numbers.
void ExpectReferenceRan(const std::vector<Cell>& cells, const std::string& variant) {
  int ok = 0, seen = 0;
  for (const Cell& c : cells) {
    if (c.variant != variant) continue;
    ++seen;
    if (c.status == "ok") {
      ++ok;
    } else {
      EXPECT_EQ(c.status, "failed") << c.row;
      EXPECT_FALSE(c.error.empty()) << c.row << ": a failed cell must say why";
    }
  }
  EXPECT_GT(seen, 0) << variant << " ran on no row";
  EXPECT_GT(ok, 0) << variant << " produced no number";
}

TEST(BenchSuite, EngineAndTrapOutcomes) {
  auto cells = RunSuite("engine", "umview,none,pass,skip,getppid,all");
  ExpectSaneNumbers(cells);
  // Nothing claimed: nothing stops, on any workload.
  for (const char* v : {"umview", "none"}) {
    for (const auto& [row, c] : ExpectOursRan(cells, v)) EXPECT_EQ(c.stops, 0) << row << " / " << v;
  }
  // getppid claimed: one stop per getppid (ii: runs, iii: skipped), two with umtrace's exit.
  auto pass = ExpectOursRan(cells, "pass");
  ASSERT_TRUE(pass.count("getppid") && pass.count("stat"));
  EXPECT_GE(pass["getppid"].stops, pass["getppid"].calls);
  EXPECT_EQ(pass["getppid"].exit, 0);
  EXPECT_EQ(pass["getppid"].skipped, 0);
  EXPECT_LT(pass["stat"].stops, pass["stat"].calls / 2) << "stat is not claimed";
  for (const char* row : {"threads64", "procs64"}) {
    ASSERT_TRUE(pass.count(row)) << row;
    EXPECT_GE(pass[row].stops, pass[row].calls) << row;
  }
  auto skip = ExpectOursRan(cells, "skip");
  ASSERT_TRUE(skip.count("getppid"));
  EXPECT_GE(skip["getppid"].skipped, skip["getppid"].calls);
  auto umtrace = ExpectOursRan(cells, "getppid");
  ASSERT_TRUE(umtrace.count("getppid"));
  EXPECT_GE(umtrace["getppid"].exit, umtrace["getppid"].calls);
  EXPECT_GE(umtrace["getppid"].stops, 2 * umtrace["getppid"].calls);
  for (const auto& [row, c] : ExpectOursRan(cells, "all")) EXPECT_GT(c.stops, 0) << row;
  // The workloads beyond the loops are all there.
  for (const char* row : {"find", "ls", "tar", "make", "python", "git", "net"}) {
    EXPECT_NE(Find(cells, row, "umview"), nullptr) << row;
  }
}

TEST(BenchSuite, Viewfs) {
  auto cells = RunSuite(
      "viewfs", "viewfs-elsewhere,viewfs-elsewhere-pf,viewfs-bind,viewfs-bind-pf,viewfs-cow");
  ExpectSaneNumbers(cells);
  for (const char* v :
       {"viewfs-elsewhere", "viewfs-elsewhere-pf", "viewfs-bind", "viewfs-bind-pf", "viewfs-cow"}) {
    auto by_row = ExpectOursRan(cells, v);
    for (const char* row : {"find", "ls", "tar", "make", "git"}) {
      ASSERT_TRUE(by_row.count(row)) << row << " / " << v;
      EXPECT_GT(by_row[row].stops, 0) << row << " / " << v << ": viewfs traps path calls";
    }
  }
}

TEST(BenchSuite, UmnetLoopback) {
  auto cells = RunSuite("umnet", "umview,umnet", "net");
  ExpectSaneNumbers(cells);
  auto by_row = ExpectOursRan(cells, "umnet");
  ASSERT_TRUE(by_row.count("net"));
  EXPECT_GT(by_row["net"].stops, 0) << "socket, bind and connect stop under umnet";
}

TEST(BenchSuite, Strace) {
  if (!Have("strace")) GTEST_SKIP() << "strace not installed (bench/run --install)";
  auto cells = RunSuite("strace", "strace");
  ExpectSaneNumbers(cells);
  ExpectReferenceRan(cells, "strace");
}

TEST(BenchSuite, Proot) {
  if (!Have("proot")) GTEST_SKIP() << "proot not installed (bench/run --install)";
  auto cells = RunSuite("proot", "proot,proot-bind");
  ExpectSaneNumbers(cells);
  ExpectReferenceRan(cells, "proot");
  ExpectReferenceRan(cells, "proot-bind");
}

TEST(BenchSuite, Bubblewrap) {
  if (!Have("bwrap")) GTEST_SKIP() << "bwrap not installed (bench/run --install)";
  auto cells = RunSuite("bwrap", "bwrap,bwrap-bind");
  for (const Cell& c : cells) {
    if (c.variant == "bwrap" && c.status == "n/a") GTEST_SKIP() << c.error;
  }
  ExpectSaneNumbers(cells);
  ExpectReferenceRan(cells, "bwrap");
  ExpectReferenceRan(cells, "bwrap-bind");
}

TEST(BenchSuite, BadSelectionIsOneLine) {
  RunResult r = umview::test::Run(
      {"python3", BenchRun(), "--ci", "--build", BuildDir(), "--rows", "find,nosuch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "bench/run: unknown row nosuch (known: loops, scaling, getppid, getppid-cpu0, "
            "stat, stat-cpu0, open, open-cpu0, threads8, threads64, procs8, procs64, "
            "find, ls, tar, make, python, git, net, floor)\n");
}

// The mechanism floor: every bare mechanism ran, floating and pinned, and a ptrace stop costs
// more than the plain call it wraps.
TEST(BenchSuite, MechanismFloor) {
  std::string out = std::string(BENCH_OUT_DIR) + "/floor";
  RunOptions opts;
  opts.timeout_seconds = 300;
  RunResult r = umview::test::Run({"python3", BenchRun(), "--ci", "--build", BuildDir(), "--out",
                                   out, "--rows", "floor", "--variants", "umview"},
                                  opts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string md = ReadFile(out + "/results.md");
  for (const char* mech :
       {"native", "ptrace-pass", "ptrace-skip", "notif-pass", "notif-skip", "sigsys-pass"}) {
    std::string key = std::string("(`") + mech + "`) | ";
    size_t at = md.find(key);
    ASSERT_NE(at, std::string::npos) << mech << " missing:\n" << md;
    std::string line = md.substr(at, md.find('\n', at) - at);
    EXPECT_EQ(line.find("n/a"), std::string::npos) << line;
  }
  // The floor tool itself: a number per run, and a bad mechanism is one line and status 2.
  std::string floor = out + "/floor";
  RunResult native = umview::test::Run({floor, "native", "float", "2000"});
  RunResult traced = umview::test::Run({floor, "ptrace-pass", "float", "2000"});
  ASSERT_EQ(native.exit_code, 0) << native.err;
  ASSERT_EQ(traced.exit_code, 0) << traced.err;
  EXPECT_GT(std::stod(traced.out), std::stod(native.out));
  RunResult bad = umview::test::Run({floor, "teleport", "float", "10"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "floor: unknown mechanism 'teleport'\n");
}

TEST(BenchTrap, BadOptionIsOneLine) {
  RunResult r = RunUmview({"-p", PluginPath("benchtrap") + ",pass=nosuchcall", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "umview: benchtrap: pass: unknown system call 'nosuchcall'\n");
  r = RunUmview({"-p", PluginPath("benchtrap") + ",fast", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option 'fast'"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace umview::test
