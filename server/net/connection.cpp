#include "server/net/connection.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <variant>

#include "server/ops/access_log.hpp"
#include "server/log.hpp"
#include "server/http/http_date.hpp"
#include "server/http/mime.hpp"
#include "server/http/range.hpp"
#include "server/http/request_rules.hpp"
#include "server/http/response_head.hpp"
#include "server/routing/route.hpp"
#include "server/routing/site.hpp"
#include "server/static/static_files.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/http/url_path.hpp"
#include "server/routing/web2py_static.hpp"

namespace w2p::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kBodyChunk = 64 * 1024;
// Static files up to this size are sent with their head in one write instead of sendfile.
constexpr std::uint64_t kSmallFile = 16 * 1024;
constexpr unsigned kShutdownGrace = 2;  // seconds a fresh connection has to send its request when stopping
// Bytes sent from one file before yielding to other connections on the same I/O thread.
constexpr std::size_t kSendfileTurn = 1 << 20;
// Lingering close: at most this long and this much read (and dropped) after the last response.
constexpr unsigned kLingerSeconds = 2;
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr std::size_t kLingerChunk = 4096;

bool has_token(std::string_view list, std::string_view token) {
  size_t i = 0;
  while (i < list.size()) {
    size_t end = list.find(',', i);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(i, end - i);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    i = end + 1;
  }
  return false;
}

// Accept-Encoding lists `coding` with a non-zero q (RFC 9110 12.5.3).
bool is_loopback(std::string_view addr) {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

bool accepts_encoding(std::string_view header, std::string_view coding) {
  size_t i = 0;
  while (i < header.size()) {
    size_t end = header.find(',', i);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(i, end - i);
    i = end + 1;
    size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!iequals(name, coding)) continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view value = params.substr(q + 2);
    // q=0, q=0.0, q=0.00 and q=0.000 refuse the coding.
    size_t n = 0;
    if (!value.empty() && value[0] == '0') {
      n = 1;
      if (n < value.size() && value[n] == '.') {
        ++n;
        while (n < value.size() && value[n] == '0') ++n;
      }
      if (n >= value.size() || value[n] == ' ' || value[n] == ';') return false;
    }
    return true;
  }
  return false;
}

int make_temp_file(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string path = dir + "/w2pserve-body-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void append_chunk(std::string& out, std::string_view data) {
  char hex[20];
  auto r = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  out.append(hex, r.ptr);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

}  // namespace

// One part of a response, produced on a worker thread and written on the I/O thread.
struct ResponsePart {
  enum Kind { start, body, file, abort } kind = body;
  ResponseHead head;
  std::string data;
  BodyFile file_body;
  bool last = false;
};

class ResponseChannel;

