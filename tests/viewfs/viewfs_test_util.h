// Shared helpers of the viewfs tests: run commands and the vfs_door tracee in a view, and take
// snapshots of host trees to prove that a view left them alone.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {

// `-p viewfs,OPT,OPT...`
std::vector<std::string> Viewfs(const std::vector<std::string>& options);

// umview ARGS -- sh -c SCRIPT
RunResult ShIn(const std::vector<std::string>& umview_args, const std::string& script,
               const RunOptions& opts = {});

// What vfs_door printed: one entry per call, "OP ARGS" and its result ("ok ...", "ENOENT").
struct DoorResults {
  RunResult run;
  std::vector<std::string> calls;
  std::vector<std::string> results;
  // The result of the only call whose text is `call` (an empty string and a failure if none).
  std::string Of(const std::string& call) const;
};

// Runs `umview ARGS -- vfs_door OPS...`. Each inner vector is one call: {"stat", "/p"}.
DoorResults RunDoors(const std::vector<std::string>& umview_args,
                     const std::vector<std::vector<std::string>>& ops, const RunOptions& opts = {});

// Expects every call to have answered `want` (e.g. "ENOENT"), naming each one that did not.
void ExpectAll(const DoorResults& d, const std::string& want);

// A host tree as seen by lstat, per path below `dir` (and `dir` itself): type, mode, owner,
// size, link count, mtime and ctime in ns, content or symlink target, and user.* xattrs.
// Equal snapshots mean nothing in the tree was written, chmodded, touched, linked or renamed.
using TreeSnapshot = std::map<std::string, std::string>;
TreeSnapshot Snapshot(const std::string& dir);
// Reports each path that appeared, disappeared or changed.
void ExpectSameTree(const TreeSnapshot& before, const TreeSnapshot& after);

// True if `dir`'s file system stores user.* extended attributes.
bool SupportsUserXattr(const std::string& dir);

// Makes every directory up to `path` and writes `data` to it.
void Put(const std::string& path, const std::string& data);

// Names in a host directory (no . and ..), sorted.
std::vector<std::string> HostList(const std::string& dir);
bool Exists(const std::string& path);  // lstat succeeds

// One system call's column in `umview --stats` output (err): 1 stops, 2 entry, 3 entry+exit,
// 4 skipped, 5 prefiltered; 0 if the call has no line.
long StatsColumn(const std::string& err, const std::string& call, int column);

}  // namespace umview::test
