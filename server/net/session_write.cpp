// A session's writing side: plans of the static responder, the application's response parts
// as app_framing frames them, X-Sendfile hand-offs, sendfile(2) turns, keep-alive, the
// lingering close and the access log. See session.hpp.

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>

#include "server/http/response_head.hpp"
#include "server/log.hpp"
#include "server/net/session.hpp"
#include "server/ops/access_log.hpp"
#include "server/routing/site.hpp"

namespace w2p::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// Bytes sent from one file before yielding to other connections on the same I/O thread.
constexpr std::size_t kSendfileTurn = 1 << 20;
// Lingering close: at most this long and this much read (and dropped) after the last response.
constexpr unsigned kLingerSeconds = 2;
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr std::size_t kLingerChunk = 4096;

}  // namespace

FileRequest Session::file_request() const {
  FileRequest rq;
  rq.head = head_request_;
  rq.version = version_;
  rq.keep_alive = keep_alive_ && !ctx_.stopping.load();
  if (parser_) fill_file_request(parser_->get(), rq);
  return rq;
}

// Executes what the static responder planned: the head (and any small body), then the file.
void Session::send_plan(FilePlan plan) {
  if (plan.close) return close();
  keep_alive_ = keep_alive_ && !ctx_.stopping.load();
  log_.respond(plan.status, plan.body_bytes,
               plan.error      ? ServedBy::error
               : plan.redirect ? ServedBy::redirect
                               : ServedBy::static_file);
  state_ = State::writing;
  out_ = std::move(plan.out);
  if (!plan.file) return write_out(false, true);
  close_file();
  file_ = BodyFile{plan.file->fd, plan.offset, plan.length};
  file_ref_ = std::move(plan.file);
  segments_ = std::move(plan.segments);
  send_out_then_file();
}

void Session::send_simple(int status, const std::vector<Header>& extra) {
  send_plan(StaticResponder::simple(status, file_request(), extra));
}

void Session::send_simple_and_close(int status, const std::vector<Header>& extra) {
  keep_alive_ = false;
  send_simple(status, extra);
}

void Session::answer_options_asterisk() {
  // "OPTIONS *" asks what the server supports; the application is not asked.
  ResponseHead head;
  head.status = 200;
  head.headers.push_back({"Allow", "OPTIONS, GET, HEAD, POST, PUT, PATCH, DELETE"});
  out_.clear();
  serialize_head(out_, version_, head, Framing::content_length, 0, keep_alive_);
  log_.respond(200, 0, ServedBy::static_file);
  state_ = State::writing;
  write_out(false, true);
}

void Session::answer_status_page() {
  std::string_view target(parser_->get().target().data(), parser_->get().target().size());
  std::string type;
  std::string_view query =
      target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);
  auto has = [&](std::string_view param) {
    for (std::size_t at = 0; at <= query.size();) {
      std::size_t end = std::min(query.find('&', at), query.size());
      if (query.substr(at, end - at) == param) return true;
      at = end + 1;
    }
    return false;
  };
  std::string body = status_page(ctx_,
                                 has("format=prometheus") ? "prometheus"
                                 : has("format=memory")   ? "memory"
                                                          : "json",
                                 type, has("memory"));
  send_text(type, body);
}

// --health-path: 200 while this node takes work; 503 while it drains (the balancer then sends
// nothing new here) or while its request queue is full.
void Session::answer_health() {
  bool draining = ctx_.draining.load() || ctx_.stopping.load();
  bool full = ctx_.app &&
              ctx_.app->stats().queued.load(std::memory_order_relaxed) >= ctx_.options.queue_size;
  if (draining) keep_alive_ = false;
  send_text("text/plain",
            draining ? "draining\n"
            : full   ? "busy\n"
                     : "ok\n",
            draining || full ? 503 : 200);
}

void Session::send_text(const std::string& type, const std::string& body, int status) {
  ResponseHead head;
  head.status = status;
  head.headers.push_back({"Content-Type", type});
  head.headers.push_back({"Cache-Control", "no-store"});
  out_.clear();
  serialize_head(out_, version_, head, Framing::content_length, body.size(), keep_alive_);
  if (!head_request_) out_.append(body);
  log_.respond(status, head_request_ ? 0 : body.size(), ServedBy::static_file);
  state_ = State::writing;
  write_out(false, true);
}

