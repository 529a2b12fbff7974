// Bench plugin "benchtrap": traps named calls and does the least a plugin can, so the bench
// measures what one trapped call costs in each SYSVM outcome, without a plugin's own work.
//
// Options (repeatable):
//   pass=NAME   claim NAME and let it run untouched: outcome (ii), one stop, no exit report
//   skip=NAME   claim NAME and complete it at entry with 0: outcome (iii), one stop, the kernel
//               never runs it
//   exit=NAME   claim NAME and ask for its exit: outcome (i), two stops
#include <string>
#include <unordered_map>

#include "umview/plugin.h"

namespace {

enum class Outcome { kPass, kSkip, kExit };

class BenchTrap final : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const umview::Option& o : options) {
      Outcome what;
      if (o.key == "pass") {
        what = Outcome::kPass;
      } else if (o.key == "skip") {
        what = Outcome::kSkip;
      } else if (o.key == "exit") {
        what = Outcome::kExit;
      } else {
        *error = "unknown option '" + o.key + "' (expected pass=NAME, skip=NAME or exit=NAME)";
        return false;
      }
      int nr = o.has_value ? umview::SyscallByName(o.value) : -1;
      if (nr < 0) {
        *error = o.key + ": unknown system call '" + o.value + "'";
        return false;
      }
      rules_[nr] = what;
      host.ClaimSyscall(nr);
    }
    if (rules_.empty()) {
      *error = "no call given (expected pass=NAME, skip=NAME or exit=NAME)";
      return false;
    }
    return true;
  }

  void OnEntry(umview::Call& call) override {
    auto it = rules_.find(call.nr());
    if (it == rules_.end()) return;
    if (it->second == Outcome::kSkip) call.Return(0);
    if (it->second == Outcome::kExit) call.RequestExit();
  }

 private:
  std::unordered_map<int, Outcome> rules_;
};

}  // namespace

UMVIEW_PLUGIN(BenchTrap, "benchtrap", "bench: trap named calls and pass, skip or report the exit")
