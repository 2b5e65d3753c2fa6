// Routing decisions from real cases: web2py URLs, the lighttpd rules converted by
// import-lighttpd, deny spellings, static mappings near the web2py folder, failure modes.

#include "server/routing/route.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "server/http/request_rules.hpp"

using namespace w2p::server;
namespace http = boost::beast::http;

namespace {

const std::string kRoot = "/srv/web2py";

struct Routing {
  std::vector<StaticMount> statics;
  std::unique_ptr<SiteRouter> sites;
  RouteConfig cfg;
  std::string apps = kRoot + "/applications";

  explicit Routing(std::vector<SiteSpec> specs, SiteSpec fallback = {}, bool web2py = true) {
    if (fallback.document_root.empty()) fallback.document_root = kRoot;
    if (fallback.access_deny.empty()) fallback.access_deny = {"~", ".inc"};
    sites = std::make_unique<SiteRouter>(std::move(specs), std::move(fallback));
    cfg.sites = sites.get();
    cfg.statics = &statics;
    cfg.status_path = "/server-status";
    if (web2py) {
      cfg.web2py_root = kRoot;
      cfg.web2py_apps = apps;
      cfg.default_app = "welcome";
    }
    cfg.installed = [](std::string_view a) {
      return a == "welcome" || a == "admin" || a == "blog";
    };
  }

  // Parses the request as the connection does, then routes it. A refused head gives an error
  // route with its status.
  Route decide(const std::string& method, const std::string& target, const std::string& host = "h",
               bool status_peer = false, std::uint16_t redirect_port = 0) {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    http::request_parser<http::empty_body> p;
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(raw), ec);
    Route r;
    if (ec) {
      r.status = -1;
      return r;
    }
    auto v = check_request_head(p.get().base(), p.chunked(), p.content_length(), 8192);
    if (v.status) {
      r.status = v.status;
      return r;
    }
    RouteRequest rq;
    rq.get_or_head = method == "GET" || method == "HEAD";
    rq.host = v.host;
    rq.raw_path = v.raw_path;
    rq.path = v.path;
    rq.query = v.query;
    rq.status_peer = status_peer;
    rq.redirect_port = redirect_port;
    rq.local_addr = "127.0.0.1";
    return route(rq, cfg);
  }
};

SiteSpec lighttpd_site() {
  // What import-lighttpd makes of conf/lighttpd-web2py.conf's main host block.
  SiteSpec s;
  s.name = "example";
  s.hosts = {"example.com"};
  s.document_root = kRoot;
  s.access_deny = {"~", ".inc"};
  s.rewrites = {{"^(?!.*admin)(/.+?/static/.+$)", "static /applications$1"},
                {"^/$", "/welcome/default/index"}};
  return s;
}

}  // namespace

TEST(Route, Web2pyStaticFiles) {
  Routing s({});
  auto r = s.decide("GET", "/welcome/static/css/x.css");
  EXPECT_EQ(r.kind, RouteKind::web2py_static);
  EXPECT_EQ(r.dir, kRoot + "/applications/welcome/static");
  EXPECT_EQ(r.relative, "css/x.css");
  EXPECT_FALSE(r.versioned);
  EXPECT_EQ(r.app_path, "/welcome/static/css/x.css");  // if it is not a file, web2py answers
  r = s.decide("GET", "/welcome/static/_2.21.1/js/x.js");
  EXPECT_EQ(r.kind, RouteKind::web2py_static);
  EXPECT_EQ(r.relative, "js/x.js");
  EXPECT_TRUE(r.versioned);
  r = s.decide("GET", "/favicon.ico");
  EXPECT_EQ(r.kind, RouteKind::web2py_static);
  EXPECT_EQ(r.dir, kRoot + "/applications/welcome/static");
  // Admin's static-file editor is an admin page, not a file.
  r = s.decide("GET", "/admin/default/edit/welcome/static/css/x.css");
  EXPECT_EQ(r.kind, RouteKind::application);
  // Dot segments are resolved first: this is the welcome app's static file.
  r = s.decide("GET", "/welcome/static/css/../css/x.css");
  EXPECT_EQ(r.kind, RouteKind::web2py_static);
  EXPECT_EQ(r.relative, "css/x.css");
  // Not static: POST, another folder, a private one reached by dots.
  EXPECT_EQ(s.decide("POST", "/welcome/static/css/x.css").kind, RouteKind::application);
  r = s.decide("GET", "/welcome/static/../databases/storage.sqlite");
  EXPECT_EQ(r.kind, RouteKind::application);
  EXPECT_EQ(r.app_path, "/welcome/databases/storage.sqlite");
  // web2py's own source in a static folder never is.
  EXPECT_EQ(s.decide("GET", "/welcome/static/x.py").kind, RouteKind::application);
}

