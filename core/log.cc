// Logging; see log.h.
#include "core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace umview {
namespace {

int g_fd = 2;
LogLevel g_level = LogLevel::kWarning;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

bool SetLogOutput(std::string_view path) {
  if (path.empty()) {
    g_fd = 2;
    return true;
  }
  int fd = open(std::string(path).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  g_fd = fd;
  return true;
}

void SetLogLevel(LogLevel level) { g_level = level; }

void LogFor(std::string_view who, LogLevel level, std::string_view message) {
  if (level < g_level) return;
  std::string line = "umview: ";
  if (!who.empty()) {
    line += who;
    line += ": ";
  }
  line += LevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  (void)!write(g_fd, line.data(), line.size());
}

void Log(LogLevel level, std::string_view message) { LogFor("", level, message); }

}  // namespace umview