class Connection final : public Stoppable, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ServerContext& ctx)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), ctx_(ctx) {
    // Every byte a client makes us hold is bounded: the head by the parser's header limit,
    // body bytes by kBodyChunk, and what the parser must see whole besides (a chunk-size line
    // with its extensions, the trailer fields) by this buffer's limit, beyond which the read
    // fails (431 in a head, 400 in a body).
    buffer_.max_size(ctx_.options.max_header + 1024);
  }
  ~Connection() {
    close_file();
    unregister();
  }

  void run(const PeerInfo* peer, std::uint16_t redirect_port) {
    // Behind TLS the layer in front is the registered connection.
    if (!peer) {
      ctx_.add(this, std::weak_ptr<Stoppable>(shared_from_this()));
      registered_ = true;
    }
    beast::error_code ec;
    redirect_port_ = redirect_port;
    if (!peer) socket_.set_option(tcp::no_delay(true), ec);
    socket_.native_non_blocking(true, ec);
    if (peer) {
      remote_addr_ = peer->remote_addr;
      remote_port_ = peer->remote_port;
      local_addr_ = peer->local_addr;
      local_port_ = peer->local_port;
      https_ = peer->https;
    } else if (auto remote = socket_.remote_endpoint(ec); !ec) {
      remote_addr_ = remote.address().to_string();
      remote_port_ = remote.port();
    }
    trusted_peer_ = any_contains(ctx_.options.trusted_proxies, remote_addr_);
    status_peer_ = is_loopback(remote_addr_) || any_contains(ctx_.options.status_allow, remote_addr_);
    if (!peer) {
      auto local = socket_.local_endpoint(ec);
      if (!ec) {
        local_addr_ = local.address().to_string();
        local_port_ = local.port();
      }
    }
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->do_read_header(); });
  }

  void shutdown() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      // Between requests with nothing of the next one received yet: idle.
      if (self->state_ != State::reading_header || self->buffer_.size() > 0) return;
      // An idle keep-alive connection goes now (clients retry on a closed keep-alive
      // connection). A fresh one was accepted for a request that may still be on its way:
      // it gets a short grace to send it, and is answered with Connection: close.
      if (self->request_count_ > 0) return self->close();
      self->arm_timer(kShutdownGrace);
    });
  }


 private:
  friend class ResponseChannel;

  // One deadline per connection. Moving it later costs no timer operation: the pending wait
  // wakes at its old expiry, sees the new deadline and sleeps again, so a keep-alive request
  // does not cancel and re-post timer waits twice.
  void arm_timer(unsigned seconds) {
    deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    if (!timer_waiting_ || deadline_ < timer_expiry_) start_timer(deadline_);
  }
  void disarm_timer() { deadline_ = std::chrono::steady_clock::time_point::max(); }
  void start_timer(std::chrono::steady_clock::time_point when) {
    timer_expiry_ = when;
    timer_waiting_ = true;
    timer_.expires_at(when);
    timer_.async_wait([self = shared_from_this(), gen = ++timer_gen_](beast::error_code ec) {
      self->on_timer(ec, gen);
    });
  }
  void on_timer(beast::error_code ec, std::uint64_t gen) {
    if (gen != timer_gen_) return;  // superseded by an earlier deadline
    timer_waiting_ = false;
    if (ec || state_ == State::closed) return;
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
    if (std::chrono::steady_clock::now() < deadline_) return start_timer(deadline_);
    on_timeout();
  }
  void on_timeout() {
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

  void do_read_header();
  void start_header_read();
  void on_read_header(beast::error_code ec);
  void on_header_error(beast::error_code ec);
  void answer_status_page();
  void answer_options_asterisk();
  void start_app_request(const RequestVerdict& verdict, Route& r);
  void do_read_body();
  void on_read_body(beast::error_code ec);
  void dispatch_to_app();
  void serve_static(const std::string& dir, const std::string& relative, const Site& site,
                    std::string_view url_path, std::string_view raw_path, std::string_view query);
  void add_cache_headers(const Site& site, std::string_view url_path, const CachedFile& f,
                         std::vector<Header>& extra);
  bool serve_web2py_static(const Route& target, std::string_view query);
  // Opens a static file through the cache; a file whose real path (after every symlink) is
  // one of web2py's private files is refused like one outside the folder.
  std::shared_ptr<const CachedFile> open_static(const std::string& dir, const std::string& relative);
  void send_file_response(std::shared_ptr<const CachedFile> f, std::vector<Header> extra);
  std::shared_ptr<const CachedFile> pick_encoding(const std::string& root, const std::string& relative,
                                                  std::shared_ptr<const CachedFile> f,
                                                  std::vector<Header>& extra);
  void start_file(BodyFile f, std::shared_ptr<const CachedFile> ref = nullptr);
  void send_out_then_file();
  void serve_handoff();
  void do_sendfile();
  void on_part(ResponsePart part);
  void write_out(bool part_done, bool last);
  void on_write(beast::error_code ec, bool part_done, bool last);
  void finish_response();
  void linger();
  void send_simple_and_close(int status, const std::vector<Header>& extra = {});
  void send_simple(int status, const std::vector<Header>& extra = {});
  void close();
  // The registry counts open sockets (for draining and --max-connections): a closed
  // connection leaves it at once, even while a worker still holds the object.
  void unregister() {
    if (registered_) {
      registered_ = false;
      ctx_.remove(this);
    }
  }
  void close_file() {
    if (file_ref_) {
      file_ref_.reset();  // a cached descriptor: the cache closes it
    } else if (file_.fd >= 0) {
      ::close(file_.fd);
    }
    file_.fd = -1;
  }
  void fail_channel();
  void on_expired(int status) {
    if (state_ == State::closed) return;
    channel_.reset();
    if (state_ == State::in_app) return send_simple_and_close(status);
    close();  // part of the response went out already
  }

  enum class State { reading_header, reading_body, in_app, writing, lingering, closed };

  tcp::socket socket_;
  net::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  bool timer_waiting_ = false;
  std::chrono::steady_clock::time_point timer_expiry_{};
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  ServerContext& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  State state_ = State::reading_header;
  bool registered_ = false;
  bool timed_out_ = false;  // the header timeout cancelled the read: answer 408
  std::unique_ptr<char[]> linger_buf_;  // only while lingering before a close
  std::size_t lingered_ = 0;
  std::size_t skipped_empty_lines_ = 0;  // CRLFs skipped before this request line
  std::uint64_t request_count_ = 0;

  std::string remote_addr_, local_addr_;
  bool trusted_peer_ = false;  // may send X-Forwarded-* (--trusted-proxy)
  bool status_peer_ = false;   // may see the status page
  bool https_ = false;         // arrived through the TLS layer
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
  Framing framing_ = Framing::none;
  bool has_length_ = false;
  std::uint64_t length_left_ = 0;  // Content-Length bytes still owed
  std::string out_;
  BodyFile file_;
  std::shared_ptr<const CachedFile> file_ref_;  // set when file_.fd belongs to the file cache
  bool file_chunked_ = false;
  // A response that hands its body over to a file (X-Sendfile, X-Accel-Redirect).
  struct Handoff {
    bool accel = false;
    std::string value;
    std::vector<Header> headers;
    int status = 200;
  };
  std::optional<Handoff> handoff_;
  // What the access log says of the request in progress (only kept with an access log).
  struct LogState {
    bool active = false;
    std::chrono::steady_clock::time_point start;
    std::time_t when = 0;
    std::string method, target;
    unsigned version = 11;
    int status = 0;
    std::uint64_t bytes = 0;
    int served = -1;  // a ServedBy, or -1 before any response was made
    const Site* site = nullptr;
    bool in_app = false;
  } log_;
  void log_response(int status, std::uint64_t bytes, ServedBy served) {
    if (!log_.active) return;
    log_.status = status;
    log_.bytes = bytes;
    log_.served = static_cast<int>(served);
  }
  void write_access_log();
  // Parts of a multipart/byteranges body still to send after the current file range.
  struct Segment {
    std::string text;
    std::uint64_t offset = 0, length = 0;
  };
  std::deque<Segment> segments_;
};

class ChannelHub {
 public:
  void add(ResponseChannel* c) {
    std::lock_guard lock(mutex_);
    channels_.insert(c);
  }
  void remove(ResponseChannel* c) {
    std::lock_guard lock(mutex_);
    channels_.erase(c);
  }
  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }
  void stop();

 private:
  std::mutex mutex_;
  std::unordered_set<ResponseChannel*> channels_;
  bool stopped_ = false;
};

// Where a worker writes one response; the connection takes one part at a time (back-pressure).
// Each channel has its own lock and wake-up: a worker waits only for its own client.
class ResponseChannel final : public ResponseSink {
 public:
  explicit ResponseChannel(std::shared_ptr<Connection> c)
      : hub_(c->ctx_.channels), conn_(std::move(c)) {
    hub_->add(this);
    if (hub_->stopped()) detach();
  }
  ~ResponseChannel() override {
    // Out of the hub first: from then on nothing else can reach this channel.
    hub_->remove(this);
    std::lock_guard lock(mutex_);
    // A request dropped without a response (queue shut down) must not leave the client hanging.
    if (!finished_ && conn_) {
      ResponsePart p;
      p.kind = ResponsePart::abort;
      net::post(conn_->socket_.get_executor(),
                [c = conn_, p = std::move(p)]() mutable { c->on_part(std::move(p)); });
    }
  }

