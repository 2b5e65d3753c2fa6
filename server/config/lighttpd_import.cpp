#include "server/config/lighttpd_import.hpp"

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

struct Item;

// A lighttpd value: a string, a number, or a list whose entries may be "key" => value pairs.
struct Value {
  enum Kind { string, number, list } kind = string;
  std::string text;  // string or number
  int line = 0;      // where a string or number was written
  std::vector<Item> items;

  std::vector<std::string> strings() const;
};

struct Item {
  std::optional<std::string> key;
  Value value;
};

std::vector<std::string> Value::strings() const {
  std::vector<std::string> out;
  if (kind != list) {
    out.push_back(text);
    return out;
  }
  for (const auto& [k, v] : items)
    if (v.kind != list) out.push_back(v.text);
  return out;
}

struct Directive {
  std::string key, op;
  Value value;
  std::string file;
  int line = 0;
};

struct Block;

struct Condition {
  std::string field;  // e.g. HTTP["host"]
  std::string op;     // == != =~ !~
  std::string pattern;
  std::unique_ptr<Block> body;
  bool is_else = false;
  std::string file;
  int line = 0;
};

struct Block {
  std::vector<Directive> directives;
  std::vector<Condition> conditions;
  std::vector<std::string> notes;  // "# file:line: ..." comments found while reading
};

struct Token {
  enum Kind { end, string, number, word, op } kind = end;
  std::string text;
  int line = 0;
};

class Lexer {
 public:
  Lexer(std::string text, std::string file) : s_(std::move(text)), file_(std::move(file)) {}

