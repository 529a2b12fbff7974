// Fuzz target: umnet's address decoding (plugins/umnet/address.cc, policy.cc). The first byte
// picks the decoder: a tracee-supplied sockaddr of any length (FromSockaddr, checked by writing
// it back with ToSockaddr), or the text of an allow/deny rule, HOST:PORT, or an address.
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz/fuzz_support.h"
#include "plugins/umnet/address.h"
#include "plugins/umnet/policy.h"

namespace {

void Fail(const char* what) {
  fprintf(stderr, "%s\n", what);
  abort();
}

void Sockaddr(std::string_view bytes) {
  umnet::Endpoint ep;
  // Aligned, as the plugin reads it from the tracee into a sockaddr_storage.
  sockaddr_storage ss;
  size_t len = std::min(bytes.size(), sizeof ss);
  std::memcpy(&ss, bytes.data(), len);
  if (!umnet::FromSockaddr(&ss, bytes.size(), &ep)) return;
  if (ep.family != AF_INET && ep.family != AF_INET6) Fail("FromSockaddr accepted another family");
  sockaddr_storage back;
  socklen_t n = umnet::ToSockaddr(ep, &back);
  umnet::Endpoint again;
  if (!umnet::FromSockaddr(&back, n, &again)) Fail("ToSockaddr wrote what FromSockaddr refuses");
  if (umnet::Format(again) != umnet::Format(ep)) Fail("sockaddr round trip changed the address");
  umnet::Endpoint eff = ep.Effective();
  (void)eff.IsLocal();
  umnet::Endpoint other;
  (void)umnet::ConvertFamily(ep, ep.family == AF_INET ? AF_INET6 : AF_INET, &other);
  (void)umnet::FamilyName(ss.ss_family);
}

void Text(uint8_t which, std::string_view text) {
  std::string error;
  switch (which % 4) {
    case 0: {
      umnet::Policy policy;
      if (policy.Add(text, (which & 4) != 0, &error)) {
        umnet::Endpoint probe;
        if (umnet::ParseAddress("192.0.2.1", &probe)) (void)policy.Match(probe);
      } else if (error.empty()) {
        Fail("a refused rule without a message");
      }
      break;
    }
    case 1: {
      std::string host;
      uint16_t port;
      if (!umnet::ParseHostPort(text, &host, &port, &error) && error.empty())
        Fail("a refused HOST:PORT without a message");
      break;
    }
    case 2: {
      umnet::Endpoint ep;
      if (umnet::ParseAddress(text, &ep)) {
        umnet::Endpoint again;
        if (!umnet::ParseAddress(umnet::FormatAddress(ep), &again))
          Fail("a formatted address does not parse");
      }
      break;
    }
    default: {
      uint16_t port;
      (void)umnet::ParsePort(text, &port);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  umview::fuzz::Input in(data, size);
  uint8_t which = in.Take<uint8_t>();
  if (which & 0x80) {
    Sockaddr(in.Rest());
  } else {
    Text(which, in.Rest());
  }
  return 0;
}
