#pragma once
// Request-target handling: splitting path and query, percent-decoding once, and the checks that
// keep a decoded path inside the folder it maps to.

#include <optional>
#include <string>
#include <string_view>

namespace w2p::server {

struct TargetParts {
  std::string_view path;   // raw, still percent-encoded
  std::string_view query;  // without '?'
};

// Splits an origin-form target ("/a/b?x=1"); an absolute-form target ("http://h/a") is reduced
// to its path. Returns nullopt when the target is neither.
std::optional<TargetParts> split_target(std::string_view target);

// Decodes %XX escapes once. nullopt for a malformed escape or a decoded NUL byte.
std::optional<std::string> percent_decode(std::string_view raw);

// For mapping a decoded URL path below a folder: the relative path with empty and "."
// segments dropped; nullopt when any segment is "..", or the path has a NUL or a backslash
// (which never names a file we mean to serve).
std::optional<std::string> safe_relative_path(std::string_view decoded);

}  // namespace w2p::server
