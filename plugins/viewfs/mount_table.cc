// viewfs mount table; see mount_table.h.
#include "plugins/viewfs/mount_table.h"

#include "umview/paths.h"

namespace umview::viewfs {
namespace {

bool Under(std::string_view path, std::string_view prefix) { return PathUnder(path, prefix); }

bool Content(MountKind k) { return k != MountKind::kReadOnly; }

}  // namespace

void MountTable::Add(MountKind kind, std::string dst, std::string src,
                     std::vector<std::string> lowers) {
  mounts_.push_back({kind, std::move(dst), std::move(src), ++seq_, std::move(lowers)});
}

bool MountTable::RemoveNewest(std::string_view dst, Mount* removed) {
  auto best = mounts_.end();
  for (auto it = mounts_.begin(); it != mounts_.end(); ++it) {
    if (it->dst == dst && (best == mounts_.end() || it->seq > best->seq)) best = it;
  }
  if (best == mounts_.end()) return false;
  *removed = *best;
  mounts_.erase(best);
  return true;
}

bool MountTable::has_content() const {
  for (const Mount& m : mounts_) {
    if (m.kind == MountKind::kBind || m.kind == MountKind::kTmp || m.kind == MountKind::kUnion) {
      return true;
    }
  }
  return false;
}

Place MountTable::Find(std::string_view v) const {
  Place p;
  const Mount* best = nullptr;
  size_t ro_len = 0;
  bool ro = false;
  for (const Mount& m : mounts_) {
    if (!Under(v, m.dst)) continue;
    if (!Content(m.kind)) {
      if (!ro || m.dst.size() >= ro_len) ro_len = m.dst.size();
      ro = true;
      continue;
    }
    if (best == nullptr || m.dst.size() > best->dst.size() ||
        (m.dst.size() == best->dst.size() && m.seq > best->seq)) {
      best = &m;
    }
  }
  p.mount = best;
  p.host = std::string(v);
  if (best != nullptr) {
    switch (best->kind) {
      case MountKind::kHide:
        p.hidden = true;
        break;
      case MountKind::kBind:
      case MountKind::kTmp:
      case MountKind::kUnion: {
        // rest: "" at the mount point, else "/a/b" (for a mount at "/", v itself unless "/").
        std::string_view rest =
            best->dst == "/" ? (v == "/" ? std::string_view() : v) : v.substr(best->dst.size());
        p.rel = std::string(rest);
        p.host = best->src == "/" ? (rest.empty() ? "/" : std::string(rest))
                                  : best->src + std::string(rest);
        p.translated = p.host != v;
        break;
      }
      default:
        break;
    }
  }
  // An except deeper than the ro mount lets its subtree through unprotected.
  bool except_deeper =
      best != nullptr && best->kind == MountKind::kExcept && best->dst.size() > ro_len;
  p.read_only = ro && !except_deeper;
  return p;
}

std::string MountTable::ToView(std::string_view host) const {
  const Mount* best = nullptr;
  const std::string* best_src = nullptr;
  for (const Mount& m : mounts_) {
    if (m.kind != MountKind::kBind && m.kind != MountKind::kTmp && m.kind != MountKind::kUnion) {
      continue;
    }
    auto consider = [&](const std::string& src) {
      if (!Under(host, src)) return;
      if (best == nullptr || src.size() > best_src->size() ||
          (src.size() == best_src->size() && m.seq > best->seq)) {
        best = &m;
        best_src = &src;
      }
    };
    consider(m.src);
    for (const auto& l : m.lowers) consider(l);
  }
  if (best == nullptr) return std::string(host);
  std::string_view rest = host.substr(*best_src == "/" ? 0 : best_src->size());
  std::string view =
      best->dst == "/" ? (rest.empty() ? "/" : std::string(rest)) : best->dst + std::string(rest);
  // Only if the view path really leads there (a later mount may cover it); a union's layers
  // all show at its mount point.
  if (best->kind == MountKind::kUnion) return Find(view).mount == best ? view : std::string(host);
  return Find(view).host == host ? view : std::string(host);
}

std::vector<const Mount*> MountTable::MountsIn(std::string_view dir) const {
  std::vector<const Mount*> out;
  for (const Mount& m : mounts_) {
    if (m.dst == "/" || !Under(m.dst, dir) || m.dst.size() <= dir.size()) continue;
    std::string_view rest = std::string_view(m.dst).substr(dir == "/" ? 1 : dir.size() + 1);
    if (rest.find('/') == std::string_view::npos) out.push_back(&m);
  }
  return out;
}

bool MountTable::HasMountAtOrUnder(std::string_view v) const {
  for (const Mount& m : mounts_) {
    if (Under(m.dst, v)) return true;
  }
  return false;
}

bool MountTable::HasExceptUnder(std::string_view v) const {
  for (const Mount& m : mounts_) {
    if (m.kind == MountKind::kExcept && m.dst.size() > v.size() && Under(m.dst, v)) return true;
  }
  return false;
}

bool MountTable::Touches(std::string_view v) const {
  for (const Mount& m : mounts_) {
    if (Under(v, m.dst) || Under(m.dst, v)) return true;
  }
  return false;
}

}  // namespace umview::viewfs
