#pragma once
// One client connection: reads requests with Beast's parser, applies the limits, serves static
// files natively or hands the request to the application, and writes responses in order.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "server/server_context.hpp"

namespace w2p::server {

// What a connection cannot learn from its own socket: behind the in-process TLS layer the
// socket is one end of a socket pair, and the client is on the other side of it.
struct PeerInfo {
  std::string remote_addr, local_addr;
  std::uint16_t remote_port = 0, local_port = 0;
  bool https = false;
};

// How a listener's connections are served.
enum class ListenKind { plain, tls, redirect };

// Takes ownership of an accepted socket and starts serving it. `peer` overrides what the socket
// says about the client; `redirect_port` > 0 answers every request with a redirect to HTTPS on
// that port (a --redirect-listen listener).
void start_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx,
                      const PeerInfo* peer = nullptr, std::uint16_t redirect_port = 0);

// Closes the connection if it is idle between requests (graceful shutdown); a connection in the
// middle of a request finishes it and closes afterwards.
void shutdown_connection(Connection* c);

}  // namespace w2p::server
