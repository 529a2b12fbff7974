// Fuzz target: viewfs's mount table (plugins/viewfs/mount_table.cc), the lexical half of path
// resolution. Lines "K DST [SRC [LOWER...]]" add mounts (K: b bind, t tmp, h hide, r ro, e except,
// u union), "? PATH" asks where a view path leads, "< HOST" maps a host path back, "- DST" removes.
// Paths are normalized as viewfs normalizes them before they reach the table.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "plugins/viewfs/mount_table.h"
#include "umview/paths.h"

namespace {

using umview::NormalizePath;
using umview::PathUnder;
using umview::viewfs::MountKind;

void Check(bool ok, const char* what, const std::string& path) {
  if (ok) return;
  fprintf(stderr, "%s: '%s'\n", what, path.c_str());
  abort();
}

void Query(const umview::viewfs::MountTable& table, const std::string& v) {
  umview::viewfs::Place p = table.Find(v);
  Check(!p.host.empty() && p.host[0] == '/', "Find gave a relative host path for", v);
  if (p.mount != nullptr && !p.hidden && p.mount->kind != MountKind::kHide &&
      p.mount->kind != MountKind::kExcept && p.mount->kind != MountKind::kReadOnly) {
    // A content mount leads below its source, never beside or above it.
    Check(PathUnder(p.host, p.mount->src), "Find left the mount's source for", v);
  }
  if (p.hidden) Check(p.mount != nullptr && p.mount->kind == MountKind::kHide, "hidden by", v);
  std::string back = table.ToView(p.host);
  Check(!back.empty() && back[0] == '/', "ToView gave a relative path for", p.host);
  for (const auto* m : table.MountsIn(v)) Check(m != nullptr, "null mount in", v);
  (void)table.Touches(v);
  (void)table.HasMountAtOrUnder(v);
  (void)table.HasExceptUnder(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  umview::fuzz::Input in(data, size);
  umview::viewfs::MountTable table;
  int lines = 0;
  while (in.Left() > 0 && ++lines < 200) {
    std::istringstream line(in.Line());
    std::string op, dst;
    line >> op >> dst;
    if (op.empty()) continue;
    if (op == "?") {
      Query(table, NormalizePath(dst));
      continue;
    }
    if (op == "<") {
      std::string v = table.ToView(NormalizePath(dst));
      Check(!v.empty() && v[0] == '/', "ToView gave a relative path for", dst);
      continue;
    }
    if (op == "-") {
      umview::viewfs::Mount removed;
      (void)table.RemoveNewest(NormalizePath(dst), &removed);
      continue;
    }
    std::string src;
    std::vector<std::string> lowers;
    line >> src;
    for (std::string l; line >> l;) lowers.push_back(NormalizePath(l));
    MountKind kind;
    switch (op[0]) {
      case 'b':
        kind = MountKind::kBind;
        break;
      case 't':
        kind = MountKind::kTmp;
        break;
      case 'h':
        kind = MountKind::kHide;
        break;
      case 'r':
        kind = MountKind::kReadOnly;
        break;
      case 'e':
        kind = MountKind::kExcept;
        break;
      case 'u':
        kind = MountKind::kUnion;
        break;
      default:
        continue;
    }
    // Content mounts always have a host source (viewfs realpath()s it): an absolute path.
    bool content = kind == MountKind::kBind || kind == MountKind::kTmp || kind == MountKind::kUnion;
    table.Add(kind, NormalizePath(dst), content ? NormalizePath(src) : "", lowers);
    Query(table, NormalizePath(dst));
  }
  return 0;
}
