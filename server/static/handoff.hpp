#pragma once
// X-Sendfile and X-Accel-Redirect: an application answers 200 with one of these headers and no
// body of its own, and the server sends the file natively (ranges, 304s). Which file that is,
// and whether the application may name it, is decided here; the connection then serves it like
// any static file. The application has checked permissions itself (a web2py download of an
// upload), so web2py's private-folder rule does not apply: the folders configured for hand-offs
// are the boundary.

#include <string>
#include <vector>

#include "server/app_interface.hpp"
#include "server/static/static_files.hpp"

namespace w2p::server {

struct Handoff {
  bool accel = false;           // X-Accel-Redirect (a URL), else X-Sendfile (an absolute path)
  std::string value;            // what the header said
  std::vector<Header> headers;  // the application's other headers, kept for the file's response
  int status = 200;
};

struct HandoffTarget {
  std::string dir, relative;  // the file: a safe path below one of the configured folders
  int error_status = 0;       // non-zero: answer this instead, and log `error`
  std::string error;
};

// X-Sendfile: an absolute path below one of `sendfile_dirs` (the longest that holds it).
// X-Accel-Redirect: a URL below one of the `accel` prefixes.
HandoffTarget resolve_handoff(const Handoff& h, const std::vector<std::string>& sendfile_dirs,
                              const std::vector<StaticMount>& accel);

}  // namespace w2p::server