  bool start(ResponseHead head, std::string body, bool last) override {
    ResponsePart p;
    p.kind = ResponsePart::start;
    p.head = std::move(head);
    p.data = std::move(body);
    p.last = last;
    return push(std::move(p));
  }
  bool body(std::string data, bool last) override {
    ResponsePart p;
    p.kind = ResponsePart::body;
    p.data = std::move(data);
    p.last = last;
    return push(std::move(p));
  }
  bool file(BodyFile f) override {
    ResponsePart p;
    p.kind = ResponsePart::file;
    p.file_body = f;
    p.last = true;
    return push(std::move(p));
  }
  void abort() override {
    ResponsePart p;
    p.kind = ResponsePart::abort;
    p.last = true;
    push(std::move(p));
  }

  void expire(int status) override {
    std::lock_guard lock(mutex_);
    if (finished_) return;  // the whole response is already on its way
    gone_ = true;
    finished_ = true;
    cv_.notify_all();
    if (conn_)
      net::post(conn_->socket_.get_executor(), [c = conn_, status] { c->on_expired(status); });
  }

  // The I/O thread finished writing a part (ok) or the connection is gone (!ok).
  void done(bool ok) {
    std::lock_guard lock(mutex_);
    busy_ = false;
    if (!ok) gone_ = true;
    cv_.notify_all();
  }

  // The I/O threads have stopped: the client is gone for the worker, and the connection is
  // handed back to be destroyed while its io_context still exists.
  std::shared_ptr<Connection> detach() {
    std::lock_guard lock(mutex_);
    gone_ = true;
    cv_.notify_all();
    return std::move(conn_);
  }

 private:
  bool push(ResponsePart p) {
    std::unique_lock lock(mutex_);
    if (finished_) return false;
    cv_.wait(lock, [&] { return !busy_ || gone_; });  // blocking-ok: a worker, never an I/O thread
    if (gone_ || !conn_) {
      if (p.kind == ResponsePart::file && p.file_body.fd >= 0) ::close(p.file_body.fd);
      finished_ = finished_ || p.last;
      return false;
    }
    busy_ = true;
    if (p.last) finished_ = true;
    // Posted under the lock: detach() cannot take the connection (and its io_context cannot go)
    // in between.
    net::post(conn_->socket_.get_executor(),
              [c = conn_, p = std::move(p)]() mutable { c->on_part(std::move(p)); });
    return true;
  }

  std::shared_ptr<ChannelHub> hub_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<Connection> conn_;  // guarded by mutex_; null once detached
  bool busy_ = false;
  bool gone_ = false;
  bool finished_ = false;
};

void ChannelHub::stop() {
  std::vector<std::shared_ptr<Connection>> released;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (ResponseChannel* c : channels_)
      if (auto conn = c->detach()) released.push_back(std::move(conn));
  }
  // Destroyed here (the last owners may be these), after the hub's lock is released.
  released.clear();
}

void stop_channels(ChannelHub& hub) { hub.stop(); }

std::shared_ptr<ChannelHub> make_channel_hub() { return std::make_shared<ChannelHub>(); }

void Connection::fail_channel() {
  if (channel_) {
    channel_->done(false);
    channel_.reset();
  }
}

void Connection::close() {
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

void Connection::do_read_header() {
  if (ctx_.stopping.load() && request_count_ > 0) return close();
  state_ = State::reading_header;
  skipped_empty_lines_ = 0;
  start_header_read();
  // The first request gets the header timeout; later ones wait for the keep-alive timeout to see
  // the first byte, then the same header timeout (checked when the head completes).
  arm_timer(request_count_ > 0 ? std::max(ctx_.options.keepalive_timeout, 1u)
            : ctx_.stopping.load() ? std::min(kShutdownGrace, ctx_.options.header_timeout)
                                   : ctx_.options.header_timeout);
}

void Connection::start_header_read() {
  parser_.emplace();
  parser_->header_limit(ctx_.options.max_header);
  parser_->body_limit(ctx_.options.max_body);
  req_.reset();
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_read_header(ec);
                          });
}

void Connection::send_simple(int status, const std::vector<Header>& extra) {
  out_ = simple_response(version_, status, keep_alive_, extra, head_request_);
  if (log_.active) {
    std::size_t head_end = out_.find("\r\n\r\n");
    log_response(status, head_end == std::string::npos ? 0 : out_.size() - head_end - 4,
                 status >= 400 ? ServedBy::error : status >= 300 ? ServedBy::redirect
                                                 : ServedBy::static_file);
  }
  state_ = State::writing;
  write_out(false, true);
}

void Connection::send_simple_and_close(int status, const std::vector<Header>& extra) {
  keep_alive_ = false;
  send_simple(status, extra);
}

