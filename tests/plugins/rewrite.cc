// rewrite: a test plugin that redirects every path under `from` to the same place under `to`
// (-p rewrite,from=PREFIX,to=PREFIX), to show what plugins inside and outside of it see.
#include <string>
#include <string_view>

#include "umview/plugin.h"

namespace {

// "/a/b/" -> "/a/b"; "/" stays.
std::string StripTrailingSlashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

class Rewrite final : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const umview::Option& o : options) {
      if (o.key == "from" && o.has_value) {
        from_ = o.value;
      } else if (o.key == "to" && o.has_value) {
        to_ = o.value;
      } else {
        *error = "unknown option '" + o.key + "' (expected from=PREFIX, to=PREFIX)";
        return false;
      }
    }
    if (from_.empty() || to_.empty()) {
      *error = std::string("missing ") + (from_.empty() ? "from" : "to") +
               "=PREFIX (usage: -p rewrite,from=PREFIX,to=PREFIX)";
      return false;
    }
    // Path(i) is absolute and normalized, so the prefixes must be too to compare with it.
    if (from_[0] != '/' || to_[0] != '/') {
      *error = "from=" + from_ + ", to=" + to_ + ": prefixes must be absolute paths";
      return false;
    }
    from_ = StripTrailingSlashes(from_);
    to_ = StripTrailingSlashes(to_);
    host.AddMount(from_);
    host.NeedScratch();
    return true;
  }

  void OnEntry(umview::Call& call) override {
    const umview::SyscallInfo* info = call.info();
    if (info == nullptr) return;
    for (int i = 0; i < info->nargs; ++i) {
      if (info->args[i] != umview::Arg::kPath) continue;
      const std::string* path = call.Path(i);
      if (path == nullptr) continue;  // unreadable: the kernel reports it as it would outside
      std::string_view rest;
      if (!Under(*path, &rest)) continue;
      std::string target =
          to_ == "/" ? (rest.empty() ? "/" : std::string(rest)) : to_ + std::string(rest);
      if (int r = call.SetPath(i, target); r < 0) {
        // Running the call on the original path would touch the wrong file: fail it instead.
        call.Fail(-r);
        return;
      }
    }
  }

 private:
  // True if `path` is from_ or lies under it; *rest is the part after from_ ("" or "/...").
  bool Under(const std::string& path, std::string_view* rest) const {
    if (from_ == "/") {
      *rest = path == "/" ? std::string_view() : std::string_view(path);
      return true;
    }
    if (path.compare(0, from_.size(), from_) != 0) return false;
    if (path.size() != from_.size() && path[from_.size()] != '/') return false;
    *rest = std::string_view(path).substr(from_.size());
    return true;
  }

  std::string from_;
  std::string to_;
};

}  // namespace

UMVIEW_PLUGIN(Rewrite, "rewrite", "test plugin: redirects paths under from=PREFIX to to=PREFIX")
