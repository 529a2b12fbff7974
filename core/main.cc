// umview: run a command in a view.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/cli.h"
#include "core/config.h"
#include "core/crash_report.h"
#include "core/dispatcher.h"
#include "core/engine.h"
#include "core/kmview_engine.h"
#include "core/log.h"
#include "core/plugin_loader.h"
#include "core/view_file.h"

extern char** environ;

namespace umview {
namespace {

volatile pid_t g_root = -1;

// Signals sent to umview that it passes on to the command.
constexpr int kForwardedSignals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

// Signals sent to umview by another process go to the command. Keyboard signals (SI_KERNEL)
// reach the command from the terminal by themselves; umview must not die from them.
void Forward(int sig, siginfo_t* info, void*) {
  bool from_tty = info != nullptr && info->si_code == SI_KERNEL;
  if (from_tty && (sig == SIGINT || sig == SIGQUIT)) return;
  if (g_root > 0) kill(g_root, sig);
}

// Records the signal state umview inherited (for the command) and sets up its own: forwarding
// handlers for the signals that were not ignored, and terminal signals ignored.
void SetUpSignals(EngineConfig* config) {
  sigprocmask(SIG_SETMASK, nullptr, &config->blocked_signals);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction cur {};
    if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, nullptr, &cur) == 0 &&
        cur.sa_handler == SIG_IGN) {
      config->ignored_signals.push_back(sig);
    }
  }
  auto ignored = [&](int sig) {
    return std::find(config->ignored_signals.begin(), config->ignored_signals.end(), sig) !=
           config->ignored_signals.end();
  };
  struct sigaction sa {};
  sa.sa_sigaction = Forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : kForwardedSignals) {
    if (!ignored(sig)) sigaction(sig, &sa, nullptr);  // `nohup umview`: HUP stays ignored
  }
  // A background umview must not stop on terminal output while the view's shell owns the tty.
  signal(SIGTTOU, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // The forwarded signals must reach umview even if it inherited them blocked.
  sigset_t unblock;
  sigemptyset(&unblock);
  for (int sig : kForwardedSignals) sigaddset(&unblock, sig);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
}

// What umctl asks about the running view (its name and stack, with each plugin's current
// options, run-time mounts included) and does to it (load, unload).
class ViewControl final : public ControlInfo {
 public:
  ViewControl(const ViewSpec& view, Dispatcher& d, Engine& engine,
              std::vector<std::unique_ptr<LoadedPlugin>>& loaded)
      : view_(view), d_(d), engine_(engine), loaded_(loaded) {
    for (size_t i = 0; i < view_.plugins.size(); ++i) {
      entries_.push_back({view_.plugins[i], i < loaded_.size() ? loaded_[i]->plugin() : nullptr,
                          i < loaded_.size() ? loaded_[i]->name() : view_.plugins[i].spec});
    }
  }

  ViewSpec Current() const {
    ViewSpec v = view_;
    v.plugins.clear();
    for (const auto& e : entries_) {
      if (e.removed) continue;
      PluginSpec ps = e.spec;
      Options now;
      if (e.plugin != nullptr && e.plugin->CurrentOptions(&now)) ps.options = now;
      v.plugins.push_back(ps);
    }
    return v;
  }
  std::string Info() override {
    ViewSpec v = Current();
    std::string out = "view: " + (v.name.empty() ? std::string("(command line)") : v.name);
    if (!v.file.empty()) out += " (" + v.file + ")";
    out += "\nengine: " + std::string(engine_.name()) + "\nplugins (innermost first):\n";
    size_t i = 0;
    for (const auto& e : entries_) {
      if (e.removed) continue;
      out += "  " + e.name;
      for (const auto& o : v.plugins[i].options) {
        out += " " + (o.has_value ? o.key + "=" + o.value : o.key);
      }
      out += "\n";
      ++i;
    }
    return out;
  }
  std::string ViewYaml() override { return ViewToYaml(Current()); }

