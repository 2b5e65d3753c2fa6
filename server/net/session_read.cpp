// A session's reading side: the request head (limits, request_rules, the routing decision),
// the body (in memory, then spooled to a file), and the hand-over to the application. See
// session.hpp.

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <cstring>

#include "server/http/response_head.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/http/url_path.hpp"
#include "server/log.hpp"
#include "server/net/session.hpp"
#include "server/routing/site.hpp"

namespace w2p::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// Body bytes taken from the parser at a time (and held in memory until spooled or handed over).
constexpr std::size_t kBodyChunk = 64 * 1024;
// Seconds a fresh connection has to send its request when the server is stopping.
constexpr unsigned kShutdownGrace = 2;

bool is_loopback(std::string_view addr) {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

}  // namespace

Session::Session(tcp::socket socket, ServerContext& ctx)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      ctx_(ctx),
      responder_(ctx.files, ctx.compress.get(), ctx.options.root, ctx.web2py_apps_real) {
  // Every byte a client makes us hold is bounded: the head by the parser's header limit, body
  // bytes by kBodyChunk, and what the parser must see whole besides (a chunk-size line with its
  // extensions, the trailer fields) by this buffer's limit, beyond which the read fails (431
  // in a head, 400 in a body).
  buffer_.max_size(ctx_.options.max_header + 1024);
}

Session::~Session() {
  close_file();
  unregister();
}

void Session::run(const PeerInfo* peer, std::uint16_t redirect_port, bool inner) {
  // Behind TLS the layer in front is the registered connection.
  if (!inner) {
    ctx_.add(this, std::weak_ptr<Stoppable>(shared_from_this()));
    registered_ = true;
  }
  beast::error_code ec;
  redirect_port_ = redirect_port;
  if (!inner) socket_.set_option(tcp::no_delay(true), ec);
  socket_.native_non_blocking(true, ec);
  const PeerInfo p = peer ? *peer : peer_of(socket_);
  remote_addr_ = p.remote_addr;
  remote_port_ = p.remote_port;
  local_addr_ = p.local_addr;
  local_port_ = p.local_port;
  https_ = p.https;
  h2_ = p.h2;
  trusted_peer_ = any_contains(ctx_.options.trusted_proxies, remote_addr_);
  status_peer_ = is_loopback(remote_addr_) || any_contains(ctx_.options.status_allow, remote_addr_);
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->do_read_header(); });
}

void Session::shutdown() {
  net::post(socket_.get_executor(), [self = shared_from_this()] {
    // Between requests with nothing of the next one received yet: idle.
    if (self->state_ != State::reading_header || self->buffer_.size() > 0) return;
    // An idle keep-alive connection goes now (clients retry on a closed keep-alive
    // connection). A fresh one was accepted for a request that may still be on its way: it
    // gets a short grace to send it, and is answered with Connection: close.
    if (self->request_count_ > 0) return self->close();
    self->arm_timer(kShutdownGrace);
  });
}

// Moving the deadline later costs no timer operation: the pending wait wakes at its old expiry,
// sees the new deadline and sleeps again, so a keep-alive request does not cancel and re-post
// timer waits twice.
void Session::arm_timer(unsigned seconds) {
  deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  if (!timer_waiting_ || deadline_ < timer_expiry_) start_timer(deadline_);
}

void Session::start_timer(std::chrono::steady_clock::time_point when) {
  timer_expiry_ = when;
  timer_waiting_ = true;
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this(), gen = ++timer_gen_](beast::error_code ec) {
    self->on_timer(ec, gen);
  });
}

void Session::on_timer(beast::error_code ec, std::uint64_t gen) {
  if (gen != timer_gen_) return;  // superseded by an earlier deadline
  timer_waiting_ = false;
  if (ec || state_ == State::closed) return;
  if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
  if (std::chrono::steady_clock::now() < deadline_) return start_timer(deadline_);
  on_timeout();
}