void Session::on_part(ResponsePart part) {
  auto drop_file = [&] {
    if (part.file_body.fd >= 0) ::close(part.file_body.fd);
  };
  if (state_ == State::closed) {
    drop_file();
    return fail_channel();
  }
  if (part.kind == ResponsePart::abort) {
    log::debug("response aborted; closing the connection to " + remote_addr_);
    return close();
  }
  if (handoff_) {
    // An X-Sendfile response: the application's own body is dropped; the file goes out once
    // the application is done.
    drop_file();
    if (!part.last) return channel_->done(true);
    Handoff h = std::move(*handoff_);
    handoff_.reset();
    return serve_handoff(std::move(h));
  }
  AppFraming::Out out;
  if (part.kind == ResponsePart::start) {
    state_ = State::writing;
    framing_.begin(version_, head_request_, keep_alive_ && !ctx_.stopping.load());
    out =
        framing_.start_part(std::move(part.head), std::move(part.data), part.file_body, part.last);
    log_.respond(out.status, 0, ServedBy::app);
    if (out.handoff) {
      handoff_ = std::move(out.handoff);
      if (!out.last) return channel_->done(true);
      Handoff h = std::move(*handoff_);
      handoff_.reset();
      return serve_handoff(std::move(h));
    }
  } else if (part.kind == ResponsePart::body) {
    out = framing_.body(std::move(part.data), part.last);
  } else {
    out = framing_.file(part.file_body);
  }
  log_.bytes += out.body_bytes;
  keep_alive_ = framing_.keep_alive();
  out_ = std::move(out.bytes);
  if (out.file.fd >= 0) {
    close_file();
    file_ = out.file;
    file_chunked_ = out.file_chunked;
    return send_out_then_file();
  }
  write_out(true, out.last);
}

void Session::on_expired(int status) {
  if (state_ == State::closed) return;
  channel_.reset();
  if (state_ == State::in_app) return send_simple_and_close(status);
  close();  // part of the response went out already
}

// X-Sendfile (an absolute path below an --x-sendfile folder) or X-Accel-Redirect (a URL below
// an --x-accel prefix): the file is served like a static one, with the request's conditionals
// and ranges. Anything else is the application's mistake: 500 and a log line.
void Session::serve_handoff(Handoff h) {
  if (channel_) channel_->done(true);
  channel_.reset();
  send_plan(plan_handoff(std::move(h), ctx_, responder_, file_request()));
}

// Writes out_ (bounded by --io-timeout), then goes on with `next`.
void Session::write_out_then(void (Session::*next)()) {
  arm_timer(ctx_.options.io_timeout);
  net::async_write(socket_, net::buffer(out_),
                   [self = shared_from_this(), next](beast::error_code ec, std::size_t) {
                     if (self->state_ == State::closed) return;
                     if (ec) return self->close();
                     self->out_.clear();
                     ((*self).*next)();
                   });
}

// Sends out_ (a head) and then the file with sendfile(2); the head goes out with MSG_MORE so the
// kernel can put it in the same packet as the file's first bytes.
void Session::send_out_then_file() {
  if (!out_.empty()) {
    ssize_t n = ::send(socket_.native_handle(), out_.data(), out_.size(), MSG_MORE | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(out_.size())) {
      out_.clear();
    } else {
      if (n > 0) out_.erase(0, static_cast<std::size_t>(n));
      return write_out_then(&Session::do_sendfile);
    }
  }
  do_sendfile();
}

