#include "server/static/handoff.hpp"

#include <optional>

#include "server/http/url_path.hpp"

namespace w2p::server {

HandoffTarget resolve_handoff(const Handoff& h, const std::vector<std::string>& sendfile_dirs,
                              const std::vector<StaticMount>& accel) {
  HandoffTarget out;
  std::string dir, relative;
  if (h.accel) {
    auto parts = split_target(h.value);
    auto decoded = parts && !parts->absolute_form ? percent_decode(parts->path) : std::nullopt;
    if (decoded) {
      for (const auto& m : accel) {
        if (mount_match(m, *decoded, relative)) {
          dir = m.dir;
          break;
        }
      }
    }
  } else {
    for (const auto& d : sendfile_dirs) {
      if (h.value.size() > d.size() && h.value.compare(0, d.size(), d) == 0 &&
          (h.value[d.size()] == '/' || d == "/") && d.size() > dir.size()) {
        dir = d;
        relative = h.value.substr(d == "/" ? 1 : d.size() + 1);
      }
    }
  }
  auto rel = dir.empty() ? std::nullopt : safe_relative_path(relative);
  if (!rel || h.status != 200) {
    out.error_status = 500;
    out.error = std::string(h.accel ? "X-Accel-Redirect " : "X-Sendfile ") + h.value +
                " refused: " +
                (h.status != 200 ? "only a 200 response can hand over a file"
                 : h.accel       ? "not below an --x-accel prefix"
                                 : "not below an --x-sendfile folder");
    return out;
  }
  out.dir = std::move(dir);
  out.relative = std::move(*rel);
  return out;
}

}  // namespace w2p::server
