#pragma once
// The PROXY protocol (HAProxy's, versions 1 and 2): the header a proxy sends first on a
// connection to say who the client is. A pure parser: bytes in, a verdict out; the listener
// reads the bytes (server/net/proxy_listener.cpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace w2p::server {

struct ProxyHeader {
  enum class State { incomplete, invalid, ok } state = State::incomplete;
  std::size_t size = 0;  // the header's bytes (ok)
  // The client (source) and the address it connected to (destination). `local`: the proxy's
  // own connection (a health check; v1 UNKNOWN, v2 LOCAL): the socket's addresses stand.
  bool local = false;
  std::string src_addr, dst_addr;
  std::uint16_t src_port = 0, dst_port = 0;
  bool ssl = false;   // v2: the client spoke TLS to the proxy (PP2_TYPE_SSL, PP2_CLIENT_SSL)
  std::string error;  // invalid: why
};

// The most bytes a header may take here (v1's 107; v2's 16 plus addresses and TLVs, bounded).
inline constexpr std::size_t kMaxProxyHeader = 1024;

// Parses the start of `data`; `incomplete` when more bytes are needed (and could still make a
// valid header), `invalid` when they never will.
ProxyHeader parse_proxy_header(std::string_view data);

}  // namespace w2p::server
