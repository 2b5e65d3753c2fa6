#pragma once
// Request-target handling: splitting path and query, percent-decoding once, and the checks that
// keep a decoded path inside the folder it maps to.

#include <optional>
#include <string>
#include <string_view>

namespace w2p::server {

struct TargetParts {
  std::string_view path;       // raw, still percent-encoded
  std::string_view query;      // without '?'
  std::string_view authority;  // absolute form only: "host[:port]" (check it with valid_authority)
  bool absolute_form = false;
};

// Splits an origin-form target ("/a/b?x=1") or an absolute-form one ("http://h/a", scheme http
// or https). Returns nullopt when the target is neither.
std::optional<TargetParts> split_target(std::string_view target);

// Decodes %XX escapes once. nullopt for a malformed escape or a decoded NUL byte.
std::optional<std::string> percent_decode(std::string_view raw);

// For mapping a decoded URL path below a folder: the relative path with empty and "."
// segments dropped; nullopt when any segment is "..", or the path has a NUL or a backslash
// (which never names a file we mean to serve).
std::optional<std::string> safe_relative_path(std::string_view decoded);

// A decoded URL path in its one normal form (RFC 3986 5.2.4, as lighttpd simplifies paths):
// "." segments and repeated slashes dropped, ".." removing the segment before it (never above
// the root), a trailing slash kept only when the path named a directory ("/a/", "/a/." and
// "/a/b/.." all end in '/'). "/a//./b/../c" is "/a/c". An empty path is "/". `above_root`, when
// given, is set when a ".." tried to go above the root ("/../x").
std::string normalize_path(std::string_view decoded, bool* above_root = nullptr);

// The raw (still encoded) path in the same normal form, for rules that match the URL as sent:
// escapes of unreserved characters decoded ("%2e" is ".", "%7E" is "~"), others kept, then
// normalize_path. Assumes percent_decode accepted the path.
std::string normalize_raw_path(std::string_view raw, bool* above_root = nullptr);

}  // namespace w2p::server
