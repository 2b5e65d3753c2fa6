#include "server/net/h2_static.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "server/http/http_date.hpp"
#include "server/http/response_head.hpp"
#include "server/net/server_context.hpp"
#include "server/routing/site.hpp"

namespace w2p::server {

namespace http = boost::beast::http;

ssize_t H2StaticAnswer::read(std::uint8_t* buf, std::size_t n, bool& eof) {
  std::size_t done = 0;
  while (done < n) {
    if (text_at < text.size()) {
      std::size_t k = std::min(n - done, text.size() - text_at);
      std::memcpy(buf + done, text.data() + text_at, k);
      text_at += k;
      done += k;
      continue;
    }
    if (length > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, length));
      ssize_t got = ::pread(file->fd, buf + done, want, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return -1;  // the file shrank (or failed) under us
      offset += static_cast<std::uint64_t>(got);
      length -= static_cast<std::uint64_t>(got);
      done += static_cast<std::size_t>(got);
      continue;
    }
    if (segments.empty()) break;
    // The next part of a multipart/byteranges body: its head, then its bytes.
    FilePlan::Segment next = std::move(segments.front());
    segments.erase(segments.begin());
    text = std::move(next.text);
    text_at = 0;
    offset = next.offset;
    length = next.length;
  }
  eof = text_at >= text.size() && length == 0 && segments.empty();
  if (eof) {
    file.reset();  // back to the fd cache at once
    std::string().swap(text);
  }
  log.bytes += done;
  return static_cast<ssize_t>(done);
}

namespace {

// The first field called `name` (lower case, as HTTP/2 has them), or "".
std::string_view field(const FieldList& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

}  // namespace

std::uint64_t H2StaticAnswer::remaining() const {
  std::uint64_t n = text.size() - text_at + length;
  for (const auto& part : segments) n += part.text.size() + part.length;
  return n;
}

FileRequest h2_file_request(std::string_view method, const FieldList& headers) {
  FileRequest frq;
  frq.h2 = true;
  frq.head = method == "HEAD";
  frq.get = method == "GET";
  frq.accept_encoding = field(headers, "accept-encoding");
  frq.range = field(headers, "range");
  frq.if_range = field(headers, "if-range");
  frq.if_match = field(headers, "if-match");
  frq.if_unmodified_since = field(headers, "if-unmodified-since");
  frq.if_none_match = field(headers, "if-none-match");
  frq.if_modified_since = field(headers, "if-modified-since");
  return frq;
}

RequestLog h2_request_log(ServerContext& ctx, const Site* site, std::string_view method,
                          std::string_view path) {
  ctx.requests.fetch_add(1, std::memory_order_relaxed);
  if (site) site->requests.fetch_add(1, std::memory_order_relaxed);
  RequestLog log;
  log.begin(ctx.access_log != nullptr, method, path, 20);
  log.site = site;
  return log;
}

std::unique_ptr<H2StaticAnswer> h2_answer(FilePlan plan, bool head_request, RequestLog log) {
  auto a = std::make_unique<H2StaticAnswer>();
  a->log = std::move(log);
  a->head.head = std::move(plan.head);
  a->head.content_length = plan.content_length;
  a->head.make(false);
  a->text = std::move(plan.out);
  a->text_at = 0;
  a->file = std::move(plan.file);
  a->offset = plan.offset;
  a->length = a->file ? plan.length : 0;
  a->segments = std::move(plan.segments);
  a->has_body = !head_request && (!a->text.empty() || a->length > 0 || !a->segments.empty());
  if (!a->has_body) {
    a->file.reset();
    a->text_at = a->text.size();
    a->segments.clear();
    a->length = 0;
  }
  a->log.respond(plan.status, 0,
                 plan.error      ? ServedBy::error
                 : plan.redirect ? ServedBy::redirect
                                 : ServedBy::static_file);
  return a;
}

std::optional<H2Routed> h2_route(std::string_view method, std::string_view path,
                                 std::string_view authority, const FieldList& headers,
                                 bool has_body, ServerContext& ctx) {
  // The checks an HTTP/1.1 Session makes of its head, on the fields as they are. What they
  // would refuse (and anything unusual: several or no hosts, too many fields) is left to a
  // Session, which answers it with its own rules.
  const auto& o = ctx.options;
  if (path.size() > o.max_uri || headers.size() > kMaxHeaderFields) return std::nullopt;
  std::string_view host = authority;
  std::size_t hosts = authority.empty() ? 0 : 1;
  for (const auto& [n, v] : headers) {
    if (n == "transfer-encoding") return std::nullopt;
    if (n == "host" && authority.empty()) {
      host = v;
      ++hosts;
    }
  }
  if (hosts != 1 || !valid_authority(host)) return std::nullopt;
  H2Routed routed;
  RequestVerdict& verdict = routed.verdict;
  if (!check_target(path, false, verdict) || verdict.absolute_form) return std::nullopt;
  // What a Session answers before routing (the health path, ACME's HTTP-01 tokens) or decides
  // from the peer (the status page): its own.
  if (!o.health_path.empty() && verdict.path == o.health_path) return std::nullopt;
  if (!ctx.route.status_path.empty() && verdict.path == ctx.route.status_path) return std::nullopt;
  if (ctx.acme_challenge && verdict.path.starts_with("/.well-known/acme-challenge/"))
    return std::nullopt;
  verdict.host.assign(host);
  verdict.has_body = has_body;
  RouteRequest rq;
  rq.get_or_head = method == "GET" || method == "HEAD";
  rq.has_body = has_body;
  rq.host = verdict.host;
  rq.raw_path = verdict.raw_path;
  rq.path = verdict.path;
  rq.query = verdict.query;
  routed.route = route(rq, ctx.route);
  return routed;
}

std::unique_ptr<H2StaticAnswer> h2_static_answer(std::string_view method, std::string_view path,
                                                 H2Routed& routed, const FieldList& headers,
                                                 ServerContext& ctx, StaticResponder& responder) {
  if (method != "GET" && method != "HEAD") return nullptr;
  const Route& r = routed.route;
  if (r.kind != RouteKind::static_file && r.kind != RouteKind::web2py_static) return nullptr;
  const RequestVerdict& verdict = routed.verdict;
  FileRequest frq = h2_file_request(method, headers);
  auto plan = plan_static(responder, r, verdict, frq);
  if (!plan || plan->close) return nullptr;  // web2py's, or a file that shrank: the Session's
  return h2_answer(std::move(*plan), frq.head, h2_request_log(ctx, r.site, method, path));
}

}  // namespace w2p::server
