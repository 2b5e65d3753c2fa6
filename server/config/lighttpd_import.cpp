#include "server/config/lighttpd_import.hpp"

#include "server/config/lighttpd_parse.hpp"

#include <sys/stat.h>

#include "server/config/toml_text.hpp"

#include <glob.h>

#include <algorithm>
#include <cstring>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

namespace w2p::server {
namespace {

using lighttpd::Block;
using lighttpd::Condition;
using lighttpd::Directive;
using lighttpd::parse_lighttpd;
using lighttpd::Value;

// What the converter knows about where dynamic requests went in lighttpd.
struct Handler {
  std::string key;  // fastcgi.server key: ".fcgi" (an extension) or "/handler.fcgi" (a prefix)
  bool everything = false;  // "" or "/": every request not otherwise served
};

struct Output {
  std::vector<std::string> lines;      // settings
  std::vector<std::string> notes;      // comments for what did not carry over
  std::vector<std::string> redirects;  // url.redirect: tested before the rewrites
  std::vector<std::string> rewrites;
  std::vector<std::string> index, deny, exclude;
  std::vector<std::string> statics;  // alias.url: "/prefix=DIR"
  std::vector<std::string> denies;   // $HTTP["url"] blocks denying: rules, tested first
  std::string document_root;
  std::string bind, port;  // top level only
};

std::string where(const Directive& d) {
  return d.file + ":" + std::to_string(d.line);
}
std::string where(const Directive& d, const Value& v) {
  return d.file + ":" + std::to_string(v.line ? v.line : d.line);
}

void add_note(Output& out, const Directive& d, const std::string& why) {
  out.notes.push_back("# " + where(d) + ": " + d.key + ": " + why);
}

// A rewrite target sent to the FastCGI handler becomes an application URL; "/applications/..."
// and any other file path become static targets.
std::string convert_target(const std::string& target, const std::vector<Handler>& handlers) {
  for (const auto& h : handlers) {
    if (h.everything) continue;
    std::size_t at = std::string::npos;
    std::size_t len = h.key.size();
    if (!h.key.empty() && h.key[0] == '.') {
      at = target.find(h.key);
      if (at != std::string::npos) {
        // The handler is the path up to and including the extension: "/fcgihandler.fcgi".
        std::size_t start = target.rfind('/', at);
        if (start == std::string::npos) start = 0;
        len = at + h.key.size() - start;
        at = start;
      }
    } else if (target.starts_with(h.key)) {
      at = 0;
    }
    if (at != std::string::npos) {
      std::string rest = target.substr(at + len);
      if (rest.empty() || rest[0] == '?') rest = "/" + rest;
      return rest;
    }
  }
  if (target.starts_with("/applications/")) return "static " + target;
  for (const auto& h : handlers)
    if (h.everything) return target;
  return "static " + target;
}

// What a directive's converter sees besides the directive.
struct Context {
  const std::vector<Handler>& handlers;
  bool top;                   // the top level, not a conditional block
  std::string redirect_code;  // url.redirect-code of the block
};

using Converter = void (*)(const Directive&, Output&, const Context&);

void keep_document_root(const Directive& d, Output& out, const Context&) {
  out.document_root = d.value.text;
}

void keep_address(const Directive& d, Output& out, const Context& c) {
  if (!c.top) return add_note(out, d, "not carried over (w2pserve has no equivalent)");
  (d.key == "server.port" ? out.port : out.bind) = d.value.text;
}

void keep_index(const Directive& d, Output& out, const Context&) {
  for (auto name : d.value.strings()) {
    if (!name.empty() && name[0] == '/') {
      add_note(out, d,
               "\"" + name +
                   "\" is a URL, not a file name: left out (set default-app for the "
                   "site instead)");
      continue;
    }
    if (name.ends_with(".php") || name.ends_with(".pl"))
      add_note(out, d, "\"" + name + "\": w2pserve runs no PHP or Perl; kept as a file name");
    out.index.push_back(name);
  }
}

void keep_suffixes(const Directive& d, Output& out, const Context&) {
  bool deny = d.key == "url.access-deny";
  auto& list = deny ? out.deny : out.exclude;
  // An empty suffix denies everything: kept for $HTTP["url"] blocks (a deny rule), refused at
  // the level of a site (it would deny every URL of it).
  for (const auto& s : d.value.strings()) {
    if (!s.empty() || deny) list.push_back(s);
  }
}

void keep_rewrites(const Directive& d, Output& out, const Context& c) {
  if (d.key == "url.rewrite-repeat")
    add_note(out, d,
             "rules are applied once (w2pserve has url.rewrite-once semantics), not repeated");
  for (const auto& [pattern, target] : d.value.items) {
    if (!pattern) continue;
    out.rewrites.push_back("  { match = " + toml_quote(*pattern) +
                           ", to = " + toml_quote(convert_target(target.text, c.handlers)) +
                           " },  # " + where(d, target));
  }
}

void keep_redirects(const Directive& d, Output& out, const Context& c) {
  for (const auto& [pattern, target] : d.value.items) {
    if (!pattern) continue;
    out.redirects.push_back("  { match = " + toml_quote(*pattern) + ", to = " +
                            toml_quote("redirect " + c.redirect_code + " " + target.text) +
                            " },  # " + where(d, target));
  }
}

// alias.url ("/prefix" => "/folder/"): a static mapping.
void keep_aliases(const Directive& d, Output& out, const Context&) {
  for (const auto& [prefix, dir] : d.value.items) {
    if (!prefix || dir.kind != Value::string) continue;
    std::string folder = dir.text;
    while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
    std::string url = *prefix;
    while (url.size() > 1 && url.back() == '/') url.pop_back();
    if (url.empty() || url[0] != '/') {
      add_note(out, d, "\"" + *prefix + "\" => \"" + dir.text + "\": not a URL prefix; left out");
      continue;
    }
    out.statics.push_back(url + "=" + folder);
  }
}

void note_modules(const Directive& d, Output& out, const Context&) {
  static constexpr std::string_view kBuiltIn[] = {
      "mod_rewrite",    "mod_access",     "mod_fastcgi",  "mod_redirect", "mod_indexfile",
      "mod_staticfile", "mod_dirlisting", "mod_compress", "mod_deflate",  "mod_scgi",
      "mod_proxy",      "mod_accesslog",  "mod_openssl",  "mod_status",   "mod_alias"};
  std::string names;
  for (const auto& m : d.value.strings())
    if (std::find(std::begin(kBuiltIn), std::end(kBuiltIn), m) == std::end(kBuiltIn))
      names += (names.empty() ? "" : ", ") + m;
  if (!names.empty())
    add_note(out, d,
             names +
                 ": no w2pserve equivalent carried over (rewrite, access, redirect, index "
                 "files, compression, access log, TLS, status and FastCGI are built in)");
}

void keep_operations(const Directive& d, Output& out, const Context& c) {
  if (!c.top) return add_note(out, d, "set for the whole server in w2pserve: move it to the top");
  const std::string& k = d.key;
  const char* key = k == "server.username"      ? "user"
                    : k == "server.groupname"   ? "group"
                    : k == "accesslog.filename" ? "access-log"
                    : k == "server.errorlog"    ? "error-log"
                                                : "pidfile";
  out.lines.push_back(std::string(key) + " = " + toml_quote(d.value.text) + "  # " + k + ", " +
                      where(d));
}

void note_tls(const Directive& d, Output& out, const Context&) {
  const std::string& v = d.value.text;
  if (d.key == "ssl.pemfile")
    add_note(out, d,
             "\"" + v + "\": for TLS write tls-cert = \"" + v +
                 "\" and tls-key (the same file when it holds the key, else ssl.privkey's) at "
                 "the top; then the listen addresses speak TLS (listen = [\"0.0.0.0:443\"]) and "
                 "redirect-listen = [\"0.0.0.0:80\"] sends plain HTTP there");
  else if (d.key == "ssl.privkey")
    add_note(out, d, "\"" + v + "\": tls-key = \"" + v + "\" (see ssl.pemfile)");
  else if (d.key == "ssl.engine")
    add_note(out, d, "\"" + v + "\": TLS is on when tls-cert is set");
  else
    add_note(out, d,
             "\"" + v + "\": not carried over (w2pserve sets TLS 1.2+ with modern ciphers itself)");
}

void keep_compression(const Directive& d, Output& out, const Context& c) {
  if (!c.top)
    return add_note(out, d,
                    "compression is set for the whole server in w2pserve: move it to the top");
  if (d.key.ends_with("cache-dir")) {
    std::string dir = d.value.text;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    out.lines.push_back("compress-cache = " + toml_quote(dir) + "  # " + d.key + ", " + where(d));
  } else {
    out.lines.push_back("compress-types = " + toml_list(d.value.strings()) + "  # " + d.key + ", " +
                        where(d));
  }
}

void keep_limits(const Directive& d, Output& out, const Context&) {
  const std::string& k = d.key;
  if (k == "server.max-request-size")
    out.lines.push_back("max-body = \"" + d.value.text + "k\"  # " + k + ", " + where(d));
  else
    out.lines.push_back(
        std::string(k == "server.max-keep-alive-idle" ? "keepalive-timeout" : "io-timeout") +
        " = " + d.value.text + "  # " + where(d));
}

// A fixed note for directives whose answer is always the same.
void note_fixed(const Directive& d, Output& out, const Context&) {
  const std::string& k = d.key;
  const std::string& v = d.value.text;
  if (k == "url.rewrite-if-not-file" || k == "url.rewrite-repeat-if-not-file")
    add_note(out, d,
             "not carried over: w2pserve has no 'only if no such file' rules; static mappings "
             "(static = [\"/prefix=DIR\"]) serve existing files first");
  else if (k == "accesslog.format")
    add_note(out, d,
             "\"" + v + "\": set access-log-format (Apache-style fields, \"combined\" by default)");
  else if (k.ends_with("allowed-encodings"))
    add_note(out, d, "not needed: w2pserve offers br and gzip, as the client accepts them");
  else if (k == "dir-listing.activate" || k == "server.dir-listing")
    add_note(out, d, "\"" + v + "\": directory listings are always off in w2pserve");
  else if (k == "server.http-parseopts")
    add_note(out, d,
             "not needed: w2pserve always decodes URLs once, resolves dot segments, refuses "
             "control characters and checks Host");
  else if (k == "server.feature-flags")
    add_note(out, d,
             "not carried over (for graceful-shutdown-timeout, see shutdown-timeout; HTTP/2 is "
             "not served yet)");
  else if (k == "mimetype.assign")
    add_note(out, d,
             "not carried over: w2pserve takes types from /etc/mime.types and its built-in table");
  else
    add_note(out, d,
             "not needed in w2pserve (\"" +
                 (d.value.kind == Value::list ? std::string("( ... )") : v) + "\")");
}

const std::vector<std::pair<std::string_view, Converter>>& converters() {
  static const std::vector<std::pair<std::string_view, Converter>> table = {
      {"server.document-root", keep_document_root},
      {"server.port", keep_address},
      {"server.bind", keep_address},
      {"index-file.names", keep_index},
      {"server.indexfiles", keep_index},
      {"url.access-deny", keep_suffixes},
      {"static-file.exclude-extensions", keep_suffixes},
      {"url.rewrite-once", keep_rewrites},
      {"url.rewrite", keep_rewrites},
      {"url.rewrite-final", keep_rewrites},
      {"url.rewrite-repeat", keep_rewrites},
      {"url.redirect", keep_redirects},
      {"server.modules", note_modules},
      {"alias.url", keep_aliases},
      {"server.username", keep_operations},
      {"server.groupname", keep_operations},
      {"accesslog.filename", keep_operations},
      {"server.errorlog", keep_operations},
      {"server.pid-file", keep_operations},
      {"compress.cache-dir", keep_compression},
      {"deflate.cache-dir", keep_compression},
      {"compress.filetype", keep_compression},
      {"deflate.mimetypes", keep_compression},
      {"server.max-request-size", keep_limits},
      {"server.max-keep-alive-idle", keep_limits},
      {"server.max-read-idle", keep_limits},
      {"url.rewrite-if-not-file", note_fixed},
      {"url.rewrite-repeat-if-not-file", note_fixed},
      {"accesslog.format", note_fixed},
      {"compress.allowed-encodings", note_fixed},
      {"deflate.allowed-encodings", note_fixed},
      {"dir-listing.activate", note_fixed},
      {"server.dir-listing", note_fixed},
      {"mimetype.assign", note_fixed},
      {"server.http-parseopts", note_fixed},
      {"server.feature-flags", note_fixed},
      {"server.tag", note_fixed},
      {"server.event-handler", note_fixed},
      {"server.network-backend", note_fixed},
      {"server.upload-dirs", note_fixed},
      {"server.follow-symlink", note_fixed},
      {"etag.use-inode", note_fixed},
  };
  return table;
}

void convert_block(const Block& b, Output& out, const std::vector<Handler>& handlers, bool top) {
  out.notes.insert(out.notes.end(), b.notes.begin(), b.notes.end());
  Context c{handlers, top, "301"};
  for (const auto& d : b.directives)
    if (d.key == "url.redirect-code") c.redirect_code = d.value.text;
  for (const auto& d : b.directives) {
    const std::string& k = d.key;
    if (k == "url.redirect-code") continue;
    if (d.value.kind == Value::unknown) {
      add_note(out, d,
               "not carried over: its value, " + d.value.text +
                   ", uses something that cannot be worked out while reading the file");
      continue;
    }
    if (k == "fastcgi.server" || k == "scgi.server" || k == "proxy.server") {
      std::string what =
          k == "proxy.server" ? "an HTTP proxy" : "a " + k.substr(0, k.find('.')) + " socket";
      add_note(out, d,
               "not needed: w2pserve runs web2py in-process instead of behind " + what +
                   " (each URL no rule serves as a file goes to the application)");
      continue;
    }
    Converter convert = nullptr;
    for (const auto& [name, f] : converters())
      if (name == k) convert = f;
    if (!convert && k.starts_with("ssl.")) convert = note_tls;
    if (convert)
      convert(d, out, c);
    else
      add_note(out, d, "not carried over (w2pserve has no equivalent)");
  }
}

void emit_rules(std::ostringstream& o, Output& out) {
  if (std::erase(out.deny, "") > 0)
    out.notes.push_back(
        "# url.access-deny = ( \"\" ) for a whole site (it denies every URL): "
        "left out; deny URLs with a rule { match = \"...\", to = \"deny\" }");
  if (!out.statics.empty())
    o << "static = " << toml_list(out.statics)
      << "  # alias.url (folders of the lighttpd machine: check they exist here)\n";
  if (!out.index.empty()) o << "index = " << toml_list(out.index) << "\n";
  if (!out.deny.empty()) o << "access-deny = " << toml_list(out.deny) << "\n";
  if (!out.exclude.empty()) o << "static-exclude = " << toml_list(out.exclude) << "\n";
  if (!out.rewrites.empty() || !out.redirects.empty() || !out.denies.empty()) {
    o << "rewrite = [\n";
    if (!out.denies.empty()) o << "  # $HTTP[\"url\"] blocks with url.access-deny first\n";
    for (const auto& r : out.denies) o << r << "\n";
    if (!out.redirects.empty() && !out.rewrites.empty())
      o << "  # url.redirect rules first, then url.rewrite-once: the first match wins\n";
    for (const auto& r : out.redirects) o << r << "\n";
    for (const auto& r : out.rewrites) o << r << "\n";
    o << "]\n";
  }
}

// The line number in "# FILE:LINE: ...".
long note_line(const std::string& note) {
  std::size_t colon = note.find(':');
  return colon == std::string::npos ? 0 : std::strtol(note.c_str() + colon + 1, nullptr, 10);
}

void emit_notes(std::ostringstream& o, std::vector<std::string> notes) {
  if (notes.empty()) return;
  std::stable_sort(notes.begin(), notes.end(), [](const std::string& a, const std::string& b) {
    return note_line(a) < note_line(b);
  });
  o << "# Not carried over:\n";
  for (const auto& n : notes) o << n << "\n";
}

// A readable site name from a host regex: "(^|\.)example\.com$" → "example.com".
std::string name_from_regex(const std::string& rx) {
  std::string s = rx;
  for (const char* junk : {"(^|\\.)", "(^|\\.)", "^", "$", "(www\\.)?"}) {
    std::size_t at;
    while ((at = s.find(junk)) != std::string::npos) s.erase(at, std::strlen(junk));
  }
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') continue;
    if (!std::isalnum(static_cast<unsigned char>(s[i])) && s[i] != '.' && s[i] != '-') return rx;
    out.push_back(s[i]);
  }
  return out.empty() ? rx : out;
}

}  // namespace

