#pragma once
// One client connection, as Beast's http_session: each step is a do_x() that starts an
// operation and an on_x() that handles its completion. Reading (session_read.cpp): the head
// with Beast's parser and the limits, the checks of request_rules, the routing decision, the
// body; writing (session_write.cpp): what the static responder plans, the application's parts
// as app_framing frames them, hand-offs, keep-alive, the lingering close, the access log.
// Internal to server/net/: the rest of the server sees connection.hpp.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "server/http/request_rules.hpp"
#include "server/net/app_framing.hpp"
#include "server/net/connection.hpp"
#include "server/net/request_plan.hpp"
#include "server/net/response_channel.hpp"
#include "server/net/server_context.hpp"
#include "server/ops/status.hpp"
#include "server/routing/route.hpp"
#include "server/static/static_responder.hpp"

namespace w2p::server {

class Session final : public Stoppable,
                      public ChannelClient,
                      public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket, ServerContext& ctx);
  ~Session();

  // `peer`: the client when the socket does not say it (behind the TLS layer, or named by a
  // PROXY header); `inner`: behind a layer (TLS, HTTP/2) that is the registered connection.
  void run(const PeerInfo* peer, std::uint16_t redirect_port, bool inner);
  void shutdown() override;

  boost::asio::any_io_executor executor() override { return socket_.get_executor(); }
  void on_part(ResponsePart part) override;
  void on_expired(int status) override;

 private:
  enum class State { reading_header, reading_body, in_app, writing, lingering, closed };

  // One deadline per connection (session_read.cpp).
  void arm_timer(unsigned seconds);
  void disarm_timer() { deadline_ = std::chrono::steady_clock::time_point::max(); }
  void start_timer(std::chrono::steady_clock::time_point when);
  void on_timer(boost::system::error_code ec, std::uint64_t gen);
  void on_timeout();

  // Reading (session_read.cpp).
  void do_read_header();
  void start_header_read();
  void on_read_header(boost::system::error_code ec);
  void on_header_error(boost::system::error_code ec);
  void begin_log();
  bool proxied() const;
  void act(Route& r, const RequestVerdict& verdict);
  void start_app_request(const RequestVerdict& verdict, Route& r);
  void do_read_body();
  void on_read_body(boost::system::error_code ec);
  void dispatch_to_app();

  // Writing (session_write.cpp).
  FileRequest file_request() const;
  void send_plan(FilePlan plan);
  void send_simple(int status, const std::vector<Header>& extra = {});
  void send_simple_and_close(int status, const std::vector<Header>& extra = {});
  void answer_status_page();
  void answer_health();
  // 200 with `body` of `type`, not cached (the status page, an ACME challenge).
  void send_text(const std::string& type, const std::string& body, int status = 200);
  void answer_options_asterisk();
  void serve_handoff(Handoff h);
  void send_out_then_file();
  void do_sendfile();
  // Writes out_ (bounded by --io-timeout), then goes on with `next`.
  void write_out_then(void (Session::*next)());
  void write_out(bool part_done, bool last);
  void on_write(boost::system::error_code ec, bool part_done, bool last);
  void finish_response();
  void linger();
  void close();
  void close_file();
  void unregister();
  void fail_channel();
  void write_access_log();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  bool timer_waiting_ = false;
  std::chrono::steady_clock::time_point timer_expiry_{};
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  ServerContext& ctx_;
  StaticResponder responder_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> parser_;
  State state_ = State::reading_header;
  bool registered_ = false;
  bool timed_out_ = false;              // the header timeout cancelled the read: answer 408
  std::unique_ptr<char[]> linger_buf_;  // only while lingering before a close
  std::size_t lingered_ = 0;
  std::size_t skipped_empty_lines_ = 0;  // CRLFs skipped before this request line
  std::uint64_t request_count_ = 0;

  std::string remote_addr_, local_addr_;
  bool trusted_peer_ = false;        // may send X-Forwarded-* (--trusted-proxy)
  bool status_peer_ = false;         // may see the status page
  bool https_ = false;               // arrived through the TLS layer
  bool h2_ = false;                  // one HTTP/2 stream (server/net/h2_connection.cpp)
  std::uint16_t redirect_port_ = 0;  // > 0: a --redirect-listen connection
  std::uint16_t remote_port_ = 0, local_port_ = 0;

  // The request in progress.
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_request_ = false;
  std::shared_ptr<AppRequest> req_;
  std::unique_ptr<char[]> body_chunk_;

  // The response in progress.
  std::shared_ptr<ResponseChannel> channel_;
  AppFraming framing_;
  std::optional<Handoff> handoff_;  // X-Sendfile: the file goes out once the application is done
  std::string out_;
  BodyFile file_;
  std::shared_ptr<const CachedFile> file_ref_;  // set when file_.fd belongs to the file cache
  bool file_chunked_ = false;
  std::vector<FilePlan::Segment> segments_;  // multipart/byteranges parts still to send

  // What the access log and the status page say of the request in progress.
  RequestLog log_;
};

}  // namespace w2p::server
