// Plugin loading with Boost.DLL; see plugin_loader.h.
#include "core/plugin_loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <cstdlib>

#include "core/config.h"
#include "core/install_dirs.h"

namespace umview {

struct LoadedPlugin::Library {
  boost::dll::shared_library lib;
};

LoadedPlugin::~LoadedPlugin() {
  plugin_.reset();  // the vtable lives in the library: destroy before unmapping
  lib_.reset();
}

namespace {

bool IsFile(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::vector<std::string> PluginSearchPath() {
  std::vector<std::string> dirs;
  if (const char* env = getenv("UMVIEW_PLUGIN_PATH")) {
    std::string s = env;
    size_t i = 0;
    while (i <= s.size()) {
      size_t j = s.find(':', i);
      if (j == std::string::npos) j = s.size();
      if (j > i) dirs.push_back(s.substr(i, j - i));
      i = j + 1;
    }
  }
  if (const char* xdg = getenv("XDG_DATA_HOME"); xdg && *xdg) {
    dirs.push_back(std::string(xdg) + "/umview/plugins");
  } else if (const char* home = getenv("HOME"); home && *home) {
    dirs.push_back(std::string(home) + "/.local/share/umview/plugins");
  }
  // The plugins installed with this binary first: an installed tree may sit elsewhere than the
  // prefix it was configured for, which may hold another version's.
  std::string beside = InstalledDirNextToSelf(kRelativePluginDir);
  if (!beside.empty() && beside != kInstalledPluginDir) dirs.push_back(beside);
  dirs.push_back(kInstalledPluginDir);
  // The build tree: plugins sit next to the umview binary's sibling plugins/ directory.
  std::string self = SelfDir();
  if (!self.empty()) dirs.push_back(self + "/plugins");
  return dirs;
}

std::string FindPlugin(const std::string& spec) {
  if (spec.find('/') != std::string::npos) return IsFile(spec) ? spec : "";
  std::vector<std::string> names = {spec};
  if (spec.size() < 3 || spec.compare(spec.size() - 3, 3, ".so") != 0)
    names.push_back(spec + ".so");
  for (const auto& dir : PluginSearchPath()) {
    for (const auto& n : names) {
      std::string p = dir + "/" + n;
      if (IsFile(p)) return p;
    }
  }
  return "";
}

std::unique_ptr<LoadedPlugin> LoadPlugin(const std::string& spec, std::string* error) {
  std::string path = FindPlugin(spec);
  if (path.empty()) {
    if (spec.find('/') != std::string::npos) {
      *error = "plugin '" + spec + "': no such file";
    } else {
      std::string dirs;
      for (const auto& d : PluginSearchPath()) dirs += (dirs.empty() ? "" : ":") + d;
      *error = "unknown plugin '" + spec + "' (searched " + dirs + ")";
    }
    return nullptr;
  }
  auto lib = std::make_unique<LoadedPlugin::Library>();
  try {
    lib->lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    *error = "plugin '" + path + "': cannot load: " + e.what();
    return nullptr;
  }
  if (!lib->lib.has("umview_plugin_v1")) {
    *error = "plugin '" + path + "': not a umview plugin (no umview_plugin_v1 symbol)";
    return nullptr;
  }
  const PluginDescriptor& d = lib->lib.get_alias<const PluginDescriptor>("umview_plugin_v1");
  if (d.abi_version != kAbiVersion) {
    *error = "plugin '" + path + "': built for plugin ABI " + std::to_string(d.abi_version) +
             ", this umview has ABI " + std::to_string(kAbiVersion);
    return nullptr;
  }
  auto lp = std::unique_ptr<LoadedPlugin>(new LoadedPlugin());
  lp->name_ = d.name ? d.name : spec;
  lp->path_ = path;
  try {
    lp->plugin_.reset(d.create());
  } catch (...) {
    lp->plugin_.reset();
  }
  if (!lp->plugin_) {
    *error = "plugin '" + path + "': constructor failed";
    return nullptr;
  }
  lp->lib_ = std::move(lib);
  return lp;
}

}  // namespace umview
