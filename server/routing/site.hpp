#pragma once
// Virtual hosts: which site a request's Host names, and each site's own rules (default web2py
// application, the applications it exposes, static mappings, index files, access-deny
// suffixes, rewrite rules). SiteSpec is what the configuration says; SiteRouter compiles it
// once at start-up and answers per request without allocating.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/routing/rewrite.hpp"
#include "server/static/static_files.hpp"

namespace w2p::server {

struct RewriteSpec {
  std::string match;  // PCRE2 pattern, tested against the raw path plus "?query"
  std::string to;     // "/app/url", "static /path/below/document-root", "redirect [301] URL"
  int line = 0;       // where it was written (0: not from a file)
};

// Caching headers for native static files: the first rule whose path pattern (PCRE2, on the
// decoded path) and MIME type (exact, or a prefix ending in '/') both match sets Cache-Control
// and/or Expires.
struct CacheRuleSpec {
  std::string match;          // empty: any path
  std::string type;           // empty: any type
  std::string cache_control;  // empty: none
  long expires = -1;          // seconds from now for Expires (and max-age when no Cache-Control)
  int line = 0;
};

struct SiteSpec {
  std::string name;                     // for messages and check-config
  std::vector<std::string> hosts;       // exact names, or "*.example.com"
  std::vector<std::string> host_regex;  // PCRE2, tested against the lower-case host, no port
  bool is_default = false;              // takes requests whose Host matches no site
  std::string default_app;              // web2py application for URLs naming no application
  std::vector<std::string> apps;        // web2py applications reachable here (empty: all)
  std::string document_root;            // folder for "static" rewrite targets (default: root)
  std::vector<StaticMount> statics;     // before the global ones
  std::vector<std::string> index_names{"index.html"};
  std::vector<std::string> access_deny;     // URL path suffixes answered with 403
  std::vector<std::string> static_exclude;  // extensions never served as static files
  std::vector<RewriteSpec> rewrites;
  std::vector<CacheRuleSpec> cache_rules;
  std::string tls_cert, tls_key;  // chosen by SNI for the site's hosts
  bool acme = false;              // its hosts get a certificate by ACME (automatic HTTPS)
  std::string file;               // the configuration file it came from, for messages
  int line = 0;
};

class SiteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ParsedRewriteTarget {
  RewriteKind kind = RewriteKind::app;
  std::string target;
  int status = 0;
};

// "static /applications$1" → static; "redirect 301 https://x/$1" (status optional, default 302)
// → redirect; "deny" → 403; "app /a/b" or "/a/b" → application. Throws RewriteError.
ParsedRewriteTarget parse_rewrite_target(std::string_view to);

struct Site {
  SiteSpec spec;
  RewriteRules rewrites;
  mutable std::atomic<std::uint64_t> requests{0};  // for /server-status
  // Compiled path patterns of spec.cache_rules (null where a rule has none).
  std::vector<std::shared_ptr<void>> cache_patterns;
  const CacheRuleSpec* cache_rule(std::string_view decoded_path,
                                  std::string_view content_type) const;
};

// Compiles a cache rule's path pattern (for validation too). Throws SiteError.
std::shared_ptr<void> compile_cache_pattern(const std::string& pattern);

class SiteRouter {
 public:
  // Compiles every site; throws SiteError (a bad host pattern, two sites claiming one host,
  // two default sites) or RewriteError. With no site marked default, `fallback` is used.
  SiteRouter(std::vector<SiteSpec> sites, SiteSpec fallback);
  ~SiteRouter();

  // The groups a site's host-regex captured from `host` (group 0 first; empty when the site
  // has no host-regex or none matches): lighttpd's %0..%9 in a redirect target.
  std::vector<std::string> host_groups(const Site& site, std::string_view host) const;

  // The site for a Host header value ("Example.COM:8080" and "example.com." are example.com);
  // the default site when nothing matches or there is no Host; null when a host-regex could
  // not be evaluated on this name (PCRE2's match limit), so the request fails closed.
  const Site* select(std::string_view host) const;
  const std::vector<std::unique_ptr<Site>>& sites() const { return sites_; }

 private:
  struct Regex;
  std::vector<std::unique_ptr<Site>> sites_;
  const Site* default_ = nullptr;
  std::unordered_map<std::string, const Site*> exact_;
  std::vector<std::pair<std::string, const Site*>> wildcards_;  // ".example.com", longest first
  std::vector<std::unique_ptr<Regex>> regexes_;
};

// Lower-case host without port or trailing dot; "[v6]" keeps its brackets.
std::string normalize_host(std::string_view host);

// True when `pattern` is a valid host pattern for `hosts` (a name, or "*." and a name).
bool valid_host_pattern(std::string_view pattern);

// True when the decoded URL path ends with one of the suffixes.
bool denied_suffix(std::string_view decoded_path, const std::vector<std::string>& suffixes);

// True when `relative` below the folder `dir` (both without ".." segments; `dir` absolute)
// must never be served as a static file: source and compiled files (.py, .pyc, .pyo, .fcgi),
// extensions in `exclude`, and web2py_private().
bool never_static(std::string_view dir, std::string_view relative,
                  const std::vector<std::string>& exclude, std::string_view web2py_root);

// True when the path `dir`/`relative` lies inside the web2py folder but not in an
// application's static folder (applications/<app>/static/<file>): whatever mapping leads
// there, web2py's private data (databases, sessions, uploads, private/, source, parameters)
// is never a static file. False when `web2py_root` is empty.
bool web2py_private(std::string_view dir, std::string_view relative, std::string_view web2py_root);

// The same rule for a file's real path (every symlink resolved): private when inside the web2py
// folder, or inside the real applications folder `apps_real` (when applications/ is a symlink
// elsewhere), but not in an application's static folder. An empty real path (unknown) is not.
bool web2py_private_real(std::string_view real_path, std::string_view web2py_root,
                         std::string_view apps_real);

// web2py URLs on a site with a default application: a path whose first segment is not one of
// the site's applications (or not an installed one, when the site lists none) gets
// "/<default-app>" in front, so "/" and "/default/about" reach that application. nullopt
// when the path stays as it is. `installed(name)` says whether applications/<name> exists.
template <class Installed>
std::optional<std::string> with_default_app(const SiteSpec& site, std::string_view path,
                                            Installed&& installed);

// Whether the path's application (first segment) may be reached on this site.
bool app_allowed(const SiteSpec& site, std::string_view path);

std::string_view first_segment(std::string_view path);

template <class Installed>
std::optional<std::string> with_default_app(const SiteSpec& site, std::string_view path,
                                            Installed&& installed) {
  if (site.default_app.empty()) return std::nullopt;
  if (path == "/favicon.ico" || path == "/robots.txt") return std::nullopt;
  std::string_view seg = first_segment(path);
  if (!seg.empty()) {
    if (site.apps.empty()) {
      if (installed(seg)) return std::nullopt;
    } else {
      for (const auto& a : site.apps)
        if (a == seg) return std::nullopt;
    }
  }
  std::string out = "/" + site.default_app;
  if (path.size() > 1)
    out.append(path);
  else
    out.push_back('/');
  return out;
}

}  // namespace w2p::server
