// How an HTTP/2 stream is answered when not from a file (h2_connection_impl.hpp): by the
// application without a Session (h2_app.hpp: the request from the stream's fields, its body
// spooled, the worker's parts as DATA frames), or by an HTTP/1.1 Session through a socket pair
// for what only a Session answers (redirects, errors, the status page, refused heads).
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "server/log.hpp"
#include "server/net/h2_connection_impl.hpp"

namespace w2p::server::h2 {

void H2Connection::start_app(Stream& s, H2Routed& routed) {
  s.app = std::make_unique<H2AppResponse>(s.method == "HEAD");
  s.app->log = h2_request_log(ctx_, routed.route.site, s.method, s.path);
  s.request = h2_app_request(s.method, s.path, routed, s.headers, peer_,
                             !s.request_end || s.has_length, ctx_);
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

void H2Connection::spool(Stream& s, const uint8_t* data, std::size_t len) {
  const auto& o = ctx_.options;
  if (s.request->body.length + len > o.max_body) return refuse_body(s, 413);
  if (!spool_body(s.request->body, reinterpret_cast<const char*>(data), len, o.spool_threshold,
                  o.tmp_dir)) {
    log::error("cannot spool a request body to " + o.tmp_dir + ": " + std::strerror(errno));
    refuse_body(s, 500);
  }
}

// The request is answered without its (rest of the) body, which is dropped as it comes.
void H2Connection::refuse_body(Stream& s, int status) {
  s.request.reset();
  s.body_refused = true;
  answer_app_with(s, status);
}

// The application's stream answered by the server instead (a refused body, a full queue, a
// timeout): the status page a Session would send, logged as the stream's request.
void H2Connection::answer_app_with(Stream& s, int status, const std::vector<Header>& extra) {
  s.channel.reset();
  RequestLog log = std::move(s.app->log);
  s.app.reset();
  FileRequest frq = h2_file_request(s.method, s.headers);
  answer_plan(s, StaticResponder::simple(status, frq, extra), std::move(log));
}

// A plan (a file's, a status page's) as the stream's answer. Its flush may end the stream (and
// free it): the caller touches `s` no more.
void H2Connection::answer_plan(Stream& s, FilePlan plan, RequestLog log) {
  s.native = h2_answer(std::move(plan), s.method == "HEAD", std::move(log));
  submit(s, s.native->head.fields, s.native->has_body, true);
  flush();  // nothing while inside nghttp2: its caller flushes then
}

// Once nghttp2 has returned: a stream the same read already cancelled (rapid reset) never
// reaches a worker.
void H2Connection::dispatch_app_later(Stream& s) {
  net::post(socket_.get_executor(), [self = shared_from_this(), sp = shared(s)] {
    if (!sp->closed && !self->closed_ && sp->request) self->dispatch_app(*sp);
  });
}

void H2Connection::dispatch_app(Stream& s) {
  std::shared_ptr<AppRequest> req = std::move(s.request);
  auto client = std::make_shared<H2AppClient>(socket_.get_executor(),
                                              std::weak_ptr<H2AppOwner>(shared_from_this()), s.id);
  s.channel = std::make_shared<ResponseChannel>(ctx_.channels, client,
                                                compression_offer(ctx_, *req, s.method == "HEAD"));
  client->set_channel(s.channel);
  s.app->log.in_app = true;
  ctx_.stats.in_app.fetch_add(1, std::memory_order_relaxed);
  if (ctx_.app->submit(req, s.channel)) return;
  s.app->log.in_app = false;
  ctx_.stats.in_app.fetch_sub(1, std::memory_order_relaxed);
  log::warn("request queue full: 503 for " + req->method + " " + req->target);
  answer_app_with(s, 503, {{"Retry-After", "1"}});  // the channel's abort finds no stream
}

bool H2Connection::app_part(std::int32_t id, ResponsePart& part) {
  Stream* s = closed_ ? nullptr : stream(id);
  if (!s || !s->channel || !s->app) return false;
  switch (s->app->take(std::move(part))) {
    case H2AppResponse::Step::none:
      s->channel->done(true);
      break;
    case H2AppResponse::Step::headers:
      submit(*s, s->app->head.fields, s->app->has_body, true);
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

void H2Connection::app_expired(std::int32_t id, int status) {
  Stream* s = closed_ ? nullptr : stream(id);
  if (!s || !s->app) return;
  if (s->head_submitted) {  // part of the response went out already
    s->channel.reset();
    return reset(*s);
  }
  answer_app_with(*s, status);
}

// X-Sendfile or X-Accel-Redirect: the file is served as a static one (plan_handoff, as a
// Session serves it).
void H2Connection::serve_handoff(Stream& s) {
  FilePlan plan = plan_handoff(std::move(*s.app->handoff), ctx_, responder_,
                               h2_file_request(s.method, s.headers));
  RequestLog log = std::move(s.app->log);
  s.app.reset();
  answer_plan(s, std::move(plan), std::move(log));
}

// An application's stream ended (answered, reset, or the connection closed): the worker
// learns it from its next write, and the request is counted and logged.
void H2Connection::finish_app(Stream& s) {
  if (s.channel) s.channel->done(false);
  s.channel.reset();
  s.request.reset();
  finish_log(s, s.app->log);
  s.app.reset();
}

void H2Connection::start_session(Stream& s) {
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

void H2Connection::write_inner(Stream& s) {
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

void H2Connection::read_inner(Stream& s) {
  if (s.reading || s.closed || s.body_end || s.inner_eof || s.body.size() >= kStreamBuffer) return;
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
void H2Connection::pump(Stream& s) {
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
bool H2Connection::parse(Stream& s) {
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

void H2Connection::submit_head(Stream& s) {
  const auto& res = s.parser->get();
  int code = res.result_int();
  bool no_body = s.method == "HEAD" || code == 204 || code == 304 ||
                 (s.parser->content_length() && *s.parser->content_length() == 0);
  submit(s, h2_response_fields(res), !no_body);
}

// The routing's own answers (its redirects, its refusals, 404 without an application), as a
// Session gives them: a small page with the route's headers. A request body is not read (the
// connection drops its DATA and gives the window back).
void H2Connection::answer_route(Stream& s, H2Routed& routed) {
  const Route& r = routed.route;
  if (r.kind == RouteKind::error && !r.log.empty())
    log::error(r.log + " (" + peer_.remote_addr + " " + s.method + " " + routed.verdict.raw_path +
               ")");
  int status = r.kind == RouteKind::application ? 404 : r.status;
  FileRequest frq = h2_file_request(s.method, s.headers);
  answer_plan(s, StaticResponder::simple(status, frq, r.headers),
              h2_request_log(ctx_, r.site, s.method, s.path));
}

// A natively answered stream ended (sent, or reset): counted and logged like a Session's.
void H2Connection::finish_native(Stream& s) {
  finish_log(s, s.native->log);
  s.native.reset();
}

// Counted in the statistics and written to the access log (its %{NAME}i from the stream's
// request fields).
void H2Connection::finish_log(Stream& s, RequestLog& log) {
  finish_request_log(ctx_, log, peer_.remote_addr, [&s](std::string_view name) -> std::string_view {
    for (const auto& [n, v] : s.headers)
      if (iequals(n, name)) return v;
    return {};
  });
}

}  // namespace w2p::server::h2
