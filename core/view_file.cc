// YAML views; see view_file.h.
#include "core/view_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "core/config.h"
#include "core/install_dirs.h"
#include "core/plugin_loader.h"

namespace umview {
namespace {

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

size_t Distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    prev.swap(cur);
  }
  return prev[b.size()];
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Errors carry the position of the node they are about.
struct ViewError {
  YAML::Mark mark;
  std::string message;
};

[[noreturn]] void Fail(const YAML::Node& n, const std::string& message) {
  throw ViewError{n.Mark(), message};
}

void CheckKeys(const YAML::Node& map, const std::vector<std::string>& valid, const char* what) {
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    std::string best;
    size_t best_d = 3;
    for (const auto& v : valid) {
      size_t d = Distance(key, v);
      if (d < best_d) best_d = d, best = v;
    }
    Fail(kv.first, "unknown key '" + key + "' in " + what +
                       (best.empty() ? " (expected one of " + Join(valid, ", ") + ")"
                                     : " (did you mean '" + best + "'?)"));
  }
}

std::string Scalar(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) Fail(n, what + " must be a string");
  return ExpandVars(n.Scalar());
}

std::string PathField(const YAML::Node& n, const std::string& what, bool must_exist) {
  std::string p = Scalar(n, what);
  if (p.empty()) Fail(n, what + " must not be empty");
  if (must_exist && !Exists(p)) Fail(n, what + " '" + p + "' does not exist");
  return p;
}

// viewfs `mounts:` entries become the plugin's command-line options.
void ViewfsMounts(const YAML::Node& mounts, Options* out) {
  if (!mounts.IsSequence()) Fail(mounts, "mounts must be a list of {type, ...} entries");
  static const std::vector<std::string> kTypes = {"bind",   "cow", "merge", "hide", "tmp",
                                                  "except", "ro",  "root",  "fuse"};
  for (const auto& m : mounts) {
    if (!m.IsMap()) Fail(m, "a mount must be a map {type, source, target, ...}");
    CheckKeys(m, {"type", "source", "target", "upper", "layers", "readonly", "program"}, "a mount");
    if (!m["type"]) Fail(m, "missing field 'type' (expected one of " + Join(kTypes, ", ") + ")");
    std::string type = Scalar(m["type"], "type");
    if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
      Fail(m["type"], "unknown mount type '" + type + "' (expected " + Join(kTypes, ", ") + ")");
    }
    auto need = [&](const char* key) -> YAML::Node {
      if (!m[key]) Fail(m, "missing field '" + std::string(key) + "' for a " + type + " mount");
      return m[key];
    };
    std::string target = type == "root" ? "" : PathField(need("target"), "target", false);
    if (!target.empty() && target[0] != '/') {
      Fail(m["target"], "target must be an absolute path of the view");
    }
    if (type == "bind") {
      out->push_back({"bind", PathField(need("source"), "source", true) + ":" + target, true});
    } else if (type == "cow") {
      out->push_back({"cow", target + ":" + PathField(need("upper"), "upper", true), true});
    } else if (type == "merge") {
      YAML::Node layers = need("layers");
      if (!layers.IsSequence() || layers.size() == 0) Fail(layers, "layers must be a list of dirs");
      std::vector<std::string> l;
      for (const auto& x : layers) l.push_back(PathField(x, "layer", true));
      out->push_back({"merge", target + ":" + Join(l, "+"), true});
    } else if (type == "root") {
      out->push_back({"root", PathField(need("source"), "source", true), true});
    } else if (type == "fuse") {
      // viewfs's fuse=MNT:PROGRAM+ARG+...: the FUSE program started in the view at startup.
      YAML::Node prog = need("program");
      if (!prog.IsSequence() || prog.size() == 0) {
        Fail(prog, "program must be a list [PROGRAM, ARG, ...]");
      }
      std::vector<std::string> argv;
      for (const auto& x : prog) {
        std::string a = Scalar(x, "program");
        if (a.empty() || a.find('+') != std::string::npos) {
          Fail(x, "program arguments must be non-empty and without '+'");
        }
        argv.push_back(a);
      }
      out->push_back({"fuse", target + ":" + Join(argv, "+"), true});
    } else {
      out->push_back({type, target, true});
    }
    if (m["readonly"]) {
      if (!m["readonly"].IsScalar() ||
          (m["readonly"].Scalar() != "true" && m["readonly"].Scalar() != "false")) {
        Fail(m["readonly"], "readonly must be true or false");
      }
      if (m["readonly"].Scalar() == "true")
        out->push_back({"ro", target.empty() ? "/" : target, true});
    }
  }
}

