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
  Route r;
  r.site = site;
  if (denied(spec, rq.path)) {
    r = error(403);
    r.site = site;
    return r;
  }

  // Rewrite rules see the raw path and query, as lighttpd's url.rewrite-once does; the result
  // is parsed, decoded and normalised once.
  std::string path(rq.path), query(rq.query);
  if (site->rewrites.size() != 0) {
    if (auto rw = site->rewrites.apply(rq.raw_path, rq.query)) {
      auto fail = [&](Route e) {
        e.site = site;
        return e;
      };
      if (rw->failed) return fail(error(500, rw->error));
      if (rw->kind == RewriteKind::redirect) {
        if (!is_safe_header_value(rw->target)) return fail(error(400));
        Route red;
        red.kind = RouteKind::redirect;
        red.site = site;
        red.status = rw->status;
        red.headers.push_back({"Location", std::move(rw->target)});
        return red;
      }
      auto parts = split_target(rw->target);
      auto decoded = parts && !parts->absolute_form ? percent_decode(parts->path) : std::nullopt;
      if (!decoded) return fail(error(400));
      path = normalize_path(*decoded);
      if (denied(spec, path)) return fail(error(403));
      if (rw->kind == RewriteKind::static_file) {
        if (!rq.get_or_head) return fail(not_allowed());
        return static_route(std::move(r), spec.document_root, path, spec, cfg);
      }
      query.assign(parts->query);
    }
  }

  // Native static mappings: the site's own, then the global ones, on the normalised path.
  const std::string& normal = path;  // normalised by check_request_head, or just above
  const std::vector<StaticMount>* mount_lists[] = {&spec.statics, cfg.statics};
  for (const auto* mounts : mount_lists) {
    if (!mounts) continue;
    for (const auto& mount : *mounts) {
      std::string relative;
      if (!mount_match(mount, normal, relative)) continue;
      if (!rq.get_or_head) {
        Route e = not_allowed();
        e.site = site;
        return e;
      }
      return static_route(std::move(r), mount.dir, relative, spec, cfg);
    }
  }

  if (!cfg.web2py_root.empty()) {
    // A site's default application takes URLs that name none of its applications.
    auto installed = [&](std::string_view app) { return cfg.installed && cfg.installed(app); };
    if (auto prefixed = with_default_app(spec, path, installed)) path = std::move(*prefixed);
    if (!app_allowed(spec, path) && path != "/favicon.ico" && path != "/robots.txt") {
      r = error(404);
      r.site = site;
      return r;
    }
  }
  r.app_path = path;
  r.app_query = query;

  // web2py's own static URLs, when the file is certainly the one web2py would serve; anything
  // uncertain goes to web2py (gluon/streamer.py).
  if (!cfg.web2py_apps.empty() && !rq.has_body && rq.get_or_head) {
    const std::string& app_default =
        spec.default_app.empty() ? std::string(cfg.default_app) : spec.default_app;
    if (auto target = map_web2py_static(path, app_default)) {
      std::string dir = std::string(cfg.web2py_apps) + "/" + target->app + "/static";
      if (app_allowed(spec, "/" + target->app) &&
          !never_static(dir, target->relative, spec.static_exclude, cfg.web2py_root) &&
          !(!spec.access_deny.empty() && denied_suffix(target->relative, spec.access_deny))) {
        r.kind = RouteKind::web2py_static;
        r.dir = std::move(dir);
        r.relative = std::move(target->relative);
        r.versioned = target->versioned;
        return r;
      }
    }
  }

  if (!cfg.has_app) {
    r.kind = RouteKind::error;
    r.status = 404;
    return r;
  }
  r.kind = RouteKind::application;
  return r;
}

}  // namespace w2p::server
