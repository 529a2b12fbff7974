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
};

inline bool IsWhiteoutName(const std::string& name) { return name.rfind(".wh.", 0) == 0; }

// rel: the path below the mount point, "" or "/a/b".
LayerHit LocateInUnion(const Mount& m, const std::string& rel);
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
// The merged directory rel: every layer, upper first, minus whiteouts, each name once.
std::vector<UnionEntry> ListUnion(const Mount& m, const std::string& rel);
// Removes the whiteout files of upper directory rel (before it is removed itself).
void ClearUpperDir(const Mount& m, const std::string& rel);

}  // namespace umview::viewfs
