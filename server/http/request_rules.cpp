#include "server/http/request_rules.hpp"

#include <algorithm>

#include "server/http/response_head.hpp"
#include "server/http/url_path.hpp"

namespace w2p::server {

namespace http = boost::beast::http;

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Transfer-Encoding: only "chunked" alone is a framing this server reads. 0, or the status.
int transfer_coding_status(std::string_view value) {
  int codings = 0, chunked = 0;
  bool chunked_last = false;
  std::size_t i = 0;
  while (i <= value.size()) {
    std::size_t end = value.find(',', i);
    if (end == std::string_view::npos) end = value.size();
    std::string_view item = trim(value.substr(i, end - i));
    i = end + 1;
    if (item.empty()) continue;
    ++codings;
    chunked_last = iequals(item, "chunked");
    chunked += chunked_last;
  }
  // Another coding (gzip, ...): this server does not decode it, and the application would get
  // an encoded body.
  if (codings > chunked) return 501;
  // Nothing, or chunked twice (forbidden): the body's length cannot be known.
  return codings == 1 && chunked_last ? 0 : 400;
}

}  // namespace

bool is_plain_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!is_alnum(c) && c != '-') return false;
  return true;
}

bool valid_authority(std::string_view a) {
  std::string_view host = a, port;
  if (!a.empty() && a.front() == '[') {
    std::size_t close = a.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    host = a.substr(1, close - 1);
    for (char c : host) {
      bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return false;
    }
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    std::size_t colon = a.find(':');
    if (colon != std::string_view::npos) {
      host = a.substr(0, colon);
      port = a.substr(colon + 1);
    }
    if (host.empty()) return false;
    for (char c : host)
      if (!is_alnum(c) && c != '-' && c != '.' && c != '_' && c != '~') return false;
  }
  if (port.size() > 5) return false;
  unsigned long value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  return value <= 65535;
}

bool check_target(std::string_view target, bool options, RequestVerdict& v) {
  if (target == "*") {
    // The asterisk form exists for OPTIONS only (RFC 9112 3.2.4).
    if (!options) {
      v.status = 400;
      return false;
    }
    v.asterisk = true;
    v.path = "*";
  } else {
    std::optional<TargetParts> parts = split_target(target);
    std::optional<std::string> decoded;
    if (parts) decoded = percent_decode(parts->path);
    // One view of the path for everything that follows (rewrite rules, deny rules, static
    // mappings, the application): dot segments resolved and "//" collapsed, as lighttpd and
    // nginx do. A ".." above the root, in any spelling, is an attack, not a URL.
    bool above_raw = false, above_decoded = false;
    if (decoded) {
      v.raw_path = normalize_raw_path(parts->path, &above_raw);
      *decoded = normalize_path(*decoded, &above_decoded);
    }
    if (!decoded || above_raw || above_decoded ||
        (parts->absolute_form && !valid_authority(parts->authority))) {
      v.status = 400;
      return false;
    }
    if (parts->absolute_form) {
      // RFC 9112 3.2.2: the target's authority replaces whatever Host says.
      v.absolute_form = true;
      v.host.assign(parts->authority);
    }
    v.path = std::move(*decoded);
    v.query = parts->query;
  }
  return true;
}

RequestVerdict check_request_head(const http::request_header<>& head, bool chunked,
                                  const boost::optional<std::uint64_t>& content_length,
                                  std::uint32_t max_uri) {
  RequestVerdict v;
  unsigned version = head.version();
  if (version != 10 && version != 11) {
    v.status = 505;
    return v;
  }
  std::string_view target(head.target().data(), head.target().size());
  if (target.size() > max_uri) {
    v.status = 414;
    return v;
  }
  // One framing, stated once: anything else is how requests get smuggled past proxies.
  int content_lengths = 0, transfer_encodings = 0, hosts = 0;
  std::size_t fields = 0;
  std::string_view expect, host, transfer_encoding;
  bool has_expect = false;
  for (const auto& f : head) {
    ++fields;
    auto name = f.name();
    std::string_view value(f.value().data(), f.value().size());
    if (name == http::field::content_length) {
      ++content_lengths;
    } else if (name == http::field::transfer_encoding) {
      ++transfer_encodings;
      transfer_encoding = value;
    } else if (name == http::field::host) {
      ++hosts;
      host = value;
    } else if (name == http::field::expect) {
      expect = value;
      has_expect = true;
    }
  }
  if (fields > kMaxHeaderFields) {
    v.status = 431;
    return v;
  }
  if ((transfer_encodings > 0 && (content_lengths > 0 || version == 10)) ||
      transfer_encodings > 1 || content_lengths > 1 || hosts > 1 || (version == 11 && hosts == 0)) {
    v.status = 400;
    return v;
  }
  if (transfer_encodings == 1) {
    v.status = transfer_coding_status(transfer_encoding);
    if (v.status == 0 && !chunked) v.status = 400;
    if (v.status != 0) return v;
  }
  if (hosts == 1 && !host.empty() && !valid_authority(host)) {
    v.status = 400;
    return v;
  }
  v.host.assign(host);
  if (!check_target(target, head.method() == http::verb::options, v)) return v;
  v.has_body = chunked || (content_length && *content_length > 0);
  if (has_expect) {
    if (!iequals(trim(expect), "100-continue")) {
      v.status = 417;
      return v;
    }
    v.expect_continue = v.has_body && version == 11;
  }
  return v;
}

std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    return host.substr(0, close == std::string_view::npos ? host.size() : close + 1);
  }
  return host.substr(0, host.find(':'));
}

int overflow_status(std::string_view received) {
  return received.find('\n') != std::string_view::npos ? 431 : 414;
}

bool well_formed_version_line(std::string_view received) {
  std::size_t eol = received.find("\r\n");
  if (eol == std::string_view::npos || eol < 9) return false;
  std::string_view v = received.substr(eol - 9, 9);  // " HTTP/d.d"
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string_view line = received.substr(0, eol);
  // METHOD SP target SP version: exactly two spaces, no bare LF inside.
  return v.substr(0, 6) == " HTTP/" && digit(v[6]) && v[7] == '.' && digit(v[8]) &&
         line.find('\n') == std::string_view::npos &&
         std::count(line.begin(), line.end(), ' ') == 2;
}

std::size_t leading_empty_lines(std::string_view received) {
  std::size_t n = 0;
  while (n < received.size()) {
    if (received[n] == '\n') {
      ++n;
    } else if (received[n] == '\r' && n + 1 < received.size() && received[n + 1] == '\n') {
      n += 2;
    } else {
      break;
    }
  }
  return n;
}

}  // namespace w2p::server
