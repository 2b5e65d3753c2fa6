#include "server/routing/route.hpp"

#include "server/http/response_head.hpp"
#include "server/http/url_path.hpp"

namespace w2p::server {

namespace {

constexpr std::string_view kAcmeChallenge = "/.well-known/acme-challenge/";

Route error(int status, std::string log = {}) {
  Route r;
  r.kind = RouteKind::error;
  r.status = status;
  r.log = std::move(log);
  return r;
}

Route not_allowed() {
  Route r = error(405);
  r.headers.push_back({"Allow", "GET, HEAD"});
  return r;
}

// A --redirect-listen listener: the same URL over HTTPS (on the first TLS listener's port).
Route to_https(const RouteRequest& rq) {
  std::string host = normalize_host(rq.host);
  if (host.empty())
    host = rq.local_addr.find(':') != std::string_view::npos
               ? "[" + std::string(rq.local_addr) + "]"
               : std::string(rq.local_addr);
  std::string location = "https://" + host;
  if (rq.redirect_port != 443) location += ":" + std::to_string(rq.redirect_port);
  location.append(rq.raw_path.empty() ? std::string_view("/") : rq.raw_path);
  if (!rq.query.empty()) location.append("?").append(rq.query);
  if (!is_safe_header_value(location)) return error(400);
  Route r;
  r.kind = RouteKind::redirect;
  r.status = rq.get_or_head ? 301 : 308;
  r.headers.push_back({"Location", std::move(location)});
  return r;
}

bool denied(const SiteSpec& spec, std::string_view path) {
  return !spec.access_deny.empty() && denied_suffix(deny_view(path), spec.access_deny);
}

// A file (or a directory, for its index) below `dir`; `normal_path` is normalised.
Route static_route(Route r, const std::string& dir, std::string_view normal_path,
                   const SiteSpec& spec, const RouteConfig& cfg) {
  auto rel = safe_relative_path(normal_path);
  // A backslash or NUL never names a file served here; web2py's private folders are never
  // static, whatever mapping leads there; deny rules also hold for the file's own path.
  if (!rel || never_static(dir, *rel, spec.static_exclude, cfg.web2py_root) ||
      (!spec.access_deny.empty() && denied_suffix(*rel, spec.access_deny)))
    return error(403);
  r.kind = RouteKind::static_file;
  r.dir = dir;
  r.relative = std::move(*rel);
  return r;
}

}  // namespace

std::string deny_view(std::string_view decoded_path) {
  std::string p = normalize_path(decoded_path);
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

namespace {

std::string with_host_groups(std::string_view target, const std::vector<std::string>& groups) {
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '%' && i + 1 < target.size()) {
      char n = target[i + 1];
      if (n == '%') {
        out.push_back('%');
        ++i;
        continue;
      }
      if (n >= '0' && n <= '9') {
        std::size_t g = static_cast<std::size_t>(n - '0');
        if (g < groups.size()) out.append(groups[g]);
        ++i;
        continue;
      }
    }
    out.push_back(target[i]);
  }
  return out;
}

Route at(Route r, const Site* site) {
  r.site = site;
  return r;
}

// Rewrite rules see the raw path and query, as lighttpd's url.rewrite-once does; the result is
// parsed, decoded and normalised once, into `path` and `query`. A route when a rule decides it
// (a redirect, a static target, a failure), nullopt otherwise.
std::optional<Route> apply_rewrites(const RouteRequest& rq, const RouteConfig& cfg,
                                    const Site& site, std::string& path, std::string& query) {
  const SiteSpec& spec = site.spec;
  if (site.rewrites.size() == 0) return std::nullopt;
  auto rw = site.rewrites.apply(rq.raw_path, rq.query);
  if (!rw) return std::nullopt;
  if (rw->failed) return at(error(500, rw->error), &site);
  if (rw->kind == RewriteKind::deny) return at(error(403), &site);
  if (rw->kind == RewriteKind::redirect) {
    // lighttpd's %0..%9 on a site chosen by host-regex: what the regex captured ("%%" is a
    // literal '%'). Elsewhere a '%' is itself (an escape such as %20).
    if (rw->target.find('%') != std::string::npos && !site.spec.host_regex.empty()) {
      auto groups = cfg.sites->host_groups(site, rq.host);
      if (!groups.empty()) rw->target = with_host_groups(rw->target, groups);
    }
    if (!is_safe_header_value(rw->target)) return at(error(400), &site);
    Route red;
    red.kind = RouteKind::redirect;
    red.site = &site;
    red.status = rw->status;
    red.headers.push_back({"Location", std::move(rw->target)});
    return red;
  }
  auto parts = split_target(rw->target);
  auto decoded = parts && !parts->absolute_form ? percent_decode(parts->path) : std::nullopt;
  if (!decoded) return at(error(400), &site);
  path = normalize_path(*decoded);
  if (denied(spec, path)) return at(error(403), &site);
  if (rw->kind == RewriteKind::static_file) {
    if (!rq.get_or_head) return at(not_allowed(), &site);
    return static_route(at(Route{}, &site), spec.document_root, path, spec, cfg);
  }
  query.assign(parts->query);
  return std::nullopt;
}

// Native static mappings: the site's own, then the global ones, on the normalised path.
std::optional<Route> match_static_mounts(const RouteRequest& rq, const RouteConfig& cfg,
                                         const Site& site, const std::string& path) {
  const std::vector<StaticMount>* mount_lists[] = {&site.spec.statics, cfg.statics};
  for (const auto* mounts : mount_lists) {
    if (!mounts) continue;
    for (const auto& mount : *mounts) {
      std::string relative;
      if (!mount_match(mount, path, relative)) continue;
      if (!rq.get_or_head) return at(not_allowed(), &site);
      return static_route(at(Route{}, &site), mount.dir, relative, site.spec, cfg);
    }
  }
  return std::nullopt;
}

// web2py's own static URLs, when the file is certainly the one web2py would serve; anything
// uncertain goes to web2py (gluon/streamer.py).
bool match_web2py_static(const RouteRequest& rq, const RouteConfig& cfg, const SiteSpec& spec,
                         Route& r) {
  if (cfg.web2py_apps.empty() || rq.has_body || !rq.get_or_head) return false;
  const std::string& app_default =
      spec.default_app.empty() ? std::string(cfg.default_app) : spec.default_app;
  auto target = map_web2py_static(r.app_path, app_default);
  if (!target) return false;
  std::string dir = std::string(cfg.web2py_apps) + "/" + target->app + "/static";
  if (!app_allowed(spec, "/" + target->app) ||
      never_static(dir, target->relative, spec.static_exclude, cfg.web2py_root) ||
      (!spec.access_deny.empty() && denied_suffix(target->relative, spec.access_deny)))
    return false;
  r.kind = RouteKind::web2py_static;
  r.dir = std::move(dir);
  r.relative = std::move(target->relative);
  r.versioned = target->versioned;
  return true;
}

}  // namespace

