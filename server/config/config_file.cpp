#include "server/config/config_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>
#include <sstream>

// toml++ compiled into this one file: only start-up touches it, and no shared library is mapped.
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include "server/config/option_table.hpp"
#include "server/config/toml_text.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/ops/access_log.hpp"
#include "server/routing/site.hpp"
#include "server/routing/web2py_static.hpp"

namespace w2p::server {
namespace {

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {
    std::size_t slash = file_.rfind('/');
    char cwd[PATH_MAX];
    if (slash != std::string::npos)
      base_ = file_.substr(0, slash == 0 ? 1 : slash);
    else
      base_ = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
  }

  [[noreturn]] void fail(const toml::source_region& at, const std::string& key,
                         const std::string& what) const {
    throw OptionError(file_ + ":" + std::to_string(at.begin.line) + ": " + key + ": " + what);
  }

  std::string str(const toml::node& n, const std::string& key) const {
    if (auto v = n.value<std::string>(); v && n.is_string()) return *v;
    fail(n.source(), key, "expected a string in quotes");
  }

  bool boolean(const toml::node& n, const std::string& key) const {
    if (!n.is_boolean()) fail(n.source(), key, "expected true or false");
    return *n.value<bool>();
  }

  std::int64_t integer(const toml::node& n, const std::string& key, std::int64_t lo,
                       std::int64_t hi) const {
    if (!n.is_integer()) fail(n.source(), key, "expected a whole number");
    std::int64_t v = *n.value<std::int64_t>();
    if (v < lo || v > hi)
      fail(n.source(), key,
           std::to_string(v) + " is out of range (" + std::to_string(lo) + " to " +
               std::to_string(hi) + ")");
    return v;
  }

  // A string, or an array of strings.
  std::vector<std::string> strings(const toml::node& n, const std::string& key) const {
    std::vector<std::string> out;
    if (n.is_string()) {
      out.push_back(*n.value<std::string>());
      return out;
    }
    const toml::array* a = n.as_array();
    if (!a) fail(n.source(), key, "expected a string or an array of strings, e.g. [\"a\", \"b\"]");
    for (const auto& e : *a) {
      if (!e.is_string()) fail(e.source(), key, "expected an array of strings in quotes");
      out.push_back(*e.value<std::string>());
    }
    return out;
  }

  // A size: "64k", "10M" or a whole number of bytes.
  std::string size(const toml::node& n, const std::string& key) const {
    std::string s = n.is_integer() ? std::to_string(*n.value<std::int64_t>()) : str(n, key);
    try {
      parse_size(s);
    } catch (const OptionError& e) {
      fail(n.source(), key, e.what());
    }
    return s;
  }

  // A path; relative ones are taken from the configuration file's folder.
  std::string path(const toml::node& n, const std::string& key) const {
    std::string p = str(n, key);
    if (p.empty()) fail(n.source(), key, "empty path");
    return absolute(p);
  }
  std::string absolute(const std::string& p) const { return p[0] == '/' ? p : base_ + "/" + p; }

  std::string directory(const toml::node& n, const std::string& key) const {
    std::string p = path(n, key);
    auto resolved = real_directory(p);
    if (!resolved) fail(n.source(), key, "'" + p + "' is not a directory");
    return *resolved;
  }

  // "/prefix=DIR" strings, as --static takes them.
  std::vector<StaticMount> mounts(const toml::node& n, const std::string& key) const {
    std::vector<StaticMount> out;
    for (const auto& spec : strings(n, key)) {
      std::size_t eq = spec.find('=');
      std::string fixed = spec;
      if (eq != std::string::npos && eq + 1 < spec.size())
        fixed = spec.substr(0, eq + 1) + absolute(spec.substr(eq + 1));
      try {
        out.push_back(parse_static(fixed));
      } catch (const OptionError& e) {
        std::string msg = e.what();
        if (msg.starts_with("--static ")) msg = msg.substr(9);
        fail(n.source(), key, msg);
      }
    }
    return out;
  }

