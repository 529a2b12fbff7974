// A plugin whose Init fails on request: option `fail` returns false, `throw` throws; without
// options it loads and does nothing (the CLI tests also use it as a harmless plugin).
#include <stdexcept>

#include "umview/plugin.h"

namespace {

class BadInit : public umview::Plugin {
 public:
  bool Init(umview::Host&, const umview::Options& options, std::string* error) override {
    for (const auto& o : options) {
      if (o.key == "fail" && !o.has_value) {
        *error = "failing on request (option 'fail')";
        return false;
      }
      if (o.key == "throw" && !o.has_value) {
        throw std::runtime_error("throwing on request (option 'throw')");
      }
      *error = "unknown option '" + o.key + "' (expected fail or throw)";
      return false;
    }
    return true;
  }
};

}  // namespace

UMVIEW_PLUGIN(BadInit, "badinit", "fails its Init on request (tests only)")
