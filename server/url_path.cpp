#include "server/url_path.hpp"

namespace w2p::server {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<TargetParts> split_target(std::string_view target) {
  if (target.empty()) return std::nullopt;
  if (target[0] != '/') {
    // absolute-form: scheme "://" authority path
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
    size_t path_start = target.find('/', scheme_end + 3);
    size_t q = target.find('?', scheme_end + 3);
    if (path_start == std::string_view::npos || (q != std::string_view::npos && q < path_start)) {
      TargetParts parts{"/", {}};
      if (q != std::string_view::npos) parts.query = target.substr(q + 1);
      return parts;
    }
    target = target.substr(path_start);
  }
  TargetParts parts;
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    parts.path = target;
  } else {
    parts.path = target.substr(0, q);
    parts.query = target.substr(q + 1);
  }
  size_t hash = parts.query.find('#');
  if (hash != std::string_view::npos) parts.query = parts.query.substr(0, hash);
  if (q == std::string_view::npos) {
    hash = parts.path.find('#');
    if (hash != std::string_view::npos) parts.path = parts.path.substr(0, hash);
  }
  return parts;
}

std::optional<std::string> percent_decode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      int hi = hex_value(raw[i + 1]);
      int lo = hex_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> safe_relative_path(std::string_view decoded) {
  std::string out;
  size_t i = 0;
  while (i <= decoded.size()) {
    size_t end = decoded.find('/', i);
    if (end == std::string_view::npos) end = decoded.size();
    std::string_view seg = decoded.substr(i, end - i);
    if (seg == "..") return std::nullopt;
    if (seg.find('\0') != std::string_view::npos || seg.find('\\') != std::string_view::npos)
      return std::nullopt;
    if (!seg.empty() && seg != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(seg);
    }
    i = end + 1;
  }
  return out;
}

}  // namespace w2p::server
