#include "server/net/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "server/log.hpp"
#include "server/net/connection.hpp"
#include "server/net/h2_connection.hpp"
#include "server/net/proxy_reader.hpp"
#include "server/net/tls.hpp"

namespace w2p::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(net::io_context& ioc, const ListenAddress& address, ServerContext& ctx)
    : ioc_(ioc), acceptor_(ioc), backoff_(ioc), ctx_(ctx) {
  boost::system::error_code ec;
  auto ip = net::ip::make_address(address.host, ec);
  std::string where =
      (address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host) +
      ":" + std::to_string(address.port);
  if (ec)
    throw std::runtime_error("--listen " + where + ": '" + address.host + "' is not an IP address");
  tcp::endpoint ep(ip, address.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && ip.is_v6()) acceptor_.set_option(net::ip::v6_only(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  // Asio opens sockets without close-on-exec: a subprocess the application starts (os.system,
  // a fork) must not inherit the listening socket and keep the port after we exit.
  ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
}

Listener::Listener(net::io_context& ioc, int fd, ServerContext& ctx)
    : ioc_(ioc), acceptor_(ioc), backoff_(ioc), ctx_(ctx) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int type = 0;
  socklen_t tlen = sizeof type;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0 ||
      ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM ||
      (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
    throw std::runtime_error("inherited descriptor " + std::to_string(fd) +
                             " is not a listening TCP socket");
  boost::system::error_code ec;
  acceptor_.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec)
    throw std::runtime_error("cannot use inherited socket " + std::to_string(fd) + ": " +
                             ec.message());
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int Listener::release() {
  boost::system::error_code ec;
  backoff_.cancel();
  if (!acceptor_.is_open()) return -1;
  acceptor_.cancel(ec);
  int fd = acceptor_.release(ec);
  return ec ? -1 : fd;
}

tcp::endpoint Listener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Listener::run() {
  do_accept();
}

void Listener::stop() {
  boost::system::error_code ec;
  backoff_.cancel();
  acceptor_.close(ec);
}

void Listener::do_accept() {
  // --max-connections: stop accepting (new clients wait in the kernel backlog) until one ends.
  if (ctx_.options.max_connections && ctx_.connection_count() >= ctx_.options.max_connections) {
    if (!paused_) {
      paused_ = true;
      log::warn("--max-connections (" + std::to_string(ctx_.options.max_connections) +
                ") reached: accepting paused until a connection ends");
    }
    ctx_.add_resume_hook([self = shared_from_this()] {
      net::post(self->acceptor_.get_executor(), [self] {
        if (!self->ctx_.stopping.load() && self->acceptor_.is_open()) self->do_accept();
      });
    });
    return;
  }
  paused_ = false;
  auto handler = [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
    self->on_accept(ec, std::move(s));
  };
  // With one I/O thread every handler already runs in order on it: strands would only add
  // queueing and locking per operation.
  if (ctx_.options.io_threads == 1)
    acceptor_.async_accept(ioc_, std::move(handler));
  else
    acceptor_.async_accept(net::make_strand(ioc_), std::move(handler));
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ctx_.stopping.load()) {
    // Accepted just before the stop: its client is already sending a request. Dropping the
    // socket unread would reset the connection; it is served (and closed) instead.
    if (!ec && socket.is_open()) hand_over(std::move(socket));
    return;
  }
  if (!acceptor_.is_open()) return;
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // Out of descriptors (or memory): pause accepting briefly instead of spinning on the error.
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory) {
      log::error("accept failed: " + ec.message() + "; pausing accepts for 100 ms");
      backoff_.expires_after(std::chrono::milliseconds(100));
      backoff_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e) self->do_accept();
      });
      return;
    }
    log::debug("accept: " + ec.message());
    return do_accept();
  }
  hand_over(std::move(socket));
  do_accept();
}

void Listener::hand_over(tcp::socket socket) {
  ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  if (proxy_protocol_)
    return start_proxied_connection(std::move(socket), ctx_, kind_,
                                    kind_ == ListenKind::redirect ? https_port_ : 0);
  if (kind_ == ListenKind::tls) return start_tls_connection(std::move(socket), ctx_);
  if (kind_ == ListenKind::plain && ctx_.options.h2c)
    return start_plain_or_h2c_connection(std::move(socket), ctx_);
  start_connection(std::move(socket), ctx_, kind_ == ListenKind::redirect ? https_port_ : 0);
}

}  // namespace w2p::server