// Other plugins' options: key: scalar -> key=value; key: true -> flag; key: [a, b] -> key=a+b.
void GenericOptions(const YAML::Node& opts, Options* out) {
  for (const auto& kv : opts) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (v.IsScalar()) {
      if (v.Scalar() == "true") {
        out->push_back({key, "", false});
      } else if (v.Scalar() != "false") {
        out->push_back({key, ExpandVars(v.Scalar()), true});
      }
    } else if (v.IsSequence()) {
      std::vector<std::string> items;
      for (const auto& x : v) items.push_back(Scalar(x, key));
      out->push_back({key, Join(items, "+"), true});
    } else {
      Fail(v, "option '" + key + "' must be a string, a boolean or a list");
    }
  }
}

void Parse(const YAML::Node& root, ViewSpec* out) {
  if (!root.IsMap()) Fail(root, "a view must be a map with version: 1 and plugins:");
  CheckKeys(root, {"version", "description", "engine", "command", "cwd", "env", "plugins"},
            "the view");
  if (!root["version"]) Fail(root, "missing field 'version' (expected version: 1)");
  if (!root["version"].IsScalar() || root["version"].Scalar() != "1") {
    Fail(root["version"], "unsupported version '" + root["version"].as<std::string>("?") +
                              "' (this umview reads version 1)");
  }
  if (root["description"]) out->description = Scalar(root["description"], "description");
  if (root["engine"]) {
    out->engine = Scalar(root["engine"], "engine");
    if (out->engine != "ptrace" && out->engine != "kmview" && out->engine != "auto") {
      Fail(root["engine"], "unknown engine '" + out->engine + "' (expected ptrace, kmview, auto)");
    }
  }
  if (YAML::Node c = root["command"]) {
    if (c.IsScalar()) {
      out->command = {"/bin/sh", "-c", ExpandVars(c.Scalar())};
    } else if (c.IsSequence() && c.size() > 0) {
      for (const auto& x : c) out->command.push_back(Scalar(x, "command"));
    } else {
      Fail(c, "command must be a string (run by /bin/sh -c) or a non-empty list");
    }
  }
  if (root["cwd"]) out->cwd = PathField(root["cwd"], "cwd", false);
  if (YAML::Node e = root["env"]) {
    if (!e.IsMap()) Fail(e, "env must be a map NAME: value");
    for (const auto& kv : e) {
      out->env.push_back({kv.first.as<std::string>(), Scalar(kv.second, "env value")});
    }
  }
  YAML::Node plugins = root["plugins"];
  if (!plugins) return;
  if (!plugins.IsSequence()) Fail(plugins, "plugins must be a list of {name, options}");
  for (const auto& p : plugins) {
    if (!p.IsMap()) Fail(p, "a plugin must be a map {name, options}");
    CheckKeys(p, {"name", "options"}, "a plugin");
    if (!p["name"]) Fail(p, "missing field 'name' of a plugin");
    PluginSpec spec;
    spec.spec = Scalar(p["name"], "name");
    if (FindPlugin(spec.spec).empty()) {
      std::string dirs = Join(PluginSearchPath(), ":");
      Fail(p["name"], "unknown plugin '" + spec.spec + "' (searched " + dirs + ")");
    }
    if (YAML::Node o = p["options"]) {
      if (!o.IsMap()) Fail(o, "options must be a map");
      std::string base = spec.spec.substr(spec.spec.rfind('/') + 1);
      if (base == "viewfs" || base == "viewfs.so") {
        for (const auto& kv : o) {
          if (kv.first.as<std::string>() != "mounts") {
            Fail(kv.first, "unknown key '" + kv.first.as<std::string>() +
                               "' in viewfs options (expected mounts)");
          }
        }
        if (o["mounts"]) ViewfsMounts(o["mounts"], &spec.options);
      } else {
        GenericOptions(o, &spec.options);
      }
    }
    out->plugins.push_back(std::move(spec));
  }
}

}  // namespace

