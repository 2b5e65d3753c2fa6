#pragma once
// Internal to server/net/: the HTTP/2 connection (one nghttp2_session, its streams and its
// socket), declared once for the two files that define it. h2_connection.cpp: the session's
// callbacks, the streams' start and the socket's read/write/timer loop; h2_streams.cpp: how a
// stream is answered when not from a file (the application without a Session, h2_app.hpp; or
// an HTTP/1.1 Session through a socket pair). One rule binds them: no nghttp2 call from inside
// another (in_nghttp2_); callbacks submit, the caller flushes after nghttp2 returns.
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

namespace w2p::server::h2 {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using local_socket = net::local::stream_protocol::socket;

constexpr std::size_t kStreamBuffer = 64 * 1024;  // decoded response bytes held per stream
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr unsigned kLingerSeconds = 2;  // the end of a connection (linger)
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr std::size_t kKeptOutput = 16 * 1024;  // output buffer kept while streams are open
constexpr std::size_t kFlushBytes = 64 * 1024;  // what one write gathers at most (about)
constexpr std::uint32_t kMaxStreams = 100;
// Streams a client may cancel: a burst, then so many a second (rapid reset, CVE-2023-44487).
// Browsers cancel a few on navigation; a loop of opened-and-cancelled streams is an attack.
constexpr std::uint64_t kResetBurst = 200;
constexpr std::uint64_t kResetRate = 33;

// One request: answered natively from a file (`native`), by the application without a Session
// (`app`), or by the HTTP/1.1 Session that serves it behind `inner`.
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
  void run(const PeerInfo* peer, bool inner);

  void shutdown() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->go_away(); });
  }

 private:
  bool make_session();

  static H2Connection& self(void* user) { return *static_cast<H2Connection*>(user); }

  // Acknowledges `n` received bytes (WINDOW_UPDATE) after nghttp2 has returned.
  void consume_later(std::int32_t id, std::size_t n);

  Stream* stream(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  std::shared_ptr<Stream> shared(const Stream& s) { return streams_.at(s.id); }

  // --- nghttp2 callbacks (all on this connection's strand: the I/O thread) ---

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user);

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user);

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user);

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                           void* user);

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* user);

  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user);

  // A DATA frame read_body left for us (NGHTTP2_DATA_FLAG_NO_COPY): its header, then its
  // payload read from the file into the output. A read that comes short fills the frame with
  // zeros (its length is already promised) and marks the stream, which read_body then resets:
  // it never ends as if complete.
  static int send_file_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                            size_t length, nghttp2_data_source*, void* user);

  // --- streams ---

  void start_stream(Stream& s);

  // --- the application, without a Session (h2_app.hpp) ---

  void start_app(Stream& s, H2Routed& routed);

  void spool(Stream& s, const uint8_t* data, std::size_t len);

  // The request is answered without its (rest of the) body, which is dropped as it comes.
  void refuse_body(Stream& s, int status);

  // Once nghttp2 has returned: a stream the same read already cancelled (rapid reset) never
  // reaches a worker.
  void dispatch_app_later(Stream& s);

  void dispatch_app(Stream& s);

  bool app_part(std::int32_t id, ResponsePart& part) override;

  void app_expired(std::int32_t id, int status) override;

  // X-Sendfile or X-Accel-Redirect: the file is served as a static one, with the request's
  // conditionals and ranges; anything else is the application's mistake (as over HTTP/1.1).
  void serve_handoff(Stream& s);

  // An application's stream ended (answered, reset, or the connection closed): the worker
  // learns it from its next write, and the request is counted and logged.
  void finish_app(Stream& s);

  void start_session(Stream& s);

  void write_inner(Stream& s);

  void read_inner(Stream& s);

  // Parses what the Session sent into the stream's body buffer (up to kStreamBuffer), submits
  // the head once it is complete, and wakes the stream's DATA frames.
  void pump(Stream& s);

  // One round of parsing; true when the parser needs more input than `s.in` holds.
  bool parse(Stream& s);

  void submit_head(Stream& s);

  void respond_simple(Stream& s, int code);

  // HEADERS with `fields`; then DATA from the stream's body (read_body) or nothing.
  void submit(Stream& s, const FieldList& fields, bool body);
  void submit(Stream& s, const FieldViews& fields, bool body, bool lasting = false);

  void reset(Stream& s);

  // A natively answered stream ended (sent, or reset): counted and logged like a Session's.
  void answer_route(Stream& s, H2Routed& routed);
  void answer_app_with(Stream& s, int status, const std::vector<Header>& extra = {});
  void answer_plan(Stream& s, FilePlan plan, RequestLog log);
  void finish_native(Stream& s);
  void finish_log(Stream& s, RequestLog& log);

  // --- the client's socket ---

  // Waits for the socket to be readable, then reads into the I/O thread's own buffer and hands
  // the bytes to nghttp2 at once: an idle connection holds no read buffer of its own.
  void read();

  void flush();

  // Closes once everything queued has been written (flush closes when it finds nothing left).
  void close_after_flush();
  void linger();

  void go_away();

  void maybe_finish();

  // Idle (no stream) beyond --keepalive-timeout, or no progress in writing for --io-timeout
  // (a client whose window stays shut), ends the connection.
  void arm_idle();

  void close();

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
  bool reading_ = false;     // a wait for the socket to be readable is pending
  bool lingering_ = false;   // the end: sending shut, what comes in dropped (linger)
  std::size_t lingered_ = 0;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point write_started_;
  std::optional<std::chrono::steady_clock::time_point> stall_since_;  // waiting to send
};

}  // namespace w2p::server::h2
