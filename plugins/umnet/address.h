// IP endpoints for umnet: socket addresses to and from a plain value, their text forms, and the
// address classes the policy needs (loopback, wildcard, IPv4-mapped IPv6).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace umnet {

// An AF_INET or AF_INET6 address and port, as the program gave it.
struct Endpoint {
  int family = 0;                  // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes
  uint16_t port = 0;               // host order
  uint32_t flowinfo = 0;           // IPv6 only, kept when written back
  uint32_t scope_id = 0;           // IPv6 only

  // IPv4-mapped IPv6 (::ffff:a.b.c.d) as the IPv4 address it stands for; others unchanged.
  // Every policy decision is taken on this form, so a v6 socket cannot reach a refused v4
  // address through its mapped form.
  Endpoint Effective() const;
  bool IsLoopback() const;  // 127.0.0.0/8, ::1 (and their mapped forms)
  bool IsAny() const;       // 0.0.0.0, :: (and ::ffff:0.0.0.0)
  // Where a connect to this address goes on this host: loopback or the wildcard (Linux
  // connects 0.0.0.0 and :: to the local host).
  bool IsLocal() const { return IsLoopback() || IsAny(); }
};

// Parses an AF_INET/AF_INET6 sockaddr of `len` bytes. False for other families or short ones.
bool FromSockaddr(const void* sa, size_t len, Endpoint* out);
// Writes ep as a sockaddr_in/sockaddr_in6; returns its length.
socklen_t ToSockaddr(const Endpoint& ep, sockaddr_storage* out);

// A numeric IPv4 or IPv6 address (no brackets, no port).
bool ParseAddress(std::string_view text, Endpoint* out);
// The same address with the other family: IPv4 -> ::ffff:a.b.c.d; mapped IPv6 -> IPv4.
// False when there is no such form (a plain IPv6 address to IPv4).
bool ConvertFamily(const Endpoint& ep, int family, Endpoint* out);

std::string FormatAddress(const Endpoint& ep);  // "192.0.2.1", "::1"
std::string Format(const Endpoint& ep);         // "192.0.2.1:80", "[::1]:80"

// "AF_INET", "AF_PACKET", ..., or the number.
std::string FamilyName(int family);

}  // namespace umnet
