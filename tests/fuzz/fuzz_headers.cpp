// Header-value parsers: HTTP dates, conditional requests, status lines and header values from
// applications, proxy addresses, sizes and listen addresses from the command line.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/config/options.hpp"
#include "server/http/http_date.hpp"
#include "server/http/response_head.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/static/static_files.hpp"

using namespace w2p::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  if (auto t = parse_http_date(s)) {
    // A parsed date formats back to a date that parses to the same second.
    if (parse_http_date(format_http_date(*t)) != t) std::abort();
  }
  size_t split = s.find('|');
  std::string a = s.substr(0, split), b = split == std::string::npos ? "" : s.substr(split + 1);
  (void)not_modified(a, b, "\"abc-1\"", 1000);
  if (auto h = parse_status_line(s)) {
    if (h->status < 100 || h->status > 999 || !is_safe_header_value(h->reason)) std::abort();
  }
  (void)is_token(s);
  if (auto c = parse_cidr(s)) (void)any_contains({*c}, "10.1.2.3");
  (void)parse_ip(s);
  try {
    (void)parse_size(s);
  } catch (const OptionError&) {
  }
  try {
    auto l = parse_listen(s);
    (void)l;
  } catch (const OptionError&) {
  }
  return 0;
}
