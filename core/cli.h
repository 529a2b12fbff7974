// Command-line parsing for umview.
#pragma once

#include <string>
#include <vector>

#include "umview/plugin.h"

namespace umview {

struct PluginSpec {
  std::string spec;  // path or bare name
  Options options;
};

struct CommandLine {
  std::vector<PluginSpec> plugins;
  std::string engine = "auto";
  std::string log_file;
  bool verbose = false;
  int log_level = -1;  // a LogLevel from --log-level or -v/-vv; -1: not given (warning)
  bool stats = false;
  bool kill_on_exit = false;  // --kill-on-exit
  int spin_us = 50;
  bool help = false;
  bool version = false;
  std::vector<std::string> binds;  // -b SRC:DST, given to one viewfs instance
  std::string cwd;                 // -w DIR
  std::string root;                // -r DIR
  std::string view_file;           // -f FILE
  std::string view_name;           // --view NAME
  std::string check_file;          // --check FILE
  bool show = false;               // --show [NAME]
  bool engine_given = false;
  std::vector<std::string> command;
};

// "debug", "info", "warning" or "error" to a LogLevel; false for anything else.
bool ParseLogLevel(const std::string& text, LogLevel* out);
// Parses "PLUGIN[,OPT[,OPT...]]" where OPT is key=value or flag.
bool ParsePluginSpec(const std::string& text, PluginSpec* out, std::string* error);
// Returns false with a one-line *error for bad input.
bool ParseCommandLine(int argc, char** argv, CommandLine* out, std::string* error);
const char* UsageText();

}  // namespace umview