  int Load(const std::string& text, std::string* reply) override {
    PluginSpec ps;
    std::string error;
    if (!ParsePluginSpec(text, &ps, &error)) {
      *reply = error;
      return -EINVAL;
    }
    auto lp = LoadPlugin(ps.spec, &error);
    if (!lp ||
        !d_.AddPlugin(lp ? lp->name() : ps.spec, lp ? lp->plugin() : nullptr, ps.options, &error)) {
      *reply = error;
      if (lp) {
        std::string ignored;
        d_.RemovePlugin(lp->name(), &ignored);
        loaded_.push_back(std::move(lp));  // its object may be referenced: keep it mapped
      }
      return -EINVAL;
    }
    if (!engine_.ExtendTrapped(d_.MakeEngineConfig(), &error)) {
      std::string ignored;
      d_.RemovePlugin(lp->name(), &ignored);
      loaded_.push_back(std::move(lp));
      *reply = "cannot load " + ps.spec + ": " + error;
      return -ENOTSUP;
    }
    entries_.push_back({ps, lp->plugin(), lp->name()});
    *reply = "loaded " + lp->name() + " (each process picks it up at its next trapped call)";
    loaded_.push_back(std::move(lp));
    return 0;
  }
  int Unload(const std::string& name, std::string* reply) override {
    std::string error;
    if (!d_.RemovePlugin(name, &error)) {
      *reply = error;
      return -EBUSY;
    }
    // The shared object stays mapped until umview exits: nothing of it may run again, but a
    // call in flight may still hold a pointer into it.
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (!it->removed && it->name == name) {
        it->removed = true;
        break;
      }
    }
    *reply = "unloaded " + name;
    return 0;
  }

 private:
  struct Entry {
    PluginSpec spec;
    Plugin* plugin;
    std::string name;
    bool removed = false;
  };
  ViewSpec view_;
  Dispatcher& d_;
  Engine& engine_;
  std::vector<std::unique_ptr<LoadedPlugin>>& loaded_;
  std::vector<Entry> entries_;
};

int Usage(const std::string& error) {
  fprintf(stderr, "umview: %s (try 'umview --help')\n", error.c_str());
  return 2;
}

void PrintStats(const Engine& engine) {
  const auto& c = engine.counters();
  std::vector<std::pair<uint64_t, int>> order;
  uint64_t total = 0;
  uint64_t prefiltered = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    uint64_t n = c[i].entry_only + c[i].entry_exit + c[i].skipped;
    if (n || c[i].prefiltered) order.push_back({n, static_cast<int>(i)});
    total += n;
    prefiltered += c[i].prefiltered;
  }
  std::sort(order.rbegin(), order.rend());
  fprintf(stderr, "umview: stops by system call (engine %s)\n", engine.name());
  // "prefiltered": calls a path prefilter let run without a stop (the ptrace engine's
  // notification prefilter); the column appears when there were any.
  fprintf(stderr, "%-20s %10s %10s %10s %10s%s\n", "syscall", "stops", "entry", "entry+exit",
          "skipped", prefiltered ? " prefiltered" : "");
  for (auto [n, nr] : order) {
    const SyscallInfo* s = LookupSyscall(nr);
    fprintf(stderr, "%-20s %10llu %10llu %10llu %10llu", s ? s->name : "?",
            (unsigned long long)(n + c[nr].entry_exit), (unsigned long long)c[nr].entry_only,
            (unsigned long long)c[nr].entry_exit, (unsigned long long)c[nr].skipped);
    if (prefiltered) fprintf(stderr, " %11llu", (unsigned long long)c[nr].prefiltered);
    fputc('\n', stderr);
  }
  fprintf(stderr, "%-20s %10llu\n", "total calls", (unsigned long long)total);
  if (prefiltered) {
    fprintf(stderr, "%-20s %10llu\n", "prefiltered calls", (unsigned long long)prefiltered);
  }
  // The tracer's own memory: the dispatcher's state grows with processes, descriptors and
  // paths, so its peak over the whole run is the number to watch (bench/run records it).
  if (FILE* f = fopen("/proc/self/status", "r")) {
    char line[256];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "VmHWM:", 6) == 0) {
        fprintf(stderr, "umview: peak RSS %s", line + strspn(line + 6, " \t") + 6);
      }
    }
    fclose(f);
  }
  // The tracer's own CPU time (all its threads): divided by the stops above, the user-space
  // cost of a stop, which wall times on a shared machine hide.
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    fprintf(stderr, "umview: tracer CPU user %.3f s, sys %.3f s\n",
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  }
}

