#include "server/net/h2_static.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

std::unique_ptr<H2StaticAnswer> h2_static_answer(std::string_view method, std::string_view path,
                                                 std::string_view authority,
                                                 const FieldList& headers, ServerContext& ctx,
                                                 StaticResponder& responder) {
  if (method != "GET" && method != "HEAD") return nullptr;
  // The head as an HTTP/1.1 Session would see it, for the same checks and routing.
  http::request_header<> msg;
  msg.method_string(method);
  msg.target(path);
  msg.version(11);
  if (!authority.empty()) msg.set(http::field::host, authority);
  for (const auto& [n, v] : headers) {
    if (n == "host" && !authority.empty()) continue;
    if (n == "content-length" || n == "transfer-encoding") return nullptr;
    msg.insert(n, v);
  }
  const auto& o = ctx.options;
  RequestVerdict verdict = check_request_head(msg, false, boost::none, o.max_uri);
  // Refusals, OPTIONS * and the like: the Session's answers, with their rules.
  if (verdict.status != 0 || verdict.asterisk || verdict.has_body) return nullptr;
  RouteRequest rq;
  rq.get_or_head = true;
  rq.host = verdict.host;
  rq.raw_path = verdict.raw_path;
  rq.path = verdict.path;
  rq.query = verdict.query;
  Route r = route(rq, ctx.route);
  if (r.kind != RouteKind::static_file && r.kind != RouteKind::web2py_static) return nullptr;
  FileRequest frq;
  frq.head = method == "HEAD";
  fill_file_request(msg, frq);
  auto plan = plan_static(responder, r, verdict, frq);
  if (!plan || plan->close) return nullptr;  // web2py's, or a file that shrank: the Session's

  // The plan's HTTP/1.1 head becomes the HEADERS frame's fields; what follows it is body.
  std::size_t head_end = plan->out.find("\r\n\r\n");
  if (head_end == std::string::npos) return nullptr;
  // The head's names are lower-cased in place; the fields point into the plan's text, which
  // goes on with the body (no copy of a small file's bytes).
  auto a = std::make_unique<H2StaticAnswer>();
  a->text = std::move(plan->out);
  a->text_at = head_end + 4;
  if (!h2_response_fields_in_place(a->text, a->fields)) return nullptr;
  a->file = std::move(plan->file);
  a->offset = plan->offset;
  a->length = a->file ? plan->length : 0;
  a->segments = std::move(plan->segments);
  a->has_body = !frq.head && (a->text_at < a->text.size() || a->length > 0 || !a->segments.empty());
  if (!a->has_body) {
    a->file.reset();
    a->text_at = a->text.size();
    a->segments.clear();
    a->length = 0;
  }
  ctx.requests.fetch_add(1, std::memory_order_relaxed);
  if (r.site) r.site->requests.fetch_add(1, std::memory_order_relaxed);
  a->log.begin(ctx.access_log != nullptr, method, path, 20);
  a->log.site = r.site;
  a->log.respond(plan->status, 0,
                 plan->error      ? ServedBy::error
                 : plan->redirect ? ServedBy::redirect
                                  : ServedBy::static_file);
  return a;
}

}  // namespace w2p::server
