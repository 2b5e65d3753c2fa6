#include "server/request_rules.hpp"

#include "server/response_head.hpp"
#include "server/url_path.hpp"

namespace w2p::server {

namespace http = boost::beast::http;

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
  std::string_view expect;
  bool has_expect = false;
  for (const auto& f : head) {
    auto name = f.name();
    if (name == http::field::content_length) {
      ++content_lengths;
    } else if (name == http::field::transfer_encoding) {
      ++transfer_encodings;
    } else if (name == http::field::host) {
      ++hosts;
    } else if (name == http::field::expect) {
      expect = std::string_view(f.value().data(), f.value().size());
      has_expect = true;
    }
  }
  if ((transfer_encodings > 0 && (content_lengths > 0 || version == 10)) || transfer_encodings > 1 ||
      content_lengths > 1 || hosts > 1 || (version == 11 && hosts == 0)) {
    v.status = 400;
    return v;
  }
  if (transfer_encodings == 1 && !chunked) {
    v.status = 501;
    return v;
  }
  auto parts = split_target(target);
  std::optional<std::string> decoded;
  if (parts) decoded = percent_decode(parts->path);
  if (!decoded) {
    v.status = 400;
    return v;
  }
  v.has_body = chunked || (content_length && *content_length > 0);
  if (has_expect) {
    if (!iequals(expect, "100-continue")) {
      v.status = 417;
      return v;
    }
    v.expect_continue = v.has_body && version == 11;
  }
  v.path = std::move(*decoded);
  v.query = parts->query;
  return v;
}

int overflow_status(std::string_view received) {
  return received.find("\r\n") != std::string_view::npos ? 431 : 414;
}

}  // namespace w2p::server
