#include "server/routing/rewrite.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

TEST(Rewrite, FirstMatchWinsWithSubstitution) {
  RewriteRules r;
  r.add("^/$", RewriteKind::app, "/welcome/default/index");
  r.add("^/(\\w+)/static/(.*)$", RewriteKind::static_file, "/applications/$1/static/$2");
  r.add("^/(.*)$", RewriteKind::app, "/app/$1");
  auto a = r.apply("/", "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, RewriteKind::app);
  EXPECT_EQ(a->target, "/welcome/default/index");
  EXPECT_EQ(a->rule, 0u);
  auto s = r.apply("/blog/static/css/x.css", "");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, RewriteKind::static_file);
  EXPECT_EQ(s->target, "/applications/blog/static/css/x.css");
  auto c = r.apply("/default/about", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->target, "/app/default/about");
}

TEST(Rewrite, QueryKeptUnlessTargetSetsOne) {
  RewriteRules r;
  r.add("^/search$", RewriteKind::app, "/app/default/search");
  r.add("^/q/([^?]*)(?:\\?(.*))?$", RewriteKind::app, "/app/default/q?term=$1&$2");
  auto a = r.apply("/search", "q=web2py&page=2");
  // The rule is tested against "/search?q=web2py&page=2": "^/search$" does not match it.
  EXPECT_FALSE(a);
  RewriteRules k;
  k.add("^/search", RewriteKind::app, "/app/default/search");
  auto b = k.apply("/search", "q=web2py");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->target, "/app/default/search?q=web2py");
  auto c = r.apply("/q/abc", "x=1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->target, "/app/default/q?term=abc&x=1");
}

TEST(Rewrite, LookaheadRuleFromTheField) {
  RewriteRules r;
  r.add("^(?!.*admin)(/.+?/static/.+$)", RewriteKind::static_file, "/applications$1");
  auto a = r.apply("/welcome/static/css/x.css", "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->target, "/applications/welcome/static/css/x.css");
  EXPECT_FALSE(r.apply("/admin/default/edit/welcome/static/css/x.css", ""));
  EXPECT_FALSE(r.apply("/welcome/default/index", ""));
}

TEST(Rewrite, Redirects) {
  RewriteRules r;
  r.add("^/old/(.*)$", RewriteKind::redirect, "https://example.com/new/$1", 301);
  auto a = r.apply("/old/page", "a=1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, RewriteKind::redirect);
  EXPECT_EQ(a->status, 301);
  EXPECT_EQ(a->target, "https://example.com/new/page?a=1");
  RewriteRules d;
  d.add("^/x$", RewriteKind::redirect, "/y");
  EXPECT_EQ(d.apply("/x", "")->status, 302);
}

TEST(Rewrite, UnmatchedGroupsAreEmptyAndDollarEscapes) {
  RewriteRules r;
  r.add("^/a(/b)?(/c)$", RewriteKind::app, "/x$1-$2-$$");
  auto a = r.apply("/a/c", "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->target, "/x-/c-$");
}

TEST(Rewrite, ErrorsAreClear) {
  RewriteRules r;
  try {
    r.add("^/(unclosed$", RewriteKind::app, "/x");
    FAIL();
  } catch (const RewriteError& e) {
    EXPECT_NE(std::string(e.what()).find("bad regular expression"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos);
  }
  EXPECT_THROW(r.add("^/(a)$", RewriteKind::app, "/$2"), RewriteError);
  EXPECT_THROW(r.add("^/a$", RewriteKind::app, "relative"), RewriteError);
  EXPECT_THROW(r.add("^/a$", RewriteKind::redirect, "/b", 200), RewriteError);
  EXPECT_EQ(r.size(), 0u);
}

TEST(Rewrite, NoRulesNoMatch) {
  RewriteRules r;
  EXPECT_FALSE(r.apply("/anything", "q"));
}

TEST(Rewrite, PassThroughTargetFromAGroup) {
  // lighttpd's catch-all "(^|/.*)$" => "/handler.fcgi$1", imported as "$1": the URL unchanged.
  RewriteRules r;
  r.add("(^|/.*)$", RewriteKind::app, "$1");
  auto a = r.apply("/app/default/index", "x=1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->target, "/app/default/index?x=1");
  auto b = r.apply("/", "");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->target, "/");
  EXPECT_THROW(r.add("^x", RewriteKind::app, "relative"), RewriteError);
}

TEST(Rewrite, RulesThatCannotShareOneRegexStillWork) {
  // A backreference, a case-less group and a lookahead side by side: the quick "any rule?"
  // test must never turn down a URL one of them matches.
  RewriteRules r;
  r.add("^/(ab)\\1$", RewriteKind::app, "/twice");
  r.add("^/(?i)upper$", RewriteKind::app, "/upper");
  r.add("^(?!.*admin)(/.+?/static/.+$)", RewriteKind::static_file, "/applications$1");
  EXPECT_EQ(r.apply("/abab", "").value().target, "/twice");
  EXPECT_FALSE(r.apply("/abac", ""));
  EXPECT_EQ(r.apply("/UPPER", "").value().target, "/upper");
  EXPECT_EQ(r.apply("/a/static/x", "").value().target, "/applications/a/static/x");
  EXPECT_FALSE(r.apply("/admin/static/x", ""));
  RewriteRules s;
  s.add("^/(?i)upper$", RewriteKind::app, "/upper");
  s.add("^/page\\.html$", RewriteKind::app, "/page");
  s.add("^/x+y$", RewriteKind::app, "/xy");
  s.add("^/opt?ional$", RewriteKind::app, "/optional");
  s.add("^/a|^/b", RewriteKind::app, "/ab");
  EXPECT_EQ(s.apply("/UpPeR", "").value().target, "/upper");
  EXPECT_EQ(s.apply("/page.html", "").value().target, "/page");
  EXPECT_FALSE(s.apply("/pageXhtml", ""));
  EXPECT_EQ(s.apply("/xxxy", "").value().target, "/xy");
  EXPECT_EQ(s.apply("/opional", "").value().target, "/optional");
  EXPECT_EQ(s.apply("/b", "").value().target, "/ab");
  // Rules added after a first use are seen too.
  s.add("^/late$", RewriteKind::app, "/late");
  EXPECT_EQ(s.apply("/late", "").value().target, "/late");
}
