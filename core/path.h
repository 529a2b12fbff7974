// Lexical path operations used for routing (no filesystem access, symlinks not followed).
#pragma once

#include <string>
#include <string_view>

namespace umview {

// Collapses "//", "." and ".." of an absolute path; ".." at the root stays at the root.
std::string NormalizePath(std::string_view path);
// base (absolute) joined with rel, normalized; rel absolute wins.
std::string JoinPath(std::string_view base, std::string_view rel);
// True if path is prefix or lies under it ("/a/b" is under "/a", "/ab" is not).
bool PathUnder(std::string_view path, std::string_view prefix);

}  // namespace umview
