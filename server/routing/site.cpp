#include "server/routing/site.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>

namespace w2p::server {

namespace {

// Whether `code` matches anywhere in `subject`: 1, 0, or -1 when PCRE2 could not tell (a match
// or depth limit). A match block per I/O thread, sized for the whole match only.
int matches(pcre2_code* code, std::string_view subject) {
  thread_local struct Block {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Block() { pcre2_match_data_free(data); }
  } block;
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                       block.data, nullptr);
  return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string where(const SiteSpec& s) {
  std::string w = s.file.empty() ? std::string() : s.file + ":" + std::to_string(s.line) + ": ";
  return w + "site '" + s.name + "'";
}

}  // namespace

struct SiteRouter::Regex {
  pcre2_code* code = nullptr;
  const Site* site = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

ParsedRewriteTarget parse_rewrite_target(std::string_view to) {
  ParsedRewriteTarget out;
  auto word = [&](std::string_view w) {
    if (to.size() > w.size() && to.substr(0, w.size()) == w && to[w.size()] == ' ') {
      to.remove_prefix(w.size());
      while (!to.empty() && to.front() == ' ') to.remove_prefix(1);
      return true;
    }
    return false;
  };
  if (to == "deny") {
    out.kind = RewriteKind::deny;
    return out;
  }
  if (word("static")) {
    out.kind = RewriteKind::static_file;
  } else if (word("redirect")) {
    out.kind = RewriteKind::redirect;
    out.status = 302;
    std::size_t n = 0;
    while (n < to.size() && std::isdigit(static_cast<unsigned char>(to[n]))) ++n;
    if (n > 0 && (n == to.size() || to[n] == ' ')) {
      if (n != 3)
        throw RewriteError("redirect status " + std::string(to.substr(0, n)) +
                           " is not one of 301, 302, 303, 307, 308");
      out.status = (to[0] - '0') * 100 + (to[1] - '0') * 10 + (to[2] - '0');
      to.remove_prefix(n);
      while (!to.empty() && to.front() == ' ') to.remove_prefix(1);
    }
  } else {
    word("app");
  }
  if (to.find_first_of(" \t\r\n") != std::string_view::npos)
    throw RewriteError("target '" + std::string(to) +
                       "' has a space in it (write \"/url\", \"static /path\", "
                       "\"redirect 301 https://...\" or \"deny\")");
  out.target.assign(to);
  return out;
}

std::string normalize_host(std::string_view host) {
  std::string out;
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos) return out;
    host = host.substr(0, close + 1);
  } else {
    std::size_t colon = host.find(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
    while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  }
  out.reserve(host.size());
  for (char c : host) out.push_back(lower(c));
  return out;
}

bool valid_host_pattern(std::string_view p) {
  if (p.starts_with("*.")) p.remove_prefix(2);
  if (p.empty() || p.size() > 253) return false;
  if (p.front() == '[') return p.back() == ']' && p.size() > 2;
  for (char c : p) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  }
  return p.front() != '.' && p.back() != '.';
}

bool denied_suffix(std::string_view path, const std::vector<std::string>& suffixes) {
  for (const auto& s : suffixes)
    if (path.ends_with(s)) return true;
  return false;
}

namespace {

// The segments of "<a>/<b>" in order, skipping empty and "." ones, without copying: static hits
// below a web2py folder run this for every request.
class Segments {
 public:
  Segments(std::string_view a, std::string_view b) : parts_{a, b} {}
  // The next segment, or nullopt at the end.
  std::optional<std::string_view> next() {
    while (part_ < 2) {
      std::string_view& p = parts_[part_];
      if (p.empty()) {
        ++part_;
        continue;
      }
      std::size_t slash = p.find('/');
      std::string_view seg = p.substr(0, slash);
      p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
      if (!seg.empty() && seg != ".") return seg;
    }
    return std::nullopt;
  }

 private:
  std::string_view parts_[2];
  int part_ = 0;
};

}  // namespace

bool web2py_private(std::string_view dir, std::string_view relative, std::string_view web2py_root) {
  if (web2py_root.empty()) return false;
  Segments path(dir, relative), root(web2py_root, {});
  // Outside the web2py folder nothing is private to it.
  while (auto r = root.next()) {
    auto p = path.next();
    if (!p || *p != *r) return false;
  }
  // Inside it, only applications/<app>/static/<file> is ever a static file: models,
  // controllers, views, uploads, databases, sessions, private/, cron/, the folder's own files
  // (parameters, routes, logs) are web2py's to guard.
  auto applications = path.next();
  auto app = path.next();
  auto static_dir = path.next();
  auto file = path.next();
  return !(applications && *applications == "applications" && app && static_dir &&
           *static_dir == "static" && file);
}

bool web2py_private_real(std::string_view real_path, std::string_view web2py_root,
                         std::string_view apps_real) {
  if (real_path.empty() || web2py_root.empty()) return false;
  if (!apps_real.empty()) {
    Segments path(real_path, {}), apps(apps_real, {});
    bool inside = true;
    while (auto a = apps.next()) {
      auto p = path.next();
      if (!p || *p != *a) {
        inside = false;
        break;
      }
    }
    if (inside) {
      auto app = path.next();
      auto static_dir = path.next();
      auto file = path.next();
      return !(app && static_dir && *static_dir == "static" && file);
    }
  }
  return web2py_private(real_path, {}, web2py_root);
}

