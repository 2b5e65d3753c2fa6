#pragma once
// web2py's static URLs, mapped natively the way gluon/rewrite.py maps them (regex mode):
//   /<app>/static/<path>            → applications/<app>/static/<path>
//   /<app>/static/_1.2.3/<path>     → the same file, "versioned" (cached for years)
//   /favicon.ico, /robots.txt       → the default application's static folder
// Anything this cannot map with certainty returns nullopt and goes to web2py itself.

#include <optional>
#include <string>
#include <string_view>

namespace w2p::server {

struct Web2pyStatic {
  std::string app;
  std::string relative;  // below applications/<app>/static, safe (no "..", no empty segments)
  bool versioned = false;
};

std::optional<Web2pyStatic> map_web2py_static(std::string_view decoded_path,
                                              std::string_view default_app);

// True when `name` could be a web2py application name ([A-Za-z0-9_]+).
bool is_web2py_name(std::string_view name);

}  // namespace w2p::server
