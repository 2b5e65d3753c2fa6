#include "server/http/url_path.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(SplitTarget, OriginForm) {
  auto p = split_target("/a/b?x=1&y=2");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path, "/a/b");
  EXPECT_EQ(p->query, "x=1&y=2");
  p = split_target("/plain");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path, "/plain");
  EXPECT_EQ(p->query, "");
  p = split_target("/q?");
  EXPECT_EQ(p->query, "");
  p = split_target("/a?b?c");
  EXPECT_EQ(p->path, "/a");
  EXPECT_EQ(p->query, "b?c");
}

TEST(SplitTarget, AbsoluteForm) {
  auto p = split_target("http://example.com/x/y?z");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path, "/x/y");
  EXPECT_EQ(p->query, "z");
  p = split_target("http://example.com");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path, "/");
  p = split_target("http://example.com?q=1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path, "/");
  EXPECT_EQ(p->query, "q=1");
}

TEST(SplitTarget, RejectsOtherForms) {
  EXPECT_FALSE(split_target(""));
  EXPECT_FALSE(split_target("*"));
  EXPECT_FALSE(split_target("example.com:443"));
  EXPECT_FALSE(split_target("relative/path"));
}

TEST(PercentDecode, DecodesOnce) {
  EXPECT_EQ(percent_decode("/a%20b"), "/a b");
  EXPECT_EQ(percent_decode("/%2e%2E/x"), "/../x");
  EXPECT_EQ(percent_decode("/%252e"), "/%2e");  // once, not twice
  EXPECT_EQ(percent_decode("/a+b"), "/a+b");    // '+' is not a space in a path
  EXPECT_EQ(percent_decode("/%C3%A9"), "/\xC3\xA9");
  EXPECT_EQ(percent_decode("/a%2Fb"), "/a/b");
}

TEST(PercentDecode, RejectsMalformedAndNul) {
  EXPECT_FALSE(percent_decode("/%"));
  EXPECT_FALSE(percent_decode("/%2"));
  EXPECT_FALSE(percent_decode("/%zz"));
  EXPECT_FALSE(percent_decode("/a%00b"));
  EXPECT_FALSE(percent_decode(std::string_view("/a\0b", 4)));
}

TEST(SafeRelativePath, NormalisesHarmlessSegments) {
  EXPECT_EQ(safe_relative_path("/css/x.css"), "css/x.css");
  EXPECT_EQ(safe_relative_path("//css///./x.css"), "css/x.css");
  EXPECT_EQ(safe_relative_path("/"), "");
  EXPECT_EQ(safe_relative_path(""), "");
  EXPECT_EQ(safe_relative_path("/a/.../b"), "a/.../b");  // "..." is an ordinary name
  EXPECT_EQ(safe_relative_path("/a/..b/c.."), "a/..b/c..");
}

TEST(SafeRelativePath, RefusesEscapes) {
  EXPECT_FALSE(safe_relative_path("/../etc/passwd"));
  EXPECT_FALSE(safe_relative_path("/a/../../b"));
  EXPECT_FALSE(safe_relative_path("/a/.."));
  EXPECT_FALSE(safe_relative_path(".."));
  EXPECT_FALSE(safe_relative_path("/a\\..\\b"));
  EXPECT_FALSE(safe_relative_path(std::string_view("/a\0/b", 5)));
}

TEST(SplitTarget, AbsoluteFormKeepsItsAuthority) {
  auto p = split_target("HTTP://Example.com:8080/x?y");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->absolute_form);
  EXPECT_EQ(p->authority, "Example.com:8080");
  EXPECT_EQ(p->path, "/x");
  EXPECT_FALSE(split_target("ftp://h/x"));
  EXPECT_FALSE(split_target("s://]x/"));
  p = split_target("https://h");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authority, "h");
  EXPECT_EQ(p->path, "/");
}

TEST(NormalizePath, ResolvesDotsAndSlashes) {
  EXPECT_EQ(normalize_path("/a//./b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/b/.."), "/a/");
  EXPECT_EQ(normalize_path("/a/."), "/a/");
  EXPECT_EQ(normalize_path("/a/"), "/a/");
  EXPECT_EQ(normalize_path("/a"), "/a");
  EXPECT_EQ(normalize_path(""), "/");
  EXPECT_EQ(normalize_path("//"), "/");
  EXPECT_EQ(normalize_path("/..."), "/...");
  EXPECT_EQ(normalize_path("/a/..b"), "/a/..b");
  bool above = false;
  EXPECT_EQ(normalize_path("/../x", &above), "/x");
  EXPECT_TRUE(above);
  EXPECT_EQ(normalize_path("/a/../../x", &above), "/x");
  EXPECT_TRUE(above);
  EXPECT_EQ(normalize_path("/a/../x", &above), "/x");
  EXPECT_FALSE(above);
}

TEST(NormalizePath, RawFormDecodesOnlyUnreserved) {
  EXPECT_EQ(normalize_raw_path("/a/%2e%2E/b%20c/%7Ex"), "/b%20c/~x");
  EXPECT_EQ(normalize_raw_path("/a%2F..%2Fb"), "/a%2F..%2Fb");  // one segment while encoded
  EXPECT_EQ(normalize_raw_path("/%41%42"), "/AB");
  bool above = false;
  normalize_raw_path("/%2e%2e/x", &above);
  EXPECT_TRUE(above);
}