  void unknown(const toml::key& k, const std::string& where, const std::string& known) const {
    std::string name(k.str());
    fail(k.source(), name, "unknown key in " + where + " (known keys: " + known + ")");
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string base_;
};

bool app_name_ok(const std::string& s) {
  return !s.empty() && is_web2py_name(s);
}

std::vector<RewriteSpec> read_rewrites(const Reader& r, const toml::node& n,
                                       const std::string& key) {
  std::vector<RewriteSpec> out;
  const toml::array* a = n.as_array();
  if (!a)
    r.fail(n.source(), key,
           "expected an array of rules, e.g. rewrite = [ { match = \"^/$\", to = "
           "\"/app/default/index\" } ]");
  std::size_t i = 0;
  for (const auto& e : *a) {
    std::string k = key + "[" + std::to_string(i++) + "]";
    const toml::table* t = e.as_table();
    if (!t) r.fail(e.source(), k, "expected a table { match = \"REGEX\", to = \"TARGET\" }");
    RewriteSpec spec;
    spec.line = static_cast<int>(e.source().begin.line);
    bool has_match = false, has_to = false;
    for (const auto& [name, value] : *t) {
      if (name == "match") {
        spec.match = r.str(value, k + ".match");
        has_match = true;
      } else if (name == "to") {
        spec.to = r.str(value, k + ".to");
        has_to = true;
      } else {
        r.unknown(name, "a rewrite rule", "match, to");
      }
    }
    if (!has_match || !has_to)
      r.fail(e.source(), k,
             std::string("needs ") + (has_match ? "" : "match = \"REGEX\"") +
                 (!has_match && !has_to ? " and " : "") + (has_to ? "" : "to = \"TARGET\""));
    // Compiled now so that a bad rule is reported with its line, not at the first request.
    try {
      auto target = parse_rewrite_target(spec.to);
      RewriteRules probe;
      probe.add(spec.match, target.kind, target.target, target.status);
    } catch (const RewriteError& err) {
      r.fail(e.source(), k, err.what());
    }
    out.push_back(std::move(spec));
  }
  return out;
}

// "30d", "12h", "15m", "3600s" or a whole number of seconds.
long parse_duration(const Reader& r, const toml::node& n, const std::string& key) {
  if (n.is_integer()) return static_cast<long>(r.integer(n, key, 0, 10L * 365 * 86400));
  std::string s = r.str(n, key);
  std::size_t pos = 0;
  long v = -1;
  try {
    v = std::stol(s, &pos);
  } catch (const std::exception&) {
  }
  std::string unit = s.substr(pos);
  long mult = unit.empty() || unit == "s" ? 1
              : unit == "m"               ? 60
              : unit == "h"               ? 3600
              : unit == "d"               ? 86400
              : unit == "w"               ? 7 * 86400
              : unit == "y"               ? 365 * 86400
                                          : -1;
  if (v < 0 || mult < 0 || s.empty() || s[0] == '-')
    r.fail(n.source(), key,
           "'" + s + "' is not a duration (write e.g. \"30d\", \"12h\", \"15m\" or seconds)");
  if (v > 10L * 365 * 86400 / mult)
    r.fail(n.source(), key, "'" + s + "' is too long (at most 10 years)");
  return v * mult;
}

std::vector<CacheRuleSpec> read_cache_rules(const Reader& r, const toml::node& n,
                                            const std::string& key) {
  std::vector<CacheRuleSpec> out;
  const toml::array* a = n.as_array();
  if (!a)
    r.fail(n.source(), key,
           "expected an array of rules, e.g. cache = [ { type = \"image/\", expires = \"30d\" } ]");
  std::size_t i = 0;
  for (const auto& e : *a) {
    std::string k = key + "[" + std::to_string(i++) + "]";
    const toml::table* t = e.as_table();
    if (!t)
      r.fail(e.source(), k,
             "expected a table { match = \"REGEX\", type = \"text/\", cache-control = \"...\" }");
    CacheRuleSpec c;
    c.line = static_cast<int>(e.source().begin.line);
    for (const auto& [name, value] : *t) {
      if (name == "match") {
        c.match = r.str(value, k + ".match");
        try {
          compile_cache_pattern(c.match);
        } catch (const SiteError& err) {
          r.fail(value.source(), k + ".match", err.what());
        }
      } else if (name == "type") {
        c.type = r.str(value, k + ".type");
        if (c.type.find('/') == std::string::npos)
          r.fail(value.source(), k + ".type",
                 "'" + c.type +
                     "' is not a MIME type (write e.g. \"image/png\", or \"image/\" for every "
                     "image type)");
      } else if (name == "cache-control") {
        c.cache_control = r.str(value, k + ".cache-control");
        if (c.cache_control.find_first_of("\r\n") != std::string::npos)
          r.fail(value.source(), k + ".cache-control", "a header value cannot hold a line break");
      } else if (name == "expires") {
        c.expires = parse_duration(r, value, k + ".expires");
      } else {
        r.unknown(name, "a cache rule", "match, type, cache-control, expires");
      }
    }
    if (c.cache_control.empty() && c.expires < 0)
      r.fail(e.source(), k, "needs cache-control = \"...\" or expires = \"30d\"");
    out.push_back(std::move(c));
  }
  return out;
}

// Keys shared by the top level (the default site) and [[site]] tables.
bool read_site_key(const Reader& r, const std::string& name, const toml::node& value,
                   const std::string& prefix, SiteSpec& s) {
  std::string k = prefix + name;
  if (name == "index") {
    s.index_names = r.strings(value, k);
    for (const auto& i : s.index_names)
      if (i.empty() || i.find('/') != std::string::npos)
        r.fail(value.source(), k, "'" + i + "' is not a file name (write e.g. \"index.html\")");
  } else if (name == "access-deny") {
    s.access_deny = r.strings(value, k);
    for (const auto& d : s.access_deny)
      if (d.empty()) r.fail(value.source(), k, "an empty suffix would deny every URL");
  } else if (name == "static-exclude") {
    s.static_exclude = r.strings(value, k);
    for (const auto& d : s.static_exclude)
      if (d.empty()) r.fail(value.source(), k, "an empty extension would exclude every file");
  } else if (name == "rewrite") {
    s.rewrites = read_rewrites(r, value, k);
  } else if (name == "document-root") {
    s.document_root = r.directory(value, k);
  } else if (name == "cache") {
    s.cache_rules = read_cache_rules(r, value, k);
  } else {
    return false;
  }
  return true;
}

SiteSpec read_site(const Reader& r, const toml::node& n, std::size_t index,
                   const SiteSpec& global) {
  std::string prefix = "site[" + std::to_string(index) + "].";
  const toml::table* t = n.as_table();
  if (!t) r.fail(n.source(), "site", "expected [[site]] tables");
  SiteSpec s;
  s.file = r.file();
  s.line = static_cast<int>(n.source().begin.line);
  s.index_names = global.index_names;
  s.access_deny = global.access_deny;
  s.static_exclude = global.static_exclude;
  s.cache_rules = global.cache_rules;
  for (const auto& [key, value] : *t) {
    std::string name(key.str());
    std::string k = prefix + name;
    if (read_site_key(r, name, value, prefix, s)) continue;
    if (name == "name") {
      s.name = r.str(value, k);
    } else if (name == "hosts") {
      s.hosts = r.strings(value, k);
      for (const auto& h : s.hosts)
        if (!valid_host_pattern(h))
          r.fail(value.source(), k,
                 "'" + h +
                     "' is not a host name (write example.com or *.example.com; for a "
                     "regular expression use host-regex)");
    } else if (name == "host-regex") {
      s.host_regex = r.strings(value, k);
    } else if (name == "default") {
      s.is_default = r.boolean(value, k);
    } else if (name == "default-app") {
      s.default_app = r.str(value, k);
      if (!app_name_ok(s.default_app))
        r.fail(value.source(), k,
               "'" + s.default_app +
                   "' is not a web2py application name "
                   "(letters, digits and _)");
    } else if (name == "apps") {
      s.apps = r.strings(value, k);
      for (const auto& a : s.apps)
        if (!app_name_ok(a))
          r.fail(value.source(), k,
                 "'" + a + "' is not a web2py application name (letters, digits and _)");
    } else if (name == "static") {
      s.statics = r.mounts(value, k);
    } else if (name == "tls-cert") {
      s.tls_cert = r.path(value, k);
    } else if (name == "tls-key") {
      s.tls_key = r.path(value, k);
    } else if (name == "acme") {
      s.acme = r.boolean(value, k);
    } else {
      std::vector<std::string_view> known;
      for (const auto& sk : site_keys()) known.push_back(sk.name);
      std::string hint;
      if (auto best = suggest_option(name, known))
        hint = " (did you mean " + std::string(*best) + "?)";
      r.fail(key.source(), k, "unknown key in [[site]]" + hint);
    }
  }
  if (s.name.empty()) s.name = s.hosts.empty() ? "site " + std::to_string(index) : s.hosts.front();
  if (s.hosts.empty() && s.host_regex.empty() && !s.is_default)
    r.fail(n.source(), prefix + "hosts",
           "a site needs hosts = [\"example.com\"], host-regex = \"...\", or default = true");
  if (s.acme) {
    // Certificates are ordered for configured names only, never for what a client sends.
    if (s.hosts.empty())
      r.fail(n.source(), prefix + "acme",
             "acme = true needs the site's hosts = [...] (exact names)");
    for (const auto& h : s.hosts)
      if (h.starts_with("*."))
        r.fail(n.source(), prefix + "acme",
               "'" + h +
                   "': a wildcard certificate needs the DNS-01 challenge, which w2pserve "
                   "does not do; list each host");
    if (!s.tls_cert.empty())
      r.fail(n.source(), prefix + "acme", "a site has tls-cert or acme = true, not both");
  }
  // Each host regex compiles (the router reports which one is bad).
  try {
    SiteSpec probe = s;
    probe.rewrites.clear();
    probe.is_default = true;
    SiteRouter({probe}, SiteSpec{});
  } catch (const SiteError& e) {
    std::string msg = e.what();
    r.fail(n.source(), prefix + "host-regex", msg.substr(msg.find("': ") + 3));
  }
  return s;
}

std::vector<std::string> mount_specs(const std::vector<StaticMount>& mounts) {
  std::vector<std::string> out;
  for (const auto& m : mounts) out.push_back((m.prefix.empty() ? "/" : m.prefix) + "=" + m.dir);
  return out;
}

void describe_site_rules(std::ostringstream& o, const SiteSpec& s, const char* indent) {
  o << indent << "index = " << toml_list(s.index_names) << "\n";
  o << indent << "access-deny = " << toml_list(s.access_deny) << "\n";
  o << indent << "static-exclude = " << toml_list(s.static_exclude) << "\n";
  o << indent << "cache = [";
  for (const auto& c : s.cache_rules) {
    o << "\n" << indent << "  {";
    std::string sep = " ";
    if (!c.match.empty()) o << sep << "match = " << toml_quote(c.match), sep = ", ";
    if (!c.type.empty()) o << sep << "type = " << toml_quote(c.type), sep = ", ";
    if (!c.cache_control.empty())
      o << sep << "cache-control = " << toml_quote(c.cache_control), sep = ", ";
    if (c.expires >= 0) o << sep << "expires = " << c.expires;
    o << " },";
  }
  o << (s.cache_rules.empty() ? "]\n" : std::string("\n") + indent + "]\n");
  o << indent << "rewrite = [";
  for (const auto& r : s.rewrites)
    o << "\n"
      << indent << "  { match = " << toml_quote(r.match) << ", to = " << toml_quote(r.to) << " },";
  o << (s.rewrites.empty() ? "]\n" : std::string("\n") + indent + "]\n");
}

}  // namespace

namespace {

// A table option's value in the file, as text (checked against the option's kind later, with
// the same code as the command line's).
std::vector<std::string> option_values(const Reader& r, const OptionSpec& spec,
                                       const toml::node& n) {
  std::string key(spec.name);
  switch (spec.kind) {
    case ValueKind::flag:
      return {r.boolean(n, key) ? "true" : "false"};
    case ValueKind::number:
      if (!n.is_integer()) r.fail(n.source(), key, "expected a whole number");
      if (*n.value<std::int64_t>() < 0)
        r.fail(n.source(), key, "expected a whole number, not a negative one");
      return {std::to_string(*n.value<std::int64_t>())};
    case ValueKind::size:
      return {r.size(n, key)};
    default:
      if (spec.list) return r.strings(n, key);
      return {r.str(n, key)};
  }
}

std::vector<std::string_view> known_top_level_keys() {
  std::vector<std::string_view> known{"site"};
  for (const auto& spec : option_table())
    if (spec.in_file) known.push_back(spec.name);
  for (const auto& k : site_keys())
    if (k.top_level) known.push_back(k.name);
  return known;
}

}  // namespace

void load_config_file(const std::string& path, Options& o, RawOptions& given) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    if (e.source().begin.line == 0)
      throw OptionError("--config " + path + ": cannot read it (" + what + ")");
    throw OptionError(path + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) + ": " + what);
  }
  Reader r(path);
  o.config_file = path;
  SiteSpec& global = o.global_site;
  global.file = path;
  global.name = "default";
  const toml::node* sites = nullptr;
  for (const auto& [key, value] : doc) {
    std::string k(key.str());
    if (read_site_key(r, k, value, "", global)) continue;
    if (k == "site") {
      sites = &value;
      continue;
    }
    const OptionSpec* spec = find_option(k);
    if (!spec || !spec->in_file) {
      std::string hint;
      if (auto best = suggest_option(k, known_top_level_keys()))
        hint = " (did you mean " + std::string(*best) + "?)";
      else if (spec)
        hint = " (" + k + " is given on the command line only)";
      r.fail(key.source(), k, "unknown key at the top level" + hint);
    }
    given.push_back({spec, RawOption{option_values(r, *spec, value),
                                     Origin{path, static_cast<int>(key.source().begin.line)}}});
  }
  if (sites) {
    const toml::array* a = sites->as_array();
    if (!a) r.fail(sites->source(), "site", "write each site as a [[site]] table");
    std::size_t i = 0;
    for (const auto& n : *a) o.sites.push_back(read_site(r, n, i++, global));
  }
  // Two sites claiming one host, or two defaults: found by building the router.
  try {
    SiteRouter(o.sites, global);
  } catch (const SiteError& e) {
    throw OptionError(e.what());
  } catch (const RewriteError& e) {
    throw OptionError(path + ": " + e.what());
  }
}

