#pragma once
// One client connection: reads requests with Beast's parser, applies the limits, serves static
// files natively or hands the request to the application, and writes responses in order.

#include <boost/asio/ip/tcp.hpp>

#include "server/server_context.hpp"

namespace w2p::server {

// Takes ownership of an accepted socket and starts serving it.
void start_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx);

// Closes the connection if it is idle between requests (graceful shutdown); a connection in the
// middle of a request finishes it and closes afterwards.
void shutdown_connection(Connection* c);

}  // namespace w2p::server
