#pragma once
// The checks a parsed request head must pass before anything acts on it: HTTP version, target
// length and form, one unambiguous body framing (request smuggling), Host, Expect. Kept apart
// from the connection so it can be unit-tested and fuzzed without sockets.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace w2p::server {

struct RequestVerdict {
  int status = 0;               // 0: acceptable; otherwise the error status to answer (and close)
  std::string path;             // percent-decoded path
  std::string query;            // raw query string
  bool has_body = false;        // a body follows (chunked or a non-zero Content-Length)
  bool expect_continue = false; // the client waits for "100 Continue"
};

// `chunked` and `content_length` are what Beast's parser concluded about the body.
RequestVerdict check_request_head(const boost::beast::http::request_header<>& head, bool chunked,
                                  const boost::optional<std::uint64_t>& content_length,
                                  std::uint32_t max_uri);

// For a head that overflowed the size limit: 414 when the request line itself never ended,
// 431 otherwise.
int overflow_status(std::string_view received);

}  // namespace w2p::server
