// Request heads and bodies as the connection handles them: Beast's parser with our limits, then
// the rules of server/http/request_rules.cpp, then every path mapping the router tries.

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/http/request_rules.hpp"
#include "server/http/url_path.hpp"
#include "server/routing/web2py_static.hpp"
#include "server/static/static_files.hpp"

namespace http = boost::beast::http;
using namespace w2p::server;

static void check_relative(const std::string& rel) {
  // Whatever the router hands to the file layer is relative and has no ".." segment.
  if (!rel.empty() && rel[0] == '/') std::abort();
  if (rel == ".." || rel.starts_with("../") || rel.find("/../") != std::string::npos ||
      rel.ends_with("/.."))
    std::abort();
  if (rel.find('\0') != std::string::npos) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::buffer_body> p;
  p.header_limit(64 * 1024);
  p.body_limit(1 << 20);
  p.eager(false);
  boost::beast::error_code ec;
  std::size_t used = p.put(boost::asio::buffer(data, size), ec);
  if (ec || !p.is_header_done()) return 0;
  RequestVerdict v = check_request_head(p.get().base(), p.chunked(), p.content_length(), 8192);
  if (v.status != 0) {
    if (v.status < 400 || v.status > 505) std::abort();
    return 0;
  }
  std::string rel;
  if (mount_match(StaticMount{"/static", "/nonexistent"}, v.path, rel)) {
    if (auto safe = safe_relative_path(rel)) check_relative(*safe);
  }
  if (auto m = map_web2py_static(v.path, "welcome")) {
    check_relative(m->relative);
    if (!is_web2py_name(m->app)) std::abort();
  }
  // The body: decode what follows (chunked or sized) into a small buffer, as the connection does.
  char buf[4096];
  std::size_t offset = used;
  for (int rounds = 0; rounds < 1000 && !p.is_done() && offset < size; ++rounds) {
    p.get().body().data = buf;
    p.get().body().size = sizeof buf;
    std::size_t n = p.put(boost::asio::buffer(data + offset, size - offset), ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    offset += n;
    if (n == 0 && p.get().body().size == sizeof buf) break;
  }
  return 0;
}
