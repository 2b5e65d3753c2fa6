// The HTTP/2 connection (h2_connection_impl.hpp): nghttp2's callbacks, a stream's start (a
// file's answer, the application, or a Session), and the socket's read/write/timer loop. What
// stands alone lives elsewhere: the HTTP/1.1 translation (h2_translate.cpp), static answers
// (h2_static.cpp), the application's streams and the Session bridge (h2_streams.cpp,
// h2_app.cpp) and the h2c preface sniffing (h2c_sniffer.cpp).
#include "server/net/h2_connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "server/log.hpp"
#include "server/net/h2_connection_impl.hpp"

namespace w2p::server {
namespace h2 {

// `peer`: the client when the socket does not say it; `inner`: behind TLS, whose layer is
// the registered connection.
void H2Connection::run(const PeerInfo* peer, bool inner) {
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

bool H2Connection::make_session() {
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

// Acknowledges `n` received bytes (WINDOW_UPDATE) after nghttp2 has returned.
void H2Connection::consume_later(std::int32_t id, std::size_t n) {
  net::post(socket_.get_executor(), [self = shared_from_this(), id, n] {
    if (self->closed_) return;
    self->api_.session_consume(self->session_, id, n);
    self->flush();
  });
}

int H2Connection::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto& c = self(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  if (c.going_away_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  c.streams_[frame->hd.stream_id] = std::make_shared<Stream>(frame->hd.stream_id);
  return 0;
}

int H2Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                            size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                            void* user) {
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

int H2Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
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

int H2Connection::on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data,
                                size_t len, void* user) {
  auto& c = self(user);
  Stream* s = c.stream(id);
  if (s && s->request) {  // the application's (refused bodies: no request any more)
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

int H2Connection::on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
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

ssize_t H2Connection::read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
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
int H2Connection::send_file_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
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

void H2Connection::start_stream(Stream& s) {
  if (s.too_large) return respond_simple(s, 431);
  if (s.method.empty() || (s.method != "CONNECT" && s.path.empty())) return reset(s);
  if (s.method == "CONNECT") return respond_simple(s, 405);
  if (auto routed = h2_route(s.method, s.path, s.authority, s.headers, !s.request_end, ctx_)) {
    if (s.request_end && !s.has_length) {
      s.native = h2_static_answer(s.method, s.path, *routed, s.headers, ctx_, responder_);
      if (s.native) {
        submit(s, s.native->head.fields, s.native->has_body, true);
        return;
      }
    }
    RouteKind kind = routed->route.kind;
    if (kind == RouteKind::application && ctx_.app) return start_app(s, *routed);
    if (kind == RouteKind::redirect || kind == RouteKind::error ||
        (kind == RouteKind::application && !ctx_.app))
      return answer_route(s, *routed);
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

void H2Connection::respond_simple(Stream& s, int code) {
  submit(s, FieldList{{":status", std::to_string(code)}}, false);
  flush();
}

// HEADERS with `fields`; then DATA from the stream's body (read_body) or nothing.
void H2Connection::submit(Stream& s, const FieldList& fields, bool body) {
  FieldViews views(fields.begin(), fields.end());
  submit(s, views, body);
}

void H2Connection::submit(Stream& s, const FieldViews& fields, bool body, bool lasting) {
  s.head_submitted = true;
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  // `lasting`: what the fields point into lives as long as the stream (an H2Head), so nghttp2
  // need not copy them.
  std::uint8_t flags =
      lasting ? NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE : NGHTTP2_NV_FLAG_NONE;
  for (const auto& [n, v] : fields)
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                  flags});
  nghttp2_data_provider provider{};
  provider.read_callback = &read_body;
  api_.submit_response(session_, s.id, nv.data(), nv.size(), body ? &provider : nullptr);
}

void H2Connection::reset(Stream& s) {
  api_.submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
  flush();
}

// Waits for the socket to be readable, then reads into the I/O thread's own buffer and hands
// the bytes to nghttp2 at once: an idle connection holds no read buffer of its own.
void H2Connection::read() {
  if (closed_ || reading_) return;
  reading_ = true;
  socket_.async_wait(
      tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
        self->reading_ = false;
        if (ec || self->closed_) return self->close();
        thread_local std::array<char, kReadChunk> buf;
        ssize_t n = ::recv(self->socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
          return self->read();
        if (n <= 0) return self->close();
        if (self->lingering_) {  // dropped (see linger)
          self->lingered_ += static_cast<std::size_t>(n);
          return self->lingered_ > kLingerBytes ? self->close() : self->read();
        }
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

void H2Connection::flush() {
  // Never from inside nghttp2's own calls (not reentrant): the caller flushes after them.
  if (closed_ || writing_ || in_nghttp2_ || lingering_) return;
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
    if (closing_ || (!api_.session_want_read(session_) && !api_.session_want_write(session_)))
      linger();
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
void H2Connection::close_after_flush() {
  closing_ = true;
  flush();
}

// Everything is said (a GOAWAY sent and its streams done, or an error told): the sending side
// is shut, and what the client still sends is read and dropped for a moment (at most
// kLingerSeconds and kLingerBytes) before the socket closes. Closing at once would answer a
// request already on its way with a TCP reset, which can destroy the GOAWAY still unread in the
// client's buffer: the client could not tell that its request was never processed and is safe
// to send again (RFC 9113 6.8). HTTP/1.1 Sessions linger the same way.
void H2Connection::linger() {
  if (closed_ || lingering_) return;
  lingering_ = true;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  timer_.expires_after(std::chrono::seconds(kLingerSeconds));
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec != net::error::operation_aborted) self->close();
  });
  read();
}

void H2Connection::go_away() {
  if (closed_ || going_away_) return;
  going_away_ = true;
  api_.submit_goaway(session_, NGHTTP2_FLAG_NONE, api_.session_get_last_proc_stream_id(session_),
                     NGHTTP2_NO_ERROR, nullptr, 0);
  flush();
  maybe_finish();
}

void H2Connection::maybe_finish() {
  if (going_away_ && streams_.empty()) close_after_flush();
}

// Idle (no stream) beyond --keepalive-timeout, or no progress in writing for --io-timeout
// (a client whose window stays shut), ends the connection.
void H2Connection::arm_idle() {
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed_ || self->lingering_) return;
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

void H2Connection::close() {
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

}  // namespace h2

void start_h2_connection(h2::tcp::socket socket, ServerContext& ctx, const PeerInfo* proxied) {
  std::make_shared<h2::H2Connection>(std::move(socket), ctx)->run(proxied, false);
}

std::shared_ptr<Stoppable> start_inner_h2_connection(h2::tcp::socket socket, ServerContext& ctx,
                                                     const PeerInfo& peer) {
  auto c = std::make_shared<h2::H2Connection>(std::move(socket), ctx);
  c->run(&peer, true);
  return c;
}

}  // namespace w2p::server
