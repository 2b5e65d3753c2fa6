#include "server/net/app_framing.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace w2p::server;

namespace {
ResponseHead head(int status, std::vector<Header> headers = {}) {
  ResponseHead h;
  h.status = status;
  h.reason = "X";
  h.headers = std::move(headers);
  return h;
}
bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST(AppFraming, WholeBodyGetsContentLength) {
  AppFraming f;
  f.begin(11, false, true);
  auto out = f.start(head(200, {{"Content-Type", "text/plain"}}), "hello", true);
  EXPECT_TRUE(out.last);
  EXPECT_TRUE(has(out.bytes, "Content-Length: 5\r\n"));
  EXPECT_TRUE(out.bytes.ends_with("\r\n\r\nhello"));
  EXPECT_EQ(out.body_bytes, 5u);
  EXPECT_TRUE(f.keep_alive());
}

TEST(AppFraming, StreamedBodyIsChunkedOn11AndCloseDelimitedOn10) {
  AppFraming f;
  f.begin(11, false, true);
  auto a = f.start(head(200), "ab", false);
  EXPECT_TRUE(has(a.bytes, "Transfer-Encoding: chunked\r\n"));
  EXPECT_TRUE(a.bytes.ends_with("\r\n\r\n2\r\nab\r\n"));
  auto b = f.body("c", true);
  EXPECT_EQ(b.bytes, "1\r\nc\r\n0\r\n\r\n");
  EXPECT_TRUE(f.keep_alive());
  AppFraming g;
  g.begin(10, false, true);
  auto c = g.start(head(200), "ab", false);
  EXPECT_FALSE(has(c.bytes, "chunked"));
  EXPECT_FALSE(g.keep_alive());
}

TEST(AppFraming, HopByHopAndLengthsAreTheServers) {
  AppFraming f;
  f.begin(11, false, true);
  auto out = f.start(head(200, {{"Connection", "close"},
                                {"Transfer-Encoding", "gzip"},
                                {"Content-Length", "3"},
                                {"X-Kept", "1"}}),
                     "abcdef", true);
  EXPECT_FALSE(has(out.bytes, "gzip"));
  EXPECT_TRUE(has(out.bytes, "X-Kept: 1\r\n"));
  EXPECT_TRUE(has(out.bytes, "Content-Length: 3\r\n"));
  EXPECT_TRUE(out.bytes.ends_with("\r\n\r\nabc"));  // never more than promised
  EXPECT_FALSE(f.keep_alive());                     // the application said close
  // Fewer bytes than promised: the connection must end so the client can tell.
  AppFraming g;
  g.begin(11, false, true);
  g.start(head(200, {{"Content-Length", "10"}}), "abc", true);
  EXPECT_FALSE(g.keep_alive());
}

TEST(AppFraming, NoBodyForHeadAnd204And304) {
  AppFraming f;
  f.begin(11, true, true);
  auto out = f.start(head(200, {{"Content-Length", "5"}}), "hello", true);
  EXPECT_TRUE(out.bytes.ends_with("\r\n\r\n"));
  EXPECT_TRUE(has(out.bytes, "Content-Length: 5\r\n"));
  EXPECT_TRUE(f.keep_alive());
  for (int status : {204, 304}) {
    AppFraming g;
    g.begin(11, false, true);
    auto o = g.start(head(status), "ignored", false);
    EXPECT_TRUE(o.last) << status;
    EXPECT_TRUE(o.bytes.ends_with("\r\n\r\n")) << status;
    EXPECT_FALSE(has(o.bytes, "ignored")) << status;
  }
}

TEST(AppFraming, SendfileHeadersBecomeAHandoff) {
  AppFraming f;
  f.begin(11, false, true);
  auto out = f.start(head(200, {{"X-Sendfile", "/srv/f.pdf"},
                                {"ETag", "\"app\""},
                                {"Content-Disposition", "attachment"}}),
                     "", true);
  ASSERT_TRUE(out.handoff);
  EXPECT_FALSE(out.handoff->accel);
  EXPECT_EQ(out.handoff->value, "/srv/f.pdf");
  ASSERT_EQ(out.handoff->headers.size(), 1u);  // the file's validators replace the app's
  EXPECT_EQ(out.handoff->headers[0].name, "Content-Disposition");
  EXPECT_TRUE(out.bytes.empty());
}

TEST(AppFraming, FilesAreChunkedOrTrimmed) {
  int fd = ::open("/dev/null", O_RDONLY);
  AppFraming f;
  f.begin(11, false, true);
  f.start(head(200), "", false);
  auto out = f.file(BodyFile{fd, 0, 300});
  EXPECT_EQ(out.bytes, "12c\r\n");
  EXPECT_TRUE(out.file_chunked);
  EXPECT_EQ(out.file.length, 300u);
  ::close(out.file.fd);
  AppFraming g;
  g.begin(11, false, true);
  g.start(head(200, {{"Content-Length", "100"}}), "", false);
  auto trimmed = g.file(BodyFile{::open("/dev/null", O_RDONLY), 0, 300});
  EXPECT_EQ(trimmed.file.length, 100u);
  ::close(trimmed.file.fd);
}

TEST(AppFraming, AFileResponseGetsTheFilesLength) {
  AppFraming f;
  f.begin(11, false, true);
  auto out = f.start_file(head(200, {{"Content-Type", "text/css"}}),
                          BodyFile{::open("/dev/null", O_RDONLY), 2, 8});
  EXPECT_TRUE(has(out.bytes, "Content-Length: 8\r\n"));
  EXPECT_EQ(out.file.offset, 2u);
  EXPECT_EQ(out.file.length, 8u);
  EXPECT_TRUE(out.last);
  EXPECT_TRUE(f.keep_alive());
  ::close(out.file.fd);
  // The application's own length wins (and bounds the file).
  AppFraming g;
  g.begin(11, false, true);
  out = g.start_file(head(200, {{"Content-Length", "5"}}),
                     BodyFile{::open("/dev/null", O_RDONLY), 0, 8});
  EXPECT_TRUE(has(out.bytes, "Content-Length: 5\r\n"));
  EXPECT_EQ(out.file.length, 5u);
  ::close(out.file.fd);
}

// HTTP/2 (version 20): the head stays structured for HEADERS, the body needs no framing.
TEST(AppFraming, Http2KeepsTheHeadAndSendsBodyBytesOnly) {
  AppFraming f;
  f.begin(20, false, true);
  auto whole = f.start(head(200, {{"Connection", "keep-alive"}, {"X-Kept", "1"}}), "hello", true);
  ASSERT_TRUE(whole.head.has_value());
  EXPECT_EQ(whole.head->status, 200);
  ASSERT_EQ(whole.head->headers.size(), 1u);  // hop-by-hop out
  EXPECT_EQ(whole.head->headers[0].name, "X-Kept");
  EXPECT_EQ(whole.content_length, std::optional<std::uint64_t>(5));
  EXPECT_EQ(whole.bytes, "hello");

  AppFraming g;
  g.begin(20, false, true);
  auto a = g.start(head(200), "ab", false);  // streamed: no length, no chunks
  EXPECT_FALSE(a.content_length.has_value());
  EXPECT_EQ(a.bytes, "ab");
  EXPECT_EQ(g.body("c", true).bytes, "c");
  EXPECT_FALSE(g.short_of_length());
}

TEST(AppFraming, Http2ShortBodyAndHead) {
  AppFraming f;
  f.begin(20, false, true);
  auto a = f.start(head(200, {{"Content-Length", "10"}}), "abc", false);
  EXPECT_EQ(a.content_length, std::optional<std::uint64_t>(10));
  f.body("de", true);
  EXPECT_TRUE(f.short_of_length());  // the stream is reset, not ended

  AppFraming h;
  h.begin(20, true, true);  // HEAD: the length, no body
  auto b = h.start(head(200, {{"Content-Length", "10"}}), "", true);
  EXPECT_EQ(b.content_length, std::optional<std::uint64_t>(10));
  EXPECT_TRUE(b.bytes.empty());
  EXPECT_FALSE(h.short_of_length());
}
