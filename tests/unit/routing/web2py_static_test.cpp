#include "server/routing/web2py_static.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(Web2pyStatic, PlainAndVersioned) {
  auto m = map_web2py_static("/welcome/static/css/web2py.css", "welcome");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->app, "welcome");
  EXPECT_EQ(m->relative, "css/web2py.css");
  EXPECT_FALSE(m->versioned);
  m = map_web2py_static("/welcome/static/_2.21.3/css/web2py.css", "welcome");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->relative, "css/web2py.css");
  EXPECT_TRUE(m->versioned);
  m = map_web2py_static("/my_app2/static/js/x.js/", "welcome");  // trailing slash dropped
  ASSERT_TRUE(m);
  EXPECT_EQ(m->app, "my_app2");
  EXPECT_EQ(m->relative, "js/x.js");
}

TEST(Web2pyStatic, SpacesBecomeUnderscores) {
  auto m = map_web2py_static("/welcome/static/a file name.txt", "welcome");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->relative, "a_file_name.txt");
}

TEST(Web2pyStatic, RootStaticFromDefaultApp) {
  auto m = map_web2py_static("/favicon.ico", "init");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->app, "init");
  EXPECT_EQ(m->relative, "favicon.ico");
  EXPECT_TRUE(map_web2py_static("/robots.txt", "welcome"));
  EXPECT_FALSE(map_web2py_static("/favicon.ico", ""));
  EXPECT_FALSE(map_web2py_static("/other.txt", "welcome"));
}

TEST(Web2pyStatic, SegmentsMatchExactly) {
  EXPECT_FALSE(map_web2py_static("/admin/default/edit/welcome/static/css/x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/statics/css/x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/default/static/x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/static/x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/we-lcome/static/x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static", "welcome"));
}

TEST(Web2pyStatic, UncertainPathsAreLeftToWeb2py) {
  EXPECT_FALSE(map_web2py_static("/welcome/static/../models/db.py", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/css/../x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/.hidden", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/css//x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/css/./x.css", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/%2e%2e/x", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/a\\b", "welcome"));
  EXPECT_FALSE(map_web2py_static("/welcome/static/_1.2.3", "welcome"));
}

TEST(Web2pyStatic, VersionShape) {
  // Not a version: kept as a folder name.
  auto m = map_web2py_static("/welcome/static/_1.2/x.css", "welcome");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->relative, "_1.2/x.css");
  EXPECT_FALSE(m->versioned);
  m = map_web2py_static("/welcome/static/_1.2.x/x.css", "welcome");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->versioned);
}

TEST(Web2pyStatic, Names) {
  EXPECT_TRUE(is_web2py_name("welcome"));
  EXPECT_TRUE(is_web2py_name("My_App_2"));
  EXPECT_FALSE(is_web2py_name(""));
  EXPECT_FALSE(is_web2py_name("a-b"));
  EXPECT_FALSE(is_web2py_name("a.b"));
}
