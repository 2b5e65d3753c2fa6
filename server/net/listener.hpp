#pragma once
// Accepts connections on one bound socket and hands each to a new Connection.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "server/net/connection.hpp"
#include "server/net/server_context.hpp"

namespace w2p::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens at once, so a bad address is a start-up error (throws std::runtime_error).
  Listener(boost::asio::io_context& ioc, const ListenAddress& address, ServerContext& ctx);
  // What its connections are: plain HTTP, TLS, or a redirect to HTTPS on `https_port`.
  ListenKind kind() const { return kind_; }
  // --proxy-protocol: each connection starts with a PROXY header from a trusted proxy.
  void set_proxy_protocol(bool on) { proxy_protocol_ = on; }
  void set_kind(ListenKind kind, std::uint16_t https_port = 0) {
    kind_ = kind;
    https_port_ = https_port;
  }
  // Adopts a socket that is already listening (socket activation, or the previous image of
  // this process after a reload).
  Listener(boost::asio::io_context& ioc, int fd, ServerContext& ctx);
  void run();
  void stop();
  // Stops accepting and hands the listening socket over (it stays open: clients queue in the
  // kernel's backlog meanwhile). -1 when there is none.
  int release();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  ServerContext& ctx_;
  bool paused_ = false;
  ListenKind kind_ = ListenKind::plain;
  bool proxy_protocol_ = false;
  std::uint16_t https_port_ = 0;
  void hand_over(boost::asio::ip::tcp::socket socket);
};

}  // namespace w2p::server
