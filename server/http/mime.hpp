#pragma once
// Content types by file extension: a built-in table, extended by /etc/mime.types when present.

#include <string>
#include <string_view>

namespace w2p::server {

// Loads /etc/mime.types (or `path`) on top of the built-in table. Safe to skip.
void load_mime_types(const std::string& path = "/etc/mime.types");
// The Content-Type for a file name; text types carry "; charset=utf-8".
std::string mime_type_for(std::string_view filename);

}  // namespace w2p::server
