#pragma once
// Native static files: mapping a URL path below a folder, opening it without ever leaving that
// folder, and the validators (ETag, Last-Modified) with their conditional requests.

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace w2p::server {

struct StaticMount {
  std::string prefix;  // URL prefix, "/static" (no trailing slash; "" mounts at the root)
  std::string dir;     // folder, absolute, without trailing slash
};

enum class OpenStatus { ok, not_found, forbidden, directory };

struct OpenedFile {
  OpenStatus status = OpenStatus::not_found;
  int fd = -1;  // owned by the caller when status == ok
  struct stat st {};
  std::string name;  // the relative path that was opened (for the content type)
};

// Opens `relative` (already checked with safe_relative_path) below `root`. Symlinks that lead
// out of `root` are refused; only regular files are opened; a directory is reported as such
// (its index files and the trailing-slash redirect are the caller's business).
OpenedFile open_below(const std::string& root, const std::string& relative);

// If `decoded_path` lies below the mount's prefix, the path relative to the mount's folder.
bool mount_match(const StaticMount& mount, std::string_view decoded_path, std::string& relative);

std::string make_etag(const struct stat& st);

// Evaluates If-None-Match (preferred) or If-Modified-Since for GET/HEAD: true means 304.
bool not_modified(std::string_view if_none_match, std::string_view if_modified_since,
                  std::string_view etag, std::time_t mtime);

// If-Match (preferred; strong comparison, "*" matches any existing file) or
// If-Unmodified-Since: true means the precondition failed (412).
bool precondition_failed(std::string_view if_match, std::string_view if_unmodified_since,
                         std::string_view etag, std::time_t mtime);

// The conditional headers of a request for a file, in RFC 9110's order (section 13.2.2):
// 412, then 304 (GET and HEAD only), else 0.
struct Conditionals {
  std::string_view if_match, if_unmodified_since, if_none_match, if_modified_since;
};
int evaluate_conditionals(const Conditionals& c, bool get_or_head, std::string_view etag,
                          std::time_t mtime);

}  // namespace w2p::server
