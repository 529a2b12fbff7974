// A plugin whose descriptor, exported by hand, claims the next plugin ABI: the loader must refuse
// it.
#include "umview/plugin.h"

namespace {

class BadAbi : public umview::Plugin {
 public:
  bool Init(umview::Host&, const umview::Options&, std::string*) override { return true; }
};

umview::Plugin* Create() { return new BadAbi(); }

}  // namespace

namespace badabi_export {
const umview::PluginDescriptor descriptor{
    umview::kAbiVersion + 1, "badabi", "built for a plugin ABI this umview does not have", &Create};
}  // namespace badabi_export

BOOST_DLL_ALIAS(badabi_export::descriptor, umview_plugin_v1)
