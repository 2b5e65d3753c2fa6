#pragma once
// Validating the status and headers an application hands back, and writing a response head.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::server {

// parse_status_line, is_token and is_safe_header_value are declared in app_interface.hpp.

// Headers an application must not set: framing and connection management are the server's.
bool is_hop_by_hop(std::string_view name);

std::string_view reason_phrase(int status);

// True for statuses that never carry a body (1xx, 204, 304).
inline bool status_has_no_body(int status) {
  return status < 200 || status == 204 || status == 304;
}

bool iequals(std::string_view a, std::string_view b);

// Whether the comma-separated header value `list` has `token` as an item (any case).
bool list_has_token(std::string_view list, std::string_view token);

// The value of the first header called `name` (any case); nullptr when there is none.
const std::string* find_header(const std::vector<Header>& headers, std::string_view name);

// Framing the connection chose for this response.
enum class Framing { none, content_length, chunked, close_delimited };

// Writes "HTTP/1.x status reason", the Date and Server headers (unless the head has them), the
// head's headers, the framing header and Connection when needed, and the blank line.
void serialize_head(std::string& out, unsigned version, const ResponseHead& head, Framing framing,
                    std::uint64_t content_length, bool keep_alive);

// The small HTML page the server's own statuses carry ("" for those without a body).
std::string status_page_body(int status);

// A small complete error response (text/html), for statuses the server itself produces.
std::string simple_response(unsigned version, int status, bool keep_alive,
                            const std::vector<Header>& extra = {}, bool head_only = false);

}  // namespace w2p::server
