#include "server/http/response_head.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(StatusLine, Parses) {
  auto h = parse_status_line("200 OK");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->reason, "OK");
  h = parse_status_line("404 ");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 404);
  h = parse_status_line("599 Custom Thing");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->reason, "Custom Thing");
}

TEST(StatusLine, Rejects) {
  EXPECT_FALSE(parse_status_line("200"));
  EXPECT_FALSE(parse_status_line("OK 200"));
  EXPECT_FALSE(parse_status_line("20 OK"));
  EXPECT_FALSE(parse_status_line("099 Low"));
  EXPECT_FALSE(parse_status_line("200 OK\r\nX-Injected: 1"));
  EXPECT_FALSE(parse_status_line("2000 OK"));
  // Interim and out-of-range statuses are not final responses.
  EXPECT_FALSE(parse_status_line("100 Continue"));
  EXPECT_FALSE(parse_status_line("199 Interim"));
  EXPECT_FALSE(parse_status_line("600 Beyond"));
}

TEST(Headers, TokensAndValues) {
  EXPECT_TRUE(is_token("Content-Type"));
  EXPECT_TRUE(is_token("X-My_Header.1"));
  EXPECT_FALSE(is_token(""));
  EXPECT_FALSE(is_token("Bad Name"));
  EXPECT_FALSE(is_token("Bad:Name"));
  EXPECT_FALSE(is_token("X\r\nY"));
  EXPECT_TRUE(is_safe_header_value("text/html; charset=utf-8"));
  EXPECT_TRUE(is_safe_header_value("a\tb"));
  EXPECT_FALSE(is_safe_header_value("a\r\nSet-Cookie: x=1"));
  EXPECT_FALSE(is_safe_header_value("a\nb"));
  EXPECT_FALSE(is_safe_header_value(std::string("a\0b", 3)));
}

TEST(Headers, HopByHop) {
  EXPECT_TRUE(is_hop_by_hop("Connection"));
  EXPECT_TRUE(is_hop_by_hop("transfer-encoding"));
  EXPECT_TRUE(is_hop_by_hop("Keep-Alive"));
  EXPECT_FALSE(is_hop_by_hop("Content-Length"));
  EXPECT_FALSE(is_hop_by_hop("Set-Cookie"));
}

TEST(Serialize, ContentLengthAndDefaults) {
  ResponseHead h;
  h.status = 200;
  h.headers.push_back({"Content-Type", "text/plain"});
  std::string out;
  serialize_head(out, 11, h, Framing::content_length, 5, true);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(out.find("\r\nServer: w2pserve\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Connection:"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(Serialize, ChunkedCloseAndHttp10) {
  ResponseHead h;
  h.status = 201;
  h.reason = "Made";
  std::string out;
  serialize_head(out, 11, h, Framing::chunked, 0, false);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 201 Made\r\n"));
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  out.clear();
  serialize_head(out, 10, h, Framing::content_length, 0, true);
  EXPECT_TRUE(out.starts_with("HTTP/1.0 201 Made\r\n"));
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(Serialize, AppDateAndServerAreNotDuplicated) {
  ResponseHead h;
  h.headers.push_back({"Date", "Thu, 01 Jan 1970 00:00:00 GMT"});
  h.headers.push_back({"server", "mine"});
  std::string out;
  serialize_head(out, 11, h, Framing::none, 0, true);
  EXPECT_EQ(out.find("Date:"), out.rfind("Date:"));
  EXPECT_EQ(out.find("Server: w2pserve"), std::string::npos);
}

TEST(SimpleResponse, HasBodyAndLength) {
  std::string r = simple_response(11, 404, true);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 404 Not Found\r\n"));
  auto body_at = r.find("\r\n\r\n") + 4;
  std::string body = r.substr(body_at);
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size())), std::string::npos);
  std::string head_only = simple_response(11, 404, true, {}, true);
  EXPECT_TRUE(head_only.ends_with("\r\n\r\n"));
  std::string not_modified = simple_response(11, 304, true);
  EXPECT_TRUE(not_modified.ends_with("\r\n\r\n"));
  EXPECT_EQ(not_modified.find("Content-Length"), std::string::npos);
}
