// umnet's address policy: allow/deny rules on CIDR prefixes and port ranges, first match wins.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "plugins/umnet/address.h"

namespace umnet {

struct Rule {
  bool allow = false;
  int family = 0;  // AF_INET, AF_INET6, or 0 for both ("*")
  std::array<uint8_t, 16> addr{};
  int prefix = 0;  // bits
  uint16_t port_lo = 0, port_hi = 65535;
  std::string text;  // "deny=0.0.0.0/0", for the log

  // ep is taken in its Effective() form.
  bool Matches(const Endpoint& ep) const;
};

// Parses one rule: ADDR[/BITS][:PORTS], [IPV6][/BITS][:PORTS], or * / any for every address;
// PORTS is N, N-M or *. An IPv6 address with a port needs the brackets.
bool ParseRule(std::string_view text, bool allow, Rule* out, std::string* error);

// Parses HOST:PORT, [IPV6]:PORT. HOST must be numeric here.
bool ParseHostPort(std::string_view text, std::string* host, uint16_t* port, std::string* error);
bool ParsePort(std::string_view text, uint16_t* port);

class Policy {
 public:
  // Adds the rules of one option value; several are joined by '+'.
  bool Add(std::string_view value, bool allow, std::string* error);
  // The first rule matching ep, or nullptr.
  const Rule* Match(const Endpoint& ep) const;
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<Rule> rules_;
};

}  // namespace umnet
