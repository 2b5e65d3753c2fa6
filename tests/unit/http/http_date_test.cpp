#include "server/http/http_date.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, ParsesTheThreeForms) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
}

TEST(HttpDate, RoundTrips) {
  for (std::time_t t : {0L, 1L, 951782400L, 1700000000L, 4102444799L})
    EXPECT_EQ(parse_http_date(format_http_date(t)), t);
}

TEST(HttpDate, RejectsGarbage) {
  EXPECT_FALSE(parse_http_date(""));
  EXPECT_FALSE(parse_http_date("yesterday"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 6x Nov 1994 08:49:37 GMT"));
}

TEST(HttpDate, CurrentDateIsWellFormed) {
  const std::string& d = current_http_date();
  EXPECT_EQ(d.size(), 29u);
  EXPECT_TRUE(parse_http_date(d).has_value());
}
