#include "server/http/url_path.hpp"

#include "server/http/response_head.hpp"

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
  TargetParts parts;
  if (target[0] != '/') {
    // absolute-form: "http" or "https", "://", authority, then an optional path and query.
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    std::string_view scheme = target.substr(0, scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return std::nullopt;
    std::string_view rest = target.substr(scheme_end + 3);
    size_t end = rest.find_first_of("/?#");
    parts.absolute_form = true;
    parts.authority = rest.substr(0, end);
    if (end == std::string_view::npos || rest[end] != '/') {
      parts.path = "/";
      if (end != std::string_view::npos && rest[end] == '?') {
        parts.query = rest.substr(end + 1);
        parts.query = parts.query.substr(0, parts.query.find('#'));
      }
      return parts;
    }
    target = rest.substr(end);
  }
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

std::string normalize_path(std::string_view decoded, bool* above_root) {
  if (above_root) *above_root = false;
  std::string out = "/";
  bool directory = false;
  size_t i = 0;
  while (i <= decoded.size()) {
    size_t end = decoded.find('/', i);
    if (end == std::string_view::npos) end = decoded.size();
    std::string_view seg = decoded.substr(i, end - i);
    i = end + 1;
    directory = seg.empty() || seg == "." || seg == "..";
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      // out is "/" or "/a/b/": drop the last segment with its slash.
      if (out.size() > 1)
        out.resize(out.rfind('/', out.size() - 2) + 1);
      else if (above_root)
        *above_root = true;
      continue;
    }
    out.append(seg).push_back('/');
  }
  if (!directory && out.size() > 1) out.pop_back();
  return out;
}

std::string normalize_raw_path(std::string_view raw, bool* above_root) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size()) {
      int hi = hex_value(raw[i + 1]), lo = hex_value(raw[i + 2]);
      if (hi >= 0 && lo >= 0) {
        char c = static_cast<char>(hi * 16 + lo);
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
          out.push_back(c);
          i += 2;
          continue;
        }
      }
    }
    out.push_back(raw[i]);
  }
  return normalize_path(out, above_root);
}

}  // namespace w2p::server
