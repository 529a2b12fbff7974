// Fuzz target: umview's command line (core/cli.cc). The input is split at NUL bytes into
// arguments; parsing gives a command line or one line saying what is wrong.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cli.h"

namespace {

void ParseOnce(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  umview::CommandLine cl;
  std::string error;
  if (!umview::ParseCommandLine(static_cast<int>(args.size()), argv.data(), &cl, &error)) {
    // A newline in the message can only come from an argument that holds one.
    bool newline_given = false;
    for (const auto& a : args) newline_given |= a.find('\n') != std::string::npos;
    if (error.empty() || (!newline_given && error.find('\n') != std::string::npos)) {
      fprintf(stderr, "error is not one line: '%s'\n", error.c_str());
      abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"umview"};
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (!cur.empty()) args.push_back(cur);
  // Twice, each time from fresh copies: umview parses once, but a parser that keeps state from
  // one call to the next (getopt does) must not reach into the freed arguments of the last.
  ParseOnce(args);
  ParseOnce(args);
  // Each argument as a -p value on its own, the form umctl load passes too.
  for (size_t i = 1; i < args.size(); ++i) {
    umview::PluginSpec spec;
    std::string error;
    if (umview::ParsePluginSpec(args[i], &spec, &error) && spec.spec.empty()) abort();
  }
  return 0;
}
