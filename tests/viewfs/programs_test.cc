// Real programs inside views: tar into a bound directory, make -j2 under a bind, a python venv
// under tmp=, git in a cow tree (union_test.cc), dpkg-query in a root (rootfs_test.cc).
#include <gtest/gtest.h>

#include <string>

#include "tests/support/run.h"

namespace umview::test {
namespace {

TEST(ViewfsPrograms, TarExtractsIntoABoundDirectory) {
  TempDir dir;
  ASSERT_EQ(test::Run({"sh", "-c",
                       "cd '" + dir.path() +
                           "' && mkdir out && tar cf in.tar -C /usr/include "
                           "linux/types.h linux/stat.h stdio.h"})
                .exit_code,
            0);
  RunResult r = RunUmview({"-b", (dir / "out") + ":/extract", "--", "sh", "-c",
                           "tar xf " + (dir / "in.tar") +
                               " -C /extract && find /extract -type f "
                               "| sort"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/extract/linux/stat.h\n/extract/linux/types.h\n/extract/stdio.h\n");
  EXPECT_EQ(ReadFile(dir / "out/stdio.h"), ReadFile("/usr/include/stdio.h"));
}

TEST(ViewfsPrograms, MakeUnderABind) {
  TempDir dir;
  std::string gen =
      "cd '" + dir.path() +
      "' && for i in $(seq 1 12); do printf 'int f%d(void){return %d;}\\n' "
      "$i $i > f$i.c; done && printf 'int f1(void);\\nint main(void){return f1()-1;}\\n' > "
      "main.c && printf 'OBJS=$(patsubst %%.c,%%.o,$(wildcard *.c))\\nprog: $(OBJS)\\n\\tcc -o $@ "
      "$^\\n%%.o: %%.c\\n\\tcc -c $< -o $@\\n' > Makefile";
  ASSERT_EQ(test::Run({"sh", "-c", gen}).exit_code, 0);
  RunResult r = RunUmview({"-b", dir.path() + ":/src", "-w", "/src", "--", "sh", "-c",
                           "make -s -j2 && ./prog && echo built && pwd"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "built\n/src\n");
  struct stat st;
  EXPECT_EQ(stat((dir / "prog").c_str(), &st), 0) << "the build landed in the bind source";
}

TEST(ViewfsPrograms, PythonVenvUnderTmp) {
  // Debian's own python3 (a pyenv shim on PATH would add its own checks).
  if (test::Run({"/usr/bin/python3", "-c", "import venv"}).exit_code != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with the venv module is not installed";
  }
  RunResult r = RunUmview({"-p", "viewfs,tmp=/scratch", "--", "sh", "-c",
                           "/usr/bin/python3 -m venv --without-pip /scratch/venv && "
                           "/scratch/venv/bin/python -c 'import sys, json, email; "
                           "print(sys.prefix)' && ls /scratch"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/scratch/venv\nvenv\n");
}

}  // namespace
}  // namespace umview::test
