#include "server/net/proxy_reader.hpp"

#include <sys/socket.h>

#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <memory>

#include "server/http/proxy_protocol.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/log.hpp"
#include "server/net/h2_connection.hpp"
#include "server/net/tls.hpp"

namespace w2p::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class ProxyReader : public std::enable_shared_from_this<ProxyReader> {
 public:
  ProxyReader(tcp::socket socket, ServerContext& ctx, ListenKind kind, std::uint16_t redirect_port)
      : socket_(std::move(socket)),
        ctx_(ctx),
        kind_(kind),
        redirect_port_(redirect_port),
        deadline_(socket_.get_executor()),
        retry_(socket_.get_executor()) {}

  void start() {
    peer_ = peer_of(socket_);
    if (peer_.remote_addr.empty()) return;  // gone already
    if (!any_contains(ctx_.options.trusted_proxies, peer_.remote_addr))
      return cut("not a --trusted-proxy");
    deadline_.expires_after(std::chrono::seconds(ctx_.options.header_timeout));
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->cut("no PROXY header within --header-timeout");
    });
    wait();
  }

 private:
  void wait() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec) return;  // cut, or the server stops
                         self->peek();
                       });
  }

  // The header is read without taking a byte more (what follows is the client's, for the
  // connection that serves it): peeked, parsed, then exactly its length taken.
  void peek() {
    char buf[kMaxProxyHeader];
    ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return wait();
    if (n <= 0) return cut("closed before its PROXY header");
    ProxyHeader h = parse_proxy_header({buf, static_cast<std::size_t>(n)});
    if (h.state == ProxyHeader::State::invalid) return cut(h.error);
    if (h.state == ProxyHeader::State::incomplete) {
      // Part of a header so far. The socket stays readable while those bytes are unread, so
      // waiting on it again would spin: look again a little later (bounded by the deadline).
      retry_.expires_after(std::chrono::milliseconds(10));
      retry_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e) self->peek();
      });
      return;
    }
    ssize_t taken = ::recv(socket_.native_handle(), buf, h.size, MSG_DONTWAIT);
    if (taken != static_cast<ssize_t>(h.size)) return cut("its PROXY header could not be read");
    deadline_.cancel();
    if (!h.local) {
      peer_.remote_addr = h.src_addr;
      peer_.remote_port = h.src_port;
      peer_.local_addr = h.dst_addr;
      peer_.local_port = h.dst_port;
    }
    peer_.https = h.ssl;  // TLS to the proxy (v2); the TLS layer sets it for its own
    if (kind_ == ListenKind::tls) return start_tls_connection(std::move(socket_), ctx_, &peer_);
    if (kind_ == ListenKind::plain && ctx_.options.h2c)
      return start_plain_or_h2c_connection(std::move(socket_), ctx_, &peer_);
    start_connection(std::move(socket_), ctx_, redirect_port_, &peer_);
  }

  void cut(const std::string& why) {
    log::debug("PROXY protocol: connection from " + peer_.remote_addr + " cut: " + why);
    boost::system::error_code ec;
    deadline_.cancel();
    retry_.cancel();
    socket_.close(ec);
  }

  tcp::socket socket_;
  ServerContext& ctx_;
  ListenKind kind_;
  std::uint16_t redirect_port_;
  net::steady_timer deadline_, retry_;
  PeerInfo peer_;
};

}  // namespace

void start_proxied_connection(tcp::socket socket, ServerContext& ctx, ListenKind kind,
                              std::uint16_t redirect_port) {
  std::make_shared<ProxyReader>(std::move(socket), ctx, kind, redirect_port)->start();
}

}  // namespace w2p::server
