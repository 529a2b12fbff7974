// Command-line parsing; see cli.h.
#include "core/cli.h"

#include <getopt.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace umview {

const char* UsageText() {
  return R"(Usage: umview [OPTIONS] [--] [COMMAND [ARGS...]]
Run COMMAND (default: $SHELL, else /bin/sh) in a view: its system calls pass through a stack of
plugins; what no plugin claims runs natively. No privilege needed.

Options:
  -p, --plugin PLUGIN[,OPT...]  load a plugin; OPT is key=value or flag. Repeatable: later
                                plugins stack outside earlier ones (they see calls first).
                                PLUGIN is a path or a name looked up in $UMVIEW_PLUGIN_PATH,
                                ~/.local/share/umview/plugins, the installed plugin directory
                                and the build tree.
  -b, --bind SRC:DST            show host path SRC at DST in the view (viewfs bind=SRC:DST)
  -r, --rootfs DIR              use DIR as the view's root directory (viewfs root=DIR); the
                                command starts in / unless -w says otherwise
  -w, --cwd DIR                 start the command in DIR (a path of the view)
  -f, --file FILE               run the view described in FILE (YAML, see config/)
      --view NAME               run the view NAME.yaml from ~/.config/umview/views or
                                /etc/umview/views (with no -p/-f/--view/-b/-r: view "default")
      --check FILE              validate a view file and exit (0 valid, 2 not)
      --show[=NAME]             print the effective view as YAML and exit
  -e, --engine ENGINE           ptrace, kmview (needs /dev/kmview) or auto (default)
      --log FILE                write umview's own messages to FILE (appended, with time
                                and pid) instead of stderr
      --log-level LEVEL         debug, info, warning (default) or error: the least severe
                                messages written
  -v, --verbose                 more messages: info level; twice (-vv): debug level
      --stats                   print stop counters per system call and peak RSS at exit
      --kill-on-exit            when COMMAND exits, kill what it left running in the view
                                (default: umview waits for every process of the view)
      --spin US                 poll up to US microseconds for the next stop before sleeping
                                (default 50, adaptive; 0: always sleep)
  -h, --help                    show this help and exit
  -V, --version                 show the version and exit

Exit status: the command's own; 128+N if it was killed by signal N; 2 for bad usage.
Inside the view UMVIEW=1, UMVIEW_PID, UMVIEW_VIEW (the view's name) and UMVIEW_PLUGINS are set.
A view with no plugin runs COMMAND untraced (unless --stats or --kill-on-exit is given).
)";
}

bool ParseLogLevel(const std::string& text, LogLevel* out) {
  static const std::pair<const char*, LogLevel> kLevels[] = {{"debug", LogLevel::kDebug},
                                                             {"info", LogLevel::kInfo},
                                                             {"warning", LogLevel::kWarning},
                                                             {"error", LogLevel::kError}};
  for (const auto& [name, level] : kLevels) {
    if (text == name) {
      *out = level;
      return true;
    }
  }
  return false;
}

