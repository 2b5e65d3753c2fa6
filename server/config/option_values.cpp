// The option table's values: checking each value against its kind (the same code for the
// command line and the configuration file), suggestions for mistyped names, and the TOML text
// check-config prints. The table itself is option_table.cpp.

#include <algorithm>

#include "server/config/option_table.hpp"
#include "server/config/toml_text.hpp"
#include "server/http/trusted_proxy.hpp"

namespace w2p::server {

namespace {

int edit_distance(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string Origin::text(std::string_view name) const {
  if (file.empty()) return "--" + std::string(name);
  return file + ":" + std::to_string(line) + ": " + std::string(name);
}

std::optional<std::string_view> suggest_option(std::string_view name,
                                               const std::vector<std::string_view>& known) {
  std::optional<std::string_view> best;
  int best_distance = 3;  // at most two edits away
  for (auto k : known) {
    int d = edit_distance(name, k);
    if (d < best_distance || (d == best_distance && best && k.size() < best->size())) {
      if (d < best_distance) best_distance = d;
      best = k;
    }
  }
  if (best && edit_distance(name, *best) > 2) return std::nullopt;
  return best;
}

namespace {

// One case per value kind (a switch over ValueKind: longer than most functions here, but each
// case is short and they belong together).
// Checks (and normalises) the values of `raw` against the kind; `existence`: directories must
// exist (and are made canonical).
void check_values(const OptionSpec& spec, RawOption& raw, const std::string& base, bool existence) {
  auto fail = [&](const std::string& what) {
    throw OptionError(raw.origin.text(spec.name) + ": " + what);
  };
  // A flag given twice: the last one counts, as with most commands.
  if (!spec.list && raw.values.size() > 1)
    raw.values.erase(raw.values.begin(), raw.values.end() - 1);
  if (!spec.list && raw.values.size() != 1) fail("expected a value");
  for (auto& v : raw.values) {
    switch (spec.kind) {
      case ValueKind::flag:
        if (v != "true" && v != "false") fail("expected true or false");
        break;
      case ValueKind::number: {
        if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
          fail("'" + v + "' is not a whole number");
        long long n = std::stoll(v);
        if (n < spec.min || n > spec.max)
          fail(v + " is out of range (" + std::to_string(spec.min) + " to " +
               std::to_string(spec.max) + ")");
        break;
      }
      case ValueKind::size:
        try {
          std::uint64_t n = parse_size(v);
          if (spec.max > 0 && (n < static_cast<std::uint64_t>(spec.min) ||
                               n > static_cast<std::uint64_t>(spec.max)))
            fail("'" + v + "' must be between " + std::to_string(spec.min) + " and " +
                 std::to_string(spec.max) + " bytes");
        } catch (const OptionError& e) {
          fail(e.what());
        }
        break;
      case ValueKind::choice:
        if (std::find(spec.choices.begin(), spec.choices.end(), v) == spec.choices.end()) {
          std::string list;
          for (auto c : spec.choices) list += (list.empty() ? "" : ", ") + std::string(c);
          fail("'" + v + "': write one of " + list);
        }
        break;
      case ValueKind::path:
        if (v.empty() && spec.list) fail("empty path");
        // Relative to the web2py folder: resolved once --root is known (check_together).
        if (!v.empty() && v[0] != '/' && !spec.from_root) v = base + "/" + v;
        break;
      case ValueKind::directory: {
        std::string p = v.empty() || v[0] == '/' ? v : base + "/" + v;
        if (!existence) {
          if (p.empty()) fail("empty path");
          break;
        }
        auto real = real_directory(p);
        if (!real) fail("'" + p + "' is not a directory");
        v = *real;
        break;
      }
      case ValueKind::address:
        try {
          parse_listen(v);
        } catch (const OptionError& e) {
          std::string msg = e.what();
          fail(msg.substr(msg.find(' ') + 1));
        }
        break;
      case ValueKind::cidr:
        if (!parse_cidr(v))
          fail("'" + v + "' is not an IP address or CIDR (write e.g. 10.0.0.0/8)");
        break;
      case ValueKind::mount: {
        std::size_t eq = v.find('=');
        if (eq == std::string::npos || eq == 0 || v[0] != '/')
          fail("'" + v + "': write URL_PREFIX=DIR, e.g. /static=/srv/www/static");
        std::string dir = v.substr(eq + 1);
        if (!dir.empty() && dir[0] != '/') v = v.substr(0, eq + 1) + base + "/" + dir;
        if (!existence) break;
        try {
          parse_static(v);
        } catch (const OptionError& e) {
          std::string msg = e.what();
          fail(v + ": " + msg.substr(msg.find(": ") + 2));
        }
        break;
      }
      case ValueKind::mime:
        if (v.find('/') == std::string::npos)
          fail("'" + v +
               "' is not a MIME type (write e.g. \"text/css\", or \"text/\" for every text type)");
        break;
      case ValueKind::text:
        break;
    }
  }
}

}  // namespace

void check_option_form(const OptionSpec& spec, const RawOption& raw) {
  RawOption copy = raw;
  check_values(spec, copy, "/", false);
}

void apply_option(Options& o, const OptionSpec& spec, RawOption raw, const std::string& base) {
  check_values(spec, raw, base, true);
  try {
    spec.set(o, raw.values);
  } catch (const OptionError& e) {
    throw OptionError(raw.origin.text(spec.name) + ": " + e.what());
  }
}

std::string option_as_toml(const OptionSpec& spec, const Options& o) {
  std::vector<std::string> v = spec.get(o);
  auto one = [&](const std::string& x) {
    if (spec.kind == ValueKind::number || spec.kind == ValueKind::size ||
        spec.kind == ValueKind::flag)
      return x;
    return toml_quote(x);
  };
  std::string out = std::string(spec.name) + " = ";
  if (spec.list) {
    out += toml_list(v);
  } else if (v.empty()) {
    out += "\"\"";
  } else {
    out += one(v.front());
  }
  return out;
}

}  // namespace w2p::server
