#include "server/net/h2_app.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/http/request_rules.hpp"
#include "server/http/trusted_proxy.hpp"
#include "server/net/server_context.hpp"

namespace w2p::server {

std::shared_ptr<AppRequest> h2_app_request(std::string_view method, std::string_view path,
                                           H2Routed& routed, const FieldList& headers,
                                           const PeerInfo& peer, bool has_content_length,
                                           const ServerContext& ctx) {
  auto req = std::make_shared<AppRequest>();
  req->method.assign(method);
  req->target.assign(path);
  req->path = std::move(routed.route.app_path);
  req->query = std::move(routed.route.app_query);
  req->version = 20;
  bool trusted = any_contains(ctx.options.trusted_proxies, peer.remote_addr);
  req->headers.reserve(headers.size() + 1);
  add_app_header(*req, "host", routed.verdict.host, trusted);  // :authority becomes Host
  std::string cookies;
  for (const auto& [n, v] : headers) {
    if (n == "host" || h2_hop_by_hop(n)) continue;
    if (n == "cookie") {  // split for HPACK, joined for the application (RFC 9113 8.2.3)
      cookies.append(cookies.empty() ? "" : "; ").append(v);
      continue;
    }
    add_app_header(*req, n, v, trusted);
  }
  if (!cookies.empty()) add_app_header(*req, "cookie", cookies, trusted);
  if (peer.https) req->https = true;
  req->remote_addr = peer.remote_addr;
  req->remote_port = peer.remote_port;
  // SERVER_NAME: the host the client asked for, without its port; else the local address.
  std::string_view host = host_without_port(routed.verdict.host);
  req->server_name = host.empty() ? peer.local_addr : std::string(host);
  req->server_port = ctx.options.public_port ? ctx.options.public_port : peer.local_port;
  req->has_content_length = has_content_length;
  return req;
}

void H2AppClient::on_part(ResponsePart part) {
  if (auto owner = owner_.lock())
    if (owner->app_part(id_, part)) return;
  // The stream or its connection is gone: the worker learns it from its next write.
  if (part.file_body.fd >= 0) ::close(part.file_body.fd);
  if (auto channel = channel_.lock()) channel->done(false);
}

void H2AppClient::on_expired(int status) {
  if (auto owner = owner_.lock()) owner->app_expired(id_, status);
}

H2AppResponse::H2AppResponse(bool head_request) {
  framing_.begin(20, head_request, true);
}

H2AppResponse::~H2AppResponse() {
  if (file_.fd >= 0) ::close(file_.fd);
}

H2AppResponse::Step H2AppResponse::take(ResponsePart part) {
  if (part.kind == ResponsePart::abort) {
    if (part.file_body.fd >= 0) ::close(part.file_body.fd);
    return Step::reset;
  }
  if (handoff) {
    // An X-Sendfile response: the application's own body is dropped; the file goes out once
    // the application is done.
    if (part.file_body.fd >= 0) ::close(part.file_body.fd);
    return part.last ? Step::handoff : Step::none;
  }
  AppFraming::Out out;
  bool start = part.kind == ResponsePart::start;
  if (start) {
    out =
        framing_.start_part(std::move(part.head), std::move(part.data), part.file_body, part.last);
    log.respond(out.status, 0, ServedBy::app);
    if (out.handoff) {
      handoff = std::move(out.handoff);
      return out.last ? Step::handoff : Step::none;
    }
    head.head = std::move(*out.head);
    head.content_length = out.content_length;
    head.make(true);
    has_body = !(out.last && out.bytes.empty() && out.file.fd < 0);
  } else if (part.kind == ResponsePart::body) {
    out = framing_.body(std::move(part.data), part.last);
  } else {
    out = framing_.file(part.file_body);
  }
  log.bytes += out.body_bytes;
  if (out.last && framing_.short_of_length()) {
    // Fewer bytes than the Content-Length promised: the stream is reset, never passed off as
    // complete.
    if (out.file.fd >= 0) ::close(out.file.fd);
    return Step::reset;
  }
  data_ = std::move(out.bytes);
  at_ = 0;
  if (file_.fd >= 0) ::close(file_.fd);
  file_ = out.file;
  last_ = out.last;
  drained_ = false;
  return start ? Step::headers : Step::data;
}

bool H2AppResponse::pending() const {
  return at_ < data_.size() || (file_.fd >= 0 && file_.length > 0);
}

ssize_t H2AppResponse::read(std::uint8_t* buf, std::size_t n, bool& eof, bool& drained) {
  std::size_t done = 0;
  if (at_ < data_.size()) {
    done = std::min(n, data_.size() - at_);
    std::memcpy(buf, data_.data() + at_, done);
    at_ += done;
  }
  while (done < n && at_ >= data_.size() && file_.fd >= 0 && file_.length > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, file_.length));
    ssize_t got = ::pread(file_.fd, buf + done, want, static_cast<off_t>(file_.offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;  // the file ended before its length: the stream is reset
    file_.offset += static_cast<std::uint64_t>(got);
    file_.length -= static_cast<std::uint64_t>(got);
    done += static_cast<std::size_t>(got);
  }
  if (at_ >= data_.size() && (file_.fd < 0 || file_.length == 0)) {
    // This part is all in frames.
    if (file_.fd >= 0) ::close(file_.fd);
    file_ = BodyFile{};
    std::string().swap(data_);
    at_ = 0;
    if (last_) {
      eof = true;
    } else if (!drained_) {
      drained_ = true;
      drained = true;
    }
  }
  return static_cast<ssize_t>(done);
}

}  // namespace w2p::server
