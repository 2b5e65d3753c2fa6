#include "server/routing/site.hpp"

#include <gtest/gtest.h>

using namespace w2p::server;

namespace {

SiteSpec site(std::string name, std::vector<std::string> hosts, std::vector<std::string> rx = {}) {
  SiteSpec s;
  s.name = std::move(name);
  s.hosts = std::move(hosts);
  s.host_regex = std::move(rx);
  return s;
}

std::string error_of(std::vector<SiteSpec> sites) {
  try {
    SiteRouter r(std::move(sites), SiteSpec{});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Hosts, Normalised) {
  EXPECT_EQ(normalize_host("Example.COM:8080"), "example.com");
  EXPECT_EQ(normalize_host("example.com."), "example.com");
  EXPECT_EQ(normalize_host("[::1]:8000"), "[::1]");
  EXPECT_EQ(normalize_host("[::1"), "");
  EXPECT_EQ(normalize_host(""), "");
}

TEST(Hosts, ExactThenLongestWildcardThenRegexThenDefault) {
  std::vector<SiteSpec> sites{
      site("regex", {}, {"(^|\\.)example\\.com$"}),
      site("wild", {"*.example.com"}),
      site("deep", {"*.api.example.com"}),
      site("exact", {"www.example.com", "example.net"}),
  };
  SiteSpec fallback;
  fallback.name = "fallback";
  SiteRouter r(sites, fallback);
  EXPECT_EQ(r.select("www.example.com")->spec.name, "exact");
  EXPECT_EQ(r.select("WWW.Example.com:80")->spec.name, "exact");
  EXPECT_EQ(r.select("shop.example.com")->spec.name, "wild");
  EXPECT_EQ(r.select("v1.api.example.com")->spec.name, "deep");
  // "*.example.com" does not take the bare name: the regex does.
  EXPECT_EQ(r.select("example.com")->spec.name, "regex");
  EXPECT_EQ(r.select("EXAMPLE.COM")->spec.name, "regex");  // regexes match without case
  EXPECT_EQ(r.select("example.org")->spec.name, "fallback");
  EXPECT_EQ(r.select("")->spec.name, "fallback");
  EXPECT_EQ(r.select("badexample.com")->spec.name, "fallback");
  EXPECT_TRUE(r.select("nothing")->spec.is_default);
}

TEST(Hosts, SiteMarkedDefaultReplacesTheFallback) {
  auto a = site("a", {"a.test"});
  auto b = site("b", {"b.test"});
  b.is_default = true;
  SiteSpec fallback;
  fallback.name = "fallback";
  SiteRouter r({a, b}, fallback);
  EXPECT_EQ(r.select("zzz.test")->spec.name, "b");
  EXPECT_EQ(r.select("a.test")->spec.name, "a");
  EXPECT_EQ(r.sites().size(), 2u);
}

TEST(Hosts, ConflictsAreErrors) {
  auto a = site("a", {"a.test"});
  auto b = site("b", {"A.test"});
  a.file = "f.toml";
  a.line = 3;
  b.file = "f.toml";
  b.line = 7;
  EXPECT_EQ(error_of({a, b}),
            "f.toml:7: site 'b': host 'A.test' is claimed by f.toml:3: site 'a' too");
  EXPECT_NE(error_of({site("a", {"*.x.test"}), site("b", {"*.x.test"})}).find("claimed by"),
            std::string::npos);
  auto d1 = site("d1", {});
  auto d2 = site("d2", {});
  d1.is_default = d2.is_default = true;
  EXPECT_NE(error_of({d1, d2}).find("a second default site"), std::string::npos);
  EXPECT_NE(error_of({site("bad", {}, {"(unclosed"})}).find("bad host-regex '(unclosed' at offset"),
            std::string::npos);
  EXPECT_NE(error_of({site("bad", {"a b"})}).find("is not a host name"), std::string::npos);
}

TEST(Hosts, Patterns) {
  EXPECT_TRUE(valid_host_pattern("example.com"));
  EXPECT_TRUE(valid_host_pattern("*.example.com"));
  EXPECT_TRUE(valid_host_pattern("[::1]"));
  EXPECT_TRUE(valid_host_pattern("localhost"));
  EXPECT_FALSE(valid_host_pattern("*"));
  EXPECT_FALSE(valid_host_pattern("a*.example.com"));
  EXPECT_FALSE(valid_host_pattern("(^|\\.)example\\.com$"));
  EXPECT_FALSE(valid_host_pattern(".example.com"));
  EXPECT_FALSE(valid_host_pattern(""));
}

TEST(RewriteTarget, Forms) {
  auto a = parse_rewrite_target("/app/default/$1");
  EXPECT_EQ(a.kind, RewriteKind::app);
  EXPECT_EQ(a.target, "/app/default/$1");
  auto b = parse_rewrite_target("app /x");
  EXPECT_EQ(b.kind, RewriteKind::app);
  EXPECT_EQ(b.target, "/x");
  auto s = parse_rewrite_target("static /applications$1");
  EXPECT_EQ(s.kind, RewriteKind::static_file);
  EXPECT_EQ(s.target, "/applications$1");
  auto r = parse_rewrite_target("redirect 301 https://example.com/$1");
  EXPECT_EQ(r.kind, RewriteKind::redirect);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.target, "https://example.com/$1");
  auto r2 = parse_rewrite_target("redirect https://example.com/");
  EXPECT_EQ(r2.status, 302);
  EXPECT_EQ(r2.target, "https://example.com/");
  EXPECT_THROW(parse_rewrite_target("static /a b"), RewriteError);
}

TEST(SiteRules, RewritesCompiledInOrder) {
  auto s = site("s", {"s.test"});
  s.rewrites = {{"^/$", "/app/default/index"},
                {"^(?!.*admin)(/.+?/static/.+$)", "static /applications$1"},
                {"^/old/(.*)$", "redirect 308 https://new.test/$1"}};
  SiteRouter r({s}, SiteSpec{});
  const Site& x = *r.select("s.test");
  auto a = x.rewrites.apply("/", "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->target, "/app/default/index");
  auto b = x.rewrites.apply("/blog/static/css/x.css", "");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->kind, RewriteKind::static_file);
  EXPECT_EQ(b->target, "/applications/blog/static/css/x.css");
  EXPECT_FALSE(x.rewrites.apply("/admin/default/edit/blog/static/css/x.css", ""));
  auto c = x.rewrites.apply("/old/a", "b=1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 308);
  EXPECT_EQ(c->target, "https://new.test/a?b=1");
}

TEST(SiteRules, DenySuffixes) {
  std::vector<std::string> deny{"~", ".inc"};
  EXPECT_TRUE(denied_suffix("/a/b.txt~", deny));
  EXPECT_TRUE(denied_suffix("/config.inc", deny));
  EXPECT_FALSE(denied_suffix("/config.inc.txt", deny));
  EXPECT_FALSE(denied_suffix("/a", deny));
  EXPECT_FALSE(denied_suffix("/a~", {}));
}

TEST(SiteRules, NeverStatic) {
  const std::string root = "/srv/web2py";
  EXPECT_TRUE(never_static("/srv/www", "x.py", {}, root));
  EXPECT_TRUE(never_static("/srv/www", "a/x.pyc", {}, root));
  EXPECT_TRUE(never_static("/srv/www", "handler.fcgi", {}, root));
  EXPECT_TRUE(never_static("/srv/www", "x.php", {".php"}, root));
  EXPECT_FALSE(never_static("/srv/www", "x.pyx", {}, root));
  EXPECT_FALSE(never_static("/srv/www", "private/x.txt", {}, root));  // not a web2py tree
  for (const char* folder : {"private", "databases", "sessions", "errors", "cache"}) {
    EXPECT_TRUE(never_static(root, std::string("applications/app/") + folder + "/x.txt", {}, root))
        << folder;
    EXPECT_TRUE(never_static(root + "/applications", std::string("app/") + folder + "/x", {}, root))
        << folder;
    EXPECT_TRUE(never_static(root + "/applications/app/" + folder, "x", {}, root)) << folder;
  }
  EXPECT_TRUE(never_static(root, "./applications//app/./private/x", {}, root));
  EXPECT_FALSE(never_static(root, "applications/app/static/private/x.css", {}, root));
  EXPECT_FALSE(never_static(root + "/applications/app/static", "cache/x.css", {}, root));
  EXPECT_FALSE(never_static("/srv/web2py2/applications/app/private", "x", {}, root));
}

TEST(SiteRules, DefaultApplication) {
  SiteSpec s;
  s.default_app = "blog";
  auto installed = [](std::string_view a) { return a == "admin" || a == "blog"; };
  EXPECT_EQ(with_default_app(s, "/", installed).value_or("-"), "/blog/");
  EXPECT_EQ(with_default_app(s, "/default/post/3", installed).value_or("-"),
            "/blog/default/post/3");
  EXPECT_FALSE(with_default_app(s, "/blog/default/index", installed));
  EXPECT_FALSE(with_default_app(s, "/admin/default/index", installed));  // installed: as is
  EXPECT_FALSE(with_default_app(s, "/favicon.ico", installed));
  // With a list of applications, only those pass through unchanged.
  s.apps = {"blog"};
  EXPECT_EQ(with_default_app(s, "/admin/default/index", installed).value_or("-"),
            "/blog/admin/default/index");
  EXPECT_TRUE(app_allowed(s, "/blog/x"));
  EXPECT_FALSE(app_allowed(s, "/admin/x"));
  SiteSpec none;
  EXPECT_FALSE(with_default_app(none, "/", installed));
  EXPECT_TRUE(app_allowed(none, "/anything"));
}

TEST(SiteRules, CacheRulesFirstMatchByPathAndType) {
  SiteSpec s = site("s", {"s.test"});
  s.cache_rules = {{"\\.(css|js)$", "", "public, max-age=604800", -1, 1},
                   {"", "image/", "", 2592000, 2},
                   {"^/docs/", "text/html", "no-cache", -1, 3}};
  SiteRouter r({s}, SiteSpec{});
  const Site& x = *r.select("s.test");
  ASSERT_NE(x.cache_rule("/static/app.css", "text/css; charset=utf-8"), nullptr);
  EXPECT_EQ(x.cache_rule("/static/app.css", "text/css")->cache_control, "public, max-age=604800");
  EXPECT_EQ(x.cache_rule("/img/a.png", "image/png")->expires, 2592000);
  EXPECT_EQ(x.cache_rule("/docs/a.html", "text/html; charset=utf-8")->cache_control, "no-cache");
  EXPECT_EQ(x.cache_rule("/docs/a.txt", "text/plain"), nullptr);
  EXPECT_EQ(x.cache_rule("/a.html", "text/html"), nullptr);
  EXPECT_THROW(compile_cache_pattern("("), SiteError);
}
