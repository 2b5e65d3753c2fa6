#include "server/http/trusted_proxy.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(TrustedProxy, ParsesCidrs) {
  EXPECT_TRUE(parse_cidr("10.0.0.0/8"));
  EXPECT_TRUE(parse_cidr("127.0.0.1"));
  EXPECT_TRUE(parse_cidr("::1"));
  EXPECT_TRUE(parse_cidr("fd00::/8"));
  EXPECT_TRUE(parse_cidr("0.0.0.0/0"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
  EXPECT_FALSE(parse_cidr("::1/129"));
  EXPECT_FALSE(parse_cidr("10.0.0/8"));
  EXPECT_FALSE(parse_cidr("example.com"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/x"));
}

TEST(TrustedProxy, Matches) {
  std::vector<Cidr> list{*parse_cidr("10.0.0.0/8"), *parse_cidr("192.168.1.7"),
                         *parse_cidr("fd00::/8")};
  EXPECT_TRUE(any_contains(list, "10.1.2.3"));
  EXPECT_TRUE(any_contains(list, "192.168.1.7"));
  EXPECT_FALSE(any_contains(list, "192.168.1.8"));
  EXPECT_FALSE(any_contains(list, "11.0.0.1"));
  EXPECT_TRUE(any_contains(list, "fd12::1"));
  EXPECT_FALSE(any_contains(list, "fe80::1"));
  EXPECT_TRUE(any_contains(list, "::ffff:10.9.9.9"));  // IPv4-mapped peer on a dual-stack socket
  EXPECT_FALSE(any_contains(list, "not an ip"));
  EXPECT_FALSE(any_contains({}, "10.1.2.3"));
  std::vector<Cidr> all{*parse_cidr("0.0.0.0/0")};
  EXPECT_TRUE(any_contains(all, "8.8.8.8"));
  EXPECT_FALSE(any_contains(all, "2001:db8::1"));  // an IPv4 range never matches IPv6
}

TEST(TrustedProxy, ForwardingHeaders) {
  for (const char* h : {"X-Forwarded-For", "x-forwarded-proto", "X-Forwarded-Host",
                        "X-Forwarded-Port", "Forwarded", "X-Real-IP", "True-Client-IP"})
    EXPECT_TRUE(is_forwarding_header(h)) << h;
  for (const char* h : {"Host", "X-Forwarded", "Forwarded-For", "X-Requested-With"})
    EXPECT_FALSE(is_forwarding_header(h)) << h;
}
