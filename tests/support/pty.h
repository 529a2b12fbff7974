// Test support for commands the tests start themselves (on a pseudo-terminal or a pipe): the
// clock, finding their children in /proc, and giving them default signal handling.
#pragma once

#include <sys/types.h>

#include <string>

namespace umview::test {

// CLOCK_MONOTONIC, in seconds.
double Now();

// A child of `parent` whose command name is `comm`, or -1.
pid_t ChildNamed(pid_t parent, const std::string& comm);

// For a freshly forked child before it execs: unblocks every signal and sets every disposition
// back to the default (the test runner may ignore or block signals; the command must start with
// defaults).
void ResetSignals();

}  // namespace umview::test
