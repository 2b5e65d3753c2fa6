#pragma once
// Trusted proxies: which peers may tell us the client's address and scheme through
// X-Forwarded-* / Forwarded. From anyone else those headers are removed before the application
// sees them (web2py trusts them blindly for request.client and request.is_https).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace w2p::server {

struct Cidr {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 stored as IPv4-mapped IPv6
  int prefix = 128;                      // in IPv6 bits
};

// "10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8". nullopt when malformed.
std::optional<Cidr> parse_cidr(std::string_view text);

// The peer address in the same mapped form; nullopt when it is not an IP address.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text);

bool cidr_contains(const Cidr& cidr, const std::array<std::uint8_t, 16>& address);
bool any_contains(const std::vector<Cidr>& list, std::string_view address);

// Headers that carry forwarding claims (X-Forwarded-*, Forwarded, X-Real-IP, ...).
bool is_forwarding_header(std::string_view name);

}  // namespace w2p::server
