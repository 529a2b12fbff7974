// Test plugin "family": socket()/socketpair() of address family AF fail with ERRNO.
//   -p family,af=2,errno=13      (AF_INET refused with EACCES)
#include <string>

#include "umview/plugin.h"

namespace {

class FamilyPlugin : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    for (const auto& o : options) {
      if (o.key == "af" && o.has_value) {
        af_ = std::stoi(o.value);
      } else if (o.key == "errno" && o.has_value) {
        err_ = std::stoi(o.value);
      } else {
        *error = "unknown option '" + o.key + "' (expected af=N, errno=N)";
        return false;
      }
    }
    if (af_ < 0) {
      *error = "af=N is required";
      return false;
    }
    host.ClaimSocketFamily(af_);
    return true;
  }
  void OnEntry(umview::Call& call) override {
    if (static_cast<int>(call.arg(0)) != af_) {
      call.Fail(99);  // routed a family it did not claim: make it visible
      return;
    }
    call.Fail(err_);
  }

 private:
  int af_ = -1;
  int err_ = 13;
};

}  // namespace

UMVIEW_PLUGIN(FamilyPlugin, "family", "test: refuse sockets of one address family")