  Token next() {
    skip();
    Token t;
    t.line = line_;
    if (i_ >= s_.size()) return t;
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      t.kind = Token::string;
      while (i_ < s_.size() && s_[i_] != '"') {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
          char e = s_[i_ + 1];
          // lighttpd keeps a backslash before anything but a quote or a backslash: regexes
          // such as "\.example\.com" stay as written.
          if (e == '"' || e == '\\') {
            t.text.push_back(e);
            i_ += 2;
            continue;
          }
        }
        if (s_[i_] == '\n') ++line_;
        t.text.push_back(s_[i_++]);
      }
      if (i_ >= s_.size()) fail("a string is not closed (missing \")");
      ++i_;
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      t.kind = Token::number;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])))
        t.text.push_back(s_[i_++]);
      return t;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      t.kind = Token::word;
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                                s_[i_] == '_' || s_[i_] == '-'))
        t.text.push_back(s_[i_++]);
      return t;
    }
    static const char* two[] = {"+=", ":=", "=>", "=~", "!~", "==", "!=", "=^", "=$"};
    for (const char* op : two) {
      if (s_.compare(i_, 2, op) == 0) {
        t.kind = Token::op;
        t.text = op;
        i_ += 2;
        return t;
      }
    }
    if (std::string_view("=(){}[],+$").find(c) != std::string_view::npos) {
      t.kind = Token::op;
      t.text = std::string(1, c);
      ++i_;
      return t;
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw ImportError(file_ + ":" + std::to_string(line_) + ": " + what);
  }

 private:
  void skip() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\n') {
        ++line_;
        ++i_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }

  std::string s_;
  std::string file_;
  std::size_t i_ = 0;
  int line_ = 1;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImportError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Parser {
 public:
  Parser(const std::string& path, std::map<std::string, Value>& vars, int depth)
      : lex_(read_file(path), path), file_(path), vars_(vars), depth_(depth) {
    advance();
  }

  void parse_block(Block& b, bool nested) {
    while (true) {
      if (tok_.kind == Token::end) {
        if (nested) lex_.fail("a { block is not closed");
        return;
      }
      if (tok_.kind == Token::op && tok_.text == "}") {
        if (!nested) lex_.fail("'}' without a matching '{'");
        advance();
        return;
      }
      statement(b);
    }
  }

 private:
  void advance() { tok_ = lex_.next(); }
  bool is_op(const char* o) const { return tok_.kind == Token::op && tok_.text == o; }
  void expect_op(const char* o) {
    if (!is_op(o)) lex_.fail(std::string("expected '") + o + "' here, found '" + tok_.text + "'");
    advance();
  }

  void statement(Block& b) {
    int line = tok_.line;
    if (is_op("$")) return condition(b, false);
    if (tok_.kind != Token::word) lex_.fail("expected a setting name, found '" + tok_.text + "'");
    std::string key = tok_.text;
    advance();
    if (key == "include") return include(b, line);
    if (key == "include_shell") {
      Value v = value();
      b.notes.push_back(note(line, "include_shell \"" + v.text +
                                       "\": not run (w2pserve does not execute commands while "
                                       "reading a configuration); add what it prints by hand"));
      return;
    }
    if (key == "else") lex_.fail("'else' without a condition before it");
    if (tok_.kind != Token::op || (tok_.text != "=" && tok_.text != "+=" && tok_.text != ":="))
      lex_.fail("expected '=' or '+=' after " + key);
    std::string op = tok_.text;
    advance();
    Value v = value();
    if (key.starts_with("var.") || key.starts_with("env.")) {
      if (op == "+=" && vars_.count(key)) v = concat(vars_[key], v);
      vars_[key] = v;
      return;
    }
    b.directives.push_back({key, op, std::move(v), file_, line});
  }

  void include(Block& b, int line) {
    Value v = value();
    std::string pattern = v.text;
    if (pattern.empty() || pattern[0] != '/') {
      std::size_t slash = file_.rfind('/');
      if (slash != std::string::npos) pattern = file_.substr(0, slash + 1) + pattern;
    }
    if (depth_ > 8) lex_.fail("includes nested too deep");
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) != 0) {
      b.notes.push_back(note(line, "include \"" + v.text + "\": no such file here; not read"));
      ::globfree(&g);
      return;
    }
    std::vector<std::string> files(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    for (const auto& f : files) {
      Parser sub(f, vars_, depth_ + 1);
      sub.parse_block(b, false);
    }
  }

  void condition(Block& b, bool is_else) {
    Condition c;
    c.line = tok_.line;
    c.file = file_;
    c.is_else = is_else;
    expect_op("$");
    if (tok_.kind != Token::word) lex_.fail("expected HTTP, SERVER, ... after '$'");
    c.field = tok_.text;
    advance();
    expect_op("[");
    if (tok_.kind != Token::string) lex_.fail("expected a quoted name in $" + c.field + "[...]");
    c.field += "[\"" + tok_.text + "\"]";
    advance();
    expect_op("]");
    if (tok_.kind != Token::op || (tok_.text != "==" && tok_.text != "!=" && tok_.text != "=~" &&
                                   tok_.text != "!~" && tok_.text != "=^" && tok_.text != "=$"))
      lex_.fail("expected ==, !=, =~ or !~ in a condition");
    c.op = tok_.text;
    advance();
    Value pattern = value();
    c.pattern = pattern.text;
    expect_op("{");
    c.body = std::make_unique<Block>();
    parse_block(*c.body, true);
    b.conditions.push_back(std::move(c));
    while (tok_.kind == Token::word && (tok_.text == "else" || tok_.text == "elsif" ||
                                        tok_.text == "elseif" || tok_.text == "else if")) {
      int line = tok_.line;
      advance();
      if (is_op("$")) {
        condition(b, true);
        return;
      }
      expect_op("{");
      Block ignored;
      parse_block(ignored, true);
      b.notes.push_back(note(line,
                             "else { ... }: not carried over (w2pserve sites are chosen by "
                             "host; write the settings into the default site by hand)"));
    }
  }

  Value concat(const Value& a, const Value& b) {
    Value out = a;
    if (a.kind == Value::list && b.kind == Value::list) {
      out.items.insert(out.items.end(), b.items.begin(), b.items.end());
    } else if (a.kind != Value::list && b.kind != Value::list) {
      out.kind = Value::string;
      out.text = a.text + b.text;
    } else {
      lex_.fail("cannot join a list and a string with '+'");
    }
    return out;
  }

  Value term() {
    Value v;
    if (tok_.kind == Token::string || tok_.kind == Token::number) {
      v.kind = tok_.kind == Token::string ? Value::string : Value::number;
      v.text = tok_.text;
      v.line = tok_.line;
      advance();
      return v;
    }
    if (tok_.kind == Token::word) {
      auto it = vars_.find(tok_.text);
      if (it == vars_.end()) {
        if (tok_.text.starts_with("var.") || tok_.text.starts_with("env."))
          lex_.fail(tok_.text + " is used before it is set");
        lex_.fail("expected a value, found '" + tok_.text + "'");
      }
      advance();
      return it->second;
    }
    if (is_op("(")) {
      advance();
      v.kind = Value::list;
      while (!is_op(")")) {
        if (tok_.kind == Token::end) lex_.fail("a ( list is not closed");
        Value first = value();
        if (is_op("=>")) {
          advance();
          Value second = value();
          v.items.push_back(Item{first.text, std::move(second)});
        } else {
          v.items.push_back(Item{std::nullopt, std::move(first)});
        }
        if (is_op(","))
          advance();
        else if (tok_.kind == Token::end)
          lex_.fail("a ( list is not closed");
        else if (!is_op(")"))
          lex_.fail("expected ',' or ')' in a list");
      }
      advance();
      return v;
    }
    lex_.fail("expected a value, found '" + tok_.text + "'");
  }

  Value value() {
    Value v = term();
    while (is_op("+")) {
      advance();
      v = concat(v, term());
    }
    return v;
  }

  std::string note(int line, const std::string& what) const {
    return "# " + file_ + ":" + std::to_string(line) + ": " + what;
  }

  Lexer lex_;
  Token tok_;
  std::string file_;
  std::map<std::string, Value>& vars_;
  int depth_;
};

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