void Session::do_sendfile() {
  if (state_ == State::closed) return;
  std::size_t sent_this_turn = 0;
  while (file_.length > 0) {
    off_t off = static_cast<off_t>(file_.offset);
    std::size_t want = std::min<std::uint64_t>(file_.length, kSendfileTurn);
    ssize_t n = ::sendfile(socket_.native_handle(), file_.fd, &off, want);
    if (n > 0) {
      file_.offset += static_cast<std::uint64_t>(n);
      file_.length -= static_cast<std::uint64_t>(n);
      sent_this_turn += static_cast<std::size_t>(n);
      if (sent_this_turn >= kSendfileTurn && file_.length > 0) {
        net::post(socket_.get_executor(), [self = shared_from_this()] { self->do_sendfile(); });
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      arm_timer(ctx_.options.io_timeout);
      socket_.async_wait(tcp::socket::wait_write,
                         [self = shared_from_this()](beast::error_code ec) {
                           if (ec) return self->close();
                           self->do_sendfile();
                         });
      return;
    }
    // The file shrank under us (n == 0) or the socket failed: the response cannot be completed.
    if (n == 0) log::warn("file truncated while being sent; closing the connection");
    return close();
  }
  if (!segments_.empty()) {
    // The next part of a multipart/byteranges body: its head, then its bytes (or the closing
    // boundary, which has none).
    FilePlan::Segment next = std::move(segments_.front());
    segments_.erase(segments_.begin());
    out_ = std::move(next.text);
    if (next.length == 0) {
      close_file();
      return write_out(false, true);
    }
    file_.offset = next.offset;
    file_.length = next.length;
    return send_out_then_file();
  }
  close_file();
  if (file_chunked_) {
    file_chunked_ = false;
    out_ = "\r\n0\r\n\r\n";
    return write_out(true, true);
  }
  out_.clear();
  if (channel_) channel_->done(true);
  channel_.reset();
  finish_response();
}

void Session::write_out(bool part_done, bool last) {
  if (out_.empty()) return on_write({}, part_done, last);
  arm_timer(ctx_.options.io_timeout);
  net::async_write(socket_, net::buffer(out_),
                   [self = shared_from_this(), part_done, last](beast::error_code ec, std::size_t) {
                     self->on_write(ec, part_done, last);
                   });
}

void Session::on_write(beast::error_code ec, bool part_done, bool last) {
  if (ec) return close();
  out_.clear();
  if (part_done && channel_) {
    channel_->done(true);
    if (last) channel_.reset();
  }
  if (!last) {
    disarm_timer();
    return;
  }
  finish_response();
}

void Session::finish_response() {
  segments_.clear();
  if (log_.active) write_access_log();
  if (!keep_alive_ || ctx_.stopping.load()) {
    // Half-close so the client reads the whole response before the connection goes.
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    arm_timer(kLingerSeconds);
    return linger();
  }
  do_read_header();
}

// The response is out and the connection ends. A client still sending (a body that was not
// read, the rest of a refused request) would get a reset for those bytes, and a reset can
// destroy the response in its receive buffer before it reads it: what comes is read and
// dropped for a short while, bounded in time and bytes (nginx's lingering close), then the
// connection closes.
void Session::linger() {
  state_ = State::lingering;
  if (!linger_buf_) linger_buf_ = std::make_unique<char[]>(kLingerChunk);
  socket_.async_read_some(net::buffer(linger_buf_.get(), kLingerChunk),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            if (self->state_ == State::closed) return;
                            self->lingered_ += n;
                            if (ec || self->lingered_ > kLingerBytes) return self->close();
                            self->linger();
                          });
}

void Session::close() {
  if (state_ == State::closed) return;
  if (log_.active) write_access_log();
  state_ = State::closed;
  disarm_timer();
  timer_.cancel();  // the pending wait holds this connection alive
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  close_file();
  fail_channel();
  unregister();
}

void Session::close_file() {
  if (file_ref_) {
    file_ref_.reset();  // a cached descriptor: the cache closes it
  } else if (file_.fd >= 0) {
    ::close(file_.fd);
  }
  file_.fd = -1;
}

// The registry counts open sockets (for draining and --max-connections): a closed connection
// leaves it at once, even while a worker still holds the object.
void Session::unregister() {
  if (registered_) {
    registered_ = false;
    ctx_.remove(this);
  }
}

void Session::fail_channel() {
  if (channel_) {
    channel_->done(false);
    channel_.reset();
  }
}

void Session::write_access_log() {
  finish_request_log(ctx_, log_, remote_addr_, [this](std::string_view name) -> std::string_view {
    if (!parser_) return {};
    auto v = parser_->get()[beast::string_view(name.data(), name.size())];
    return {v.data(), v.size()};
  });
}

}  // namespace w2p::server
