#include "server/net/h2_translate.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

using namespace w2p::server;

namespace {
std::map<std::string, std::string> as_map(const FieldViews& fields) {
  std::map<std::string, std::string> m;
  for (const auto& [n, v] : fields) m[std::string(n)] = std::string(v);
  return m;
}
}  // namespace

TEST(H2Head, StatusFirstNamesLowerCasedValuesTrimmed) {
  H2Head h;
  h.head.status = 404;
  h.head.headers = {{"Content-Type", "text/html"},
                    {"Set-Cookie", " session_id=1; Path=/"},  // as web2py writes it
                    {"X-Padded", "\tv  "}};
  h.content_length = 12;
  h.make(false);
  ASSERT_FALSE(h.fields.empty());
  EXPECT_EQ(h.fields[0].first, ":status");
  EXPECT_EQ(h.fields[0].second, "404");
  auto m = as_map(h.fields);
  EXPECT_EQ(m["content-type"], "text/html");
  EXPECT_EQ(m["set-cookie"], "session_id=1; Path=/");
  EXPECT_EQ(m["x-padded"], "v");
  EXPECT_EQ(m["content-length"], "12");
  EXPECT_EQ(m["server"], "w2pserve");
  EXPECT_EQ(m["date"].size(), 29u);  // IMF-fixdate
  for (const auto& [n, v] : h.fields)
    for (char ch : n) EXPECT_FALSE(ch >= 'A' && ch <= 'Z') << n;
}

TEST(H2Head, TheHeadsOwnDateAndServerAndNoHopByHop) {
  H2Head h;
  h.head.headers = {{"Date", "Thu, 01 Jan 2037 00:00:00 GMT"},
                    {"Server", "app"},
                    {"Connection", "close"},
                    {"Keep-Alive", "timeout=5"},
                    {"TE", "trailers"}};
  h.make(true);
  auto m = as_map(h.fields);
  EXPECT_EQ(m["date"], "Thu, 01 Jan 2037 00:00:00 GMT");
  EXPECT_EQ(m["server"], "app");
  EXPECT_EQ(m.count("connection") + m.count("keep-alive") + m.count("te"), 0u);
  EXPECT_EQ(m.count("content-length"), 0u);  // none known: the stream's end ends the body
}