TEST(Route, AboveTheRootIsABadRequest) {
  Routing s({});
  for (std::string t : {"/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/x", "/a/%2E%2E/%2e%2e/x",
                        "/a/..%2f..%2fx"})
    EXPECT_EQ(s.decide("GET", t).status, 400) << t;
}

TEST(Route, LighttpdRulesNeverReachPrivateFiles) {
  Routing s({lighttpd_site()});
  auto r = s.decide("GET", "/welcome/static/css/x.css", "example.com");
  EXPECT_EQ(r.kind, RouteKind::static_file);
  EXPECT_EQ(r.dir, kRoot);
  EXPECT_EQ(r.relative, "applications/welcome/static/css/x.css");
  // The rule matches path and query: "?/static/x" after an upload's URL made the rewritten path
  // the upload's. Below the web2py folder only applications/<app>/static/ is ever static.
  for (std::string t :
       {"/welcome/uploads/secret.txt?/static/x", "/welcome/databases/storage.sqlite?/static/x",
        "/welcome/private/appconfig.ini?x=/static/y", "/welcome/cron/crontab?/static/x",
        "/welcome/views/default/index.html?/static/x", "/welcome/sessions/s1?/static/x",
        "/welcome/static/../models/db.txt?/static/x"}) {
    r = s.decide("GET", t, "example.com");
    EXPECT_NE(r.kind, RouteKind::static_file) << t;
    EXPECT_NE(r.kind, RouteKind::web2py_static) << t;
    if (r.kind == RouteKind::error) {
      EXPECT_EQ(r.status, 403) << t;
    }
  }
  // Admin goes to admin.
  r = s.decide("GET", "/admin/default/edit/welcome/static/css/x.css", "example.com");
  EXPECT_EQ(r.kind, RouteKind::application);
  r = s.decide("GET", "/", "example.com");
  EXPECT_EQ(r.kind, RouteKind::application);
  EXPECT_EQ(r.app_path, "/welcome/default/index");
}

TEST(Route, RewriteResultIsNormalisedOnce) {
  SiteSpec site;
  site.name = "s";
  site.hosts = {"s.test"};
  site.document_root = "/srv/site";
  site.rewrites = {{"^/files/(.*)$", "static /public/$1"}, {"^/go/(.*)$", "/app/x/$1"}};
  Routing s({site}, {}, false);
  auto r = s.decide("GET", "/files/a//b/./c.txt", "s.test");
  EXPECT_EQ(r.kind, RouteKind::static_file);
  EXPECT_EQ(r.relative, "public/a/b/c.txt");
  // An encoded dot segment in the capture is decoded once and resolved, never above the root.
  r = s.decide("GET", "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "s.test");
  if (r.kind == RouteKind::static_file) {
    EXPECT_EQ(r.relative, "etc/passwd");  // below /srv/site
  }
  r = s.decide("GET", "/go/a%2Fb?q=1", "s.test");
  EXPECT_EQ(r.kind, RouteKind::application);
  EXPECT_EQ(r.app_path, "/app/x/a/b");
  EXPECT_EQ(r.app_query, "q=1");
}

TEST(Route, DenyRulesHoldForEverySpelling) {
  Routing s({}, {}, false);
  s.statics.push_back({"/files", "/srv/files"});
  for (std::string t :
       {"/files/backup.inc", "/files/backup.inc/", "/files/backup.inc/.", "/files/x/../backup.inc",
        "/files/file~", "/files/file~/", "/files//file~", "/files/backup%2einc",
        "/files/backup.in%63", "/files/file%7E", "/files/file~/%2e"}) {
    auto r = s.decide("GET", t);
    EXPECT_EQ(r.kind, RouteKind::error) << t;
    EXPECT_EQ(r.status, 403) << t;
  }
  EXPECT_EQ(s.decide("GET", "/files/backup.inc.txt").kind, RouteKind::static_file);
}

TEST(Route, StaticMappingAboveTheWeb2pyFolderNeverServesItsPrivateData) {
  Routing s({});
  s.statics.push_back({"/srv", "/srv"});
  for (std::string t :
       {"/srv/web2py/applications/welcome/databases/auth.sqlite",
        "/srv/web2py/applications/welcome/private/appconfig.ini",
        "/srv/web2py/applications/welcome/uploads/x.png", "/srv/web2py/parameters_8000.txt",
        "/srv/web2py/routes.example", "/srv/web2py/applications/welcome/static"}) {
    auto r = s.decide("GET", t);
    EXPECT_EQ(r.kind, RouteKind::error) << t;
    EXPECT_EQ(r.status, 403) << t;
  }
  auto r = s.decide("GET", "/srv/web2py/applications/welcome/static/css/x.css");
  EXPECT_EQ(r.kind, RouteKind::static_file);
  EXPECT_EQ(s.decide("GET", "/srv/other/file.txt").kind, RouteKind::static_file);
  EXPECT_EQ(s.decide("POST", "/srv/other/file.txt").status, 405);
}

TEST(Route, StatusPageRedirectsAndDefaults) {
  Routing s({});
  EXPECT_EQ(s.decide("GET", "/server-status", "h", true).kind, RouteKind::status_page);
  EXPECT_EQ(s.decide("GET", "/server-status", "h", false).kind, RouteKind::application);
  auto r = s.decide("GET", "/a/b?c=d", "Example.com:80", false, 8443);
  EXPECT_EQ(r.kind, RouteKind::redirect);
  EXPECT_EQ(r.status, 301);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].value, "https://example.com:8443/a/b?c=d");
  r = s.decide("POST", "/a", "example.com", false, 443);
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.headers[0].value, "https://example.com/a");
  // ACME challenges pass through the redirect listener.
  EXPECT_NE(s.decide("GET", "/.well-known/acme-challenge/tok", "h", false, 443).kind,
            RouteKind::redirect);
  SiteSpec blog;
  blog.name = "blog";
  blog.hosts = {"blog.test"};
  blog.default_app = "blog";
  blog.apps = {"blog"};
  Routing t({blog});
  r = t.decide("GET", "/", "blog.test");
  EXPECT_EQ(r.app_path, "/blog/");
  r = t.decide("GET", "/default/post/3", "blog.test");
  EXPECT_EQ(r.app_path, "/blog/default/post/3");
  r = t.decide("GET", "/welcome/default/index", "blog.test");
  EXPECT_EQ(r.app_path, "/blog/welcome/default/index");
  r = t.decide("GET", "/blog/static/x.css", "blog.test");
  EXPECT_EQ(r.kind, RouteKind::web2py_static);
}

