// Test support: run the real umview binary (or any command) and capture what it did.
#pragma once

#include <string>
#include <vector>

namespace umview::test {

struct RunResult {
  int status = -1;     // raw wait status
  int exit_code = -1;  // WEXITSTATUS, or -1 if killed by a signal
  int signal = 0;      // WTERMSIG if killed
  std::string out;     // stdout
  std::string err;     // stderr
};

struct RunOptions {
  std::string stdin_data;
  std::vector<std::string> extra_env;  // "NAME=value"
  int timeout_seconds = 60;            // SIGKILL after this (then signal == SIGKILL)
  std::string cwd;
};

// Runs argv (argv[0] searched in PATH) and collects stdout/stderr/status.
RunResult Run(const std::vector<std::string>& argv, const RunOptions& opts = {});
// Runs `umview ARGS...` with the build tree's binary.
RunResult RunUmview(const std::vector<std::string>& args, const RunOptions& opts = {});

std::string UmviewBin();
std::string PluginPath(const std::string& name);      // build/plugins/NAME.so
std::string TestPluginPath(const std::string& name);  // build/tests/plugins/NAME.so
std::string Tracee(const std::string& name);          // build/tests/tracees/NAME

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

// Name of an unprivileged user for running scenarios without root ("" if none can be had).
std::string UnprivilegedUser();

}  // namespace umview::test
