// Logging; see log.h.
#include "core/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace umview {
namespace {

int g_fd = 2;
bool g_to_file = false;
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

// "2025-06-01T10:00:00.123Z umview[4242]: ": a file outlives the terminal and several views may
// append to one, so its lines say when and which umview.
std::string FilePrefix() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%03dZ ", static_cast<int>(tv.tv_usec / 1000));
  return std::string(buf) + "umview[" + std::to_string(getpid()) + "]: ";
}

}  // namespace

bool SetLogOutput(std::string_view path) {
  if (path.empty()) {
    g_fd = 2;
    g_to_file = false;
    return true;
  }
  int fd = open(std::string(path).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  g_fd = fd;
  g_to_file = true;
  return true;
}

void SetLogLevel(LogLevel level) { g_level = level; }

bool LogEnabled(LogLevel level) { return level >= g_level; }

void LogFor(std::string_view who, LogLevel level, std::string_view message) {
  if (level < g_level) return;
  std::string line = g_to_file ? FilePrefix() : "umview: ";
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
