#pragma once
// One client connection: reads requests with Beast's parser, applies the limits, serves static
// files natively or hands the request to the application, and writes responses in order.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "server/net/server_context.hpp"

namespace w2p::server {

// What a connection cannot learn from its own socket: behind the in-process TLS layer the
// socket is one end of a socket pair, and the client is on the other side of it.
struct PeerInfo {
  std::string remote_addr, local_addr;
  std::uint16_t remote_port = 0, local_port = 0;
  bool https = false;
  bool h2 = false;  // an HTTP/2 stream: SERVER_PROTOCOL and the access log say HTTP/2
};

// What a TCP socket says of its two ends (empty addresses when it cannot: the peer is gone).
PeerInfo peer_of(const boost::asio::ip::tcp::socket& socket);

class Stoppable;
class ChannelHub;

// After the I/O threads have returned: every response channel a worker still holds reports
// the client gone from now on, and lets go of its connection (destroyed here, before the
// io_context is).
void stop_channels(ChannelHub& hub);

// How a listener's connections are served.
enum class ListenKind { plain, tls, redirect };

// Takes ownership of an accepted socket and starts serving it; the connection enters the
// server's registry. `redirect_port` > 0 answers every request with a redirect to HTTPS on
// that port (a --redirect-listen listener). `proxied`: the client as a PROXY protocol header
// named it (server/net/proxy_reader.cpp), instead of the socket's peer.
void start_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx,
                      std::uint16_t redirect_port = 0, const PeerInfo* proxied = nullptr);

// The connection behind the TLS layer: `peer` is what the TLS socket says about the client, and
// the TLS layer, not this connection, is in the registry. Returns what the layer tells when the
// server stops.
std::shared_ptr<Stoppable> start_inner_connection(boost::asio::ip::tcp::socket socket,
                                                  ServerContext& ctx, const PeerInfo& peer);

}  // namespace w2p::server
