// Lexical path operations; see path.h.
#include "core/path.h"

#include <vector>

namespace umview {

std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    std::string_view comp = path.substr(i, j - i);
    i = j;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(comp);
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

std::string JoinPath(std::string_view base, std::string_view rel) {
  if (!rel.empty() && rel[0] == '/') return NormalizePath(rel);
  std::string s(base);
  s += '/';
  s += rel;
  return NormalizePath(s);
}

bool PathUnder(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace umview