std::string ExpandVars(const std::string& s) {
  std::string out;
  size_t i = 0;
  if (!s.empty() && s[0] == '~' && (s.size() == 1 || s[1] == '/')) {
    const char* home = getenv("HOME");
    out = home ? home : "";
    i = 1;
  }
  while (i < s.size()) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      out += s[i++];
      continue;
    }
    size_t j = i + 1;
    std::string name;
    if (s[j] == '{') {
      size_t close = s.find('}', j);
      if (close == std::string::npos) {
        out += s.substr(i);
        break;
      }
      name = s.substr(j + 1, close - j - 1);
      i = close + 1;
    } else {
      while (j < s.size() && (isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j == i + 1) {
        out += s[i++];
        continue;
      }
      name = s.substr(i + 1, j - i - 1);
      i = j;
    }
    const char* v = getenv(name.c_str());
    out += v ? v : "";
  }
  return out;
}

std::vector<std::string> ViewSearchPath() {
  std::vector<std::string> dirs;
  if (const char* x = getenv("XDG_CONFIG_HOME"); x && *x) {
    dirs.push_back(std::string(x) + "/umview/views");
  } else if (const char* home = getenv("HOME"); home && *home) {
    dirs.push_back(std::string(home) + "/.config/umview/views");
  }
  // UMVIEW_SYSTEM_VIEWS replaces /etc/umview/views (tests, and packagers checking a tree).
  const char* sys = getenv("UMVIEW_SYSTEM_VIEWS");
  dirs.push_back(sys && *sys ? sys : "/etc/umview/views");
  // Last, the example views installed with this binary (share/umview/views), so that
  // `umview --view dev-sandbox` works after installing; the build tree has none.
  std::string shipped = InstalledDirNextToSelf(kRelativeViewDir);
  if (!shipped.empty()) dirs.push_back(shipped);
  return dirs;
}

std::string FindView(const std::string& name) {
  for (const auto& d : ViewSearchPath()) {
    std::string p = d + "/" + name + ".yaml";
    if (Exists(p)) return p;
  }
  return "";
}

std::string BuiltinDefaultView() {
  std::string beside = InstalledDirNextToSelf(kRelativeViewDir);
  if (!beside.empty() && Exists(beside + "/default.yaml")) return beside + "/default.yaml";
  for (const std::string& p : {std::string(kInstalledViewDir) + "/default.yaml",
                               std::string(kSourceDir) + "/config/default.yaml"}) {
    if (Exists(p)) return p;
  }
  return "";
}

// The whole of a view file, or false with "FILE: reason".
static bool ReadViewText(const std::string& file, std::string* text, std::string* error) {
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    *error = file + ": " + strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    *error = file + ": " + (S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    return false;
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = file + ": " + strerror(errno);
      close(fd);
      return false;
    }
    if (n == 0) break;
    text->append(buf, n);
  }
  close(fd);
  return true;
}

