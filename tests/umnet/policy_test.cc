// umnet's rule language and address classes: CIDR and port ranges, IPv4 and IPv6, mapped
// addresses, first match wins, and one-line errors for bad rules.
#include "plugins/umnet/policy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include "plugins/umnet/port_map.h"

namespace umnet {
namespace {

Endpoint Ep(const char* addr, uint16_t port) {
  Endpoint e;
  EXPECT_TRUE(ParseAddress(addr, &e)) << addr;
  e.port = port;
  return e;
}

std::string Verdict(const Policy& p, const char* addr, uint16_t port) {
  const Rule* r = p.Match(Ep(addr, port));
  return r == nullptr ? "none" : r->text;
}

TEST(UmnetPolicy, CidrAndPortRangesFirstMatchWins) {
  Policy p;
  std::string err;
  ASSERT_TRUE(p.Add("127.0.0.0/8:8000-9000+[::1]:8000-9000", true, &err)) << err;
  ASSERT_TRUE(p.Add("0.0.0.0/0+::/0", false, &err)) << err;
  EXPECT_EQ(Verdict(p, "127.0.0.1", 8000), "allow=127.0.0.0/8:8000-9000");
  EXPECT_EQ(Verdict(p, "127.1.2.3", 9000), "allow=127.0.0.0/8:8000-9000");
  EXPECT_EQ(Verdict(p, "127.0.0.1", 9001), "deny=0.0.0.0/0");
  EXPECT_EQ(Verdict(p, "192.0.2.1", 8080), "deny=0.0.0.0/0");
  EXPECT_EQ(Verdict(p, "::1", 8080), "allow=[::1]:8000-9000");
  EXPECT_EQ(Verdict(p, "2001:db8::1", 8080), "deny=::/0");
  // A v6 socket naming a v4 address through its mapped form meets the v4 rules.
  EXPECT_EQ(Verdict(p, "::ffff:127.0.0.1", 8080), "allow=127.0.0.0/8:8000-9000");
  EXPECT_EQ(Verdict(p, "::ffff:192.0.2.1", 8080), "deny=0.0.0.0/0");
}

TEST(UmnetPolicy, PrefixBitsAnyAndSinglePorts) {
  Policy p;
  std::string err;
  ASSERT_TRUE(p.Add("10.1.0.0/17:443", true, &err)) << err;
  ASSERT_TRUE(p.Add("[2001:db8::]/32:*", true, &err)) << err;
  ASSERT_TRUE(p.Add("*:53", false, &err)) << err;
  EXPECT_EQ(Verdict(p, "10.1.127.255", 443), "allow=10.1.0.0/17:443");
  EXPECT_EQ(Verdict(p, "10.1.128.0", 443), "none");
  EXPECT_EQ(Verdict(p, "10.1.0.1", 444), "none");
  EXPECT_EQ(Verdict(p, "2001:db8:ffff::1", 1), "allow=[2001:db8::]/32:*");
  EXPECT_EQ(Verdict(p, "2001:db9::1", 53), "deny=*:53");
  EXPECT_EQ(Verdict(p, "192.0.2.1", 53), "deny=*:53");
}

TEST(UmnetPolicy, BadRulesSayWhatIsWrong) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/8:", "10.0.0.0/8:9-1", "host:80", "[::1:80",
                          "::1/129", "1.2.3.4:70000", "1.2.3.4:x"}) {
    Policy p;
    std::string err;
    EXPECT_FALSE(p.Add(bad, true, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

TEST(UmnetAddress, ClassesAndFormats) {
  EXPECT_TRUE(Ep("127.9.9.9", 0).IsLoopback());
  EXPECT_TRUE(Ep("::1", 0).IsLoopback());
  EXPECT_TRUE(Ep("::ffff:127.0.0.1", 0).IsLoopback());
  EXPECT_FALSE(Ep("192.0.2.1", 0).IsLoopback());
  EXPECT_TRUE(Ep("0.0.0.0", 0).IsAny());
  EXPECT_TRUE(Ep("::", 0).IsAny());
  EXPECT_FALSE(Ep("::2", 0).IsLocal());
  EXPECT_EQ(Format(Ep("::1", 80)), "[::1]:80");
  EXPECT_EQ(Format(Ep("192.0.2.1", 8080)), "192.0.2.1:8080");
  Endpoint m;
  ASSERT_TRUE(ConvertFamily(Ep("127.0.0.1", 5), AF_INET6, &m));
  EXPECT_EQ(Format(m), "[::ffff:127.0.0.1]:5");
  EXPECT_FALSE(ConvertFamily(Ep("::1", 5), AF_INET, &m));
}

TEST(UmnetPortMap, ViewAndHostPortsPerType) {
  PortMap m;
  m.Pin(80, 18080);
  EXPECT_EQ(m.BindTarget(SOCK_STREAM, 80), 18080);
  EXPECT_EQ(m.BindTarget(SOCK_STREAM, 8080), 0);
  m.Record(SOCK_STREAM, 8080, 40001);
  m.Record(SOCK_DGRAM, 8080, 40002);
  EXPECT_EQ(m.HostFor(SOCK_STREAM, 8080), 40001);
  EXPECT_EQ(m.HostFor(SOCK_DGRAM, 8080), 40002);
  EXPECT_EQ(m.ViewFor(SOCK_STREAM, 40001), 8080);
  EXPECT_EQ(m.ViewFor(SOCK_STREAM, 40002), std::nullopt);
  EXPECT_EQ(m.ViewFor(SOCK_STREAM, 18080), 80);
  EXPECT_EQ(m.BindTarget(SOCK_STREAM, 8080), 40001);  // a rebind asks for the same host port
  EXPECT_TRUE(m.Knows(8080));
  EXPECT_FALSE(m.Knows(8081));
}

}  // namespace
}  // namespace umnet
