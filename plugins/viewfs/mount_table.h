// viewfs mount table: what each view path shows (lexically), and host paths back to view paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace umview::viewfs {

// kUnion: layers (cow=DST:UPPER has the host DST as its one lower layer; merge=DST:A+B+C has
// upper A and lowers B, C). Which layer holds a name is decided by viewfs (union.h), not here.
enum class MountKind { kBind, kTmp, kHide, kReadOnly, kExcept, kUnion };

struct Mount {
  MountKind kind;
  std::string dst;  // view path, normalized
  std::string src;  // host path (bind, tmp); the upper layer (union)
  uint64_t seq = 0;
  std::vector<std::string> lowers;  // union: lower layers, first wins
};

// Where a view path leads, before symlinks are considered.
struct Place {
  std::string host;              // the host path that holds it
  const Mount* mount = nullptr;  // the content mount (bind/tmp/hide/except) or null
  bool hidden = false;
  bool read_only = false;
  bool translated = false;  // host differs from the view path
  std::string rel;          // the path below the mount point ("" at it), for unions
};

class MountTable {
 public:
  // Later mounts over the same path win.
  void Add(MountKind kind, std::string dst, std::string src = "",
           std::vector<std::string> lowers = {});
  bool empty() const { return mounts_.empty(); }
  uint64_t last_seq() const { return seq_; }
  // Removes the newest mount at `dst`; false if there is none. *removed gets a copy.
  bool RemoveNewest(std::string_view dst, Mount* removed);
  bool has_content() const;  // any bind or tmp: host paths differ from view paths somewhere

  Place Find(std::string_view view_path) const;
  // The view path showing host path `host`, or `host` itself when no bind maps it there.
  std::string ToView(std::string_view host) const;
  // Names of mount points (bind/tmp) directly in view directory `dir`.
  std::vector<const Mount*> MountsIn(std::string_view dir) const;
  // True if some mount lies strictly under `dir`, or `dir` is under a mount.
  bool Touches(std::string_view view_path) const;
  // True if a mount's DST is view_path or lies under it.
  bool HasMountAtOrUnder(std::string_view view_path) const;
  // True if an except mount lies strictly under `view_path`.
  bool HasExceptUnder(std::string_view view_path) const;
  const std::vector<Mount>& mounts() const { return mounts_; }

 private:
  std::vector<Mount> mounts_;
  uint64_t seq_ = 0;
};

}  // namespace umview::viewfs
