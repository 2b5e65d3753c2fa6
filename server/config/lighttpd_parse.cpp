#include "server/config/lighttpd_parse.hpp"

#include <glob.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "server/config/lighttpd_import.hpp"

namespace w2p::server::lighttpd {

using w2p::server::ImportError;

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

namespace {

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
      std::string hint = "add what it prints by hand";
      if (v.text.find("use-ipv6") != std::string::npos)
        hint = "it makes lighttpd listen on IPv6 too: add \"[::]:PORT\" to listen";
      else if (v.text.find("create-mime") != std::string::npos)
        hint = "not needed: w2pserve reads /etc/mime.types itself";
      b.notes.push_back(note(line, "include_shell " + describe(v) +
                                       ": not run (w2pserve does not execute commands while "
                                       "reading a configuration); " +
                                       hint));
      return;
    }
    if (key == "else") lex_.fail("'else' without a condition before it");
    if (tok_.kind != Token::op || (tok_.text != "=" && tok_.text != "+=" && tok_.text != ":="))
      lex_.fail("expected '=' or '+=' after " + key);
    std::string op = tok_.text;
    advance();
    Value v = value();
    // A setting's value can be used later in an expression ("... " + server.port), as can var.*.
    Value current = v;
    if (op == "+=" && vars_.count(key)) current = concat(vars_[key], v);
    vars_[key] = current;
    if (key.starts_with("var.") || key.starts_with("env.")) return;
    b.directives.push_back({key, op, std::move(v), file_, line});
  }

  void include(Block& b, int line) {
    Value v = value();
    if (v.kind == Value::unknown) {
      b.notes.push_back(note(line, "include " + v.text +
                                       ": not read (its name could not be "
                                       "worked out here)"));
      return;
    }
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
    if (a.kind == Value::unknown || b.kind == Value::unknown) {
      out.kind = Value::unknown;
      out.text = describe(a) + " + " + describe(b);
    } else if (a.kind == Value::list && b.kind == Value::list) {
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
      // A variable or a setting set earlier; anything else (an environment variable, a setting
      // of lighttpd's defaults) cannot be known here: its uses become notes.
      auto it = vars_.find(tok_.text);
      if (it == vars_.end()) {
        v.kind = Value::unknown;
        v.text = tok_.text;
        v.line = tok_.line;
        advance();
        return v;
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

  static std::string describe(const Value& v) {
    if (v.kind == Value::unknown) return v.text;
    if (v.kind == Value::list) return "( ... )";
    return v.kind == Value::string ? "\"" + v.text + "\"" : v.text;
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

}  // namespace

Block parse_lighttpd(const std::string& path) {
  std::map<std::string, Value> vars;
  Block top;
  Parser p(path, vars, 0);
  p.parse_block(top, false);
  return top;
}

}  // namespace w2p::server::lighttpd