void Session::on_timeout() {
  if (state_ == State::reading_header && buffer_.size() > 0) {
    // A client that started a request but is too slow to finish its head gets a 408 (the
    // pending read is cancelled first: one operation at a time on the socket).
    beast::error_code ec;
    socket_.cancel(ec);
    timed_out_ = true;
    return;
  }
  bool busy = state_ == State::reading_body || state_ == State::writing;
  close();
  // After the close: the line means the connection is gone.
  if (busy) log::debug("connection from " + remote_addr_ + " closed: no progress for --io-timeout");
}

void Session::do_read_header() {
  if (ctx_.stopping.load() && request_count_ > 0) return close();
  state_ = State::reading_header;
  skipped_empty_lines_ = 0;
  start_header_read();
  // The first request gets the header timeout; later ones wait for the keep-alive timeout to see
  // the first byte, then the same header timeout (checked when the head completes).
  arm_timer(request_count_ > 0     ? std::max(ctx_.options.keepalive_timeout, 1u)
            : ctx_.stopping.load() ? std::min(kShutdownGrace, ctx_.options.header_timeout)
                                   : ctx_.options.header_timeout);
}

void Session::start_header_read() {
  parser_.emplace();
  parser_->header_limit(ctx_.options.max_header);
  parser_->body_limit(ctx_.options.max_body);
  req_.reset();
  http::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read_header(ec); });
}

void Session::on_header_error(beast::error_code ec) {
  if (timed_out_) {
    timed_out_ = false;
    version_ = 11;
    head_request_ = false;
    return send_simple_and_close(408);
  }
  if (ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec == net::error::bad_descriptor) {
    return close();
  }
  version_ = 11;
  head_request_ = false;
  std::string_view seen(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    // Beast takes a complete request line out of the buffer: then the fields overflowed.
    bool line_done = !parser_->get().target().empty();
    return send_simple_and_close(line_done ? 431 : overflow_status(seen));
  }
  // RFC 9112 2.2: empty lines before a request line are ignored (a few: this is for clients
  // that end a POST body with an extra CRLF, not a way to keep a connection busy).
  if (std::size_t n = leading_empty_lines(seen); n > 0 && skipped_empty_lines_ + n <= 16) {
    skipped_empty_lines_ += n;
    buffer_.consume(n);
    return start_header_read();
  }
  if (ec == http::error::body_limit) return send_simple_and_close(413);
  // A well-formed version this server does not speak is 505; a malformed one (a bare LF,
  // "HTTP/1.1x") is a bad request.
  if (ec == http::error::bad_version && well_formed_version_line(seen))
    return send_simple_and_close(505);
  log::debug("bad request from " + remote_addr_ + ": " + ec.message());
  return send_simple_and_close(400);
}

// Every request is counted (status page); the access log also keeps its request line.
void Session::begin_log() {
  auto& msg = parser_->get();
  log_.begin(ctx_.access_log != nullptr, {msg.method_string().data(), msg.method_string().size()},
             {msg.target().data(), msg.target().size()}, h2_ ? 20 : version_);
}

// A request that went through a proxy (it says so with a forwarding header) is not a local one,
// even from a loopback peer: a reverse proxy on this host must not open the status page to the
// world.
bool Session::proxied() const {
  for (const auto& f : parser_->get()) {
    auto n = f.name_string();
    if (is_forwarding_header(std::string_view(n.data(), n.size()))) return true;
  }
  return false;
}

