// ports=private port mapping; see port_map.h.
#include "plugins/umnet/port_map.h"

namespace umnet {

uint16_t PortMap::BindTarget(int type, uint16_t view) const {
  if (auto p = pins_.find(view); p != pins_.end()) return p->second;
  if (auto h = HostFor(type, view)) return *h;
  return 0;
}

void PortMap::Record(int type, uint16_t view, uint16_t host) {
  if (auto old = to_host_.find({type, view}); old != to_host_.end()) {
    to_view_.erase({type, old->second});
  }
  if (auto old = to_view_.find({type, host}); old != to_view_.end()) {
    to_host_.erase({type, old->second});
  }
  to_host_[{type, view}] = host;
  to_view_[{type, host}] = view;
}

std::optional<uint16_t> PortMap::HostFor(int type, uint16_t view) const {
  if (auto it = to_host_.find({type, view}); it != to_host_.end()) return it->second;
  if (auto p = pins_.find(view); p != pins_.end()) return p->second;
  return std::nullopt;
}

std::optional<uint16_t> PortMap::ViewFor(int type, uint16_t host) const {
  if (auto it = to_view_.find({type, host}); it != to_view_.end()) return it->second;
  for (const auto& [view, pinned] : pins_) {
    if (pinned == host) return view;
  }
  return std::nullopt;
}

bool PortMap::Knows(uint16_t view) const {
  if (pins_.count(view)) return true;
  for (const auto& [key, host] : to_host_) {
    if (key.second == view) return true;
  }
  return false;
}

bool PortMap::Maps(int type) const {
  if (!pins_.empty()) return true;
  for (const auto& [key, view] : to_view_) {
    if (key.first == type) return true;
  }
  return false;
}

}  // namespace umnet