Route route(const RouteRequest& rq, const RouteConfig& cfg) {
  if (rq.redirect_port > 0 && !rq.path.starts_with(kAcmeChallenge)) return to_https(rq);

  // The status page, for loopback peers and --status-allow only; for anyone else it is an
  // ordinary URL.
  if (!cfg.status_path.empty() && rq.path == cfg.status_path && rq.get_or_head && rq.status_peer) {
    Route r;
    r.kind = RouteKind::status_page;
    return r;
  }

  const Site* site = cfg.sites->select(rq.host);
  if (!site)
    return error(500, "a host-regex could not be evaluated for host '" + std::string(rq.host) +
                          "' (PCRE2 limit); refusing the request");
  const SiteSpec& spec = site->spec;
  if (denied(spec, rq.path)) return at(error(403), site);

  // The path is normal from here on: by check_request_head, or by the rewrite.
  std::string path(rq.path), query(rq.query);
  if (auto decided = apply_rewrites(rq, cfg, *site, path, query)) return std::move(*decided);
  if (auto mounted = match_static_mounts(rq, cfg, *site, path)) return std::move(*mounted);

  if (!cfg.web2py_root.empty()) {
    // A site's default application takes URLs that name none of its applications.
    auto installed = [&](std::string_view app) { return cfg.installed && cfg.installed(app); };
    if (auto prefixed = with_default_app(spec, path, installed)) path = std::move(*prefixed);
    if (!app_allowed(spec, path) && path != "/favicon.ico" && path != "/robots.txt")
      return at(error(404), site);
  }
  Route r = at(Route{}, site);
  r.app_path = std::move(path);
  r.app_query = std::move(query);
  if (match_web2py_static(rq, cfg, spec, r)) return r;
  if (!cfg.has_app) return at(error(404), site);
  r.kind = RouteKind::application;
  return r;
}

}  // namespace w2p::server
