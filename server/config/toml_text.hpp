#pragma once
// TOML text for what w2pserve prints as configuration (check-config, import-lighttpd): a basic
// string with its escapes, and an inline array of strings.

#include <cstdio>
#include <string>
#include <vector>

namespace w2p::server {

inline std::string toml_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

inline std::string toml_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_quote(v[i]);
  return out + "]";
}

}  // namespace w2p::server
