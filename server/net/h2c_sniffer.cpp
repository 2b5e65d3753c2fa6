// --h2c: a plain listener's connection is read (without consuming) until its first bytes tell
// the HTTP/2 preface from anything else; then it is handed to HTTP/2 or to HTTP/1.1.

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "server/config/options.hpp"
#include "server/log.hpp"
#include "server/net/connection.hpp"
#include "server/net/h2_connection.hpp"
#include "server/net/server_context.hpp"

namespace w2p::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Reads the first bytes without consuming them: the preface, or not. Registered meanwhile, so
// it counts against --max-connections like any connection.
class Sniffer : public std::enable_shared_from_this<Sniffer>, public Stoppable {
 public:
  Sniffer(tcp::socket socket, ServerContext& ctx, const PeerInfo* proxied)
      : socket_(std::move(socket)),
        ctx_(ctx),
        timer_(socket_.get_executor()),
        retry_(socket_.get_executor()) {
    if (proxied) proxied_ = *proxied;
  }
  ~Sniffer() { unregister(); }

  void shutdown() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code e;
      self->socket_.cancel(e);
    });
  }

  void run() {
    ctx_.add(this, std::weak_ptr<Stoppable>(shared_from_this()));
    registered_ = true;
    timer_.expires_after(std::chrono::seconds(std::max(1u, ctx_.options.io_timeout)));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) {
        boost::system::error_code e;
        self->socket_.cancel(e);
        self->retry_.cancel();
      }
    });
    wait();
  }

 private:
  void wait() {
    socket_.async_wait(
        tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
          if (ec) return self->hand_over(false);  // timed out or gone: HTTP/1.1 answers (408)
          char buf[kH2PrefaceSize];
          ssize_t n = ::recv(self->socket_.native_handle(), buf, sizeof buf, MSG_PEEK);
          if (n <= 0) return self->hand_over(false);
          bool prefix = std::memcmp(buf, kH2Preface, static_cast<std::size_t>(n)) == 0;
          if (!prefix) return self->hand_over(false);
          if (static_cast<std::size_t>(n) == kH2PrefaceSize) return self->hand_over(true);
          // A prefix of the preface so far. The socket stays readable while those bytes are
          // unread, so waiting on it again would spin: look again a little later.
          self->retry_.expires_after(std::chrono::milliseconds(10));
          self->retry_.async_wait([self](boost::system::error_code e) {
            if (e) return self->hand_over(false);
            self->wait();
          });
        });
  }

  void unregister() {
    if (registered_) {
      registered_ = false;
      ctx_.remove(this);
    }
  }

  void hand_over(bool h2) {
    timer_.cancel();
    retry_.cancel();
    const PeerInfo* proxied = proxied_ ? &*proxied_ : nullptr;
    unregister();
    if (!socket_.is_open()) return;
    if (h2) {
      try {
        return start_h2_connection(std::move(socket_), ctx_, proxied);
      } catch (const std::exception& e) {
        log::error(e.what());
        return;
      }
    }
    start_connection(std::move(socket_), ctx_, 0, proxied);
  }

  tcp::socket socket_;
  ServerContext& ctx_;
  net::steady_timer timer_, retry_;
  std::optional<PeerInfo> proxied_;
  bool registered_ = false;
};

}  // namespace

void start_plain_or_h2c_connection(tcp::socket socket, ServerContext& ctx,
                                   const PeerInfo* proxied) {
  std::make_shared<Sniffer>(std::move(socket), ctx, proxied)->run();
}

}  // namespace w2p::server