void LogStart(const ViewSpec& view, const Engine& engine, const std::string& plugins,
              const std::vector<std::string>& command) {
  if (!LogEnabled(LogLevel::kInfo)) return;
  std::string argv;
  for (const auto& a : command) argv += (argv.empty() ? "" : " ") + a;
  Log(LogLevel::kInfo, "view " + (view.name.empty() ? std::string("(command line)") : view.name) +
                           ", engine " + engine.name() + ", plugins [" + plugins + "]: pid " +
                           std::to_string(engine.root_pid()) + " runs " + argv);
  if (!LogEnabled(LogLevel::kDebug)) return;
  std::string dirs;
  for (const auto& d : PluginSearchPath()) dirs += (dirs.empty() ? "" : ":") + d;
  Log(LogLevel::kDebug, "plugin search path " + dirs);
}

void LogEnd(int status) {
  if (WIFSIGNALED(status)) {
    Log(LogLevel::kInfo,
        std::string("the command was killed by signal ") + strsignal(WTERMSIG(status)));
  } else {
    Log(LogLevel::kInfo, "the command exited with status " + std::to_string(WEXITSTATUS(status)));
  }
}

// The view to run: -f FILE, --view NAME, or (with no plugin named on the command line) the
// user's or system's view "default", else the built-in one. Plugins of -b/-r and -p stack on
// top of the file's, in that order.
bool ResolveView(const CommandLine& cl, ViewSpec* view, std::string* error) {
  std::string file = cl.view_file;
  if (file.empty() && !cl.view_name.empty()) {
    file = FindView(cl.view_name);
    if (file.empty()) {
      std::string dirs;
      for (const auto& d : ViewSearchPath()) dirs += (dirs.empty() ? "" : ":") + d;
      *error = "unknown view '" + cl.view_name + "' (searched " + dirs + ")";
      return false;
    }
  }
  if (file.empty() && cl.plugins.empty() && cl.binds.empty() && cl.root.empty()) {
    file = FindView("default");
    if (file.empty()) file = BuiltinDefaultView();
  }
  if (!file.empty() && !LoadViewFile(file, view, error)) return false;
  if (!cl.binds.empty() || !cl.root.empty()) {
    // PRoot-style short forms: one viewfs, below the -p plugins.
    PluginSpec viewfs{"viewfs", {}};
    if (!cl.root.empty()) viewfs.options.push_back({"root", cl.root, true});
    for (const auto& b : cl.binds) viewfs.options.push_back({"bind", b, true});
    view->plugins.push_back(viewfs);
  }
  view->plugins.insert(view->plugins.end(), cl.plugins.begin(), cl.plugins.end());
  if (!cl.cwd.empty()) view->cwd = cl.cwd;
  if (cl.engine_given) view->engine = cl.engine;
  return true;
}

