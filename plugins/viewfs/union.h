// Union mounts (cow, merge): which layer holds a name, copy-up, whiteouts and merged listings.
// The upper layer is a host directory; a deleted name is recorded as a file ".wh.NAME" beside
// it, and a directory recreated over a deleted one holds ".wh..wh..opq" (lower layers' contents
// under it are not shown). Names starting with ".wh." are never shown in the view.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugins/viewfs/mount_table.h"

namespace umview::viewfs {

struct LayerHit {
  std::string host;  // where the name is, or where it would be created (upper)
  bool exists = false;
  bool in_upper = false;  // exists in the upper layer
  bool in_lower = false;  // some lower layer has it (and it is not whited out)
  bool whiteout = false;  // deleted in the view
  // An upper directory above it is opaque (recreated over a deleted one): no lower layer shows
  // below it.
  bool lowers_hidden = false;
  const Mount* mount = nullptr;  // of the union
  std::string rel;               // the path looked up, below the mount point
  uint32_t mode = 0;             // lstat's st_mode of host, when it exists
  // The path (like rel) of a directory or name the upper layer does not have, at or above this
  // name ("" when the upper layer has it): nothing below it is in the upper layer either.
  std::string upper_gap;
};

inline bool IsWhiteoutName(const std::string& name) { return name.rfind(".wh.", 0) == 0; }

// rel: the path below the mount point, "" or "/a/b". above: the hit of a directory above rel
// in the same call (a walk's previous component), or null.
LayerHit LocateInUnion(const Mount& m, const std::string& rel, const LayerHit* above);
// mkdir -p of rel's parent in the upper layer, with the modes of the directories it mirrors.
int EnsureUpperParents(const Mount& m, const std::string& rel);
// Copies rel from the layer holding it into the upper layer: a temporary file renamed into
// place, so a crash leaves either no copy or a whole one. 0 or -errno.
int CopyUp(const Mount& m, const std::string& rel);
int AddWhiteout(const Mount& m, const std::string& rel);
// Returns true if a whiteout was there.
bool RemoveWhiteout(const Mount& m, const std::string& rel);
int MarkOpaque(const Mount& m, const std::string& rel);

struct UnionEntry {
  std::string name;
  uint64_t ino;
  unsigned char type;
};
// The merged directory rel: every layer, upper first, minus whiteouts, each name once. h:
// LocateInUnion(m, rel), when the caller has it.
std::vector<UnionEntry> ListUnion(const Mount& m, const std::string& rel);
std::vector<UnionEntry> ListUnion(const Mount& m, const std::string& rel, const LayerHit& h);
// Removes the whiteout files of upper directory rel (before it is removed itself).
void ClearUpperDir(const Mount& m, const std::string& rel);

}  // namespace umview::viewfs
