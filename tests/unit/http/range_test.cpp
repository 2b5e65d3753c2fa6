#include "server/http/range.hpp"

#include <gtest/gtest.h>

#include "server/http/http_date.hpp"

using namespace w2p::server;

namespace {
std::string show(const RangeRequest& r) {
  if (r.kind == RangeRequest::ignore) return "ignore";
  if (r.kind == RangeRequest::unsatisfiable) return "416";
  std::string s;
  for (const auto& x : r.ranges)
    s += (s.empty() ? "" : ",") + std::to_string(x.first) + "-" + std::to_string(x.last);
  return s;
}
std::string p(std::string_view h, std::uint64_t size = 10000) {
  return show(parse_range(h, size));
}
}  // namespace

TEST(Range, SingleForms) {
  EXPECT_EQ(p("bytes=0-499"), "0-499");
  EXPECT_EQ(p("bytes=500-999"), "500-999");
  EXPECT_EQ(p("bytes=-500"), "9500-9999");  // the last 500 bytes
  EXPECT_EQ(p("bytes=9500-"), "9500-9999");
  EXPECT_EQ(p("bytes=0-0"), "0-0");
  EXPECT_EQ(p("bytes=-1"), "9999-9999");
  EXPECT_EQ(p("bytes=0-"), "0-9999");
  EXPECT_EQ(p("bytes=9999-9999"), "9999-9999");
}

TEST(Range, ClippedToTheFile) {
  EXPECT_EQ(p("bytes=0-99999"), "0-9999");
  EXPECT_EQ(p("bytes=-20000"), "0-9999");  // a suffix longer than the file is the whole file
  EXPECT_EQ(p("bytes=9000-99999999999999999999999"), "9000-9999");  // saturates, no overflow
}

TEST(Range, Unsatisfiable) {
  EXPECT_EQ(p("bytes=10000-"), "416");
  EXPECT_EQ(p("bytes=10000-10001"), "416");
  EXPECT_EQ(p("bytes=-0"), "416");
  EXPECT_EQ(p("bytes=0-", 0), "416");  // nothing in an empty file can be satisfied
  EXPECT_EQ(p("bytes=-5", 0), "416");
  EXPECT_EQ(p("bytes=99999999999999999999999-"), "416");
  // One satisfiable range is enough.
  EXPECT_EQ(p("bytes=20000-30000, 0-1"), "0-1");
}

TEST(Range, IgnoredWhenInvalid) {
  for (const char* h : {"", "bytes", "bytes=", "bytes=,", "items=0-1", "bytes=a-b", "bytes=1-0",
                        "bytes=5", "bytes=--5", "bytes=0-1-2", "bytes=+1-2", "bytes=0x10-20",
                        "bytes=1 -2", "bytes=-", "bytes=0-1,x"})
    EXPECT_EQ(p(h), "ignore") << h;
}

TEST(Range, Whitespace_Case_EmptyElements) {
  EXPECT_EQ(p(" Bytes = 0-1 "), "0-1");
  EXPECT_EQ(p("BYTES=0-1,, 5-6 ,"), "0-1,5-6");
  EXPECT_EQ(p("bytes=0-1,\t5-6"), "0-1,5-6");
}

TEST(Range, SeveralKeepTheirOrderUnlessTheyOverlap) {
  EXPECT_EQ(p("bytes=500-599,0-99,-100"), "500-599,0-99,9900-9999");
  EXPECT_EQ(p("bytes=0-99,50-149,300-399,400-499"), "0-149,300-499");  // merged, sorted
  EXPECT_EQ(p("bytes=0-10,0-10"), "0-10");
  EXPECT_EQ(p("bytes=-10,0-"), "0-9999");
}

TEST(Range, TooManyRangesAreIgnored) {
  std::string h = "bytes=";
  for (int i = 0; i < 33; ++i) h += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
  EXPECT_EQ(p(h), "ignore");
  EXPECT_EQ(show(parse_range(h, 10000, 40)).substr(0, 9), "0-1,10-11");
}

TEST(Range, IfRange) {
  std::time_t t = 1700000000;
  std::string date = format_http_date(t);
  EXPECT_TRUE(if_range_matches("\"abc\"", "\"abc\"", t));
  EXPECT_FALSE(if_range_matches("\"abd\"", "\"abc\"", t));
  EXPECT_FALSE(if_range_matches("W/\"abc\"", "\"abc\"", t));  // weak: never
  EXPECT_TRUE(if_range_matches(date, "\"abc\"", t));
  EXPECT_FALSE(if_range_matches(format_http_date(t + 1), "\"abc\"", t));
  EXPECT_FALSE(if_range_matches(format_http_date(t - 1), "\"abc\"", t));  // exact only
  EXPECT_FALSE(if_range_matches("garbage", "\"abc\"", t));
}

TEST(Range, Multipart) {
  std::vector<ByteRange> r{{0, 1}, {8, 9}};
  auto m = make_multipart(r, 10, "text/plain", "B0UND");
  ASSERT_EQ(m.part_heads.size(), 2u);
  EXPECT_EQ(m.part_heads[0],
            "\r\n--B0UND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n");
  EXPECT_EQ(m.part_heads[1],
            "\r\n--B0UND\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n");
  EXPECT_EQ(m.tail, "\r\n--B0UND--\r\n");
  EXPECT_EQ(m.total, m.part_heads[0].size() + 2 + m.part_heads[1].size() + 2 + m.tail.size());
  EXPECT_EQ(content_range({5, 9}, 10), "bytes 5-9/10");
}