void check_sites(Options& o) {
  auto check = [&](SiteSpec& s) {
    std::string where = s.file.empty() ? std::string("--config") : s.file;
    where += s.line ? ":" + std::to_string(s.line) + ": site '" + s.name + "': " : ": top level: ";
    if (o.root.empty() && (!s.default_app.empty() || !s.apps.empty()))
      throw OptionError(where +
                        "default-app and apps are web2py settings: they need root "
                        "(the web2py folder), in the file or as --root");
    if (!s.apps.empty() && !s.default_app.empty() &&
        std::find(s.apps.begin(), s.apps.end(), s.default_app) == s.apps.end())
      s.apps.push_back(s.default_app);
    bool static_rules = false;
    for (const auto& r : s.rewrites)
      if (parse_rewrite_target(r.to).kind == RewriteKind::static_file) static_rules = true;
    if (s.document_root.empty()) s.document_root = o.root;
    if (static_rules && s.document_root.empty())
      throw OptionError(where +
                        "a \"static ...\" rewrite target needs a folder: set "
                        "document-root, or root (the web2py folder)");
    if (!o.root.empty()) {
      for (const auto& a : s.apps) {
        struct stat st {};
        if (::stat((o.root + "/applications/" + a).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          throw OptionError(where + "apps: there is no application '" + a + "' in " + o.root +
                            "/applications");
      }
    }
  };
  if (o.global_site.name.empty()) o.global_site.name = "default";
  check(o.global_site);
  for (auto& s : o.sites) check(s);
}

std::string describe_config(const Options& o) {
  std::ostringstream out;
  out << "# effective configuration"
      << (o.config_file.empty() ? "" : " (from " + o.config_file + ")") << "\n";
  for (const auto& spec : option_table()) {
    // Every option that may be in the file and has a value (an unset path or name is left out).
    if (!spec.in_file) continue;
    if (!spec.list && spec.get(o).empty()) continue;
    out << option_as_toml(spec, o) << "\n";
  }
  out << "# the default site (requests whose Host matches no [[site]]"
      << (std::any_of(o.sites.begin(), o.sites.end(),
                      [](const SiteSpec& s) { return s.is_default; })
              ? "; a [[site]] below says default = true and takes them instead"
              : "")
      << ")\n";
  if (!o.global_site.document_root.empty() && o.global_site.document_root != o.root)
    out << "document-root = " << toml_quote(o.global_site.document_root) << "\n";
  describe_site_rules(out, o.global_site, "");
  for (const auto& s : o.sites) {
    out << "\n[[site]]\nname = " << toml_quote(s.name) << "\n";
    if (!s.hosts.empty()) out << "hosts = " << toml_list(s.hosts) << "\n";
    if (!s.host_regex.empty()) out << "host-regex = " << toml_list(s.host_regex) << "\n";
    if (s.is_default) out << "default = true\n";
    if (!s.default_app.empty()) out << "default-app = " << toml_quote(s.default_app) << "\n";
    if (!s.apps.empty()) out << "apps = " << toml_list(s.apps) << "\n";
    if (!s.document_root.empty()) out << "document-root = " << toml_quote(s.document_root) << "\n";
    if (!s.statics.empty()) out << "static = " << toml_list(mount_specs(s.statics)) << "\n";
    if (!s.tls_cert.empty())
      out << "tls-cert = " << toml_quote(s.tls_cert) << "\ntls-key = " << toml_quote(s.tls_key)
          << "\n";
    if (s.acme) out << "acme = true\n";
    describe_site_rules(out, s, "");
  }
  return out.str();
}

}  // namespace w2p::server
