// umnet's address policy; see policy.h.
#include "plugins/umnet/policy.h"

#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace umnet {

bool ParsePort(std::string_view text, uint16_t* port) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty() || v > 65535) {
    return false;
  }
  *port = static_cast<uint16_t>(v);
  return true;
}

bool Rule::Matches(const Endpoint& raw) const {
  Endpoint ep = raw.Effective();
  if (ep.port < port_lo || ep.port > port_hi) return false;
  if (family == 0) return true;
  if (ep.family != family) return false;
  int bits = prefix;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((ep.addr[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

bool ParseRule(std::string_view text, bool allow, Rule* out, std::string* error) {
  *out = Rule{};
  out->allow = allow;
  out->text = std::string(allow ? "allow=" : "deny=") + std::string(text);
  std::string a(text);
  std::string_view ports;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      *error = "rule '" + std::string(text) + "': missing ']'";
      return false;
    }
    a = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest[0] == '/') {  // [ADDR]/BITS
      size_t colon = rest.find(':');
      a += std::string(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    }
    if (!rest.empty()) {
      if (rest[0] != ':') {
        *error = "rule '" + std::string(text) + "': expected ':PORTS' after ']'";
        return false;
      }
      ports = rest.substr(1);
      if (ports.empty()) {
        *error = "rule '" + std::string(text) + "': empty port range";
        return false;
      }
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {  // IPv4 or * with ports
    size_t colon = text.find(':');
    a = std::string(text.substr(0, colon));
    ports = text.substr(colon + 1);
    if (ports.empty()) {
      *error = "rule '" + std::string(text) + "': empty port range";
      return false;
    }
  }
  if (a == "*" || a == "any") {
    out->family = 0;
  } else {
    size_t slash = a.find('/');
    Endpoint ep;
    if (!ParseAddress(a.substr(0, slash), &ep)) {
      *error = "rule '" + std::string(text) + "': '" + a.substr(0, slash) +
               "' is not an IPv4 or IPv6 address (expected ADDR[/BITS][:PORTS])";
      return false;
    }
    int max = ep.family == AF_INET ? 32 : 128;
    int bits = max;
    if (slash != std::string::npos) {
      std::string_view b = std::string_view(a).substr(slash + 1);
      auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
      if (ec != std::errc() || p != b.data() + b.size() || b.empty() || bits < 0 || bits > max) {
        *error = "rule '" + std::string(text) + "': bad prefix length '" + std::string(b) + "'";
        return false;
      }
    }
    // A rule on a mapped address is a rule on the IPv4 address (policy sees Effective()).
    Endpoint eff = ep.Effective();
    if (eff.family != ep.family) bits = bits >= 96 ? bits - 96 : 0;
    out->family = eff.family;
    out->addr = eff.addr;
    out->prefix = bits;
  }
  if (!ports.empty() && ports != "*") {
    size_t dash = ports.find('-');
    uint16_t lo, hi;
    if (dash == std::string_view::npos) {
      if (!ParsePort(ports, &lo))
        lo = 1, hi = 0;
      else
        hi = lo;
    } else if (!ParsePort(ports.substr(0, dash), &lo) || !ParsePort(ports.substr(dash + 1), &hi)) {
      lo = 1, hi = 0;
    }
    if (lo > hi) {
      *error = "rule '" + std::string(text) + "': bad port range '" + std::string(ports) +
               "' (expected N, N-M or *)";
      return false;
    }
    out->port_lo = lo;
    out->port_hi = hi;
  }
  return true;
}

bool ParseHostPort(std::string_view text, std::string* host, uint16_t* port, std::string* error) {
  std::string_view h, p;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "'" + std::string(text) + "': expected [IPV6]:PORT";
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      *error = "'" + std::string(text) + "': expected HOST:PORT (IPv6 as [ADDR]:PORT)";
      return false;
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty() || !ParsePort(p, port)) {
    *error = "'" + std::string(text) + "': expected HOST:PORT with PORT 0-65535";
    return false;
  }
  *host = std::string(h);
  return true;
}

bool Policy::Add(std::string_view value, bool allow, std::string* error) {
  if (value.empty()) {
    *error = std::string(allow ? "allow" : "deny") + "= needs a rule (ADDR[/BITS][:PORTS])";
    return false;
  }
  size_t i = 0;
  while (true) {
    size_t j = value.find('+', i);
    std::string_view item = value.substr(i, j == std::string_view::npos ? j : j - i);
    Rule r;
    if (!ParseRule(item, allow, &r, error)) return false;
    rules_.push_back(std::move(r));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return true;
}

const Rule* Policy::Match(const Endpoint& ep) const {
  for (const Rule& r : rules_) {
    if (r.Matches(ep)) return &r;
  }
  return nullptr;
}

}  // namespace umnet
