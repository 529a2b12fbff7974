// See fuzz_support.h.
#include "fuzz/fuzz_support.h"

#include <stdlib.h>

#include <filesystem>

namespace umview::fuzz {

const std::string& PrivateDir() {
  // Never destroyed: the atexit handler below runs after static destructors would have.
  static const std::string& dir = *new std::string([] {
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/umview-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) abort();  // nowhere safe to put files: stop at once
    // Plugins that make temporary directories (viewfs tmp=) make them here too.
    setenv("TMPDIR", tmpl.c_str(), 1);
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(PrivateDir(), ec);
    });
    return tmpl;
  }());
  return dir;
}

std::string Confine(std::string_view value) {
  if (value.empty()) return "";
  std::string name(value);
  for (char& c : name) {
    if (c == '/' || c == '\0') c = '_';
  }
  return PrivateDir() + "/f-" + name;
}

}  // namespace umview::fuzz