bool never_static(std::string_view dir, std::string_view relative,
                  const std::vector<std::string>& exclude, std::string_view web2py_root) {
  static constexpr std::string_view kSource[] = {".py", ".pyc", ".pyo", ".fcgi"};
  for (auto ext : kSource)
    if (relative.ends_with(ext)) return true;
  for (const auto& ext : exclude)
    if (relative.ends_with(ext)) return true;
  return web2py_private(dir, relative, web2py_root);
}

std::string_view first_segment(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return path.substr(0, path.find('/'));
}

bool app_allowed(const SiteSpec& site, std::string_view path) {
  if (site.apps.empty()) return true;
  std::string_view seg = first_segment(path);
  for (const auto& a : site.apps)
    if (a == seg) return true;
  return false;
}

std::shared_ptr<void> compile_cache_pattern(const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw SiteError("bad regular expression '" + pattern + "' at offset " + std::to_string(offset) +
                    ": " + reinterpret_cast<char*>(msg));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
}

const CacheRuleSpec* Site::cache_rule(std::string_view path, std::string_view type) const {
  type = type.substr(0, type.find(';'));
  for (std::size_t i = 0; i < spec.cache_rules.size(); ++i) {
    const CacheRuleSpec& r = spec.cache_rules[i];
    if (!r.type.empty() && !(r.type.ends_with('/') ? type.starts_with(r.type) : type == r.type))
      continue;
    // A rule that cannot be evaluated on this path adds no caching headers.
    if (cache_patterns[i] && matches(static_cast<pcre2_code*>(cache_patterns[i].get()), path) != 1)
      continue;
    return &r;
  }
  return nullptr;
}

SiteRouter::SiteRouter(std::vector<SiteSpec> specs, SiteSpec fallback) {
  bool have_default = false;
  for (const auto& s : specs) {
    if (!s.is_default) continue;
    if (have_default)
      throw SiteError(where(s) + ": a second default site (only one site may say default = true)");
    have_default = true;
  }
  if (!have_default) {
    fallback.is_default = true;
    if (fallback.name.empty()) fallback.name = "default";
    specs.insert(specs.begin(), std::move(fallback));
  }
  std::unordered_map<std::string, const SiteSpec*> wildcard_owner;
  for (auto& spec : specs) {
    auto site = std::make_unique<Site>();
    site->spec = std::move(spec);
    const SiteSpec& s = site->spec;
    for (const auto& r : s.rewrites) {
      auto t = parse_rewrite_target(r.to);
      site->rewrites.add(r.match, t.kind, t.target, t.status);
    }
    for (const auto& c : s.cache_rules)
      site->cache_patterns.push_back(c.match.empty() ? nullptr : compile_cache_pattern(c.match));
    for (const auto& h : s.hosts) {
      if (!valid_host_pattern(h))
        throw SiteError(where(s) + ": '" + h +
                        "' is not a host name (write example.com or *.example.com; use "
                        "host-regex for a regular expression)");
      if (h.starts_with("*.")) {
        std::string name = "." + normalize_host(h.substr(2));
        auto [it, fresh] = wildcard_owner.emplace(name, &s);
        if (!fresh)
          throw SiteError(where(s) + ": host '" + h + "' is claimed by " + where(*it->second) +
                          " too");
        wildcards_.emplace_back(name, site.get());
      } else {
        auto [it, fresh] = exact_.emplace(normalize_host(h), site.get());
        if (!fresh)
          throw SiteError(where(s) + ": host '" + h + "' is claimed by " + where(it->second->spec) +
                          " too");
      }
    }
    for (const auto& pattern : s.host_regex) {
      auto rx = std::make_unique<Regex>();
      int err = 0;
      PCRE2_SIZE offset = 0;
      rx->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                               PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset,
                               nullptr);
      if (!rx->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw SiteError(where(s) + ": bad host-regex '" + pattern + "' at offset " +
                        std::to_string(offset) + ": " + reinterpret_cast<char*>(msg));
      }
      pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE);
      rx->site = site.get();
      regexes_.push_back(std::move(rx));
    }
    if (s.is_default) default_ = site.get();
    sites_.push_back(std::move(site));
  }
  std::stable_sort(wildcards_.begin(), wildcards_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

SiteRouter::~SiteRouter() = default;

std::vector<std::string> SiteRouter::host_groups(const Site& site, std::string_view host) const {
  std::vector<std::string> out;
  std::string name = normalize_host(host);
  for (const auto& rx : regexes_) {
    if (rx->site != &site) continue;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(rx->code, nullptr);
    int rc = pcre2_match(rx->code, reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(), 0, 0, md,
                         nullptr);
    if (rc > 0) {
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      for (int i = 0; i < rc; ++i)
        out.push_back(ov[2 * i] == PCRE2_UNSET ? std::string()
                                               : name.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
    }
    pcre2_match_data_free(md);
    if (rc > 0) break;
  }
  return out;
}

const Site* SiteRouter::select(std::string_view host) const {
  if (sites_.size() == 1 || host.empty()) return default_;
  std::string name = normalize_host(host);
  if (name.empty()) return default_;
  if (auto it = exact_.find(name); it != exact_.end()) return it->second;
  for (const auto& [suffix, site] : wildcards_) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) return site;
  }
  for (const auto& rx : regexes_) {
    int m = matches(rx->code, name);
    if (m < 0) return nullptr;  // this host's site is unknown: never guess another one
    if (m > 0) return rx->site;
  }
  return default_;
}

}  // namespace w2p::server
