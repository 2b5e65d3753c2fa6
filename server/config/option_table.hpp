#pragma once
// Every setting, declared once: its name (the flag --NAME and the configuration file's key
// NAME), the kind of value, its range or choices, its help, whether it may appear in the file,
// and whether a reload may change it. This one table drives the command line (CLI11), the TOML
// reader, `check-config`'s output (which reads back as the same configuration), `--help`, the
// man page, and the test that every option is documented in README. [[site]] keys have a table
// of their own (site_keys()), for the same messages and documentation.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/options.hpp"

namespace w2p::server {

enum class ValueKind {
  flag,       // on when given; true/false in the file
  number,     // a whole number in [min, max]
  size,       // bytes, or a number with k, M or G
  text,       // any text (checked by the option's own rule, if any)
  choice,     // one of `choices`
  path,       // a file path, made absolute (from the current folder, or the file's)
  directory,  // an existing directory, made canonical
  address,    // HOST:PORT
  cidr,       // an IP address or a CIDR block
  mount,      // URL_PREFIX=DIR
  mime,       // a MIME type, or a prefix ending in '/'
};

struct OptionSpec {
  std::string_view name;  // --NAME, and NAME in the file
  ValueKind kind = ValueKind::text;
  bool list = false;             // repeatable (a TOML array)
  std::string_view placeholder;  // in --help: SIZE, SECONDS, DIR...
  std::string_view help;
  std::int64_t min = 0, max = 0;  // numbers
  std::vector<std::string_view> choices{};
  bool in_file = true;     // may be written in the configuration file
  bool from_root = false;  // a relative path is the web2py folder's (--root), not the file's
  bool reload = true;      // a reload may change it (false: only a restart can, e.g. new ports
                           // cannot be bound after the switch to --user)
  // Sets the option from its values, already checked against the kind (paths absolute,
  // directories canonical). Throws OptionError (without the origin) for what the kind does not
  // cover.
  std::function<void(Options&, const std::vector<std::string>&)> set;
  // The option's value as text, in a form `set` reads back; empty: not set.
  std::function<std::vector<std::string>(const Options&)> get;
};

const std::vector<OptionSpec>& option_table();
const OptionSpec* find_option(std::string_view name);

// Keys of [[site]] tables (and those also allowed at the top level, for the default site).
struct SiteKeySpec {
  std::string_view name;
  std::string_view help;
  bool top_level;  // also a top-level key (the default site's rule)
};
const std::vector<SiteKeySpec>& site_keys();

// Where a value came from, for messages: "--max-body" or "/etc/w2pserve.toml:12: max-body".
struct Origin {
  std::string file;  // empty: the command line
  int line = 0;
  std::string text(std::string_view name) const;
};

// Raw values as given (the file's first, then the command line's, which replace them).
struct RawOption {
  std::vector<std::string> values;
  Origin origin;
};
using RawOptions = std::vector<std::pair<const OptionSpec*, RawOption>>;

// Checks each value against its kind and sets it. `base` makes relative paths absolute.
// Throws OptionError("ORIGIN: what is wrong").
void apply_option(Options& o, const OptionSpec& spec, RawOption raw, const std::string& base);

// The checks of the value's form only, for a value the command line overrides: a mistake in
// the file is still reported, but a folder it names need not exist on this machine.
void check_option_form(const OptionSpec& spec, const RawOption& raw);

// The closest known name to a mistyped one ("max-bdy" → "max-body"), or nullopt.
std::optional<std::string_view> suggest_option(std::string_view name,
                                               const std::vector<std::string_view>& known);

// TOML text of one option's current value (`name = value`), for check-config.
std::string option_as_toml(const OptionSpec& spec, const Options& o);

}  // namespace w2p::server
