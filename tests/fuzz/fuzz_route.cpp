// The whole routing decision (site, rewrite, deny, static mapping, web2py static) on request
// heads built from the input, with an oracle: nothing outside a static root or inside web2py's
// private folders is ever served, and deny rules hold for every spelling of a path.
//
// Input: "METHOD TARGET\nHOST" (the rest of a head is added). The configuration is fixed and
// realistic: a web2py folder with the rules import-lighttpd makes of the classic lighttpd setup,
// a second site with its own document root and rules, and a static mapping above the web2py
// folder.

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "server/http/request_rules.hpp"
#include "server/http/url_path.hpp"
#include "server/routing/route.hpp"

namespace http = boost::beast::http;
using namespace w2p::server;

namespace {

const std::string kRoot = "/srv/web2py";
const std::vector<std::string> kDeny = {"~", ".inc", ".bak"};

struct World {
  std::vector<StaticMount> statics{{"/srv", "/srv"}, {"/media", "/srv/media"}};
  std::unique_ptr<SiteRouter> sites;
  RouteConfig cfg;
  std::string apps = kRoot + "/applications";

  World() {
    SiteSpec main;
    main.name = "main";
    main.hosts = {"example.com", "*.example.com"};
    main.document_root = kRoot;
    main.access_deny = kDeny;
    main.rewrites = {{"^(?!.*admin)(/.+?/static/.+$)", "static /applications$1"},
                     {"^/$", "/welcome/default/index"},
                     {"^/dl/(.*)$", "static /applications/welcome/static/$1"},
                     {"^/old/(.*)$", "redirect 301 https://example.com/$1"}};
    SiteSpec other;
    other.name = "other";
    other.host_regex = {"(^|\\.)other\\.test$"};
    other.document_root = "/srv/other";
    other.access_deny = kDeny;
    other.static_exclude = {".php"};
    other.rewrites = {{"^/files/(.*)$", "static /public/$1"}, {"^/go/([^?]*)", "/app/x/$1"}};
    other.statics = {{"/assets", "/srv/other/assets"}};
    SiteSpec fallback;
    fallback.document_root = kRoot;
    fallback.access_deny = kDeny;
    sites = std::make_unique<SiteRouter>(std::vector<SiteSpec>{main, other}, fallback);
    cfg.sites = sites.get();
    cfg.statics = &statics;
    cfg.status_path = "/server-status";
    cfg.web2py_root = kRoot;
    cfg.web2py_apps = apps;
    cfg.default_app = "welcome";
    cfg.installed = [](std::string_view a) { return a == "welcome" || a == "admin"; };
  }
};

bool has_dot_segment(std::string_view rel) {
  std::size_t i = 0;
  while (i <= rel.size()) {
    std::size_t end = rel.find('/', i);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view seg = rel.substr(i, end - i);
    if (seg.empty() || seg == "." || seg == "..") return true;
    i = end + 1;
  }
  return false;
}

bool below(std::string_view dir, std::string_view root) {
  return dir == root ||
         (dir.starts_with(root) && dir.size() > root.size() && dir[root.size()] == '/');
}

void check_served(const Route& r, std::string_view path) {
  // A real folder of the configuration, and a safe path below it.
  bool known_root = r.dir == kRoot || r.dir == "/srv" || r.dir == "/srv/media" ||
                    r.dir == "/srv/other" || r.dir == "/srv/other/assets" ||
                    (r.kind == RouteKind::web2py_static && below(r.dir, kRoot + "/applications") &&
                     r.dir.ends_with("/static"));
  if (!known_root) std::abort();
  if (!r.relative.empty() && (r.relative[0] == '/' || has_dot_segment(r.relative))) std::abort();
  if (r.relative.find('\0') != std::string::npos || r.relative.find('\\') != std::string::npos)
    std::abort();
  // Never web2py's private data, never source.
  if (web2py_private(r.dir, r.relative, kRoot)) std::abort();
  if (r.relative.ends_with(".py") || r.relative.ends_with(".pyc")) std::abort();
  // Deny rules: neither the request's path nor the file's own.
  if (denied_suffix(deny_view(path), kDeny) || denied_suffix(r.relative, kDeny)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  std::string in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  std::string line = in.substr(0, nl);
  std::string host = nl == std::string::npos ? "example.com" : in.substr(nl + 1);
  std::string raw = line + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  http::request_parser<http::empty_body> p;
  p.header_limit(64 * 1024);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(raw), ec);
  if (ec || !p.is_header_done()) return 0;
  RequestVerdict v = check_request_head(p.get().base(), p.chunked(), p.content_length(), 8192);
  if (v.status != 0) {
    if (v.status < 400 || v.status > 505) std::abort();
    return 0;
  }
  if (v.asterisk) return 0;
  // The one view of the path is normal: no dot segments, no "//".
  if (v.path.empty() || v.path[0] != '/' || v.path.find("//") != std::string::npos ||
      v.path.find("/./") != std::string::npos || v.path.find("/../") != std::string::npos)
    std::abort();
  RouteRequest rq;
  rq.get_or_head = p.get().method() == http::verb::get || p.get().method() == http::verb::head;
  rq.host = v.host;
  rq.raw_path = v.raw_path;
  rq.path = v.path;
  rq.query = v.query;
  rq.status_peer = size % 2 == 0;
  Route r = route(rq, world.cfg);
  switch (r.kind) {
    case RouteKind::static_file:
    case RouteKind::web2py_static:
      check_served(r, v.path);
      break;
    case RouteKind::error:
      if (r.status < 400 || r.status > 599) std::abort();
      break;
    case RouteKind::redirect:
      if (r.status < 300 || r.status > 308 || r.headers.empty()) std::abort();
      break;
    case RouteKind::status_page:
      if (!rq.status_peer) std::abort();
      break;
    case RouteKind::application:
      // Deny rules hold for the application's URLs too.
      if (denied_suffix(deny_view(v.path), kDeny)) std::abort();
      break;
  }
  return 0;
}
