// Fuzz target: the YAML view loader (core/view_file.cc). Any bytes must give either a view or
// one "FILE:LINE:COL: message" line, never a crash; a view that loads must load again from
// what --show / umctl save print for it (ViewToYaml).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/view_file.h"
#include "fuzz/fuzz_support.h"

namespace {

std::string WriteView(const std::string& name, const char* data, size_t size) {
  std::string path = umview::fuzz::PrivateDir() + "/" + name;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) abort();
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n <= 0) abort();
    data += n;
    size -= static_cast<size_t>(n);
  }
  close(fd);
  return path;
}

// "FILE:..." and something after it (a message may quote a value that holds a newline).
void CheckError(const std::string& file, const std::string& error) {
  if (error.rfind(file + ":", 0) != 0 || error.size() <= file.size() + 1) {
    fprintf(stderr, "error does not start with the file name: '%s'\n", error.c_str());
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Plugin names are checked against the search path: give it the four shipped names.
  std::string plugins = umview::fuzz::PrivateDir() + "/plugins";
  mkdir(plugins.c_str(), 0700);
  for (const char* p : {"viewfs.so", "umnet.so", "umdev.so", "umtrace.so"}) {
    close(open((plugins + "/" + p).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  }
  setenv("UMVIEW_PLUGIN_PATH", plugins.c_str(), 1);
  setenv("HOME", umview::fuzz::PrivateDir().c_str(), 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file = WriteView("view.yaml", reinterpret_cast<const char*>(data), size);
  umview::ViewSpec view;
  std::string error;
  if (!umview::LoadViewFile(file, &view, &error)) {
    CheckError(file, error);
    return 0;
  }
  std::string yaml = umview::ViewToYaml(view);
  std::string again = WriteView("shown.yaml", yaml.data(), yaml.size());
  umview::ViewSpec reloaded;
  if (!umview::LoadViewFile(again, &reloaded, &error)) {
    fprintf(stderr, "the printed view does not load again: %s\n---\n%s---\n", error.c_str(),
            yaml.c_str());
    abort();
  }
  return 0;
}
