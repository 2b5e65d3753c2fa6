#include "server/static/handoff.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(Handoff, SendfileBelowTheLongestFolder) {
  std::vector<std::string> dirs{"/srv/files", "/srv/files/private"};
  auto t = resolve_handoff({false, "/srv/files/private/a/b.pdf", {}, 200}, dirs, {});
  EXPECT_EQ(t.error_status, 0);
  EXPECT_EQ(t.dir, "/srv/files/private");
  EXPECT_EQ(t.relative, "a/b.pdf");
  for (std::string bad :
       {"/srv/other/x", "/srv/files", "/srv/filesx/y", "/srv/files/../etc/passwd", "relative/x"}) {
    auto r = resolve_handoff({false, bad, {}, 200}, dirs, {});
    EXPECT_EQ(r.error_status, 500) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  // Only a 200 may hand over a file.
  EXPECT_EQ(resolve_handoff({false, "/srv/files/a", {}, 404}, dirs, {}).error_status, 500);
}

TEST(Handoff, AccelBelowAnInternalPrefix) {
  std::vector<StaticMount> accel{{"/protected", "/srv/p"}};
  auto t = resolve_handoff({true, "/protected/a%20b.zip?x=1", {}, 200}, {}, accel);
  EXPECT_EQ(t.error_status, 0);
  EXPECT_EQ(t.dir, "/srv/p");
  EXPECT_EQ(t.relative, "a b.zip");
  EXPECT_EQ(resolve_handoff({true, "/protected/../x", {}, 200}, {}, accel).error_status, 500);
  EXPECT_EQ(resolve_handoff({true, "/public/x", {}, 200}, {}, accel).error_status, 500);
  EXPECT_EQ(resolve_handoff({true, "http://h/protected/x", {}, 200}, {}, accel).error_status, 500);
}
