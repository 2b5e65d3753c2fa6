#pragma once
// lighttpd's configuration language, as far as import-lighttpd needs it: variables and `+=`,
// strings, numbers, lists and `key => value` pairs, `+` concatenation, include and include_shell
// (never run: noted), conditional blocks ($HTTP["host"] =~ "...") with else. The converter
// (lighttpd_import.cpp) reads the parsed tree.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace w2p::server::lighttpd {

struct Item;

// A lighttpd value: a string, a number, or a list whose entries may be "key" => value pairs.
struct Value {
  // `unknown`: an expression this reader cannot work out (a variable it never saw set, the
  // output of include_shell); `text` says what it was. Whatever uses it becomes a note.
  enum Kind { string, number, list, unknown } kind = string;
  std::string text;  // string or number (or, unknown, the expression)
  int line = 0;      // where a string or number was written
  std::vector<Item> items;

  // The string, or the list's plain entries.
  std::vector<std::string> strings() const;
};

struct Item {
  std::optional<std::string> key;
  Value value;
};

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

// Reads `path` (and what it includes) into its top-level block. Throws ImportError
// (lighttpd_import.hpp) with FILE:LINE for what it cannot read.
Block parse_lighttpd(const std::string& path);

}  // namespace w2p::server::lighttpd
