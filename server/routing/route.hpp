#pragma once
// Routing as a pure function: from a checked request head, the site table and the settings to
// one decision (redirect, status page, error, static file, web2py static file, application).
// No sockets, no Asio, no file system (whether a web2py application is installed is asked
// through a callback), so every rule can be unit-tested from a table and fuzzed with an oracle.
// The connection asks and acts.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/app_interface.hpp"
#include "server/routing/site.hpp"
#include "server/routing/web2py_static.hpp"
#include "server/static/static_files.hpp"

namespace w2p::server {

// What routing needs of a request (already through check_request_head).
struct RouteRequest {
  bool get_or_head = true;
  bool has_body = false;
  std::string_view host;      // the authority (absolute-form target, else Host)
  std::string_view raw_path;  // as sent, still percent-encoded
  std::string_view path;      // percent-decoded once
  std::string_view query;     // raw
  bool status_peer = false;   // may see the status page (loopback or --status-allow, not proxied)
  std::uint16_t redirect_port = 0;  // > 0: a --redirect-listen connection, sent to HTTPS there
  std::string_view local_addr;      // for that redirect when the client sent no Host
};

// The tables and settings routing reads; built once per server.
struct RouteConfig {
  const SiteRouter* sites = nullptr;
  const std::vector<StaticMount>* statics = nullptr;  // global mappings, after each site's own
  std::string_view status_path;                       // "" : no status page
  std::string_view web2py_root;                       // the web2py folder ("" : not web2py)
  std::string_view web2py_apps;  // "<root>/applications" when web2py static files are native
  std::string_view default_app;  // web2py's default application (favicon.ico, robots.txt)
  bool has_app = true;           // there is an application to hand requests to
  std::function<bool(std::string_view)> installed;  // applications/<name> exists
};

enum class RouteKind {
  redirect,       // `status` with a Location header
  status_page,    // /server-status
  error,          // `status` (403, 404, 405 with Allow, 400, 500 with `log`)
  static_file,    // `dir` / `relative` (a file, or a directory for its index)
  web2py_static,  // `dir` / `relative` if it is a regular file, else the application
  application,    // `app_path` and `app_query`
};

struct Route {
  RouteKind kind = RouteKind::error;
  int status = 0;
  std::vector<Header> headers;  // Location (redirect), Allow (405)
  std::string log;              // for a 500: what failed, for the error log
  const Site* site = nullptr;   // null only for redirects, the status page and a failed host match
  // Static files: the folder and the safe path below it (no "..", no empty segments).
  std::string dir, relative;
  bool versioned = false;  // web2py's /<app>/static/_1.2.3/ URLs
  // The application's view of the request: the decoded path (rewritten and normalised when a
  // rewrite rule applied) and the raw query.
  std::string app_path, app_query;
};

Route route(const RouteRequest& request, const RouteConfig& config);

// The request's path as deny rules see it: normalised, without a trailing slash, so that
// "backup.inc/", "backup.inc/." and "/x/../backup.inc" are all "backup.inc".
std::string deny_view(std::string_view decoded_path);

}  // namespace w2p::server
