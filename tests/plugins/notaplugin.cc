// A shared object that exports functions but no umview_plugin_v1 descriptor: the loader must refuse
// it.
#include <boost/config.hpp>

extern "C" BOOST_SYMBOL_EXPORT int notaplugin_answer() { return 42; }