void Connection::on_header_error(beast::error_code ec) {
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

void Connection::on_read_header(beast::error_code ec) {
  if (state_ == State::closed) return;
  if (ec) return on_header_error(ec);
  if (timed_out_) {
    // The head completed just as the timeout cancelled the read: serve it.
    timed_out_ = false;
  }
  ++request_count_;
  ctx_.requests.fetch_add(1, std::memory_order_relaxed);
  auto& msg = parser_->get();
  version_ = msg.version();
  // Every request is counted (status page); the access log also keeps its request line.
  log_.active = true;
  log_.in_app = false;
  log_.status = 0;
  log_.bytes = 0;
  log_.served = -1;
  log_.site = nullptr;
  log_.start = std::chrono::steady_clock::now();
  if (ctx_.access_log) {
    log_.when = std::time(nullptr);
    log_.method.assign(msg.method_string().data(), msg.method_string().size());
    log_.target.assign(msg.target().data(), msg.target().size());
    log_.version = version_;
  }
  head_request_ = msg.method() == http::verb::head;
  keep_alive_ = msg.keep_alive() && ctx_.options.keepalive_timeout > 0 && !ctx_.stopping.load();
  RequestVerdict verdict = check_request_head(msg, parser_->chunked(), parser_->content_length(),
                                              ctx_.options.max_uri);
  if (verdict.status != 0) {
    if (verdict.status == 505) version_ = 11;
    return send_simple_and_close(verdict.status);
  }
  if (verdict.asterisk) {
    if (verdict.has_body) keep_alive_ = false;  // its body is not read
    return answer_options_asterisk();
  }

  std::string_view target(msg.target().data(), msg.target().size());
  std::string_view raw_path = verdict.raw_path;
  // A request that went through a proxy (it says so with a forwarding header) is not a local
  // one, even from a loopback peer: a reverse proxy on this host must not open the status page
  // to the world.
  bool proxied = false;
  for (const auto& f : msg) {
    auto n = f.name_string();
    if (is_forwarding_header(std::string_view(n.data(), n.size()))) proxied = true;
  }
  RouteRequest rq;
  rq.get_or_head = msg.method() == http::verb::get || head_request_;
  rq.has_body = verdict.has_body;
  rq.host = verdict.host;
  rq.raw_path = raw_path;
  rq.path = verdict.path;
  rq.query = verdict.query;
  rq.status_peer = status_peer_ && !proxied;
  rq.redirect_port = redirect_port_;
  rq.local_addr = local_addr_;
  Route r = route(rq, ctx_.route);
  if (r.site) {
    log_.site = r.site;
    r.site->requests.fetch_add(1, std::memory_order_relaxed);
  }
  // Whatever is not handed to the application leaves the rest of a request body unread.
  if (verdict.has_body && (r.kind != RouteKind::application || !ctx_.app)) keep_alive_ = false;
  switch (r.kind) {
    case RouteKind::redirect:
      return send_simple(r.status, r.headers);
    case RouteKind::status_page:
      return answer_status_page();
    case RouteKind::error:
      if (!r.log.empty()) log::error(r.log + " (" + remote_addr_ + " " + log_.method + " " +
                                     std::string(target) + ")");
      return send_simple(r.status, r.headers);
    case RouteKind::static_file:
      return serve_static(r.dir, r.relative, *r.site, verdict.path, raw_path, verdict.query);
    case RouteKind::web2py_static:
      if (serve_web2py_static(r, verdict.query)) return;
      break;  // not a regular file: web2py answers it
    case RouteKind::application:
      break;
  }
  if (!ctx_.app) return send_simple(404);
  start_app_request(verdict, r);
}

void Connection::answer_options_asterisk() {
  // "OPTIONS *" asks what the server supports; the application is not asked.
  out_.clear();
  ResponseHead head;
  head.status = 200;
  head.headers.push_back({"Allow", "OPTIONS, GET, HEAD, POST, PUT, PATCH, DELETE"});
  serialize_head(out_, version_, head, Framing::content_length, 0, keep_alive_);
  log_response(200, 0, ServedBy::static_file);
  state_ = State::writing;
  write_out(false, true);
}

void Connection::answer_status_page() {
  auto& msg = parser_->get();
  std::string_view target(msg.target().data(), msg.target().size());
  std::string type;
  std::string body = status_page(
      ctx_, target.find("format=prometheus") != std::string_view::npos ? "prometheus" : "json", type);
  ResponseHead head;
  head.status = 200;
  head.headers.push_back({"Content-Type", type});
  head.headers.push_back({"Cache-Control", "no-store"});
  out_.clear();
  serialize_head(out_, version_, head, Framing::content_length, body.size(), keep_alive_);
  if (!head_request_) out_.append(body);
  log_response(200, head_request_ ? 0 : body.size(), ServedBy::static_file);
  state_ = State::writing;
  write_out(false, true);
}

void Connection::start_app_request(const RequestVerdict& verdict, Route& r) {
  auto& msg = parser_->get();
  bool has_body = verdict.has_body;
  req_ = std::make_shared<AppRequest>();
  req_->method.assign(msg.method_string().data(), msg.method_string().size());
  req_->target.assign(msg.target().data(), msg.target().size());
  req_->path = std::move(r.app_path);
  req_->query = std::move(r.app_query);
  req_->version = version_;
  req_->headers.reserve(std::distance(msg.begin(), msg.end()));
  for (const auto& f : msg) {
    auto n = f.name_string();
    auto v = f.value();
    std::string_view name(n.data(), n.size());
    // One header-name policy for every application (see is_plain_header_name).
    if (!is_plain_header_name(name)) continue;
    if (is_forwarding_header(name)) {
      // Anyone can send these; only a configured proxy is believed.
      if (!trusted_peer_) continue;
      if (iequals(name, "x-forwarded-proto") && iequals(std::string_view(v.data(), v.size()), "https"))
        req_->https = true;
    }
    if (verdict.absolute_form && iequals(name, "host")) continue;  // the target's authority wins
    req_->headers.push_back({std::string(name), std::string(v.data(), v.size())});
  }
  if (verdict.absolute_form) req_->headers.push_back({"Host", verdict.host});
  if (https_) req_->https = true;
  req_->remote_addr = remote_addr_;
  req_->remote_port = remote_port_;
  req_->server_name = local_addr_;
  req_->server_port = ctx_.options.public_port ? ctx_.options.public_port : local_port_;
  req_->has_content_length = has_body || parser_->content_length().has_value();

  if (!has_body) return dispatch_to_app();
  state_ = State::reading_body;
  body_chunk_ = std::make_unique<char[]>(kBodyChunk);
  if (verdict.expect_continue) {
    // The client waits for this before sending the body; written like any other bytes, so a
    // client that does not read cannot block the I/O thread.
    out_.assign("HTTP/1.1 100 Continue\r\n\r\n");
    arm_timer(ctx_.options.io_timeout);
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (self->state_ == State::closed) return;
                       if (ec) return self->close();
                       self->out_.clear();
                       self->do_read_body();
                     });
    return;
  }
  do_read_body();
}

void Connection::do_read_body() {
  arm_timer(ctx_.options.io_timeout);
  parser_->get().body().data = body_chunk_.get();
  parser_->get().body().size = kBodyChunk;
  http::async_read_some(socket_, buffer_, *parser_,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->on_read_body(ec);
                        });
}

