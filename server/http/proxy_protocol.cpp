#include "server/http/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace w2p::server {

namespace {

constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::size_t kV1Max = 107;  // "PROXY TCP6 " + two addresses, two ports, CRLF

ProxyHeader invalid(std::string why) {
  ProxyHeader h;
  h.state = ProxyHeader::State::invalid;
  h.error = std::move(why);
  return h;
}

bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

bool parse_ip(std::string_view s, int family, std::string& out) {
  char buf[INET6_ADDRSTRLEN];
  if (s.size() >= sizeof buf) return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  unsigned char bin[16];
  if (::inet_pton(family, buf, bin) != 1) return false;
  char canon[INET6_ADDRSTRLEN];
  ::inet_ntop(family, bin, canon, sizeof canon);
  out = canon;
  return true;
}

// "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n" or "PROXY UNKNOWN ...\r\n".
ProxyHeader parse_v1(std::string_view data) {
  std::size_t end = data.find("\r\n");
  if (end == std::string_view::npos) {
    if (data.size() >= kV1Max) return invalid("a PROXY v1 line longer than 107 bytes");
    return {};
  }
  if (end + 2 > kV1Max) return invalid("a PROXY v1 line longer than 107 bytes");
  std::string_view line = data.substr(6, end - 6);  // after "PROXY "
  ProxyHeader h;
  h.size = end + 2;
  if (line.starts_with("UNKNOWN")) {
    h.state = ProxyHeader::State::ok;
    h.local = true;
    return h;
  }
  std::string_view parts[5];
  std::size_t n = 0;
  for (std::size_t at = 0; n < 5;) {
    std::size_t sp = line.find(' ', at);
    parts[n++] = line.substr(at, sp == std::string_view::npos ? std::string_view::npos : sp - at);
    if (sp == std::string_view::npos) break;
    at = sp + 1;
  }
  if (n != 5) return invalid("a PROXY v1 line without its five fields");
  int family = parts[0] == "TCP4" ? AF_INET : parts[0] == "TCP6" ? AF_INET6 : 0;
  if (!family) return invalid("PROXY v1: unknown protocol '" + std::string(parts[0]) + "'");
  if (!parse_ip(parts[1], family, h.src_addr) || !parse_ip(parts[2], family, h.dst_addr) ||
      !parse_port(parts[3], h.src_port) || !parse_port(parts[4], h.dst_port))
    return invalid("PROXY v1: a malformed address or port");
  h.state = ProxyHeader::State::ok;
  return h;
}

ProxyHeader parse_v2(std::string_view data) {
  if (data.size() < 16) return {};
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
  unsigned version = byte(12) >> 4, command = byte(12) & 0x0f;
  if (version != 2) return invalid("PROXY v2: version " + std::to_string(version));
  if (command > 1) return invalid("PROXY v2: unknown command");
  std::size_t len = (static_cast<std::size_t>(byte(14)) << 8) | byte(15);
  if (16 + len > kMaxProxyHeader) return invalid("PROXY v2: a header over 1024 bytes");
  if (data.size() < 16 + len) return {};
  ProxyHeader h;
  h.size = 16 + len;
  h.state = ProxyHeader::State::ok;
  if (command == 0) {  // LOCAL: the proxy's own connection
    h.local = true;
    return h;
  }
  unsigned family = byte(13) >> 4, transport = byte(13) & 0x0f;
  if (transport != 1 || (family != 1 && family != 2)) {
    // UNSPEC, UDP or UNIX: not a TCP client; the socket's addresses stand (as for LOCAL).
    h.local = true;
    return h;
  }
  // TCP over IPv4 or IPv6: the two addresses (4 or 16 bytes each), then the two ports.
  bool v4 = family == 1;
  std::size_t a = v4 ? 4 : 16;
  std::size_t addr_len = 2 * a + 4;
  if (len < addr_len)
    return invalid(v4 ? "PROXY v2: a short IPv4 address block"
                      : "PROXY v2: a short IPv6 address block");
  const char* p = data.data() + 16;
  char buf[INET6_ADDRSTRLEN];
  int af = v4 ? AF_INET : AF_INET6;
  h.src_addr = ::inet_ntop(af, p, buf, sizeof buf);
  h.dst_addr = ::inet_ntop(af, p + a, buf, sizeof buf);
  auto port = [&](std::size_t at) {
    return static_cast<std::uint16_t>((byte(at) << 8) | byte(at + 1));
  };
  h.src_port = port(16 + 2 * a);
  h.dst_port = port(18 + 2 * a);
  // TLVs: PP2_TYPE_SSL (0x20) says whether the client spoke TLS to the proxy.
  for (std::size_t at = 16 + addr_len; at + 3 <= 16 + len;) {
    unsigned type = byte(at);
    std::size_t tlv_len = (static_cast<std::size_t>(byte(at + 1)) << 8) | byte(at + 2);
    if (at + 3 + tlv_len > 16 + len) return invalid("PROXY v2: a TLV past the header's end");
    if (type == 0x20 && tlv_len >= 1 && (byte(at + 3) & 0x01)) h.ssl = true;
    at += 3 + tlv_len;
  }
  return h;
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view data) {
  std::size_t n = std::min(data.size(), kV2Signature.size());
  if (data.substr(0, n) == kV2Signature.substr(0, n)) {
    if (data.size() < kV2Signature.size()) return {};
    return parse_v2(data);
  }
  constexpr std::string_view kV1 = "PROXY ";
  n = std::min(data.size(), kV1.size());
  if (data.substr(0, n) == kV1.substr(0, n)) {
    if (data.size() < kV1.size()) return {};
    return parse_v1(data);
  }
  return invalid("no PROXY protocol header");
}

}  // namespace w2p::server
