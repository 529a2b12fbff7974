// Finds and loads plugin shared objects (Boost.DLL) and checks their ABI version.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "umview/plugin.h"

namespace umview {

// A loaded plugin: keeps the shared object mapped for as long as the plugin object lives.
class LoadedPlugin {
 public:
  ~LoadedPlugin();
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  Plugin* plugin() const { return plugin_.get(); }

 private:
  friend std::unique_ptr<LoadedPlugin> LoadPlugin(const std::string&, std::string*);
  struct Library;
  std::unique_ptr<Library> lib_;  // destroyed after plugin_
  std::unique_ptr<Plugin> plugin_;
  std::string name_;
  std::string path_;
};

// Directories searched for a bare plugin name, in order.
std::vector<std::string> PluginSearchPath();
// `spec` is a path (contains '/') or a bare name ("viewfs", "viewfs.so"). Returns the file or
// empty if not found.
std::string FindPlugin(const std::string& spec);
// Loads and instantiates; nullptr with a one-line *error ("unknown plugin 'x' (searched ...)",
// "...: not a umview plugin (no umview_plugin_v1 symbol)", "...: ABI version 2, umview has 1").
std::unique_ptr<LoadedPlugin> LoadPlugin(const std::string& spec, std::string* error);

}  // namespace umview