void Connection::on_read_body(beast::error_code ec) {
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
  RequestBody& body = req_->body;
  if (got > 0) {
    if (body.fd < 0 && body.memory.size() + got > ctx_.options.spool_threshold) {
      body.fd = make_temp_file(ctx_.options.tmp_dir);
      if (body.fd < 0 || !write_all(body.fd, body.memory.data(), body.memory.size())) {
        log::error("cannot spool a request body to " + ctx_.options.tmp_dir + ": " +
                   std::strerror(errno));
        return send_simple_and_close(500);
      }
      body.memory.clear();
      body.memory.shrink_to_fit();
    }
    if (body.fd >= 0) {
      if (!write_all(body.fd, body_chunk_.get(), got)) {
        log::error("cannot spool a request body to " + ctx_.options.tmp_dir + ": " +
                   std::strerror(errno));
        return send_simple_and_close(500);
      }
    } else {
      body.memory.append(body_chunk_.get(), got);
    }
    body.length += got;
  }
  if (parser_->is_done()) {
    body_chunk_.reset();
    return dispatch_to_app();
  }
  do_read_body();
}

void Connection::dispatch_to_app() {
  disarm_timer();
  state_ = State::in_app;
  channel_ = std::make_shared<ResponseChannel>(shared_from_this());
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

void Connection::add_cache_headers(const Site& site, std::string_view url_path,
                                   const CachedFile& f, std::vector<Header>& extra) {
  if (site.spec.cache_rules.empty()) return;
  const CacheRuleSpec* rule = site.cache_rule(url_path, f.content_type);
  if (!rule) return;
  if (!rule->cache_control.empty())
    extra.push_back({"Cache-Control", rule->cache_control});
  else if (rule->expires >= 0)
    extra.push_back({"Cache-Control", "max-age=" + std::to_string(rule->expires)});
  if (rule->expires >= 0) extra.push_back({"Expires", format_http_date(std::time(nullptr) + rule->expires)});
}

void Connection::serve_static(const std::string& dir, const std::string& relative,
                              const Site& site_, std::string_view url_path,
                              std::string_view raw_path, std::string_view query) {
  const SiteSpec& site = site_.spec;
  const std::string* rel = &relative;  // routing made it safe and checked it
  auto f = open_static(dir, *rel);
  if (f->status == OpenStatus::directory) {
    // Relative links in an index page need the trailing slash.
    if (!raw_path.ends_with('/')) {
      std::string location(raw_path);
      location.push_back('/');
      if (!query.empty()) location.append("?").append(query);
      return send_simple(301, {{"Location", location}});
    }
    for (const auto& name : site.index_names) {
      std::string index = rel->empty() ? name : *rel + "/" + name;
      if (never_static(dir, index, site.static_exclude, ctx_.options.root)) continue;
      auto i = open_static(dir, index);
      if (i->status != OpenStatus::ok) continue;
      std::vector<Header> extra;
      add_cache_headers(site_, url_path, *i, extra);
      i = pick_encoding(dir, index, std::move(i), extra);
      return send_file_response(std::move(i), std::move(extra));
    }
    return send_simple(404);  // no index file, and no listing
  }
  if (f->status == OpenStatus::forbidden) return send_simple(403);
  if (f->status != OpenStatus::ok) return send_simple(404);
  std::vector<Header> extra;
  add_cache_headers(site_, url_path, *f, extra);
  f = pick_encoding(dir, *rel, std::move(f), extra);
  send_file_response(std::move(f), std::move(extra));
}

bool Connection::serve_web2py_static(const Route& target, std::string_view query) {
  // web2py answers a directory with 403 and a missing file with its own 404 page: only a
  // regular file is served here.
  auto f = open_static(target.dir, target.relative);
  if (f->status != OpenStatus::ok) return false;
  std::vector<Header> extra;
  f = pick_encoding(target.dir, target.relative, std::move(f), extra);
  if (query.starts_with("attachment")) extra.push_back({"Content-Disposition", "attachment"});
  if (target.versioned) {
    extra.push_back({"Cache-Control", "max-age=315360000"});
    extra.push_back({"Expires", "Thu, 31 Dec 2037 23:59:59 GMT"});
  } else {
    extra.push_back({"Pragma", "cache"});
    extra.push_back({"Cache-Control", "private"});
  }
  extra.push_back({"X-Powered-By", "web2py"});
  send_file_response(std::move(f), std::move(extra));
  return true;
}

std::shared_ptr<const CachedFile> Connection::pick_encoding(const std::string& root,
                                                           const std::string& relative,
                                                           std::shared_ptr<const CachedFile> f,
                                                           std::vector<Header>& extra) {
  auto accept = parser_->get()[http::field::accept_encoding];
  std::string_view ae(accept.data(), accept.size());
  const std::uint64_t size = static_cast<std::uint64_t>(f->st.st_size);
  bool on_the_fly = ctx_.compress && ctx_.compress->wants(f->content_type, size);
  auto use = [&](std::shared_ptr<const CachedFile> v, std::string_view coding) {
    extra.push_back({"Content-Type", f->content_type});
    extra.push_back({"Content-Encoding", std::string(coding)});
    extra.push_back({"Vary", "Accept-Encoding"});
    return v;
  };
  // Brotli first (smaller), then gzip; a sibling older than the file is stale and skipped
  // (gluon/streamer.py does the same for .gz).
  static constexpr std::pair<std::string_view, std::string_view> kVariants[] = {{"br", ".br"},
                                                                              {"gzip", ".gz"}};
  if (!ae.empty()) {
    for (const auto& [coding, ext] : kVariants) {
      if (!accepts_encoding(ae, coding)) continue;
      auto v = open_static(root, relative + std::string(ext));
      if (v->status == OpenStatus::ok && v->st.st_mtim.tv_sec >= f->st.st_mtim.tv_sec)
        return use(std::move(v), coding);
    }
    // Then what the compression cache holds for this version; what it lacks is queued, and
    // this response goes out uncompressed.
    if (on_the_fly) {
      std::shared_ptr<const CachedFile> found;
      std::string_view found_coding;
      for (const auto& [coding, ext] : kVariants) {
        if (!accepts_encoding(ae, coding)) continue;
        auto v = ctx_.files.open(ctx_.compress->dir(), CompressCache::entry_name(f->st, ext));
        if (v->status == OpenStatus::ok) {
          if (!found) {
            found = std::move(v);
            found_coding = coding;
          }
        } else {
          ctx_.compress->request(root, relative, f->st, coding);
          if (found) break;
        }
        if (found) break;
      }
      if (found) return use(std::move(found), found_coding);
    }
  }
  // This file has compressed forms for other clients: caches must keep them apart.
  if (on_the_fly) extra.push_back({"Vary", "Accept-Encoding"});
  return f;
}

std::shared_ptr<const CachedFile> Connection::open_static(const std::string& dir,
                                                         const std::string& relative) {
  auto f = ctx_.files.open(dir, relative);
  if (f->status != OpenStatus::ok || ctx_.options.root.empty() ||
      !web2py_private_real(f->real_path, ctx_.options.root, ctx_.web2py_apps_real))
    return f;
  static const auto forbidden = [] {
    auto c = std::make_shared<CachedFile>();
    c->status = OpenStatus::forbidden;
    return c;
  }();
  return forbidden;
}

void Connection::send_file_response(std::shared_ptr<const CachedFile> f, std::vector<Header> extra) {
  auto& msg = parser_->get();
  if (ctx_.stopping.load()) keep_alive_ = false;
  auto field = [&](http::field name) {
    auto v = msg[name];
    return std::string_view(v.data(), v.size());
  };
  const std::uint64_t size = static_cast<std::uint64_t>(f->st.st_size);
  const std::time_t mtime = f->st.st_mtim.tv_sec;
  ResponseHead head;
  head.headers = std::move(extra);
  head.headers.push_back({"Last-Modified", f->last_modified});
  head.headers.push_back({"ETag", f->etag});
  int cond = evaluate_conditionals({field(http::field::if_match), field(http::field::if_unmodified_since),
                                    field(http::field::if_none_match), field(http::field::if_modified_since)},
                                   true, f->etag, mtime);
  if (cond == 412) return send_simple(412);
  state_ = State::writing;
  out_.clear();
  if (cond == 304) {
    head.status = 304;
    log_response(304, 0, ServedBy::static_file);
    serialize_head(out_, version_, head, Framing::none, 0, keep_alive_);
    return write_out(false, true);
  }
  head.headers.push_back({"Accept-Ranges", "bytes"});
  head.headers.push_back({"X-Content-Type-Options", "nosniff"});
  bool typed = false;
  for (const auto& h : head.headers)
    if (iequals(h.name, "Content-Type")) typed = true;
  std::string_view content_type = f->content_type;
  for (const auto& h : head.headers)
    if (iequals(h.name, "Content-Type")) content_type = h.value;

  // Ranges: GET only, and only while If-Range (when sent) still names this version.
  RangeRequest ranges;
  auto range = field(http::field::range);
  if (!range.empty() && msg.method() == http::verb::get &&
      if_range_matches(field(http::field::if_range), f->etag, mtime))
    ranges = parse_range(range, size);
  if (ranges.kind == RangeRequest::unsatisfiable) {
    head.status = 416;
    head.headers.push_back({"Content-Range", "bytes */" + std::to_string(size)});
    log_response(416, 0, ServedBy::static_file);
    serialize_head(out_, version_, head, Framing::content_length, 0, keep_alive_);
    return write_out(false, true);
  }
  std::uint64_t offset = 0, length = size;
  std::vector<Segment> segments;
  if (ranges.kind == RangeRequest::satisfiable && ranges.ranges.size() == 1) {
    head.status = 206;
    offset = ranges.ranges[0].first;
    length = ranges.ranges[0].length();
    head.headers.push_back({"Content-Range", content_range(ranges.ranges[0], size)});
    if (!typed) head.headers.push_back({"Content-Type", f->content_type});
  } else if (ranges.kind == RangeRequest::satisfiable) {
    // Several ranges: multipart/byteranges, each part a sendfile(2) of its own.
    head.status = 206;
    char boundary[40];
    std::snprintf(boundary, sizeof boundary, "w2pserve-%016llx",
                  static_cast<unsigned long long>(
                      std::chrono::steady_clock::now().time_since_epoch().count() ^ f->st.st_ino));
    Multipart m = make_multipart(ranges.ranges, size, content_type, boundary);
    // The parts carry the file's type; the response's is multipart.
    std::erase_if(head.headers, [](const Header& h) { return iequals(h.name, "Content-Type"); });
    head.headers.push_back({"Content-Type", "multipart/byteranges; boundary=" + m.boundary});
    serialize_head(out_, version_, head, Framing::content_length, m.total, keep_alive_);
    log_response(206, head_request_ ? 0 : m.total, ServedBy::static_file);
    if (head_request_) return write_out(false, true);
    out_.append(m.part_heads[0]);
    for (std::size_t i = 1; i < ranges.ranges.size(); ++i)
      segments.push_back({std::move(m.part_heads[i]), ranges.ranges[i].first, ranges.ranges[i].length()});
    segments.push_back({std::move(m.tail), 0, 0});
    segments_.assign(std::make_move_iterator(segments.begin()), std::make_move_iterator(segments.end()));
    BodyFile body{f->fd, ranges.ranges[0].first, ranges.ranges[0].length()};
    return start_file(body, std::move(f));
  } else {
    head.status = 200;
    if (!typed) head.headers.push_back({"Content-Type", f->content_type});
  }
  serialize_head(out_, version_, head, Framing::content_length, length, keep_alive_);
  log_response(head.status, head_request_ ? 0 : length, ServedBy::static_file);
  if (head_request_ || length == 0) return write_out(false, true);
  if (length <= kSmallFile) {
    // A small body goes out with its head in one write: one socket operation instead of two
    // (the bytes come from the page cache either way).
    std::size_t head_size = out_.size();
    std::size_t n_total = static_cast<std::size_t>(length);
    out_.resize(head_size + n_total);
    std::size_t done = 0;
    while (done < n_total) {
      ssize_t n = ::pread(f->fd, out_.data() + head_size + done, n_total - done,
                          static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        log::warn("static file shrank while being read; closing the connection");
        return close();
      }
      done += static_cast<std::size_t>(n);
    }
    return write_out(false, true);
  }
  BodyFile body{f->fd, offset, length};
  start_file(body, std::move(f));
}

// Sends out_ (a head) and then the file with sendfile(2); the head goes out with MSG_MORE so the
// kernel can put it in the same packet as the file's first bytes.
void Connection::start_file(BodyFile f, std::shared_ptr<const CachedFile> ref) {
  close_file();
  file_ = f;
  file_ref_ = std::move(ref);
  send_out_then_file();
}

void Connection::send_out_then_file() {
  if (!out_.empty()) {
    ssize_t n = ::send(socket_.native_handle(), out_.data(), out_.size(), MSG_MORE | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(out_.size())) {
      out_.clear();
    } else {
      if (n > 0) out_.erase(0, static_cast<size_t>(n));
      arm_timer(ctx_.options.io_timeout);
      net::async_write(socket_, net::buffer(out_),
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return self->close();
                         self->out_.clear();
                         self->do_sendfile();
                       });
      return;
    }
  }
  do_sendfile();
}