TEST(Route, RegexLimitsFailClosed) {
  SiteSpec site;
  site.name = "s";
  site.hosts = {"s.test"};
  // Catastrophic backtracking: PCRE2 gives up (match limit) on a long run of 'a'.
  site.rewrites = {{"^/(a+)+$", "static /never"}};
  Routing s({site}, {}, false);
  auto r = s.decide("GET", "/" + std::string(64, 'a') + "!", "s.test");
  EXPECT_EQ(r.kind, RouteKind::error);
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.log.find("could not be evaluated"), std::string::npos);
  // A recursion that loops (found by fuzz_rewrite): PCRE2 refuses to run it on this URL.
  SiteSpec loop = site;
  loop.rewrites = {{"^(?0)X", "static /never"}};
  Routing l({loop}, {}, false);
  r = l.decide("GET", "/00", "s.test");
  EXPECT_EQ(r.kind, RouteKind::error);
  EXPECT_EQ(r.status, 500);
  SiteSpec rx;
  rx.name = "rx";
  rx.host_regex = {"^(a+)+$"};
  Routing h({rx}, {}, false);
  r = h.decide("GET", "/", std::string(64, 'a') + "-");
  EXPECT_EQ(r.kind, RouteKind::error);
  EXPECT_EQ(r.status, 500);
}

TEST(Route, DenyView) {
  EXPECT_EQ(deny_view("/a/b.inc/"), "/a/b.inc");
  EXPECT_EQ(deny_view("/a/b.inc/."), "/a/b.inc");
  EXPECT_EQ(deny_view("/"), "/");
  EXPECT_EQ(deny_view("//x//y~//"), "/x/y~");
}

TEST(Route, DenyTargetsAndHostGroupsInRedirects) {
  SiteSpec nowww;
  nowww.name = "no-www";
  nowww.host_regex = {"^www\\.(.+)$"};
  nowww.rewrites = {{"^/([^?]*)", "redirect 301 https://%1/$1?from=%0&x=%%20"}};
  SiteSpec plain;
  plain.name = "plain";
  plain.hosts = {"plain.test"};
  plain.rewrites = {{"^/private(/|$)", "deny"}, {"^/(.*)$", "redirect https://other.test/%20$1"}};
  Routing s({nowww, plain}, {}, false);
  auto r = s.decide("GET", "/a/b?q=1", "www.example.org");
  EXPECT_EQ(r.kind, RouteKind::redirect);
  EXPECT_EQ(r.headers[0].value, "https://example.org/a/b?from=www.example.org&x=%20");
  r = s.decide("GET", "/private/x", "plain.test");
  EXPECT_EQ(r.kind, RouteKind::error);
  EXPECT_EQ(r.status, 403);
  r = s.decide("GET", "/y", "plain.test");
  EXPECT_EQ(r.headers[0].value, "https://other.test/%20y");  // no host-regex: '%' is itself
}