void Session::on_read_header(beast::error_code ec) {
  if (state_ == State::closed) return;
  if (ec) return on_header_error(ec);
  timed_out_ = false;  // the head completed just as the timeout cancelled the read: serve it
  ++request_count_;
  ctx_.requests.fetch_add(1, std::memory_order_relaxed);
  auto& msg = parser_->get();
  version_ = msg.version();
  begin_log();
  head_request_ = msg.method() == http::verb::head;
  keep_alive_ = msg.keep_alive() && ctx_.options.keepalive_timeout > 0 && !ctx_.stopping.load();
  RequestVerdict verdict =
      check_request_head(msg, parser_->chunked(), parser_->content_length(), ctx_.options.max_uri);
  if (verdict.status != 0) {
    if (verdict.status == 505) version_ = 11;
    return send_simple_and_close(verdict.status);
  }
  if (verdict.asterisk) {
    if (verdict.has_body) keep_alive_ = false;  // its body is not read
    return answer_options_asterisk();
  }
  if (!ctx_.options.health_path.empty() && verdict.path == ctx_.options.health_path &&
      (msg.method() == http::verb::get || head_request_))
    return answer_health();
  // HTTP-01 (automatic HTTPS): the CA reads a token's key authorization over plain HTTP.
  constexpr std::string_view kChallenge = "/.well-known/acme-challenge/";
  if (ctx_.acme_challenge && !https_ && verdict.path.starts_with(kChallenge) &&
      (msg.method() == http::verb::get || head_request_)) {
    if (auto answer = ctx_.acme_challenge(std::string_view(verdict.path).substr(kChallenge.size())))
      return send_text("application/octet-stream", *answer);
  }
  RouteRequest rq;
  rq.get_or_head = msg.method() == http::verb::get || head_request_;
  rq.has_body = verdict.has_body;
  rq.host = verdict.host;
  rq.raw_path = verdict.raw_path;
  rq.path = verdict.path;
  rq.query = verdict.query;
  rq.status_peer = status_peer_ && !proxied();
  rq.redirect_port = redirect_port_;
  rq.local_addr = local_addr_;
  Route r = route(rq, ctx_.route);
  if (r.site) {
    log_.site = r.site;
    r.site->requests.fetch_add(1, std::memory_order_relaxed);
  }
  // Whatever is not handed to the application leaves the rest of a request body unread.
  if (verdict.has_body && (r.kind != RouteKind::application || !ctx_.app)) keep_alive_ = false;
  act(r, verdict);
}

// What the routing decision says to do.
void Session::act(Route& r, const RequestVerdict& verdict) {
  switch (r.kind) {
    case RouteKind::redirect:
      return send_simple(r.status, r.headers);
    case RouteKind::status_page:
      return answer_status_page();
    case RouteKind::error:
      if (!r.log.empty())
        log::error(r.log + " (" + remote_addr_ + " " + std::string(parser_->get().method_string()) +
                   " " + verdict.raw_path + ")");
      return send_simple(r.status, r.headers);
    case RouteKind::static_file:
    case RouteKind::web2py_static:
      if (auto plan = plan_static(responder_, r, verdict, file_request()))
        return send_plan(std::move(*plan));
      break;  // not a regular file: web2py answers it
    case RouteKind::application:
      break;
  }
  if (!ctx_.app) return send_simple(404);
  start_app_request(verdict, r);
}

void Session::start_app_request(const RequestVerdict& verdict, Route& r) {
  auto& msg = parser_->get();
  bool has_body = verdict.has_body;
  req_ = std::make_shared<AppRequest>();
  req_->method.assign(msg.method_string().data(), msg.method_string().size());
  req_->target.assign(msg.target().data(), msg.target().size());
  req_->path = std::move(r.app_path);
  req_->query = std::move(r.app_query);
  req_->version = h2_ ? 20 : version_;
  req_->headers.reserve(std::distance(msg.begin(), msg.end()));
  for (const auto& f : msg) {
    auto n = f.name_string();
    auto v = f.value();
    std::string_view name(n.data(), n.size());
    if (verdict.absolute_form && iequals(name, "host")) continue;  // the target's authority wins
    add_app_header(*req_, name, std::string_view(v.data(), v.size()), trusted_peer_);
  }
  if (verdict.absolute_form) req_->headers.push_back({"Host", verdict.host});
  if (https_) req_->https = true;
  req_->remote_addr = remote_addr_;
  req_->remote_port = remote_port_;
  // SERVER_NAME: the host the client asked for, without its port; else the local address.
  std::string_view host = host_without_port(verdict.host);
  req_->server_name = host.empty() ? local_addr_ : std::string(host);
  req_->server_port = ctx_.options.public_port ? ctx_.options.public_port : local_port_;
  req_->has_content_length = has_body || parser_->content_length().has_value();

  if (!has_body) return dispatch_to_app();
  state_ = State::reading_body;
  body_chunk_ = std::make_unique<char[]>(kBodyChunk);
  if (verdict.expect_continue) {
    // The client waits for this before sending the body; written like any other bytes, so a
    // client that does not read cannot block the I/O thread.
    out_.assign("HTTP/1.1 100 Continue\r\n\r\n");
    return write_out_then(&Session::do_read_body);
  }
  do_read_body();
}

