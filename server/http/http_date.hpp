#pragma once
// HTTP dates (RFC 9110 IMF-fixdate), formatting and parsing of the three historic forms.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace w2p::server {

std::string format_http_date(std::time_t t);
// Accepts IMF-fixdate, RFC 850 and asctime forms; nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view s);

// The current Date header value, recomputed at most once a second per thread.
const std::string& current_http_date();

}  // namespace w2p::server
