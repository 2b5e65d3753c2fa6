#include "server/net/request_plan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "server/http/response_head.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/log.hpp"
#include "server/net/server_context.hpp"
#include "server/ops/access_log.hpp"
#include "server/routing/site.hpp"

namespace w2p::server {

namespace http = boost::beast::http;

void fill_file_request(const http::request_header<>& msg, FileRequest& rq) {
  rq.get = msg.method() == http::verb::get;
  auto field = [&](http::field name) {
    auto v = msg[name];
    return std::string_view(v.data(), v.size());
  };
  rq.accept_encoding = field(http::field::accept_encoding);
  rq.range = field(http::field::range);
  rq.if_range = field(http::field::if_range);
  rq.if_match = field(http::field::if_match);
  rq.if_unmodified_since = field(http::field::if_unmodified_since);
  rq.if_none_match = field(http::field::if_none_match);
  rq.if_modified_since = field(http::field::if_modified_since);
}

std::optional<FilePlan> plan_static(StaticResponder& responder, const Route& r,
                                    const RequestVerdict& verdict, const FileRequest& rq) {
  if (r.kind == RouteKind::static_file)
    return responder.serve(r.dir, r.relative, *r.site, verdict.path, verdict.raw_path,
                           verdict.query, rq);
  if (r.kind != RouteKind::web2py_static) return std::nullopt;
  FilePlan plan;
  if (responder.serve_web2py(r.dir, r.relative, r.versioned, verdict.query, rq, plan)) return plan;
  // /favicon.ico: web2py's welcome keeps its icon in static/images/ (and web2py itself would
  // answer 400 for the URL).
  if (r.relative == "favicon.ico" &&
      responder.serve_web2py(r.dir, "images/favicon.ico", false, verdict.query, rq, plan))
    return plan;
  return std::nullopt;  // not a regular file: web2py answers it
}

namespace {

int make_temp_file(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string path = dir + "/w2pserve-body-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

bool spool_body(RequestBody& body, const char* data, std::size_t n, std::size_t threshold,
                const std::string& dir) {
  if (body.fd < 0 && body.memory.size() + n > threshold) {
    body.fd = make_temp_file(dir);
    if (body.fd < 0 || !write_all(body.fd, body.memory.data(), body.memory.size())) return false;
    body.memory.clear();
    body.memory.shrink_to_fit();
  }
  if (body.fd >= 0) {
    if (!write_all(body.fd, data, n)) return false;
  } else {
    body.memory.append(data, n);
  }
  body.length += n;
  return true;
}

void add_app_header(AppRequest& req, std::string_view name, std::string_view value,
                    bool trusted_peer) {
  if (!is_plain_header_name(name)) return;
  if (is_forwarding_header(name)) {
    // Anyone can send these; only a configured proxy is believed.
    if (!trusted_peer) return;
    if (iequals(name, "x-forwarded-proto") && iequals(value, "https")) req.https = true;
  }
  req.headers.push_back({std::string(name), std::string(value)});
}

CompressionOffer compression_offer(const ServerContext& ctx, const AppRequest& req,
                                   bool head_request) {
  CompressionOffer offer;
  if (!ctx.options.compress_responses || head_request) return offer;
  std::string accept_encoding;
  for (const auto& h : req.headers)
    if (iequals(h.name, "Accept-Encoding")) accept_encoding.append(h.value).append(",");
  offer.coding = choose_coding(accept_encoding);
  offer.types = &ctx.options.compress.types;
  offer.min_size = ctx.options.compress.min_size;
  return offer;
}

FilePlan plan_handoff(Handoff h, ServerContext& ctx, StaticResponder& responder,
                      const FileRequest& rq) {
  HandoffTarget t = resolve_handoff(h, ctx.options.x_sendfile_dirs, ctx.options.x_accel);
  if (t.error_status) {
    log::error(t.error);
    return StaticResponder::simple(t.error_status, rq);
  }
  auto f = ctx.files.open(t.dir, t.relative);
  if (f->status != OpenStatus::ok) {
    log::error(std::string(h.accel ? "X-Accel-Redirect " : "X-Sendfile ") + h.value + ": " +
               (f->status == OpenStatus::not_found ? "no such file"
                                                   : "not a regular file below " + t.dir));
    return StaticResponder::simple(f->status == OpenStatus::not_found ? 404 : 403, rq);
  }
  return responder.file(std::move(f), std::move(h.headers), rq);
}

void RequestLog::begin(bool access_log, std::string_view m, std::string_view t, unsigned v) {
  active = true;
  in_app = false;
  status = 0;
  bytes = 0;
  served = -1;
  site = nullptr;
  start = std::chrono::steady_clock::now();
  if (access_log) {
    when = std::time(nullptr);
    method.assign(m);
    target.assign(t);
    version = v;
  }
}

void RequestLog::respond(int s, std::uint64_t b, ServedBy by) {
  if (!active) return;
  status = s;
  bytes = b;
  served = static_cast<int>(by);
}

void finish_request_log(ServerContext& ctx, RequestLog& log, std::string_view remote,
                        const std::function<std::string_view(std::string_view)>& header) {
  log.active = false;
  if (log.in_app) {
    log.in_app = false;
    ctx.stats.in_app.fetch_sub(1, std::memory_order_relaxed);
  }
  auto micros = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - log.start)
                                               .count());
  // Application and redirect answers count as such; anything else unanswered or failed is an
  // error.
  ServedBy by = ServedBy::error;
  if (log.served == static_cast<int>(ServedBy::app) ||
      log.served == static_cast<int>(ServedBy::redirect) ||
      (log.served >= 0 && log.status != 0 && log.status < 400))
    by = static_cast<ServedBy>(log.served);
  ctx.stats.record(by, log.bytes, micros);
  if (!ctx.access_log) return;
  AccessRecord r;
  r.remote = remote;
  r.method = log.method;
  r.target = log.target;
  r.version = log.version;
  r.status = log.status;
  r.bytes = log.bytes;
  r.micros = micros;
  r.served = log.served < 0 ? std::string_view() : served_name(static_cast<ServedBy>(log.served));
  r.site = log.site ? std::string_view(log.site->spec.name) : std::string_view();
  r.when = log.when;
  r.header = header;
  ctx.access_log->write(r);
}

}  // namespace w2p::server
