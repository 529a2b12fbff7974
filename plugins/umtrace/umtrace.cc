// placeholder replaced below
#include "umview/plugin.h"
class Umtrace : public umview::Plugin {
 public:
  bool Init(umview::Host& h, const umview::Options&, std::string*) override { h.ClaimAllSyscalls(); return true; }
};
UMVIEW_PLUGIN(Umtrace, "umtrace", "strace-like log")
