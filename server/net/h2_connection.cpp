// One class, H2Connection, over 600 lines on purpose: nghttp2's callbacks, the streams' pumps
// to and from their Sessions, and the socket's read/write/timer loop all drive the same
// nghttp2_session and must respect one rule (no nghttp2 call from inside another: in_nghttp2_);
// split apart they would share every member. What stands alone lives elsewhere: the HTTP/1.1
// translation (h2_translate.cpp), static answers made without a Session (h2_static.cpp) and the
// h2c preface sniffing (h2c_sniffer.cpp).
#include "server/net/h2_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config/options.hpp"
#include "server/http/response_head.hpp"
#include "server/log.hpp"
#include "server/net/connection.hpp"
#include "server/net/frame_buffer.hpp"
#include "server/net/h2_app.hpp"
#include "server/net/h2_static.hpp"
#include "server/net/h2_translate.hpp"
#include "server/net/nghttp2_api.hpp"
#include "server/net/server_context.hpp"
#include "server/static/handoff.hpp"

namespace w2p::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using local_socket = net::local::stream_protocol::socket;

namespace {

constexpr std::size_t kStreamBuffer = 64 * 1024;  // decoded response bytes held per stream
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeptOutput = 16 * 1024;  // output buffer kept while streams are open
constexpr std::size_t kFlushBytes = 64 * 1024;  // what one write gathers at most (about)
constexpr std::uint32_t kMaxStreams = 100;
// Streams a client may cancel: a burst, then so many a second (rapid reset, CVE-2023-44487).
// Browsers cancel a few on navigation; a loop of opened-and-cancelled streams is an attack.
constexpr std::uint64_t kResetBurst = 200;
constexpr std::uint64_t kResetRate = 33;

class H2Connection;

// One request: answered natively from a file (`native`), or by the HTTP/1.1 Session that
// serves it behind `inner`.
struct Stream {
  explicit Stream(std::int32_t id) : id(id) {}
  std::int32_t id;
  std::string method, path, authority, scheme;
  FieldList headers;
  std::size_t header_bytes = 0;
  bool too_large = false;
  bool has_length = false;
  bool chunked = false;  // request body sent to the Session with chunked framing
  bool started = false;  // the Session exists
  bool request_end = false;
  std::optional<local_socket> inner;  // the Session's side of the pair, once it runs
  std::list<std::string> to_inner;    // request bytes not yet written to the Session (a list:
                                      // nothing allocated for a stream that needs none)
  std::size_t to_inner_consumed = 0;  // DATA bytes to acknowledge once written
  bool writing = false;
  bool shut_sent = false;
  // The response.
  beast::flat_buffer in;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::unique_ptr<char[]> chunk;  // kReadChunk bytes, while a Session answers
  std::string body;               // decoded, not yet in DATA frames
  bool head_submitted = false;
  bool body_end = false;
  bool reading = false;
  bool deferred = false;
  bool inner_eof = false;
  bool body_refused = false;  // the Session no longer reads the request body
  bool closed = false;
  std::unique_ptr<H2StaticAnswer> native;
  // The application answering without a Session (h2_app.hpp): the request while its body
  // arrives, then the worker's channel while it answers, and the response.
  std::shared_ptr<AppRequest> request;
  std::shared_ptr<ResponseChannel> channel;
  std::unique_ptr<H2AppResponse> app;
};

class H2Connection : public std::enable_shared_from_this<H2Connection>,
                     public Stoppable,
                     public H2AppOwner {
 public:
  H2Connection(tcp::socket socket, ServerContext& ctx)
      : socket_(std::move(socket)),
        ctx_(ctx),
        timer_(socket_.get_executor()),
        api_(nghttp2()),
        responder_(ctx.files, ctx.compress.get(), ctx.options.root, ctx.web2py_apps_real) {}

  ~H2Connection() {
    if (session_) api_.session_del(session_);
    if (registered_) ctx_.remove(this);
  }

  // `peer`: the client when the socket does not say it; `inner`: behind TLS, whose layer is
  // the registered connection.
  void run(const PeerInfo* peer, bool inner) {
    if (!inner) {
      ctx_.add(this, std::weak_ptr<Stoppable>(shared_from_this()));
      registered_ = true;
    }
    boost::system::error_code ec;
    if (!inner) socket_.set_option(tcp::no_delay(true), ec);
    peer_ = peer ? *peer : peer_of(socket_);
    peer_.h2 = true;
    if (!make_session()) return close();
    flush();
    read();
    arm_idle();
  }

  void shutdown() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->go_away(); });
  }

 private:
  bool make_session() {
    nghttp2_session_callbacks* cb = nullptr;
    if (api_.session_callbacks_new(&cb) != 0) return false;
    api_.session_callbacks_set_on_begin_headers_callback(cb, &on_begin_headers);
    api_.session_callbacks_set_on_header_callback(cb, &on_header);
    api_.session_callbacks_set_on_frame_recv_callback(cb, &on_frame_recv);
    api_.session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data_chunk);
    api_.session_callbacks_set_on_stream_close_callback(cb, &on_stream_close);
    api_.session_callbacks_set_send_data_callback(cb, &send_file_data);
    nghttp2_option* opt = nullptr;
    api_.option_new(&opt);
    // Request bodies are acknowledged as the Session takes them: a client cannot make this
    // layer hold more than a window per stream.
    api_.option_set_no_auto_window_update(opt, 1);
    api_.option_set_max_settings(opt, 32);       // SETTINGS floods
    api_.option_set_max_outbound_ack(opt, 100);  // PING/SETTINGS floods
    api_.option_set_max_deflate_dynamic_table_size(opt, 4096);
    if (api_.option_set_stream_reset_rate_limit)  // rapid reset (CVE-2023-44487)
      api_.option_set_stream_reset_rate_limit(opt, kResetBurst, kResetRate);
    if (api_.option_set_max_continuations)  // CONTINUATION floods (CVE-2024-27316 class)
      api_.option_set_max_continuations(opt, 8);
    int rv = api_.session_server_new2(&session_, cb, this, opt);
    api_.option_del(opt);
    api_.session_callbacks_del(cb);
    if (rv != 0) return false;
    const auto& o = ctx_.options;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, o.max_header},
    };
    return api_.submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 3) == 0;
  }

  static H2Connection& self(void* user) { return *static_cast<H2Connection*>(user); }

  // Acknowledges `n` received bytes (WINDOW_UPDATE) after nghttp2 has returned.
  void consume_later(std::int32_t id, std::size_t n) {
    net::post(socket_.get_executor(), [self = shared_from_this(), id, n] {
      if (self->closed_) return;
      self->api_.session_consume(self->session_, id, n);
      self->flush();
    });
  }

  Stream* stream(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  std::shared_ptr<Stream> shared(const Stream& s) { return streams_.at(s.id); }

  // --- nghttp2 callbacks (all on this connection's strand: the I/O thread) ---

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (c.going_away_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    c.streams_[frame->hd.stream_id] = std::make_shared<Stream>(frame->hd.stream_id);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto& c = self(user);
    Stream* s = c.stream(frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    s->header_bytes += namelen + valuelen + 32;  // RFC 9113 6.5.2's accounting
    if (s->header_bytes > c.ctx_.options.max_header) {
      s->too_large = true;
      return 0;
    }
    if (n == ":method") {
      s->method = v;
    } else if (n == ":path") {
      s->path = v;
    } else if (n == ":authority") {
      s->authority = v;
    } else if (n == ":scheme") {
      s->scheme = v;
    } else if (!n.empty() && n[0] != ':') {
      if (n == "content-length") s->has_length = true;
      if (n == "host" && !s->authority.empty()) return 0;  // :authority wins (RFC 9113 8.3.1)
      // The Session would answer 100 Continue inside the response; HTTP/2 clients send the body
      // without waiting for it anyway.
      if (n == "expect") return 0;
      s->headers.emplace_back(n, v);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    Stream* s = c.stream(frame->hd.stream_id);
    if (!s) return 0;
    bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      s->request_end = end;
      c.start_stream(*s);
    } else if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && end) {
      s->request_end = true;  // the last DATA frame, or trailers
      if (s->request) {
        c.dispatch_app_later(*s);
        return 0;
      }
      if (s->chunked) s->to_inner.emplace_back("0\r\n\r\n");
      c.write_inner(*s);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                           void* user) {
    auto& c = self(user);
    Stream* s = c.stream(id);
    if (s && s->request && !s->body_refused) {
      c.spool(*s, data, len);
      c.consume_later(id, len);  // spooled: the client may send on
      return 0;
    }
    if (!s || (s->to_inner.empty() && !s->started) || s->body_refused) {
      // Dropped (a stream gone or refused at its head, a body the Session stopped reading):
      // the window is given back all the same, or the connection's would shrink for good.
      c.consume_later(id, len);
      return 0;
    }
    std::string bytes(reinterpret_cast<const char*>(data), len);
    if (s->chunked) {
      char size[24];
      std::snprintf(size, sizeof size, "%zx\r\n", len);
      s->to_inner.emplace_back(size);
      bytes.append("\r\n");
    }
    s->to_inner.push_back(std::move(bytes));
    s->to_inner_consumed += len;
    c.write_inner(*s);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
    auto& c = self(user);
    auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    Stream& s = *it->second;
    s.closed = true;
    if (s.native) c.finish_native(s);
    if (s.app) c.finish_app(s);
    if (s.to_inner_consumed) c.consume_later(id, s.to_inner_consumed);  // never to be written
    boost::system::error_code ec;
    if (s.inner) s.inner->close(ec);  // the Session sees its client gone
    c.streams_.erase(it);             // pending handlers hold their own reference
    c.maybe_finish();
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user) {
    auto& c = self(user);
    Stream* s = c.stream(id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (s->native) {
      if (s->native->failed) {
        log::warn("file truncated while being sent; HTTP/2 stream reset");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      // A frame before the last is read from the file straight into the output by
      // send_file_data; the last is read here, with END_STREAM, so that a file found short
      // never ends its stream as if complete. (nghttp2 goes on to the next frame after such
      // one within the same call: past kFlushBytes the frames are copied, which returns to
      // flush and so bounds what one write holds.)
      if (s->native->remaining() > length && c.out_.size() < kFlushBytes) {
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        return static_cast<ssize_t>(length);
      }
      bool eof = false;
      ssize_t got = s->native->read(buf, length, eof);
      if (got < 0) {
        log::warn("file truncated while being sent; HTTP/2 stream reset");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return got;
    }
    if (s->app) {
      bool eof = false, drained = false;
      ssize_t got = s->app->read(buf, length, eof, drained);
      if (got < 0) {
        log::warn("the application's file ended before its length; HTTP/2 stream reset");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      if (drained && s->channel) s->channel->done(true);  // the worker may write the next part
      if (eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (got == 0) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
      return got;
    }
    std::size_t n = std::min(length, s->body.size());
    std::memcpy(buf, s->body.data(), n);
    s->body.erase(0, n);
    if (s->body.empty() && s->body_end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    }
    // Room again: parse and read on, outside nghttp2's call (its functions are not reentrant).
    net::post(c.socket_.get_executor(),
              [self = c.shared_from_this(), sp = c.shared(*s)] { self->pump(*sp); });
    if (n == 0) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
  }

  // A DATA frame read_body left for us (NGHTTP2_DATA_FLAG_NO_COPY): its header, then its
  // payload read from the file into the output. A read that comes short fills the frame with
  // zeros (its length is already promised) and marks the stream, which read_body then resets:
  // it never ends as if complete.
  static int send_file_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                            size_t length, nghttp2_data_source*, void* user) {
    auto& c = self(user);
    Stream* s = c.stream(frame->hd.stream_id);
    if (!s || !s->native || frame->data.padlen > 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    c.out_.append(framehd, 9);
    auto* payload = reinterpret_cast<std::uint8_t*>(c.out_.extend(length));
    bool eof = false;
    ssize_t got = s->native->read(payload, length, eof);
    if (got != static_cast<ssize_t>(length)) {
      std::memset(payload, 0, length);
      s->native->failed = true;
    }
    return 0;
  }

  // --- streams ---

  void start_stream(Stream& s) {
    if (s.too_large) return respond_simple(s, 431);
    if (s.method.empty() || (s.method != "CONNECT" && s.path.empty())) return reset(s);
    if (s.method == "CONNECT") return respond_simple(s, 405);
    if (auto routed = h2_route(s.method, s.path, s.authority, s.headers, !s.request_end, ctx_)) {
      if (s.request_end && !s.has_length) {
        s.native = h2_static_answer(s.method, s.path, *routed, s.headers, ctx_, responder_);
        if (s.native) {
          submit(s, s.native->head.fields, s.native->has_body);  // nghttp2 copies them
          s.native->head.sent();
          return;
        }
      }
      if (routed->route.kind == RouteKind::application && ctx_.app) return start_app(s, *routed);
    }
    // The Session starts once nghttp2 has returned: a stream the same read already cancelled
    // (rapid reset) costs no Session at all.
    net::post(socket_.get_executor(),
              [self = shared_from_this(), sp = shared(s)] { self->start_session(*sp); });
    // The request in HTTP/1.1 for the Session; it closes after the response, which ends it.
    s.chunked = !s.request_end && !s.has_length;
    std::string head = http11_request_head(s.method, s.path, s.authority, s.headers, s.chunked);
    s.to_inner.push_back(std::move(head));
    s.headers.clear();
    s.headers.shrink_to_fit();
    s.parser.emplace();
    s.parser->body_limit(boost::none);
    s.parser->header_limit(static_cast<std::uint32_t>(ctx_.options.max_header) + 1024);
    if (s.method == "HEAD") s.parser->skip(true);
  }

  // --- the application, without a Session (h2_app.hpp) ---

  void start_app(Stream& s, H2Routed& routed) {
    const Site* site = routed.route.site;
    ctx_.requests.fetch_add(1, std::memory_order_relaxed);
    if (site) site->requests.fetch_add(1, std::memory_order_relaxed);
    s.app = std::make_unique<H2AppResponse>(s.method == "HEAD");
    s.app->log.begin(ctx_.access_log != nullptr, s.method, s.path, 20);
    s.app->log.site = site;
    s.request = h2_app_request(s.method, s.path, routed, s.headers, peer_, !s.request_end, ctx_);
    if (s.request_end) return dispatch_app_later(s);
    // The body comes in DATA frames (spool); a length past --max-body is refused at once.
    for (const auto& [n, v] : s.headers) {
      std::uint64_t length = 0;
      if (n == "content-length" &&
          (std::from_chars(v.data(), v.data() + v.size(), length).ec != std::errc() ||
           length > ctx_.options.max_body))
        return refuse_body(s, 413);
    }
  }

  void spool(Stream& s, const uint8_t* data, std::size_t len) {
    const auto& o = ctx_.options;
    if (s.request->body.length + len > o.max_body) return refuse_body(s, 413);
    if (!spool_body(s.request->body, reinterpret_cast<const char*>(data), len, o.spool_threshold,
                    o.tmp_dir)) {
      log::error("cannot spool a request body to " + o.tmp_dir + ": " + std::strerror(errno));
      refuse_body(s, 500);
    }
  }

  // The request is answered without its (rest of the) body, which is dropped as it comes.
  void refuse_body(Stream& s, int status) {
    s.request.reset();
    s.body_refused = true;
    s.app->log.respond(status, 0, ServedBy::error);
    respond_simple(s, status);
  }

  // Once nghttp2 has returned: a stream the same read already cancelled (rapid reset) never
  // reaches a worker.
  void dispatch_app_later(Stream& s) {
    net::post(socket_.get_executor(), [self = shared_from_this(), sp = shared(s)] {
      if (!sp->closed && !self->closed_ && sp->request) self->dispatch_app(*sp);
    });
  }

  void dispatch_app(Stream& s) {
    std::shared_ptr<AppRequest> req = std::move(s.request);
    auto client = std::make_shared<H2AppClient>(
        socket_.get_executor(), std::weak_ptr<H2AppOwner>(shared_from_this()), s.id);
    s.channel = std::make_shared<ResponseChannel>(
        ctx_.channels, client, compression_offer(ctx_, *req, s.method == "HEAD"));
    client->set_channel(s.channel);
    s.app->log.in_app = true;
    ctx_.stats.in_app.fetch_add(1, std::memory_order_relaxed);
    if (ctx_.app->submit(req, s.channel)) return;
    s.app->log.in_app = false;
    ctx_.stats.in_app.fetch_sub(1, std::memory_order_relaxed);
    s.channel.reset();  // its abort finds the stream no longer waiting for parts
    log::warn("request queue full: 503 for " + req->method + " " + req->target);
    s.app->log.respond(503, 0, ServedBy::error);
    submit(s, FieldList{{":status", "503"}, {"retry-after", "1"}}, false);
    flush();
  }

  bool app_part(std::int32_t id, ResponsePart& part) override {
    Stream* s = closed_ ? nullptr : stream(id);
    if (!s || !s->channel || !s->app) return false;
    switch (s->app->take(std::move(part))) {
      case H2AppResponse::Step::none:
        s->channel->done(true);
        break;
      case H2AppResponse::Step::headers:
        submit(*s, s->app->head.fields, s->app->has_body);  // nghttp2 copies them
        s->app->head.sent();
        if (!s->app->has_body) s->channel->done(true);
        break;
      case H2AppResponse::Step::data:
        if (s->deferred) {
          s->deferred = false;
          api_.session_resume_data(session_, s->id);
        }
        break;
      case H2AppResponse::Step::reset:
        log::debug("response aborted; HTTP/2 stream reset");
        s->channel->done(false);
        s->channel.reset();
        reset(*s);
        return true;
      case H2AppResponse::Step::handoff:
        s->channel->done(true);
        s->channel.reset();
        serve_handoff(*s);
        break;
    }
    flush();
    return true;
  }

  void app_expired(std::int32_t id, int status) override {
    Stream* s = closed_ ? nullptr : stream(id);
    if (!s || !s->app) return;
    s->channel.reset();
    if (s->head_submitted) return reset(*s);  // part of the response went out already
    s->app->log.respond(status, 0, ServedBy::error);
    submit(*s, FieldList{{":status", std::to_string(status)}}, false);
    flush();
  }

  // X-Sendfile or X-Accel-Redirect: the file is served as a static one, with the request's
  // conditionals and ranges; anything else is the application's mistake (as over HTTP/1.1).
  void serve_handoff(Stream& s) {
    Handoff h = std::move(*s.app->handoff);
    HandoffTarget t = resolve_handoff(h, ctx_.options.x_sendfile_dirs, ctx_.options.x_accel);
    int status = t.error_status;
    if (status) {
      log::error(t.error);
    } else if (auto f = ctx_.files.open(t.dir, t.relative); f->status != OpenStatus::ok) {
      log::error(std::string(h.accel ? "X-Accel-Redirect " : "X-Sendfile ") + h.value + ": " +
                 (f->status == OpenStatus::not_found ? "no such file"
                                                     : "not a regular file below " + t.dir));
      status = f->status == OpenStatus::not_found ? 404 : 403;
    } else {
      FileRequest frq = h2_file_request(s.method, s.headers);
      FilePlan plan = responder_.file(std::move(f), std::move(h.headers), frq);
      s.native = h2_answer(std::move(plan), frq.head, std::move(s.app->log));
      s.app.reset();
      submit(s, s.native->head.fields, s.native->has_body);
      s.native->head.sent();
      return;
    }
    s.app->log.respond(status, 0, ServedBy::error);
    submit(s, FieldList{{":status", std::to_string(status)}}, false);
  }

  // An application's stream ended (answered, reset, or the connection closed): the worker
  // learns it from its next write, and the request is counted and logged.
  void finish_app(Stream& s) {
    if (s.channel) s.channel->done(false);
    s.channel.reset();
    s.request.reset();
    finish_request_log(ctx_, s.app->log, peer_.remote_addr,
                       [&s](std::string_view name) -> std::string_view {
                         for (const auto& [n, v] : s.headers)
                           if (iequals(n, name)) return v;
                         return {};
                       });
    s.app.reset();
  }

  void start_session(Stream& s) {
    if (s.closed || closed_) return;
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
      log::error(std::string("HTTP/2: socketpair: ") + std::strerror(errno));
      return respond_simple(s, 503);
    }
    boost::system::error_code ec;
    s.inner.emplace(socket_.get_executor());
    s.inner->assign(net::local::stream_protocol(), pair[0], ec);
    tcp::socket plain(socket_.get_executor());
    plain.assign(tcp::v4(), pair[1], ec);
    start_inner_connection(std::move(plain), ctx_, peer_);
    s.started = true;
    s.chunk = std::make_unique<char[]>(kReadChunk);
    write_inner(s);
    read_inner(s);
  }

  void write_inner(Stream& s) {
    if (s.writing || s.closed || !s.started) return;
    if (s.to_inner.empty()) {
      if (s.request_end && !s.shut_sent) {
        s.shut_sent = true;
        boost::system::error_code ec;
        s.inner->shutdown(local_socket::shutdown_send, ec);
      }
      return;
    }
    s.writing = true;
    net::async_write(
        *s.inner, net::buffer(s.to_inner.front()),
        [self = shared_from_this(), sp = shared(s)](boost::system::error_code ec, std::size_t) {
          Stream& s = *sp;
          s.writing = false;
          if (s.closed || self->closed_) return;
          if (ec) {
            // The Session stopped reading the request (an answer before the whole body, such
            // as 413 past --max-body): the rest of the body is dropped, its window given back,
            // and the answer it wrote still goes out.
            s.body_refused = true;
            s.to_inner.clear();
            self->api_.session_consume(self->session_, s.id, s.to_inner_consumed);
            s.to_inner_consumed = 0;
            return self->flush();
          }
          s.to_inner.pop_front();
          if (s.to_inner.empty() && s.to_inner_consumed) {
            self->api_.session_consume(self->session_, s.id, s.to_inner_consumed);
            s.to_inner_consumed = 0;
            self->flush();
          }
          self->write_inner(s);
        });
  }

  void read_inner(Stream& s) {
    if (s.reading || s.closed || s.body_end || s.inner_eof || s.body.size() >= kStreamBuffer)
      return;
    s.reading = true;
    s.inner->async_read_some(
        s.in.prepare(kReadChunk),
        [self = shared_from_this(), sp = shared(s)](boost::system::error_code ec, std::size_t n) {
          Stream& s = *sp;
          s.reading = false;
          if (s.closed || self->closed_) return;
          s.in.commit(n);
          if (ec) s.inner_eof = true;  // the Session closed: the end of its response
          self->pump(s);
        });
  }

  // Parses what the Session sent into the stream's body buffer (up to kStreamBuffer), submits
  // the head once it is complete, and wakes the stream's DATA frames.
  void pump(Stream& s) {
    for (;;) {
      if (s.closed || closed_) return;
      bool need_input = parse(s);
      if (s.closed) return;
      flush();  // may take from s.body (DATA frames) and make room to parse further
      if (need_input || s.in.size() == 0 || s.parser->is_done() || s.body.size() >= kStreamBuffer)
        break;
    }
    read_inner(s);
  }

  // One round of parsing; true when the parser needs more input than `s.in` holds.
  bool parse(Stream& s) {
    beast::error_code ec;
    bool need_input = false;
    while (!s.parser->is_done() && s.in.size() > 0 && s.body.size() < kStreamBuffer) {
      bool body_phase = s.parser->is_header_done();
      if (body_phase) {
        s.parser->get().body().data = s.chunk.get();
        s.parser->get().body().size = kReadChunk;
      }
      std::size_t used = s.parser->put(s.in.data(), ec);
      s.in.consume(used);
      if (body_phase) s.body.append(s.chunk.get(), kReadChunk - s.parser->get().body().size);
      if (ec == http::error::need_buffer) {
        ec = {};
        continue;
      }
      if (ec == http::error::need_more) {
        ec = {};
        need_input = true;
        break;
      }
      if (ec) {
        reset(s);
        return true;
      }
    }
    if (s.inner_eof && s.in.size() == 0 && !s.parser->is_done()) {
      // A body without length ends with the connection; one with a length or chunks that
      // ends early was cut short (the application failed): the stream is reset, never
      // passed off as complete.
      s.parser->put_eof(ec);
      if (ec) {
        reset(s);
        return true;
      }
    }
    if (s.parser->is_done()) s.body_end = true;
    if (s.parser->is_header_done() && !s.head_submitted) submit_head(s);
    if (s.deferred && (!s.body.empty() || s.body_end)) {
      s.deferred = false;
      api_.session_resume_data(session_, s.id);
    }
    return need_input;
  }

  void submit_head(Stream& s) {
    const auto& res = s.parser->get();
    int code = res.result_int();
    bool no_body = s.method == "HEAD" || code == 204 || code == 304 ||
                   (s.parser->content_length() && *s.parser->content_length() == 0);
    submit(s, h2_response_fields(res), !no_body);
  }

  void respond_simple(Stream& s, int code) {
    submit(s, FieldList{{":status", std::to_string(code)}}, false);
    flush();
  }

  // HEADERS with `fields`; then DATA from the stream's body (read_body) or nothing.
  void submit(Stream& s, const FieldList& fields, bool body) {
    FieldViews views(fields.begin(), fields.end());
    submit(s, views, body);
  }
  void submit(Stream& s, const FieldViews& fields, bool body) {
    s.head_submitted = true;
    std::vector<nghttp2_nv> nv;
    nv.reserve(fields.size());
    for (const auto& [n, v] : fields)
      nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider provider{};
    provider.read_callback = &read_body;
    api_.submit_response(session_, s.id, nv.data(), nv.size(), body ? &provider : nullptr);
  }

  void reset(Stream& s) {
    api_.submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
    flush();
  }

  // A natively answered stream ended (sent, or reset): counted and logged like a Session's.
  void finish_native(Stream& s) {
    finish_request_log(ctx_, s.native->log, peer_.remote_addr,
                       [&s](std::string_view name) -> std::string_view {
                         for (const auto& [n, v] : s.headers)
                           if (iequals(n, name)) return v;
                         return {};
                       });
    s.native.reset();
  }

  // --- the client's socket ---

  // Waits for the socket to be readable, then reads into the I/O thread's own buffer and hands
  // the bytes to nghttp2 at once: an idle connection holds no read buffer of its own.
  void read() {
    if (closed_) return;
    socket_.async_wait(
        tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
          if (ec || self->closed_) return self->close();
          thread_local std::array<char, kReadChunk> buf;
          ssize_t n = ::recv(self->socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return self->read();
          if (n <= 0) return self->close();
          self->last_activity_ = std::chrono::steady_clock::now();
          self->in_nghttp2_ = true;
          ssize_t rv = self->api_.session_mem_recv(
              self->session_, reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(n));
          self->in_nghttp2_ = false;
          if (rv < 0) {
            log::debug("HTTP/2 from " + self->peer_.remote_addr + ": " + self->api_.strerror(rv));
            self->flush();
            return self->close_after_flush();
          }
          self->flush();
          self->read();
        });
  }

  void flush() {
    // Never from inside nghttp2's own calls (not reentrant): the caller flushes after them.
    if (closed_ || writing_ || in_nghttp2_) return;
    out_.clear();
    for (;;) {
      const uint8_t* data = nullptr;
      in_nghttp2_ = true;
      ssize_t n = api_.session_mem_send(session_, &data);
      in_nghttp2_ = false;
      if (n < 0) return close();
      if (n == 0) break;
      if (out_.empty() && !streams_.empty()) out_.reserve(kKeptOutput);
      out_.append(data, static_cast<std::size_t>(n));
      if (out_.size() >= kFlushBytes) break;
    }
    if (out_.empty()) {
      // An idle connection holds none; one with streams open keeps 16 KiB rather than grow it
      // anew each turn (the most a stalled client can make it hold between writes).
      if (out_.capacity() > (streams_.empty() ? 4096u : kKeptOutput)) out_.release();
      if (!api_.session_want_read(session_) && !api_.session_want_write(session_))
        close();
      else if (closing_)
        close();
      return;
    }
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    net::async_write(socket_, net::buffer(out_.data(), out_.size()),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (ec) return self->close();
                       self->last_activity_ = std::chrono::steady_clock::now();
                       if (self->stall_since_) self->stall_since_ = self->last_activity_;
                       self->flush();
                     });
  }

  // Closes once everything queued has been written (flush closes when it finds nothing left).
  void close_after_flush() {
    closing_ = true;
    flush();
  }

  void go_away() {
    if (closed_ || going_away_) return;
    going_away_ = true;
    api_.submit_goaway(session_, NGHTTP2_FLAG_NONE, api_.session_get_last_proc_stream_id(session_),
                       NGHTTP2_NO_ERROR, nullptr, 0);
    flush();
    maybe_finish();
  }

  void maybe_finish() {
    if (going_away_ && streams_.empty()) close_after_flush();
  }

  // Idle (no stream) beyond --keepalive-timeout, or no progress in writing for --io-timeout
  // (a client whose window stays shut), ends the connection.
  void arm_idle() {
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      auto now = std::chrono::steady_clock::now();
      const auto& o = self->ctx_.options;
      // A response waits for the client's flow-control window (or a write for the socket) and
      // nothing has gone out for --io-timeout: the client stopped reading.
      bool waiting = self->writing_;
      for (const auto& [id, s] : self->streams_)
        waiting = waiting || !s->body.empty() || (s->native && s->native->has_body) ||
                  (s->app && s->app->pending());
      if (!waiting) {
        self->stall_since_.reset();
      } else if (!self->stall_since_) {
        self->stall_since_ = now;
      } else if (now - *self->stall_since_ > std::chrono::seconds(o.io_timeout)) {
        log::debug("HTTP/2: " + self->peer_.remote_addr + " stopped reading: closed");
        return self->close();
      }
      if (self->streams_.empty() &&
          now - self->last_activity_ > std::chrono::seconds(std::max(1u, o.keepalive_timeout)))
        return self->go_away();
      self->arm_idle();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    for (auto& [id, s] : streams_) {
      if (s->inner) s->inner->close(ec);
      if (s->native) finish_native(*s);
      if (s->app) finish_app(*s);
    }
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    if (registered_) {
      registered_ = false;
      ctx_.remove(this);
    }
  }

  tcp::socket socket_;
  ServerContext& ctx_;
  net::steady_timer timer_;
  const Nghttp2Api& api_;
  StaticResponder responder_;
  PeerInfo peer_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::shared_ptr<Stream>> streams_;
  FrameBuffer out_;
  bool writing_ = false, closed_ = false, closing_ = false, going_away_ = false;
  bool registered_ = false;
  bool in_nghttp2_ = false;  // inside session_mem_recv/mem_send: their callbacks must not flush
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point write_started_;
  std::optional<std::chrono::steady_clock::time_point> stall_since_;  // waiting to send
};

}  // namespace

void start_h2_connection(tcp::socket socket, ServerContext& ctx, const PeerInfo* proxied) {
  std::make_shared<H2Connection>(std::move(socket), ctx)->run(proxied, false);
}

std::shared_ptr<Stoppable> start_inner_h2_connection(tcp::socket socket, ServerContext& ctx,
                                                     const PeerInfo& peer) {
  auto c = std::make_shared<H2Connection>(std::move(socket), ctx);
  c->run(&peer, true);
  return c;
}

}  // namespace w2p::server
