#include "server/routing/web2py_static.hpp"

#include "server/http/url_path.hpp"

namespace w2p::server {
namespace {

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// REGEX_VERSION: ^_\d+\.\d+\.\d+$
bool is_version(std::string_view s) {
  if (s.size() < 6 || s[0] != '_') return false;
  s.remove_prefix(1);
  size_t a = s.find('.');
  if (a == std::string_view::npos) return false;
  size_t b = s.find('.', a + 1);
  if (b == std::string_view::npos) return false;
  return is_digits(s.substr(0, a)) && is_digits(s.substr(a + 1, b - a - 1)) &&
         is_digits(s.substr(b + 1));
}

}  // namespace

bool is_web2py_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!is_word(c)) return false;
  return true;
}

std::optional<Web2pyStatic> map_web2py_static(std::string_view path, std::string_view default_app) {
  // web2py unquotes PATH_INFO a second time and turns '\' into '/': leave such paths to it.
  if (path.find('%') != std::string_view::npos || path.find('\\') != std::string_view::npos)
    return std::nullopt;
  if (path == "/favicon.ico" || path == "/robots.txt") {
    if (!is_web2py_name(default_app)) return std::nullopt;
    return Web2pyStatic{std::string(default_app), std::string(path.substr(1)), false};
  }
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path.empty() || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view app = path.substr(0, slash);
  if (!is_web2py_name(app)) return std::nullopt;
  std::string_view rest = path.substr(slash + 1);
  if (!rest.starts_with("static/")) return std::nullopt;
  std::string_view z = rest.substr(7);
  // REGEX_URL wants the file part to start with a word character.
  if (z.empty() || !is_word(z[0])) return std::nullopt;
  std::string filename(z);
  for (char& c : filename)
    if (c == ' ') c = '_';
  bool versioned = false;
  size_t first = filename.find('/');
  if (is_version(std::string_view(filename).substr(0, first))) {
    if (first == std::string::npos) return std::nullopt;
    filename.erase(0, first + 1);
    versioned = true;
  }
  auto safe = safe_relative_path(filename);
  if (!safe || safe->empty()) return std::nullopt;
  // "a//b" or "./b" would be normalised by web2py too, but only an exact path is certain.
  if (*safe != filename) return std::nullopt;
  return Web2pyStatic{std::string(app), std::move(*safe), versioned};
}

}  // namespace w2p::server