void convert_block(const Block& b, Output& out, const std::vector<Handler>& handlers, bool top) {
  out.notes.insert(out.notes.end(), b.notes.begin(), b.notes.end());
  for (const auto& d : b.directives) {
    if (d.key != "fastcgi.server" && d.key != "scgi.server" && d.key != "proxy.server") continue;
    std::string what = d.key == "proxy.server"
                           ? "an HTTP proxy"
                           : "a " + d.key.substr(0, d.key.find('.')) + " socket";
    add_note(out, d,
             "not needed: w2pserve runs web2py in-process instead of behind " + what +
                 " (each URL no rule serves as a file goes to the application)");
  }
  std::string redirect_code = "301";
  for (const auto& d : b.directives)
    if (d.key == "url.redirect-code") redirect_code = d.value.text;
  for (const auto& d : b.directives) {
    const std::string& k = d.key;
    const Value& v = d.value;
    if (k == "fastcgi.server" || k == "scgi.server" || k == "proxy.server" ||
        k == "url.redirect-code") {
      continue;
    } else if (k == "server.document-root") {
      out.document_root = v.text;
    } else if (k == "server.port" && top) {
      out.port = v.text;
    } else if (k == "server.bind" && top) {
      out.bind = v.text;
    } else if (k == "index-file.names" || k == "server.indexfiles") {
      for (auto name : v.strings()) {
        if (!name.empty() && name[0] == '/') {
          add_note(out, d,
                   "\"" + name +
                       "\" is a URL, not a file name: left out (set default-app "
                       "for the site instead)");
          continue;
        }
        if (name.find('.') != std::string::npos &&
            (name.ends_with(".php") || name.ends_with(".pl")))
          add_note(out, d, "\"" + name + "\": w2pserve runs no PHP or Perl; kept as a file name");
        out.index.push_back(name);
      }
    } else if (k == "url.access-deny") {
      for (const auto& s : v.strings())
        if (!s.empty()) out.deny.push_back(s);
    } else if (k == "static-file.exclude-extensions") {
      for (const auto& s : v.strings())
        if (!s.empty()) out.exclude.push_back(s);
    } else if (k == "url.rewrite-once" || k == "url.rewrite" || k == "url.rewrite-final" ||
               k == "url.rewrite-repeat") {
      if (k == "url.rewrite-repeat")
        add_note(out, d,
                 "rules are applied once (w2pserve has url.rewrite-once semantics), not "
                 "repeated");
      for (const auto& [pattern, target] : v.items) {
        if (!pattern) continue;
        out.rewrites.push_back("  { match = " + toml_quote(*pattern) +
                               ", to = " + toml_quote(convert_target(target.text, handlers)) +
                               " },  # " + where(d, target));
      }
    } else if (k == "url.rewrite-if-not-file" || k == "url.rewrite-repeat-if-not-file") {
      add_note(out, d,
               "not carried over: w2pserve has no 'only if no such file' rules; static "
               "mappings (static = [\"/prefix=DIR\"]) serve existing files first");
    } else if (k == "url.redirect") {
      for (const auto& [pattern, target] : v.items) {
        if (!pattern) continue;
        out.redirects.push_back("  { match = " + toml_quote(*pattern) + ", to = " +
                                toml_quote("redirect " + redirect_code + " " + target.text) +
                                " },  # " + where(d, target));
      }
    } else if (k == "server.modules") {
      std::vector<std::string> dropped;
      for (const auto& m : v.strings())
        if (m != "mod_rewrite" && m != "mod_access" && m != "mod_fastcgi" && m != "mod_redirect" &&
            m != "mod_indexfile" && m != "mod_staticfile" && m != "mod_dirlisting" &&
            m != "mod_compress" && m != "mod_deflate" && m != "mod_scgi" && m != "mod_proxy" &&
            m != "mod_accesslog" && m != "mod_openssl" && m != "mod_status")
          dropped.push_back(m);
      if (!dropped.empty()) {
        std::string names;
        for (const auto& m : dropped) names += (names.empty() ? "" : ", ") + m;
        add_note(out, d,
                 names +
                     ": no w2pserve equivalent carried over (rewrite, access, "
                     "redirect, index files, compression, access log, TLS, "
                     "status and FastCGI are built in)");
      }
    } else if ((k == "server.username" || k == "server.groupname" || k == "accesslog.filename" ||
                k == "server.errorlog" || k == "server.pid-file") &&
               top) {
      const char* key = k == "server.username"      ? "user"
                        : k == "server.groupname"   ? "group"
                        : k == "accesslog.filename" ? "access-log"
                        : k == "server.errorlog"    ? "error-log"
                                                    : "pidfile";
      out.lines.push_back(std::string(key) + " = " + toml_quote(v.text) + "  # " + k + ", " +
                          where(d));
    } else if (k == "accesslog.format") {
      add_note(out, d,
               "\"" + v.text +
                   "\": set access-log-format (Apache-style fields, "
                   "\"combined\" by default)");
    } else if (k == "ssl.engine" || k == "ssl.pemfile" || k == "ssl.ca-file" ||
               k == "ssl.privkey" || k.starts_with("ssl.")) {
      if (k == "ssl.pemfile")
        add_note(out, d,
                 "\"" + v.text + "\": for TLS write tls-cert = \"" + v.text +
                     "\" and tls-key (the same file when it holds the key, else "
                     "ssl.privkey's) at the top; then the listen addresses speak TLS "
                     "(listen = [\"0.0.0.0:443\"]) and redirect-listen = "
                     "[\"0.0.0.0:80\"] sends plain HTTP there");
      else if (k == "ssl.privkey")
        add_note(out, d, "\"" + v.text + "\": tls-key = \"" + v.text + "\" (see ssl.pemfile)");
      else if (k == "ssl.engine")
        add_note(out, d, "\"" + v.text + "\": TLS is on when tls-cert is set");
      else
        add_note(out, d,
                 "\"" + v.text +
                     "\": not carried over (w2pserve sets TLS 1.2+ with "
                     "modern ciphers itself)");
    } else if (k == "compress.cache-dir" || k == "deflate.cache-dir") {
      if (top) {
        std::string dir = v.text;
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        out.lines.push_back("compress-cache = " + toml_quote(dir) + "  # " + k + ", " + where(d));
      } else {
        add_note(out, d, "compression is set for the whole server in w2pserve: move it to the top");
      }
    } else if (k == "compress.filetype" || k == "deflate.mimetypes") {
      if (top) {
        out.lines.push_back("compress-types = " + toml_list(v.strings()) + "  # " + k + ", " +
                            where(d));
      } else {
        add_note(out, d, "compression is set for the whole server in w2pserve: move it to the top");
      }
    } else if (k == "compress.allowed-encodings" || k == "deflate.allowed-encodings") {
      add_note(out, d, "not needed: w2pserve offers br and gzip, as the client accepts them");
    } else if (k == "dir-listing.activate" || k == "server.dir-listing") {
      add_note(out, d, "\"" + v.text + "\": directory listings are always off in w2pserve");
    } else if (k == "mimetype.assign") {
      add_note(out, d,
               "not carried over: w2pserve takes types from /etc/mime.types and its "
               "built-in table");
    } else if (k == "server.max-request-size") {
      out.lines.push_back("max-body = \"" + v.text + "k\"  # server.max-request-size, " + where(d));
    } else if (k == "server.max-keep-alive-idle") {
      out.lines.push_back("keepalive-timeout = " + v.text + "  # " + where(d));
    } else if (k == "server.max-read-idle") {
      out.lines.push_back("io-timeout = " + v.text + "  # " + where(d));
    } else if (k == "server.tag" || k == "server.event-handler" || k == "server.network-backend" ||
               k == "server.upload-dirs" || k == "server.follow-symlink" || k == "etag.use-inode") {
      add_note(out, d, "not needed in w2pserve (\"" + v.text + "\")");
    } else {
      add_note(out, d, "not carried over (w2pserve has no equivalent)");
    }
  }
}