void Session::do_read_body() {
  arm_timer(ctx_.options.io_timeout);
  parser_->get().body().data = body_chunk_.get();
  parser_->get().body().size = kBodyChunk;
  http::async_read_some(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read_body(ec); });
}

void Session::on_read_body(beast::error_code ec) {
  if (state_ == State::closed) return;
  if (ec == http::error::need_buffer) ec = {};
  if (ec) {
    if (ec == http::error::body_limit) return send_simple_and_close(413);
    if (ec == http::error::buffer_overflow) {
      log::debug("chunk line or trailer over the limit from " + remote_addr_);
      return send_simple_and_close(400);
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset)
      return close();
    return send_simple_and_close(400);
  }
  std::size_t got = kBodyChunk - parser_->get().body().size;
  if (got > 0 && !spool_body(req_->body, body_chunk_.get(), got, ctx_.options.spool_threshold,
                             ctx_.options.tmp_dir)) {
    log::error("cannot spool a request body to " + ctx_.options.tmp_dir + ": " +
               std::strerror(errno));
    return send_simple_and_close(500);
  }
  if (parser_->is_done()) {
    body_chunk_.reset();
    return dispatch_to_app();
  }
  do_read_body();
}

void Session::dispatch_to_app() {
  disarm_timer();
  state_ = State::in_app;
  // The worker compresses the response when the client and the settings allow it.
  CompressionOffer offer = compression_offer(ctx_, *req_, head_request_);
  channel_ = std::make_shared<ResponseChannel>(ctx_.channels, shared_from_this(), offer);
  log_.in_app = true;
  ctx_.stats.in_app.fetch_add(1, std::memory_order_relaxed);
  if (!ctx_.app->submit(req_, channel_)) {
    log_.in_app = false;
    ctx_.stats.in_app.fetch_sub(1, std::memory_order_relaxed);
    channel_.reset();
    log::warn("request queue full: 503 for " + req_->method + " " + req_->target);
    keep_alive_ = false;
    return send_simple(503, {{"Retry-After", "1"}});
  }
  req_.reset();
}

PeerInfo peer_of(const tcp::socket& socket) {
  PeerInfo p;
  beast::error_code ec;
  if (auto remote = socket.remote_endpoint(ec); !ec) {
    p.remote_addr = remote.address().to_string();
    p.remote_port = remote.port();
  }
  if (auto local = socket.local_endpoint(ec); !ec) {
    p.local_addr = local.address().to_string();
    p.local_port = local.port();
  }
  return p;
}

void start_connection(tcp::socket socket, ServerContext& ctx, std::uint16_t redirect_port,
                      const PeerInfo* proxied) {
  std::make_shared<Session>(std::move(socket), ctx)->run(proxied, redirect_port, false);
}

std::shared_ptr<Stoppable> start_inner_connection(tcp::socket socket, ServerContext& ctx,
                                                  const PeerInfo& peer) {
  auto s = std::make_shared<Session>(std::move(socket), ctx);
  s->run(&peer, 0, true);
  return s;
}

void stop_channels(ChannelHub& hub) {
  hub.stop();
}

std::shared_ptr<ChannelHub> make_channel_hub() {
  return std::make_shared<ChannelHub>();
}

}  // namespace w2p::server
