// IP endpoints for umnet; see address.h.
#include "plugins/umnet/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace umnet {

namespace {

bool IsMapped(const Endpoint& ep) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return ep.family == AF_INET6 && memcmp(ep.addr.data(), kPrefix, 12) == 0;
}

}  // namespace

Endpoint Endpoint::Effective() const {
  if (!IsMapped(*this)) return *this;
  Endpoint v4;
  v4.family = AF_INET;
  memcpy(v4.addr.data(), addr.data() + 12, 4);
  v4.port = port;
  return v4;
}

bool Endpoint::IsLoopback() const {
  Endpoint e = Effective();
  if (e.family == AF_INET) return e.addr[0] == 127;
  static const uint8_t kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return e.family == AF_INET6 && memcmp(e.addr.data(), kOne, 16) == 0;
}

bool Endpoint::IsAny() const {
  Endpoint e = Effective();
  size_t n = e.family == AF_INET ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if (e.addr[i] != 0) return false;
  }
  return e.family == AF_INET || e.family == AF_INET6;
}

bool FromSockaddr(const void* sa, size_t len, Endpoint* out) {
  if (len < sizeof(sa_family_t)) return false;
  sa_family_t family;
  memcpy(&family, sa, sizeof family);
  *out = Endpoint{};
  if (family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    memcpy(&in, sa, sizeof in);
    out->family = AF_INET;
    memcpy(out->addr.data(), &in.sin_addr, 4);
    out->port = ntohs(in.sin_port);
    return true;
  }
  // The kernel accepts the old 24-byte sockaddr_in6 without sin6_scope_id.
  if (family == AF_INET6 && len >= offsetof(sockaddr_in6, sin6_scope_id)) {
    sockaddr_in6 in6{};
    memcpy(&in6, sa, std::min(len, sizeof in6));
    out->family = AF_INET6;
    memcpy(out->addr.data(), &in6.sin6_addr, 16);
    out->port = ntohs(in6.sin6_port);
    out->flowinfo = in6.sin6_flowinfo;
    out->scope_id = len >= sizeof in6 ? in6.sin6_scope_id : 0;
    return true;
  }
  return false;
}

socklen_t ToSockaddr(const Endpoint& ep, sockaddr_storage* out) {
  memset(out, 0, sizeof *out);
  if (ep.family == AF_INET) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(ep.port);
    memcpy(&in.sin_addr, ep.addr.data(), 4);
    memcpy(out, &in, sizeof in);
    return sizeof in;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(ep.port);
  in6.sin6_flowinfo = ep.flowinfo;
  in6.sin6_scope_id = ep.scope_id;
  memcpy(&in6.sin6_addr, ep.addr.data(), 16);
  memcpy(out, &in6, sizeof in6);
  return sizeof in6;
}

bool ParseAddress(std::string_view text, Endpoint* out) {
  std::string s(text);
  *out = Endpoint{};
  if (inet_pton(AF_INET, s.c_str(), out->addr.data()) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->addr.data()) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

bool ConvertFamily(const Endpoint& ep, int family, Endpoint* out) {
  if (ep.family == family) {
    *out = ep;
    return true;
  }
  if (family == AF_INET) {
    if (!IsMapped(ep)) return false;
    *out = ep.Effective();
    return true;
  }
  *out = Endpoint{};
  out->family = AF_INET6;
  out->addr[10] = out->addr[11] = 0xff;
  memcpy(out->addr.data() + 12, ep.addr.data(), 4);
  out->port = ep.port;
  return true;
}

std::string FormatAddress(const Endpoint& ep) {
  char buf[INET6_ADDRSTRLEN] = "?";
  inet_ntop(ep.family, ep.addr.data(), buf, sizeof buf);
  return buf;
}

std::string Format(const Endpoint& ep) {
  std::string a = FormatAddress(ep);
  if (ep.family == AF_INET6) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port);
}

std::string FamilyName(int family) {
  switch (family) {
    case AF_UNIX:
      return "AF_UNIX";
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    case AF_PACKET:
      return "AF_PACKET";
    case AF_NETLINK:
      return "AF_NETLINK";
    case AF_VSOCK:
      return "AF_VSOCK";
    case AF_BLUETOOTH:
      return "AF_BLUETOOTH";
    case AF_CAN:
      return "AF_CAN";
  }
  return std::to_string(family);
}

}  // namespace umnet