bool ParsePluginSpec(const std::string& text, PluginSpec* out, std::string* error) {
  out->spec.clear();
  out->options.clear();
  size_t i = 0;
  bool first = true;
  while (true) {
    size_t j = text.find(',', i);
    std::string item = text.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (first) {
      if (item.empty()) {
        *error = "-p '" + text + "': missing plugin name";
        return false;
      }
      out->spec = item;
      first = false;
    } else {
      if (item.empty()) {
        *error = "-p '" + text + "': empty option";
        return false;
      }
      Option o;
      size_t eq = item.find('=');
      if (eq == 0) {
        *error = "-p '" + text + "': option '" + item + "' has no name";
        return false;
      }
      if (eq == std::string::npos) {
        o.key = item;
      } else {
        o.key = item.substr(0, eq);
        o.value = item.substr(eq + 1);
        o.has_value = true;
      }
      out->options.push_back(std::move(o));
    }
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return true;
}

bool ParseCommandLine(int argc, char** argv, CommandLine* out, std::string* error) {
  enum { kLog = 1000, kStats, kSpin, kView, kCheck, kShow, kLogLevel, kKillOnExit };
  // clang-format off
  static const option kLong[] = {
      {"plugin", required_argument, nullptr, 'p'}, {"bind", required_argument, nullptr, 'b'},
      {"cwd", required_argument, nullptr, 'w'},    {"rootfs", required_argument, nullptr, 'r'},
      {"engine", required_argument, nullptr, 'e'}, {"log", required_argument, nullptr, kLog},
      {"stats", no_argument, nullptr, kStats},     {"spin", required_argument, nullptr, kSpin},
      {"verbose", no_argument, nullptr, 'v'},      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},      {"file", required_argument, nullptr, 'f'},
      {"view", required_argument, nullptr, kView}, {"check", required_argument, nullptr, kCheck},
      {"show", optional_argument, nullptr, kShow},
      {"log-level", required_argument, nullptr, kLogLevel},
      {"kill-on-exit", no_argument, nullptr, kKillOnExit},
      {nullptr, 0, nullptr, 0}};
  // clang-format on
  int verbosity = 0;
  opterr = 0;
  // 0, not 1: glibc then also forgets where it stopped inside a cluster like -xV, which would
  // otherwise point into the previous call's (possibly freed) arguments.
  optind = 0;
  while (true) {
    int prev = optind == 0 ? 1 : optind;  // 0 only before the first getopt_long
    // '+': stop at the first non-option, so `umview ls -l` passes -l to ls.
    int c = getopt_long(argc, argv, "+:p:b:w:r:f:e:vhV", kLong, nullptr);
    if (c == -1) break;
    switch (c) {
      case 'b': {
        std::string v = optarg;
        size_t colon = v.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
          *error = "-b '" + v + "': expected SRC:DST";
          return false;
        }
        out->binds.push_back(v);
        break;
      }
      case 'r':
        out->root = optarg;
        if (out->root.empty()) {
          *error = "-r: expected a directory";
          return false;
        }
        break;
      case 'w':
        out->cwd = optarg;
        if (out->cwd.empty()) {
          *error = "-w: expected a directory";
          return false;
        }
        break;
      case 'p': {
        PluginSpec ps;
        if (!ParsePluginSpec(optarg, &ps, error)) return false;
        out->plugins.push_back(std::move(ps));
        break;
      }
      case 'e':
        out->engine_given = true;
        out->engine = optarg;
        if (out->engine != "ptrace" && out->engine != "kmview" && out->engine != "auto") {
          *error = "unknown engine '" + out->engine + "' (expected ptrace, kmview or auto)";
          return false;
        }
        break;
      case kLog:
        out->log_file = optarg;
        break;
      case kLogLevel: {
        LogLevel level;
        if (!ParseLogLevel(optarg, &level)) {
          *error =
              std::string("--log-level '") + optarg + "': expected debug, info, warning or error";
          return false;
        }
        out->log_level = static_cast<int>(level);
        break;
      }
      case kStats:
        out->stats = true;
        break;
      case kKillOnExit:
        out->kill_on_exit = true;
        break;
      case 'f':
        out->view_file = optarg;
        break;
      case kView:
        out->view_name = optarg;
        break;
      case kCheck:
        out->check_file = optarg;
        break;
      case kShow:
        out->show = true;
        if (optarg != nullptr) out->view_name = optarg;
        break;
      case kSpin: {
        char* end = nullptr;
        long v = strtol(optarg, &end, 10);
        if (*optarg == 0 || *end != 0 || v < 0 || v > 100000) {
          *error = std::string("--spin '") + optarg + "': expected microseconds, 0 to 100000";
          return false;
        }
        out->spin_us = static_cast<int>(v);
        break;
      }
      case 'v':
        // -v: info, -vv: debug; an explicit --log-level wins whatever the order.
        out->verbose = true;
        ++verbosity;
        break;
      case 'h':
        out->help = true;
        break;
      case 'V':
        out->version = true;
        break;
      case ':':
        *error = std::string("option '") + argv[prev] + "' needs an argument";
        return false;
      default:
        *error = std::string("unknown option '") + argv[prev] + "'";
        return false;
    }
  }
  if (out->log_level < 0 && verbosity > 0) {
    out->log_level = static_cast<int>(verbosity == 1 ? LogLevel::kInfo : LogLevel::kDebug);
  }
  for (int i = optind; i < argc; ++i) out->command.push_back(argv[i]);
  return true;
}

}  // namespace umview
