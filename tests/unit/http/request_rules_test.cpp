#include "server/http/request_rules.hpp"

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
  int cl_te =
      check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
          .status;
  EXPECT_TRUE(cl_te == 400 || cl_te == -1);
  int two_te = check(
                   "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n")
                   .status;
  EXPECT_TRUE(two_te == 400 || two_te == -1);
  EXPECT_EQ(check("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").status, 400);
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n").status, 501);
  int two_lengths =
      check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").status;
  EXPECT_TRUE(two_lengths == 400 || two_lengths == -1);
  int differ =
      check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").status;
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
  auto star = check("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(star.status, 0);
  EXPECT_TRUE(star.asterisk);
  EXPECT_EQ(check("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 50).status,
            414);
  auto v = check("GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.path, "/x");
  // RFC 9112 3.2.2: the target's authority replaces Host.
  v = check("GET http://target:81/x HTTP/1.1\r\nHost: header\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_TRUE(v.absolute_form);
  EXPECT_EQ(v.host, "target:81");
  EXPECT_EQ(check("GET s://]x/ HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET http://h:70000/ HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  // One normal view of the path, the raw one kept for rewrite rules.
  v = check("GET /a/./b//c/../d%20e?q HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(v.path, "/a/b/d e");
  EXPECT_EQ(v.raw_path, "/a/b/d%20e");
  EXPECT_EQ(check("GET /a/../../x HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(check("GET /a/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
}

TEST(RequestRules, TransferCodings) {
  auto te = [](const std::string& v) {
    return check("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + v + "\r\n\r\n").status;
  };
  EXPECT_EQ(te("chunked"), 0);
  EXPECT_EQ(te("Chunked"), 0);
  EXPECT_EQ(te("gzip, chunked"), 501);
  EXPECT_EQ(te("gzip"), 501);
  int twice = te("chunked, chunked");
  EXPECT_TRUE(twice == 400 || twice == -1);
}

TEST(RequestRules, HostSyntax) {
  EXPECT_TRUE(valid_authority("example.com"));
  EXPECT_TRUE(valid_authority("example.com:8080"));
  EXPECT_TRUE(valid_authority("example.com:"));
  EXPECT_TRUE(valid_authority("[::1]:80"));
  EXPECT_TRUE(valid_authority("10.0.0.1"));
  EXPECT_TRUE(valid_authority("my_host"));
  EXPECT_FALSE(valid_authority(""));
  EXPECT_FALSE(valid_authority("a b"));
  EXPECT_FALSE(valid_authority("u@h"));
  EXPECT_FALSE(valid_authority("]x"));
  EXPECT_FALSE(valid_authority("[::1"));
  EXPECT_FALSE(valid_authority("[zz]"));
  EXPECT_FALSE(valid_authority("h:99999"));
  EXPECT_FALSE(valid_authority("h:8o"));
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n").status, 400);
}

TEST(RequestRules, HeaderNamePolicy) {
  EXPECT_TRUE(is_plain_header_name("X-Forwarded-For"));
  EXPECT_TRUE(is_plain_header_name("Accept9"));
  EXPECT_FALSE(is_plain_header_name("X_Forwarded_For"));
  EXPECT_FALSE(is_plain_header_name("X-Forwarded.Proto"));
  EXPECT_FALSE(is_plain_header_name("X~Y"));
  EXPECT_FALSE(is_plain_header_name(""));
}

TEST(RequestRules, FieldCountAndLines) {
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 300; ++i) head += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_EQ(check(head + "\r\n").status, 431);
  EXPECT_EQ(leading_empty_lines("\r\n\r\nGET"), 4u);
  EXPECT_EQ(leading_empty_lines("\nGET"), 1u);
  EXPECT_EQ(leading_empty_lines("GET"), 0u);
  EXPECT_TRUE(well_formed_version_line("GET / HTTP/2.0\r\n"));
  EXPECT_FALSE(well_formed_version_line("GET / HTTP/1.1\n\r\n"));
  EXPECT_FALSE(well_formed_version_line("GET http://a b/ HTTP/1.1\r\n"));
}

TEST(RequestRules, Expect) {
  auto v = check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(v.expect_continue);
  v = check("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(v.status, 0);
  EXPECT_FALSE(v.expect_continue);  // nothing to wait for
  EXPECT_EQ(
      check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: magic\r\n\r\n").status,
      417);
}

TEST(RequestRules, OverflowStatus) {
  EXPECT_EQ(overflow_status("GET /aaaaaaaa"), 414);
  EXPECT_EQ(overflow_status("GET / HTTP/1.1\nX: aaaa"), 431);
  EXPECT_EQ(overflow_status("GET / HTTP/1.1\r\nX: aaaa"), 431);
}
