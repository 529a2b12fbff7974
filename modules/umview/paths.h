// Lexical path operations shared by the core and plugins (no filesystem access, symlinks not
// followed): header-only so a plugin needs nothing from the core binary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace umview {

// Collapses "//", "." and ".." of an absolute path; ".." at the root stays at the root.
inline std::string NormalizePath(std::string_view path) {
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

// base (absolute) joined with rel, normalized; rel absolute wins.
inline std::string JoinPath(std::string_view base, std::string_view rel) {
  if (!rel.empty() && rel[0] == '/') return NormalizePath(rel);
  std::string s(base);
  s += '/';
  s += rel;
  return NormalizePath(s);
}

// True if path is prefix or lies under it ("/a/b" is under "/a", "/ab" is not).
inline bool PathUnder(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace umview
