// Per-syscall hooks (Host::HandleSyscall) and on-demand process state (Call::GetProcessState).
#include <gtest/gtest.h>

#include "tests/support/run.h"

namespace umview::test {
namespace {

TEST(PluginHooks, PerSyscallHookAndProcessState) {
  RunResult r = RunUmview({"-p", TestPluginPath("hooks"), "--", "sh", "-c",
                           "umask 027; python3 -c 'import os; print(os.getppid(), os.getpgrp())'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "23 4242\n");  // 027 octal
}

}  // namespace
}  // namespace umview::test
