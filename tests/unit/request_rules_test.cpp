#include "server/request_rules.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

using namespace w2p::server;
namespace http = boost::beast::http;

namespace {
// Parses a head with Beast as the connection does, then applies the rules.
RequestVerdict check(const std::string& raw, std::uint32_t max_uri = 8192) {
  http::request_parser<http::empty_body> p;
  p.eager(false);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(raw), ec);
  if (ec && ec != http::error::need_more) {
    RequestVerdict v;
    v.status = -1;  // Beast itself refused it
    return v;
  }
  return check_request_head(p.get().base(), p.chunked(), p.content_length(), max_uri);
}
}  // namespace

TEST(RequestRules, PlainRequest) {
  auto v = check("GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.path, "/a b");
  EXPECT_EQ(v.query, "x=1");
  EXPECT_FALSE(v.has_body);
}

TEST(RequestRules, Bodies) {
  auto v = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_TRUE(v.has_body);
  v = check("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_TRUE(v.has_body);
  v = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(v.has_body);
}

TEST(RequestRules, Smuggling) {
  // Beast refuses some of these itself (-1), the rules the rest; either way a 400 and a close.
  int cl_te = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").status;
  EXPECT_TRUE(cl_te == 400 || cl_te == -1);
  int two_te = check("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n").status;
  EXPECT_TRUE(two_te == 400 || two_te == -1);
  EXPECT_EQ(check("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").status, 400);
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n").status, 501);
  int two_lengths = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").status;
  EXPECT_TRUE(two_lengths == 400 || two_lengths == -1);
  int differ = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").status;
  EXPECT_TRUE(differ == 400 || differ == -1);
}

TEST(RequestRules, HostAndVersion) {
  EXPECT_EQ(check("GET / HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET / HTTP/1.0\r\n\r\n").status, 0);
  int v2 = check("GET / HTTP/2.0\r\nHost: h\r\n\r\n").status;
  EXPECT_TRUE(v2 == 505 || v2 == -1);
}

TEST(RequestRules, TargetForms) {
  EXPECT_EQ(check("GET * HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 50).status, 414);
  auto v = check("GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.path, "/x");
}

TEST(RequestRules, Expect) {
  auto v = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(v.expect_continue);
  v = check("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_FALSE(v.expect_continue);  // nothing to wait for
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: magic\r\n\r\n").status, 417);
}

TEST(RequestRules, OverflowStatus) {
  EXPECT_EQ(overflow_status("GET /aaaaaaaa"), 414);
  EXPECT_EQ(overflow_status("GET / HTTP/1.1\r\nX: aaaa"), 431);
}