namespace {

std::vector<Handler> collect_handlers(const Block& top) {
  std::vector<Handler> handlers;
  // Handlers declared inside host blocks serve those sites; collect them all up front.
  auto collect = [&](const Block& b, auto& self) -> void {
    for (const auto& d : b.directives)
      if (d.key == "fastcgi.server" || d.key == "scgi.server" || d.key == "proxy.server")
        for (const auto& [k, v] : d.value.items)
          if (k) handlers.push_back({*k, k->empty() || *k == "/"});
    for (const auto& c : b.conditions) self(*c.body, self);
  };
  collect(top, collect);
  if (handlers.empty()) handlers.push_back({".fcgi", false});
  return handlers;
}

bool is_host_block(const Condition& c) {
  return c.field == "HTTP[\"host\"]" && (c.op == "==" || c.op == "=~");
}

// Whether a block is where web2py lived: it hands requests to a FastCGI/SCGI/proxy handler or
// rewrites into applications/.
bool serves_web2py(const Block& b) {
  for (const auto& d : b.directives) {
    if (d.key == "fastcgi.server" || d.key == "scgi.server" || d.key == "proxy.server") return true;
    if (d.key.starts_with("url.rewrite"))
      for (const auto& [pattern, target] : d.value.items)
        if (target.text.find("/applications") != std::string::npos ||
            target.text.find(".fcgi") != std::string::npos)
          return true;
  }
  return false;
}

std::string document_root_of(const Block& b) {
  std::string root;
  for (const auto& d : b.directives)
    if (d.key == "server.document-root" && d.value.kind == Value::string) root = d.value.text;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

bool looks_like_web2py(const std::string& dir) {
  struct stat st {};
  return !dir.empty() && ::stat((dir + "/gluon/main.py").c_str(), &st) == 0;
}

// The web2py folder: the document root of the block web2py was served from (the top level or a
// host block), or one that holds gluon/ on this machine; "" when nothing says where web2py is
// (a stock configuration).
std::string web2py_folder(const Block& top) {
  std::string top_root = document_root_of(top);
  if ((serves_web2py(top) || looks_like_web2py(top_root)) && !top_root.empty()) return top_root;
  for (const auto& c : top.conditions) {
    if (!is_host_block(c)) continue;
    std::string r = document_root_of(*c.body);
    if (!r.empty() && (serves_web2py(*c.body) || looks_like_web2py(r))) return r;
  }
  return "";
}

// A regex matching what lighttpd's $HTTP["url"] =~ PATTERN { url.access-deny = (...) } denies:
// URLs matching PATTERN (whose path ends with one of the suffixes, when any is not empty).
std::string deny_pattern(const Condition& c, const std::vector<std::string>& suffixes) {
  std::string pattern = c.op == "=="   ? "^\\Q" + c.pattern + "\\E(\\?|$)"
                        : c.op == "=^" ? "^\\Q" + c.pattern + "\\E"
                                       : c.pattern;
  bool everything = std::find(suffixes.begin(), suffixes.end(), "") != suffixes.end();
  if (everything) return pattern;
  std::string alternatives;
  for (const auto& s : suffixes)
    alternatives += (alternatives.empty() ? "" : "|") + ("\\Q" + s + "\\E");
  return "^(?=.*?(?:" + pattern + "))[^?]*(?:" + alternatives + ")(\\?|$)";
}

// $HTTP["url"] blocks: a url.access-deny inside becomes a "deny" rule (security must never
// vanish in a conversion); everything else is a note with its reason.
void convert_url_block(const Condition& c, Output& into, const std::vector<Handler>& handlers) {
  std::string w = c.file + ":" + std::to_string(c.line);
  std::string head = "$" + c.field + " " + c.op + " \"" + c.pattern + "\"";
  Output inner;
  convert_block(*c.body, inner, handlers, false);
  bool url_field = c.field == "HTTP[\"url\"]" && c.op != "!=" && c.op != "!~" && c.op != "=$";
  if (url_field && !inner.deny.empty()) {
    into.denies.push_back("  { match = " + toml_quote(deny_pattern(c, inner.deny)) +
                          ", to = \"deny\" },  # " + w + ": " + head + " { url.access-deny }");
    inner.deny.clear();
  }
  std::vector<std::string> left;
  for (const auto& n : inner.notes) left.push_back(n);
  for (const auto& r : inner.rewrites) left.push_back("#   (a rule, left out)" + r);
  for (const auto& r : inner.redirects) left.push_back("#   (a rule, left out)" + r);
  for (const auto& d : inner.deny) left.push_back("#   (access-deny \"" + d + "\", left out)");
  for (const auto& l : inner.lines) left.push_back("#   (left out) " + l);
  if (left.empty()) return;
  into.notes.push_back("# " + w + ": " + head +
                       " { ... }: not carried over (w2pserve chooses sites by the Host header: "
                       "== and =~ only; url blocks become deny rules); inside it:");
  into.notes.insert(into.notes.end(), left.begin(), left.end());
}

void emit_site(std::ostringstream& sites, const Condition& c, const std::vector<Handler>& handlers,
               const std::string& web2py_root) {
  std::string w = c.file + ":" + std::to_string(c.line);
  Output site;
  convert_block(*c.body, site, handlers, false);
  for (const auto& inner : c.body->conditions) {
    if (inner.field == "HTTP[\"url\"]") {
      convert_url_block(inner, site, handlers);
      continue;
    }
    site.notes.push_back("# " + inner.file + ":" + std::to_string(inner.line) + ": $" +
                         inner.field + " " + inner.op + " \"" + inner.pattern +
                         "\" inside a host block: not carried over");
  }
  sites << "\n[[site]]  # " << w << ": $HTTP[\"host\"] " << c.op << " \"" << c.pattern << "\"\n";
  if (c.op == "==") {
    sites << "name = " << toml_quote(c.pattern) << "\n";
    sites << "hosts = [" << toml_quote(c.pattern) << "]\n";
    for (const auto& r : site.redirects)
      if (r.find("redirect") != std::string::npos && r.find('%') != std::string::npos)
        site.notes.push_back("# " + w +
                             ": a redirect uses %N, which refers to a host-regex's "
                             "groups: this site matches its host exactly, so write the name");
  } else {
    sites << "name = " << toml_quote(name_from_regex(c.pattern)) << "\n";
    sites << "host-regex = " << toml_quote(c.pattern) << "\n";
  }
  if (!site.document_root.empty() && site.document_root != web2py_root)
    sites << "document-root = " << toml_quote(site.document_root) << "\n";
  for (const auto& l : site.lines) sites << l << "\n";
  emit_rules(sites, site);
  emit_notes(sites, site.notes);
}

}  // namespace

std::string import_lighttpd(const std::string& path) {
  Block top = parse_lighttpd(path);
  std::vector<Handler> handlers = collect_handlers(top);
  Output global;
  convert_block(top, global, handlers, true);
  std::string root = web2py_folder(top);

  std::ostringstream o;
  o << "# w2pserve configuration converted from " << path
    << " by `w2pserve import-lighttpd`.\n"
       "# Check it with `w2pserve check-config FILE`; lines ending in a file:line came from "
       "there.\n\n";
  if (!global.bind.empty() || !global.port.empty()) {
    std::string host = global.bind.empty() ? "0.0.0.0" : global.bind;
    if (host.find(':') != std::string::npos && host[0] != '[') host = "[" + host + "]";
    o << "listen = [" << toml_quote(host + ":" + (global.port.empty() ? "80" : global.port))
      << "]  # server.bind / server.port\n";
  }
  for (const auto& l : global.lines) o << l << "\n";
  if (!root.empty()) {
    o << "root = " << toml_quote(root) << "  # server.document-root: the web2py folder\n";
  } else {
    o << "# root = \"/var/www/web2py\"  # nothing here says where web2py is (no FastCGI handler, "
         "no rule into applications/): set the web2py folder\n";
  }
  std::string top_root = document_root_of(top);
  if (!top_root.empty() && top_root != root)
    o << "document-root = " << toml_quote(top_root)
      << "  # server.document-root of the top level: the folder of static rewrite targets\n";

  std::ostringstream sites;
  for (const auto& c : top.conditions) {
    if (is_host_block(c))
      emit_site(sites, c, handlers, root);
    else if (c.field == "HTTP[\"url\"]")
      convert_url_block(c, global, handlers);
    else
      convert_url_block(c, global, handlers);  // notes, each with its reason
  }
  emit_rules(o, global);
  o << "\n";
  emit_notes(o, global.notes);
  o << sites.str();
  return o.str();
}

}  // namespace w2p::server
