#pragma once
// HTTP/2 (RFC 9113) on a connection: framing, HPACK and flow control by libnghttp2 (loaded on
// first use). A GET or HEAD for a static file is answered by this layer itself from the static
// responder's plan (h2_static.hpp), its DATA read from the file as the client's window allows.
// Every other stream is served by an ordinary HTTP/1.1 Session through a socket pair, the
// way TLS hands its decrypted stream over, so every response path (static files with their
// conditionals and ranges, the application, X-Sendfile, redirects, the status page, limits,
// timeouts and the access log) behaves exactly as over HTTP/1.1; this layer translates the
// request into HTTP/1.1 for it and its response back into HEADERS and DATA frames, reading no
// more of a response than the client's flow-control window lets it send (64 KiB per stream).

#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>

namespace w2p::server {

struct ServerContext;
struct PeerInfo;

// The 24 bytes every HTTP/2 client sends first ("prior knowledge", RFC 9113 3.4).
inline constexpr char kH2Preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
inline constexpr std::size_t kH2PrefaceSize = sizeof kH2Preface - 1;

class Stoppable;

// Serves HTTP/2 on an accepted `socket` (the client's preface may still be unread); the
// connection enters the server's registry. Throws std::runtime_error when libnghttp2 cannot be
// loaded.
void start_h2_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx,
                         const PeerInfo* proxied = nullptr);

// Behind TLS (ALPN "h2"): serves HTTP/2 on the decrypted stream; the TLS layer in front is the
// registered connection and forwards shutdown() to the one returned.
std::shared_ptr<Stoppable> start_inner_h2_connection(boost::asio::ip::tcp::socket socket,
                                                     ServerContext& ctx, const PeerInfo& peer);

// On a plain listener with --h2c: reads (without consuming) the first bytes; the HTTP/2
// preface starts an HTTP/2 connection, anything else an HTTP/1.1 one.
void start_plain_or_h2c_connection(boost::asio::ip::tcp::socket socket, ServerContext& ctx,
                                   const PeerInfo* proxied = nullptr);

}  // namespace w2p::server
