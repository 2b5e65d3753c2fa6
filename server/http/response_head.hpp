#pragma once
// Validating the status and headers an application hands back, and writing a response head.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::server {

// "200 OK" → {200, "OK"}; nullopt unless a final status (200..599), a space, and a reason with
// no control characters.
std::optional<ResponseHead> parse_status_line(std::string_view status);

bool is_token(std::string_view s);
// A header value is safe when it has no CR, LF or NUL (header injection) nor other controls
// except horizontal tab.
bool is_safe_header_value(std::string_view s);

// Headers an application must not set: framing and connection management are the server's.
bool is_hop_by_hop(std::string_view name);

std::string_view reason_phrase(int status);

// True for statuses that never carry a body (1xx, 204, 304).
inline bool status_has_no_body(int status) {
  return status < 200 || status == 204 || status == 304;
}

bool iequals(std::string_view a, std::string_view b);

// Framing the connection chose for this response.
enum class Framing { none, content_length, chunked, close_delimited };

// Writes "HTTP/1.x status reason", the Date and Server headers (unless the head has them), the
// head's headers, the framing header and Connection when needed, and the blank line.
void serialize_head(std::string& out, unsigned version, const ResponseHead& head, Framing framing,
                    std::uint64_t content_length, bool keep_alive);

// A small complete error response (text/html), for statuses the server itself produces.
std::string simple_response(unsigned version, int status, bool keep_alive,
                            const std::vector<Header>& extra = {}, bool head_only = false);

}  // namespace w2p::server
