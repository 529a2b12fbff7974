// ports=private: the host port the kernel gave each port a view bound, per socket type
// (TCP and UDP ports are separate spaces; IPv4 and IPv6 share one, as in the kernel).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace umnet {

class PortMap {
 public:
  // publish=HOST:VIEW: binds of VIEW (any type) get HOST instead of a kernel-chosen port.
  void Pin(uint16_t view, uint16_t host) { pins_[view] = host; }
  // The host port a bind of `view` should ask the kernel for: the pin, else the port this view
  // port had before (so a second bind while the first socket lives fails with EADDRINUSE, as it
  // would outside), else 0 (the kernel chooses).
  uint16_t BindTarget(int type, uint16_t view) const;
  void Record(int type, uint16_t view, uint16_t host);
  std::optional<uint16_t> HostFor(int type, uint16_t view) const;
  std::optional<uint16_t> ViewFor(int type, uint16_t host) const;
  // Whether `view` is mapped for some type (a cheap test before inspecting the socket).
  bool Knows(uint16_t view) const;
  // Whether any host port of this socket type may stand for a view port (a cheap test before
  // looking at received source addresses).
  bool Maps(int type) const;

 private:
  std::map<uint16_t, uint16_t> pins_;
  std::map<std::pair<int, uint16_t>, uint16_t> to_host_, to_view_;
};

}  // namespace umnet
