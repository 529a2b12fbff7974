// Test plugin "sysvm": drives each SYSVM outcome (skip, run with exit, run changed) on named calls.
//
// Options (repeatable, any mix; NAME is a syscall name, numbers are C literals, may be negative):
//   skip=NAME:VALUE      complete the call at entry; the tracee receives VALUE (-13 = EACCES)
//   exitset=NAME:VALUE   run it, then replace its result with VALUE at exit
//   exitadd=NAME:N       run it, then add N to its real result at exit
//   setarg=NAME:I:VALUE  change argument I to VALUE and let it run (no exit stop)
//   readstr=NAME:I       read argument I as a string at entry; on failure the call fails with
//                        that error (-EFAULT, -ENAMETOOLONG), on success it runs untouched
//   throw=NAME           OnEntry throws std::runtime_error (the core must turn it into EIO)
// Several rules on one call apply in the order above: throw, readstr, setarg, skip, exit*.
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "umview/plugin.h"

namespace {

struct Rule {
  bool do_throw = false;
  int readstr_arg = -1;
  std::vector<std::pair<int, uint64_t>> setargs;
  bool skip = false;
  int64_t skip_value = 0;
  bool exitset = false;
  int64_t exitset_value = 0;
  bool exitadd = false;
  int64_t exitadd_value = 0;
};

// Splits "a:b:c" into its parts.
std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    size_t j = s.find(':', i);
    parts.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) return parts;
    i = j + 1;
  }
}

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = strtoll(s.c_str(), &end, 0);
  if (errno != 0 || *end != '\0') {
    // Allow unsigned 64-bit literals such as 0xffffffffffffff9c.
    errno = 0;
    unsigned long long u = strtoull(s.c_str(), &end, 0);
    if (errno != 0 || *end != '\0') return false;
    v = static_cast<long long>(u);
  }
  *out = v;
  return true;
}

class Sysvm final : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const umview::Option& o : options) {
      if (!Parse(o, error)) return false;
    }
    if (rules_.empty()) {
      *error = "no rule given (expected skip=, exitset=, exitadd=, setarg=, readstr=, throw=)";
      return false;
    }
    for (const auto& [nr, rule] : rules_) host.ClaimSyscall(nr);
    return true;
  }

  void OnEntry(umview::Call& call) override {
    auto it = rules_.find(call.nr());
    if (it == rules_.end()) return;
    const Rule& r = it->second;
    if (r.do_throw) {
      throw std::runtime_error("sysvm: throw rule on " + std::string(call.info()->name));
    }
    if (r.readstr_arg >= 0) {
      std::string s;
      int64_t n = call.ReadString(umview::RemotePtr<char>(call.arg(r.readstr_arg)), &s);
      if (n < 0) {
        call.Return(n);
        return;
      }
    }
    for (const auto& [i, v] : r.setargs) call.SetArg(i, v);
    if (r.skip) {
      call.Return(r.skip_value);
      return;
    }
    if (r.exitset || r.exitadd) call.RequestExit();
  }

  void OnExit(umview::Call& call) override {
    auto it = rules_.find(call.nr());
    if (it == rules_.end()) return;
    const Rule& r = it->second;
    if (r.exitset) call.SetResult(r.exitset_value);
    if (r.exitadd) call.SetResult(call.result() + r.exitadd_value);
  }

 private:
  bool Parse(const umview::Option& o, std::string* error) {
    const std::string& k = o.key;
    size_t want;  // number of ':'-separated parts
    if (k == "throw") {
      want = 1;
    } else if (k == "skip" || k == "exitset" || k == "exitadd" || k == "readstr") {
      want = 2;
    } else if (k == "setarg") {
      want = 3;
    } else {
      *error =
          "unknown option '" + k + "' (expected skip, exitset, exitadd, setarg, readstr or throw)";
      return false;
    }
    std::vector<std::string> parts = o.has_value ? Split(o.value) : std::vector<std::string>{};
    if (parts.size() != want) {
      static const char* const kForms[] = {"", "NAME", "NAME:VALUE", "NAME:I:VALUE"};
      *error = "option '" + k + "=" + o.value + "': expected " + k + "=" + kForms[want];
      return false;
    }
    int nr = umview::SyscallByName(parts[0]);
    if (nr < 0) {
      *error = "option '" + k + "=" + o.value + "': unknown system call '" + parts[0] + "'";
      return false;
    }
    Rule& r = rules_[nr];
    int64_t a = 0, b = 0;
    if (want >= 2 && !ParseInt(parts[1], &a)) {
      *error = "option '" + k + "=" + o.value + "': '" + parts[1] + "' is not a number";
      return false;
    }
    if (want == 3 && !ParseInt(parts[2], &b)) {
      *error = "option '" + k + "=" + o.value + "': '" + parts[2] + "' is not a number";
      return false;
    }
    if ((k == "setarg" || k == "readstr") && (a < 0 || a > 5)) {
      *error = "option '" + k + "=" + o.value + "': argument index must be 0..5";
      return false;
    }
    if (k == "throw") {
      r.do_throw = true;
    } else if (k == "skip") {
      r.skip = true;
      r.skip_value = a;
    } else if (k == "exitset") {
      r.exitset = true;
      r.exitset_value = a;
    } else if (k == "exitadd") {
      r.exitadd = true;
      r.exitadd_value = a;
    } else if (k == "readstr") {
      r.readstr_arg = static_cast<int>(a);
    } else {
      r.setargs.push_back({static_cast<int>(a), static_cast<uint64_t>(b)});
    }
    return true;
  }

  std::unordered_map<int, Rule> rules_;
};

}  // namespace

UMVIEW_PLUGIN(Sysvm, "sysvm", "test plugin: skip, rewrite or post-process named system calls")
