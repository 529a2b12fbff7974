// viewfs mount table; see mount_table.h.
#include "plugins/viewfs/mount_table.h"

namespace umview::viewfs {
namespace {

bool Under(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool Content(MountKind k) { return k != MountKind::kReadOnly; }

}  // namespace

void MountTable::Add(MountKind kind, std::string dst, std::string src) {
  mounts_.push_back({kind, std::move(dst), std::move(src), ++seq_});
}

bool MountTable::has_content() const {
  for (const Mount& m : mounts_) {
    if (m.kind == MountKind::kBind || m.kind == MountKind::kTmp) return true;
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
      case MountKind::kTmp: {
        std::string_view rest = v.substr(best->dst == "/" ? 0 : best->dst.size());
        p.host =
            best->src == "/" && !rest.empty() ? std::string(rest) : best->src + std::string(rest);
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
  for (const Mount& m : mounts_) {
    if (m.kind != MountKind::kBind && m.kind != MountKind::kTmp) continue;
    if (!Under(host, m.src)) continue;
    if (best == nullptr || m.src.size() > best->src.size() ||
        (m.src.size() == best->src.size() && m.seq > best->seq)) {
      best = &m;
    }
  }
  if (best == nullptr) return std::string(host);
  std::string_view rest = host.substr(best->src == "/" ? 0 : best->src.size());
  std::string view =
      best->dst == "/" ? (rest.empty() ? "/" : std::string(rest)) : best->dst + std::string(rest);
  // Only if the view path really shows this host path (a later mount may cover it).
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