bool LoadViewFile(const std::string& file, ViewSpec* out, std::string* error) {
  // Read it ourselves: yaml-cpp's LoadFile reports a directory or an I/O error as an iostream
  // exception without the reason.
  std::string text;
  if (!ReadViewText(file, &text, error)) return false;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    *error = file + ":" + std::to_string(e.mark.line + 1) + ":" +
             std::to_string(e.mark.column + 1) + ": " + e.msg;
    return false;
  }
  *out = ViewSpec{};
  out->file = file;
  std::string base = file.substr(file.rfind('/') + 1);
  out->name = base.size() > 5 && base.compare(base.size() - 5, 5, ".yaml") == 0
                  ? base.substr(0, base.size() - 5)
                  : base;
  try {
    Parse(root, out);
  } catch (const ViewError& e) {
    *error = file + ":" + std::to_string(e.mark.line + 1) + ":" +
             std::to_string(e.mark.column + 1) + ": " + e.message;
    return false;
  } catch (const YAML::Exception& e) {
    *error = file + ":" + std::to_string(e.mark.line + 1) + ":" +
             std::to_string(e.mark.column + 1) + ": " + e.msg;
    return false;
  }
  return true;
}

namespace {

// viewfs options back to `mounts:` entries (the inverse of ViewfsMounts).
void EmitViewfsMounts(YAML::Emitter& y, const Options& options) {
  y << YAML::Key << "mounts" << YAML::Value << YAML::BeginSeq;
  for (const auto& o : options) {
    y << YAML::Flow << YAML::BeginMap << YAML::Key << "type" << YAML::Value << o.key;
    size_t colon = o.value.find(':');
    if (o.key == "bind" && colon != std::string::npos) {
      y << YAML::Key << "source" << YAML::Value << o.value.substr(0, colon);
      y << YAML::Key << "target" << YAML::Value << o.value.substr(colon + 1);
    } else if (o.key == "cow" && colon != std::string::npos) {
      y << YAML::Key << "target" << YAML::Value << o.value.substr(0, colon);
      y << YAML::Key << "upper" << YAML::Value << o.value.substr(colon + 1);
    } else if (o.key == "merge" && colon != std::string::npos) {
      y << YAML::Key << "target" << YAML::Value << o.value.substr(0, colon);
      std::vector<std::string> layers;
      std::string rest = o.value.substr(colon + 1);
      for (size_t i = 0; i <= rest.size();) {
        size_t j = rest.find('+', i);
        if (j == std::string::npos) j = rest.size();
        if (j > i) layers.push_back(rest.substr(i, j - i));
        i = j + 1;
      }
      y << YAML::Key << "layers" << YAML::Value << YAML::Flow << layers;
    } else if (o.key == "root") {
      y << YAML::Key << "source" << YAML::Value << o.value;
    } else {
      y << YAML::Key << "target" << YAML::Value << o.value;
    }
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;
}

}  // namespace

std::string ViewToYaml(const ViewSpec& v) {
  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "version" << YAML::Value << 1;
  if (!v.description.empty()) y << YAML::Key << "description" << YAML::Value << v.description;
  if (!v.engine.empty()) y << YAML::Key << "engine" << YAML::Value << v.engine;
  if (!v.command.empty()) {
    y << YAML::Key << "command" << YAML::Value << YAML::Flow << v.command;
  }
  if (!v.cwd.empty()) y << YAML::Key << "cwd" << YAML::Value << v.cwd;
  if (!v.env.empty()) {
    y << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, val] : v.env) y << YAML::Key << k << YAML::Value << val;
    y << YAML::EndMap;
  }
  y << YAML::Key << "plugins" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : v.plugins) {
    y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << p.spec;
    if (!p.options.empty()) {
      y << YAML::Key << "options" << YAML::Value << YAML::BeginMap;
      std::string base = p.spec.substr(p.spec.rfind('/') + 1);
      if (base == "viewfs" || base == "viewfs.so") {
        EmitViewfsMounts(y, p.options);
      } else {
        for (const auto& o : p.options) {
          y << YAML::Key << o.key << YAML::Value;
          if (o.has_value) {
            y << o.value;
          } else {
            y << true;
          }
        }
      }
      y << YAML::EndMap;
    }
    y << YAML::EndMap;
  }
  y << YAML::EndSeq << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

}  // namespace umview
