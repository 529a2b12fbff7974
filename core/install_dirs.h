// Where an installed umview finds what was installed with it, wherever the tree was put.
#pragma once

#include <string>

namespace umview {

// The directory of the running umview (or umctl) binary; "" if /proc/self/exe is unreadable.
std::string SelfDir();
// SelfDir()/relative (kRelativePluginDir, kRelativeViewDir of config.h) made canonical, if
// that directory exists; else "". Lets `cmake --install --prefix DIR` and the .deb (prefix /usr)
// work whatever CMAKE_INSTALL_PREFIX the build was configured with.
std::string InstalledDirNextToSelf(const char* relative);

}  // namespace umview
