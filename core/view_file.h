// Views as YAML files (schema version 1): loading with file:line:col errors, the search path of
// named views, and printing the effective view.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/cli.h"

namespace umview {

struct ViewSpec {
  std::string name;  // file stem, or "" for a view from the command line only
  std::string file;  // where it was read from
  std::string description;
  std::string engine;  // "" = not set
  std::vector<std::string> command;
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<PluginSpec> plugins;  // in stack order (later = outer)
};

// Directories searched for NAME.yaml, user's first.
std::vector<std::string> ViewSearchPath();
// The file of view NAME, or "".
std::string FindView(const std::string& name);
// The built-in default view shipped in config/ (installed or in the source tree), or "".
std::string BuiltinDefaultView();

// Reads and checks FILE; false with "FILE:LINE:COL: what is wrong (expected ...)" in *error.
bool LoadViewFile(const std::string& file, ViewSpec* out, std::string* error);
// The view as YAML, after defaults and expansion.
std::string ViewToYaml(const ViewSpec& view);

// Expands ~ (leading), $VAR and ${VAR}; unknown variables expand to "".
std::string ExpandVars(const std::string& s);

}  // namespace umview
