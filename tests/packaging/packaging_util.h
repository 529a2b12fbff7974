// Helpers of the packaging tests: install the build tree into a temporary prefix.
#pragma once

#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {

// `cmake --install BUILD --prefix PREFIX`; fails the test (and returns false) if it fails.
bool InstallInto(const std::string& prefix);
// The plugin directory under an install prefix: PREFIX/LIBDIR/umview/abiN/plugins.
std::string PluginDirUnder(const std::string& prefix);
bool IsFile(const std::string& path);
bool IsDir(const std::string& path);
std::vector<std::string> SplitLines(const std::string& s);
// An environment for running an installed umview that sees nothing of the user's: HOME and
// XDG dirs in `home`, no UMVIEW_PLUGIN_PATH or UMVIEW_SYSTEM_VIEWS of the caller's.
std::vector<std::string> IsolatedEnv(const std::string& home);

}  // namespace umview::test
