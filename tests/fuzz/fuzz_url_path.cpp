// URL path decoding and static-path mapping: nothing may ever resolve outside its root.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/http/url_path.hpp"
#include "server/routing/web2py_static.hpp"
#include "server/static/static_files.hpp"

using namespace w2p::server;
namespace fs = std::filesystem;

namespace {
// A small tree: root/{a.txt, d/b.txt, link-out -> ../secret, link-in -> a.txt}, base/secret.
const std::string& root() {
  static std::string r = [] {
    char tmpl[] = "/tmp/w2p-fuzz-XXXXXX";
    std::string base = ::mkdtemp(tmpl);
    std::string r = base + "/root";
    fs::create_directories(r + "/d");
    std::ofstream(r + "/a.txt") << "a";
    std::ofstream(r + "/d/b.txt") << "b";
    std::ofstream(base + "/secret") << "secret";
    fs::create_symlink("../secret", r + "/link-out");
    fs::create_symlink("a.txt", r + "/link-in");
    return r;
  }();
  return r;
}

void check_inside(int fd) {
  char link[64], target[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) std::abort();
  target[n] = '\0';
  std::string t(target);
  if (!t.starts_with(root() + "/")) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parts = split_target(input);
  if (!parts) return 0;
  auto decoded = percent_decode(parts->path);
  if (!decoded) return 0;
  if (decoded->find('\0') != std::string::npos) std::abort();
  if (auto rel = safe_relative_path(*decoded)) {
    OpenedFile f = open_below(root(), *rel);
    if (f.status == OpenStatus::ok) {
      check_inside(f.fd);
      ::close(f.fd);
    }
  }
  if (auto m = map_web2py_static(*decoded, "welcome")) {
    OpenedFile f = open_below(root(), m->relative);
    if (f.status == OpenStatus::ok) {
      check_inside(f.fd);
      ::close(f.fd);
    }
  }
  return 0;
}
