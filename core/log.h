// Logging for umview itself: one format, levels, optional file (--log).
#pragma once

#include <string_view>

#include "umview/plugin.h"

namespace umview {

// Messages below `level` are dropped. `path` empty: stderr. Returns false if the file cannot
// be opened.
bool SetLogOutput(std::string_view path);
void SetLogLevel(LogLevel level);
// True if a message of this level would be written (to skip building costly debug text).
bool LogEnabled(LogLevel level);
// "umview: warning: MESSAGE" (or "umview: NAME: warning: ..." via LogFor). In a --log file the
// line starts "2025-06-01T10:00:00.123Z umview[PID]: " instead of "umview: ". One write(2) per
// line, so lines of several umviews appending to one file do not mix.
void Log(LogLevel level, std::string_view message);
void LogFor(std::string_view who, LogLevel level, std::string_view message);

}  // namespace umview
