#pragma once
// A listener with the PROXY protocol (--proxy-protocol): each connection must come from a
// --trusted-proxy address and start with a PROXY v1 or v2 header (server/http/proxy_protocol.hpp),
// read here before anything else sees the socket; the connection is then served as its listener
// serves any, with the client the header names (address, port, and TLS to the proxy in v2).
// Anything else is cut: a peer that is not a trusted proxy, a missing or malformed header, one
// that does not come within --header-timeout.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

#include "server/net/connection.hpp"

namespace w2p::server {

void start_proxied_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx,
                              ListenKind kind, std::uint16_t redirect_port);

}  // namespace w2p::server
