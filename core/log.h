// Logging for umview itself: one format, levels, optional file (--log).
#pragma once

#include <string_view>

#include "umview/plugin.h"

namespace umview {

// Messages below `level` are dropped. `path` empty: stderr. Returns false if the file cannot
// be opened.
bool SetLogOutput(std::string_view path);
void SetLogLevel(LogLevel level);
// "umview: warning: MESSAGE" (or "umview: NAME: warning: ..." via LogFor).
void Log(LogLevel level, std::string_view message);
void LogFor(std::string_view who, LogLevel level, std::string_view message);

}  // namespace umview
