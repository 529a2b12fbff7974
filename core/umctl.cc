// umctl: look at and change the running view from inside it, through the control channel.
#include <errno.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/view_file.h"
#include "umview/control.h"

namespace {

constexpr const char* kUsage = R"(Usage: umctl COMMAND [ARGS...]   (inside a umview view)
  info                      the view: name, engine, plugins in stack order with options
  mount TYPE ARGS...        add a viewfs mount to the running view, for every process in it:
                              mount bind SRC DST | mount cow DST UPPER | mount merge DST A+B
                              mount tmp DST | mount hide PATH | mount ro DST | mount except PATH
  umount DST                remove the newest viewfs mount at DST (what was below shows again)
  save NAME                 write the running view as NAME.yaml in ~/.config/umview/views
  load PLUGIN[,OPT...]      push a plugin on the running view (as -p); each process picks it
                            up at its next trapped call
  unload NAME               take it out again (refused while it owns mounts or open files)
)";

int Fail(const std::string& message) {
  fprintf(stderr, "umctl: %s\n", message.c_str());
  return 2;
}

int Plugin(const std::string& plugin, const std::string& command) {
  std::string in = plugin + '\0' + command, reply;
  if (!umview::ControlCall(umview::kControlPluginCommand, in, &reply)) {
    int e = errno;
    // The reply buffer was filled with the plugin's message before the error came back.
    return Fail(command + ": " + (reply.empty() ? strerror(e) : reply));
  }
  if (!reply.empty()) printf("%s\n", reply.c_str());
  return 0;
}

int Save(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) {
    return Fail("save: expected a view name without '/'");
  }
  std::string yaml;
  if (!umview::ControlCall(umview::kControlViewYaml, "", &yaml)) {
    return Fail(std::string("save: ") + strerror(errno));
  }
  std::string dir = umview::ViewSearchPath().front();
  // mkdir -p, without a shell (the path comes from the environment).
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      std::string part = dir.substr(0, i);
      if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
        return Fail("save: cannot create " + part + ": " + strerror(errno));
      }
    }
  }
  std::string file = dir + "/" + name + ".yaml";
  FILE* f = fopen(file.c_str(), "w");
  if (f == nullptr) return Fail("save: " + file + ": " + strerror(errno));
  fputs(yaml.c_str(), f);
  if (fclose(f) != 0) return Fail("save: " + file + ": " + strerror(errno));
  printf("saved %s\n", file.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (umview::ControlPing() != umview::kControlMagic) {
    return Fail("not inside a umview view (or the view has no plugin to answer)");
  }
  const std::string& cmd = args[0];
  if (cmd == "info") {
    std::string text;
    if (!umview::ControlCall(umview::kControlInfo, "", &text)) {
      return Fail(std::string("info: ") + strerror(errno));
    }
    fputs(text.c_str(), stdout);
    return 0;
  }
  if (cmd == "mount" || cmd == "umount") {
    std::string line = cmd;
    for (size_t i = 1; i < args.size(); ++i) line += " " + args[i];
    return Plugin("viewfs", line);
  }
  if (cmd == "save") return Save(args.size() == 2 ? args[1] : "");
  if ((cmd == "load" || cmd == "unload") && args.size() == 2) {
    std::string reply;
    if (!umview::ControlCall(cmd == "load" ? umview::kControlLoad : umview::kControlUnload, args[1],
                             &reply)) {
      int e = errno;
      return Fail(cmd + " " + args[1] + ": " + (reply.empty() ? strerror(e) : reply));
    }
    printf("%s\n", reply.c_str());
    return 0;
  }
  if (cmd == "load" || cmd == "unload") return Fail(cmd + ": expected one plugin");
  return Fail("unknown command '" + cmd + "' (expected info, mount, umount, save, load, unload)");
}