void emit_rules(std::ostringstream& o, const Output& out) {
  if (!out.index.empty()) o << "index = " << toml_list(out.index) << "\n";
  if (!out.deny.empty()) o << "access-deny = " << toml_list(out.deny) << "\n";
  if (!out.exclude.empty()) o << "static-exclude = " << toml_list(out.exclude) << "\n";
  if (!out.rewrites.empty() || !out.redirects.empty()) {
    o << "rewrite = [\n";
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

std::string import_lighttpd(const std::string& path) {
  std::map<std::string, Value> vars;
  Block top;
  {
    Parser p(path, vars, 0);
    p.parse_block(top, false);
  }
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

  Output global;
  convert_block(top, global, handlers, true);

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
  std::string root = global.document_root;
  if (!root.empty()) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    o << "root = " << toml_quote(root) << "  # server.document-root: the web2py folder\n";
  } else {
    o << "# root = \"/var/www/web2py\"  # no server.document-root was found: set the web2py "
         "folder\n";
  }
  emit_rules(o, global);

  std::vector<std::string> site_notes;
  std::ostringstream sites;
  int n = 0;
  for (const auto& c : top.conditions) {
    std::string w = c.file + ":" + std::to_string(c.line);
    if (c.field != "HTTP[\"host\"]" || c.op == "!=" || c.op == "!~" || c.op == "=$" ||
        c.op == "=^") {
      site_notes.push_back("# " + w + ": $" + c.field + " " + c.op + " \"" + c.pattern +
                           "\" { ... }: not carried over (w2pserve chooses sites by the Host "
                           "header: == and =~ only); inside it:");
      // What the block held, each with its own reason.
      Output inner;
      convert_block(*c.body, inner, handlers, false);
      for (const auto& n : inner.notes) site_notes.push_back(n);
      for (const auto& r : inner.rewrites) site_notes.push_back("#   (a rule, left out)" + r);
      for (const auto& r : inner.redirects) site_notes.push_back("#   (a rule, left out)" + r);
      continue;
    }
    Output site;
    convert_block(*c.body, site, handlers, false);
    for (const auto& inner : c.body->conditions)
      site.notes.push_back("# " + inner.file + ":" + std::to_string(inner.line) + ": $" +
                           inner.field + " " + inner.op + " \"" + inner.pattern +
                           "\" inside a host block: not carried over");
    sites << "\n[[site]]  # " << w << ": $HTTP[\"host\"] " << c.op << " \"" << c.pattern << "\"\n";
    ++n;
    if (c.op == "==") {
      sites << "name = " << toml_quote(c.pattern) << "\n";
      sites << "hosts = [" << toml_quote(c.pattern) << "]\n";
    } else {
      sites << "name = " << toml_quote(name_from_regex(c.pattern)) << "\n";
      sites << "host-regex = " << toml_quote(c.pattern) << "\n";
    }
    if (!site.document_root.empty() && site.document_root != global.document_root)
      sites << "document-root = " << toml_quote(site.document_root) << "\n";
    for (const auto& l : site.lines) sites << l << "\n";
    emit_rules(sites, site);
    emit_notes(sites, site.notes);
  }
  global.notes.insert(global.notes.end(), site_notes.begin(), site_notes.end());
  o << "\n";
  emit_notes(o, global.notes);
  o << sites.str();
  return o.str();
}

}  // namespace w2p::server
