#pragma once
// The checks a parsed request head must pass before anything acts on it (RFC 9112): HTTP
// version, target form and length, one unambiguous body framing (request smuggling), Host,
// Expect, and the header-name policy. Kept apart from the connection so it can be unit-tested
// and fuzzed without sockets.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace w2p::server {

struct RequestVerdict {
  int status = 0;                // 0: acceptable; otherwise the error status to answer (and close)
  std::string path;              // percent-decoded once, then normalised (normalize_path)
  std::string raw_path;          // as sent (percent-encoded) in normal form (normalize_raw_path)
  std::string query;             // raw query string
  std::string host;              // the authority: absolute-form target's, else the Host header's
  bool absolute_form = false;    // the target named its authority (which replaces Host)
  bool asterisk = false;         // "OPTIONS *": a question about the server itself
  bool has_body = false;         // a body follows (chunked or a non-zero Content-Length)
  bool expect_continue = false;  // the client waits for "100 Continue"
};

// At most this many header fields in one request head (431 beyond): each costs the parser an
// allocation, and no real client sends more.
constexpr std::size_t kMaxHeaderFields = 256;

// The request target's part of the checks: the path decoded and normalised, the query, an
// absolute form's authority (into v.host) and the asterisk form (OPTIONS only). False, with
// v.status set (400), when the target is refused.
bool check_target(std::string_view target, bool options, RequestVerdict& v);

// `chunked` and `content_length` are what Beast's parser concluded about the body.
RequestVerdict check_request_head(const boost::beast::http::request_header<>& head, bool chunked,
                                  const boost::optional<std::uint64_t>& content_length,
                                  std::uint32_t max_uri);

// uri-host [ ":" port ] (RFC 9110 7.2), as a Host header or an absolute-form authority:
// a registered name, an IPv4 address or a bracketed IPv6 address; no user information.
bool valid_authority(std::string_view authority);

// A Host value without its port ("example.com:8080" is example.com, "[::1]:80" is [::1]), as
// written (case kept): SERVER_NAME.
std::string_view host_without_port(std::string_view host);

// For a head that overflowed the size limit: 414 when the request line itself never ended,
// 431 otherwise.
int overflow_status(std::string_view received);

// The header-name policy at the server's boundary: only names made of letters, digits and '-'
// reach an application. CGI-style environ keys turn '-' into '_' and web2py also turns '.' into
// '_', so `X_Forwarded_For` or `X-Forwarded.Proto` would otherwise pose as forwarding headers
// that a trusted proxy is meant to own (nginx drops such names too).
bool is_plain_header_name(std::string_view name);

// True when `received` starts with a request line that ends in "HTTP/<digit>.<digit>" CRLF.
bool well_formed_version_line(std::string_view received);

// Bytes a client may send before a request line that are skipped (RFC 9112 2.2: a server SHOULD
// ignore at least one empty line received before the request-line): the length of the leading
// CRLF / LF run in `received`, or 0.
std::size_t leading_empty_lines(std::string_view received);

}  // namespace w2p::server