int Main(int argc, char** argv) {
  CommandLine cl;
  std::string error;
  if (!ParseCommandLine(argc, argv, &cl, &error)) return Usage(error);
  if (cl.help) {
    fputs(UsageText(), stdout);
    return 0;
  }
  if (cl.version) {
    printf("umview %s (plugin ABI %u)\n", kVersion, kAbiVersion);
    return 0;
  }
  if (!cl.log_file.empty() && !SetLogOutput(cl.log_file)) {
    return Usage("--log " + cl.log_file + ": " + strerror(errno));
  }
  if (cl.log_level >= 0) SetLogLevel(static_cast<LogLevel>(cl.log_level));

  if (!cl.check_file.empty()) {
    ViewSpec checked;
    if (!LoadViewFile(cl.check_file, &checked, &error)) {
      fprintf(stderr, "umview: %s\n", error.c_str());
      return 2;
    }
    printf("%s: ok\n", cl.check_file.c_str());
    return 0;
  }
  ViewSpec view;
  if (!ResolveView(cl, &view, &error)) {
    fprintf(stderr, "umview: %s\n", error.c_str());
    return 2;
  }
  if (cl.show) {
    fputs(ViewToYaml(view).c_str(), stdout);
    return 0;
  }
  if (!cl.engine_given && !view.engine.empty()) cl.engine = view.engine;

  // A view with nothing to serve runs untraced (PtraceEngine::StartUntraced), on any engine:
  // "-e kmview" only checks that the module is there.
  const char* trace_idle = getenv("UMVIEW_TRACE_IDLE");
  const bool idle = view.plugins.empty() && !cl.stats && !cl.kill_on_exit &&
                    !(trace_idle && strcmp(trace_idle, "1") == 0);
  std::unique_ptr<Engine> engine;
  if (cl.engine == "kmview" || (cl.engine == "auto" && !idle)) {
    std::string why;
    int dev = OpenKmview(&why);
    if (dev >= 0 && idle) {
      close(dev);
    } else if (dev >= 0) {
      engine = MakeKmviewEngine(dev);
    } else if (cl.engine == "kmview") {
      fprintf(stderr, "umview: engine 'kmview' needs the kmview kernel module (%s)\n", why.c_str());
      return 2;
    }
  }
  if (!engine) engine = MakePtraceEngine();
  InstallCrashReporter();  // a plugin that crashes umview is named on stderr

  // Declared first, destroyed last: the dispatcher holds the plugins' objects and hooks, whose
  // code lives in the shared objects.
  std::vector<std::unique_ptr<LoadedPlugin>> plugins;
  Dispatcher dispatcher;
  dispatcher.set_engine(engine.get());  // plugins may ask about it from Init on
  std::string names;
  for (const PluginSpec& ps : view.plugins) {
    auto lp = LoadPlugin(ps.spec, &error);
    if (!lp) {
      fprintf(stderr, "umview: %s\n", error.c_str());
      return 2;
    }
    if (!dispatcher.AddPlugin(lp->name(), lp->plugin(), ps.options, &error)) {
      fprintf(stderr, "umview: %s\n", error.c_str());
      return 2;
    }
    names += (names.empty() ? "" : ",") + lp->name();
    Log(LogLevel::kInfo, "plugin " + lp->name() + " loaded from " + lp->path());
    plugins.push_back(std::move(lp));
  }

  std::vector<std::string> command = cl.command.empty() ? view.command : cl.command;
  if (command.empty()) {
    const char* shell = getenv("SHELL");
    command.push_back(shell && *shell ? shell : "/bin/sh");
  }
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string s = *e;
    if (s.rfind("UMVIEW=", 0) == 0 || s.rfind("UMVIEW_PID=", 0) == 0 ||
        s.rfind("UMVIEW_PLUGINS=", 0) == 0 || s.rfind("UMVIEW_VIEW=", 0) == 0) {
      continue;
    }
    env.push_back(std::move(s));
  }
  for (const auto& [k, v] : view.env) {
    std::string prefix = k + "=";
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](const std::string& e) { return e.rfind(prefix, 0) == 0; }),
              env.end());
    env.push_back(prefix + v);
  }
  env.push_back("UMVIEW_VIEW=" + (view.name.empty() ? std::string("cmdline") : view.name));
  env.push_back("UMVIEW=1");
  env.push_back("UMVIEW_PID=" + std::to_string(getpid()));
  env.push_back("UMVIEW_PLUGINS=" + names);

  ViewControl control(view, dispatcher, *engine, plugins);
  dispatcher.set_control_info(&control);
  EngineConfig config = dispatcher.MakeEngineConfig();
  config.count_stops = cl.stats;
  // UMVIEW_TRACE_IDLE=1 traces a view with no plugin anyway (to compare the two).
  config.nothing_to_serve = idle;
  config.kill_on_root_exit = cl.kill_on_exit;
  config.spin_max_us = cl.spin_us;
  config.initial_cwd = !cl.cwd.empty()     ? cl.cwd
                       : !view.cwd.empty() ? view.cwd
                       : !cl.root.empty()  ? "/"
                                           : "";
  SetUpSignals(&config);
  // A signal for the command that arrives while it starts (it may already have exec'd when
  // Start returns) waits until its pid is known, instead of being dropped. The child restores
  // the inherited mask itself.
  sigset_t forwarded, before;
  sigemptyset(&forwarded);
  for (int sig : kForwardedSignals) sigaddset(&forwarded, sig);
  sigprocmask(SIG_BLOCK, &forwarded, &before);
  if (!engine->Start(command, env, config, &error)) {
    fprintf(stderr, "umview: %s\n", error.c_str());
    return 2;
  }
  g_root = engine->root_pid();
  sigprocmask(SIG_SETMASK, &before, nullptr);
  LogStart(view, *engine, names, command);
  int status = engine->Run(dispatcher);
  dispatcher.Shutdown();
  LogEnd(status);
  if (cl.stats) PrintStats(*engine);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace
}  // namespace umview

int main(int argc, char** argv) { return umview::Main(argc, argv); }
