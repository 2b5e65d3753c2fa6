#include "server/http/trusted_proxy.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "server/http/response_head.hpp"

namespace w2p::server {

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  bool v4 = addr.find(':') == std::string_view::npos;
  auto ip = parse_ip(addr);
  if (!ip) return std::nullopt;
  Cidr c;
  c.bytes = *ip;
  int max = v4 ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    prefix = 0;
    for (char ch : p) {
      if (ch < '0' || ch > '9') return std::nullopt;
      prefix = prefix * 10 + (ch - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  c.prefix = v4 ? prefix + 96 : prefix;
  return c;
}

bool cidr_contains(const Cidr& cidr, const std::array<std::uint8_t, 16>& address) {
  int bits = cidr.prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((cidr.bytes[i] & mask) != (address[i] & mask)) return false;
  }
  return true;
}

bool any_contains(const std::vector<Cidr>& list, std::string_view address) {
  if (list.empty()) return false;
  auto ip = parse_ip(address);
  if (!ip) return false;
  for (const auto& c : list)
    if (cidr_contains(c, *ip)) return true;
  return false;
}

bool is_forwarding_header(std::string_view name) {
  if (name.size() >= 12 && iequals(name.substr(0, 12), "x-forwarded-")) return true;
  return iequals(name, "forwarded") || iequals(name, "x-real-ip") || iequals(name, "x-client-ip") ||
         iequals(name, "x-cluster-client-ip") || iequals(name, "true-client-ip");
}

}  // namespace w2p::server