void Connection::do_sendfile() {
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
      socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
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
    Segment next = std::move(segments_.front());
    segments_.pop_front();
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

void Connection::on_part(ResponsePart part) {
  if (state_ == State::closed) {
    if (part.kind == ResponsePart::file && part.file_body.fd >= 0) ::close(part.file_body.fd);
    fail_channel();
    return;
  }
  if (handoff_) {
    // An X-Sendfile response: the application's own body is dropped; the file goes out once
    // the application is done.
    if (part.kind == ResponsePart::file && part.file_body.fd >= 0) ::close(part.file_body.fd);
    if (part.kind == ResponsePart::abort) return close();
    if (!part.last) return channel_->done(true);
    return serve_handoff();
  }
  out_.clear();
  switch (part.kind) {
    case ResponsePart::abort:
      log::debug("response aborted; closing the connection to " + remote_addr_);
      return close();
    case ResponsePart::start: {
      state_ = State::writing;
      ResponseHead& head = part.head;
      // The server owns framing and connection management: take those headers out.
      std::optional<std::uint64_t> app_length;
      bool bad_length = false;
      std::vector<Header> kept;
      kept.reserve(head.headers.size());
      std::optional<Handoff> handoff;
      for (auto& h : head.headers) {
        if (iequals(h.name, "x-sendfile") || iequals(h.name, "x-accel-redirect")) {
          handoff = Handoff{iequals(h.name, "x-accel-redirect"), std::move(h.value), {}};
          continue;
        }
        if (iequals(h.name, "content-length")) {
          std::uint64_t v = 0;
          auto r = std::from_chars(h.value.data(), h.value.data() + h.value.size(), v);
          if (r.ec != std::errc() || r.ptr != h.value.data() + h.value.size() ||
              (app_length && *app_length != v))
            bad_length = true;
          else
            app_length = v;
          continue;
        }
        if (is_hop_by_hop(h.name)) {
          if (iequals(h.name, "connection") && has_token(h.value, "close")) keep_alive_ = false;
          continue;
        }
        kept.push_back(std::move(h));
      }
      if (handoff) {
        // The file's own validators, length and ranges replace whatever the application said.
        std::erase_if(kept, [](const Header& h) {
          return iequals(h.name, "etag") || iequals(h.name, "last-modified") ||
                 iequals(h.name, "accept-ranges") || iequals(h.name, "content-range") ||
                 iequals(h.name, "content-encoding");
        });
        handoff->headers = std::move(kept);
        handoff->status = head.status;
        handoff_ = std::move(handoff);
        if (!part.last) return channel_->done(true);
        return serve_handoff();
      }
      head.headers = std::move(kept);
      if (bad_length) {
        log::warn("application sent an invalid Content-Length; ignoring it");
        app_length.reset();
      }
      std::uint64_t length = 0;
      if (status_has_no_body(head.status)) {
        framing_ = Framing::none;
        part.data.clear();
        part.last = true;
      } else if (app_length) {
        framing_ = Framing::content_length;
        length = *app_length;
      } else if (part.last) {
        framing_ = Framing::content_length;
        length = part.data.size();
      } else if (version_ == 11) {
        framing_ = Framing::chunked;
      } else {
        framing_ = Framing::close_delimited;
        keep_alive_ = false;
      }
      has_length_ = framing_ == Framing::content_length && !head_request_;
      length_left_ = has_length_ ? length : 0;
      if (ctx_.stopping.load()) keep_alive_ = false;
      if (head_request_ && framing_ == Framing::chunked) {
        // A HEAD response has no body to frame; send no length at all.
        framing_ = Framing::none;
      }
      serialize_head(out_, version_, head, framing_, length, keep_alive_);
      log_response(head.status, 0, ServedBy::app);
      break;
    }
    case ResponsePart::body:
    case ResponsePart::file:
      break;
  }
  if (part.kind == ResponsePart::file) {
    BodyFile f = part.file_body;
    if (!head_request_ && framing_ != Framing::none) log_.bytes += f.length;
    if (head_request_ || framing_ == Framing::none) {
      ::close(f.fd);
      return write_out(true, true);
    }
    if (has_length_) {
      if (f.length > length_left_) f.length = length_left_;
      length_left_ -= f.length;
      if (length_left_ > 0) keep_alive_ = false;  // the app promised more than the file holds
    } else if (framing_ == Framing::chunked && f.length > 0) {
      char hex[20];
      auto r = std::to_chars(hex, hex + sizeof hex, f.length, 16);
      out_.append(hex, r.ptr);
      out_.append("\r\n");
      file_chunked_ = true;
    }
    if (f.length == 0) {
      ::close(f.fd);
      if (framing_ == Framing::chunked) out_.append("0\r\n\r\n");
      if (has_length_ && length_left_ > 0) {
        // Fewer bytes than the Content-Length promised: the client must see the connection end.
        write_out(true, true);
        keep_alive_ = false;
        return;
      }
      return write_out(true, true);
    }
    return start_file(f);
  }
  // Body bytes (for start and body parts).
  if (!head_request_ && framing_ != Framing::none) {
    std::string_view data = part.data;
    log_.bytes += data.size();
    if (has_length_) {
      if (data.size() > length_left_) {
        log::warn("application sent more bytes than its Content-Length; extra bytes dropped");
        data = data.substr(0, length_left_);
      }
      length_left_ -= data.size();
      out_.append(data);
      if (part.last && length_left_ > 0) {
        log::warn("application sent fewer bytes than its Content-Length; closing the connection");
        keep_alive_ = false;
      }
    } else if (framing_ == Framing::chunked) {
      if (!data.empty()) append_chunk(out_, data);
      if (part.last) out_.append("0\r\n\r\n");
    } else {
      out_.append(data);
    }
  }
  write_out(true, part.last);
}

// X-Sendfile (an absolute path below a --x-sendfile folder) or X-Accel-Redirect (a URL below
// an --x-accel prefix): the file is served like a static one, with the request's conditionals
// and ranges. Anything else is the application's mistake: 500 and a log line.
void Connection::serve_handoff() {
  Handoff h = std::move(*handoff_);
  handoff_.reset();
  if (channel_) channel_->done(true);
  channel_.reset();
  std::string dir, relative;
  if (h.accel) {
    std::string_view target = h.value;
    auto parts = split_target(target);
    auto decoded = parts ? percent_decode(parts->path) : std::nullopt;
    if (decoded) {
      for (const auto& m : ctx_.options.x_accel) {
        if (mount_match(m, *decoded, relative)) {
          dir = m.dir;
          break;
        }
      }
    }
  } else {
    for (const auto& d : ctx_.options.x_sendfile_dirs) {
      if (h.value.size() > d.size() && h.value.compare(0, d.size(), d) == 0 &&
          (h.value[d.size()] == '/' || d == "/") && d.size() > dir.size()) {
        dir = d;
        relative = h.value.substr(d == "/" ? 1 : d.size() + 1);
      }
    }
  }
  auto rel = dir.empty() ? std::nullopt : safe_relative_path(relative);
  if (!rel || h.status != 200) {
    log::error(std::string(h.accel ? "X-Accel-Redirect " : "X-Sendfile ") + h.value + " refused: " +
               (h.status != 200 ? "only a 200 response can hand over a file"
                : h.accel       ? "not below an --x-accel prefix"
                                : "not below an --x-sendfile folder"));
    return send_simple(500);
  }
  auto f = ctx_.files.open(dir, *rel);
  if (f->status != OpenStatus::ok) {
    log::error(std::string(h.accel ? "X-Accel-Redirect " : "X-Sendfile ") + h.value + ": " +
               (f->status == OpenStatus::not_found ? "no such file" : "not a regular file below " + dir));
    return send_simple(f->status == OpenStatus::not_found ? 404 : 403);
  }
  send_file_response(std::move(f), std::move(h.headers));
}

void Connection::write_out(bool part_done, bool last) {
  if (out_.empty()) return on_write({}, part_done, last);
  arm_timer(ctx_.options.io_timeout);
  net::async_write(socket_, net::buffer(out_),
                   [self = shared_from_this(), part_done, last](beast::error_code ec, std::size_t) {
                     self->on_write(ec, part_done, last);
                   });
}

void Connection::on_write(beast::error_code ec, bool part_done, bool last) {
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

void Connection::finish_response() {
  segments_.clear();
  if (log_.active) write_access_log();
  if (has_length_ && length_left_ > 0) keep_alive_ = false;
  has_length_ = false;
  length_left_ = 0;
  framing_ = Framing::none;
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
void Connection::linger() {
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

void Connection::write_access_log() {
  log_.active = false;
  if (log_.in_app) {
    log_.in_app = false;
    ctx_.stats.in_app.fetch_sub(1, std::memory_order_relaxed);
  }
  std::uint64_t micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - log_.start)
          .count());
  // Application and redirect answers count as such; anything else unanswered or failed is an
  // error.
  ServedBy by = ServedBy::error;
  if (log_.served == static_cast<int>(ServedBy::app) || log_.served == static_cast<int>(ServedBy::redirect) ||
      (log_.served >= 0 && log_.status != 0 && log_.status < 400))
    by = static_cast<ServedBy>(log_.served);
  ctx_.stats.record(by, log_.bytes, micros);
  if (!ctx_.access_log) return;
  AccessRecord r;
  r.remote = remote_addr_;
  r.method = log_.method;
  r.target = log_.target;
  r.version = log_.version;
  r.status = log_.status;
  r.bytes = log_.bytes;
  r.micros = micros;
  r.served = log_.served < 0 ? std::string_view() : served_name(static_cast<ServedBy>(log_.served));
  r.site = log_.site ? std::string_view(log_.site->spec.name) : std::string_view();
  r.when = log_.when;
  r.header = [this](std::string_view name) -> std::string_view {
    if (!parser_) return {};
    auto v = parser_->get()[beast::string_view(name.data(), name.size())];
    return {v.data(), v.size()};
  };
  ctx_.access_log->write(r);
}

void start_connection(tcp::socket socket, ServerContext& ctx, std::uint16_t redirect_port) {
  auto c = std::make_shared<Connection>(std::move(socket), ctx);
  c->run(nullptr, redirect_port);
}

std::shared_ptr<Stoppable> start_inner_connection(tcp::socket socket, ServerContext& ctx,
                                                  const PeerInfo& peer) {
  auto c = std::make_shared<Connection>(std::move(socket), ctx);
  c->run(&peer, 0);
  return c;
}

}  // namespace w2p::server
