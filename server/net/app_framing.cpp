#include "server/net/app_framing.hpp"

#include <unistd.h>

#include <charconv>
#include <vector>

#include "server/log.hpp"

namespace w2p::server {

namespace {

void append_hex(std::string& out, std::uint64_t n) {
  char hex[20];
  auto r = std::to_chars(hex, hex + sizeof hex, n, 16);
  out.append(hex, r.ptr);
  out.append("\r\n");
}

}  // namespace

void AppFraming::begin(unsigned version, bool head_request, bool keep_alive) {
  version_ = version;
  head_request_ = head_request;
  keep_alive_ = keep_alive;
  framing_ = Framing::none;
  has_length_ = false;
  length_left_ = 0;
}

AppFraming::Out AppFraming::start(ResponseHead head, std::string data, bool last) {
  return this->head(std::move(head), std::move(data), last, std::nullopt);
}

AppFraming::Out AppFraming::start_file(ResponseHead h, BodyFile f) {
  Out out = head(std::move(h), {}, false, f.length);
  if (out.handoff) {
    ::close(f.fd);  // the hand-off's file replaces the application's
    out.last = true;
    return out;
  }
  Out body = file(f);
  out.bytes.append(body.bytes);
  out.file = body.file;
  out.file_chunked = body.file_chunked;
  out.body_bytes = body.body_bytes;
  out.last = true;
  return out;
}

AppFraming::Out AppFraming::head(ResponseHead head, std::string data, bool last,
                                 std::optional<std::uint64_t> file_length) {
  // The server owns framing and connection management: take those headers out.
  std::optional<std::uint64_t> app_length;
  bool bad_length = false;
  std::vector<Header> kept;
  kept.reserve(head.headers.size());
  std::optional<Handoff> handoff;
  for (auto& h : head.headers) {
    if (iequals(h.name, "x-sendfile") || iequals(h.name, "x-accel-redirect")) {
      handoff = Handoff{iequals(h.name, "x-accel-redirect"), std::move(h.value), {}, 200};
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
      if (iequals(h.name, "connection") && list_has_token(h.value, "close")) keep_alive_ = false;
      continue;
    }
    kept.push_back(std::move(h));
  }
  Out out;
  out.status = head.status;
  if (handoff) {
    // The file's own validators, length and ranges replace whatever the application said.
    std::erase_if(kept, [](const Header& h) {
      return iequals(h.name, "etag") || iequals(h.name, "last-modified") ||
             iequals(h.name, "accept-ranges") || iequals(h.name, "content-range") ||
             iequals(h.name, "content-encoding");
    });
    handoff->headers = std::move(kept);
    handoff->status = head.status;
    out.handoff = std::move(handoff);
    out.last = last;
    return out;
  }
  head.headers = std::move(kept);
  if (bad_length) {
    log::warn("application sent an invalid Content-Length; ignoring it");
    app_length.reset();
  }
  std::uint64_t length = 0;
  if (status_has_no_body(head.status)) {
    framing_ = Framing::none;
    data.clear();
    last = true;
  } else if (app_length) {
    framing_ = Framing::content_length;
    length = *app_length;
  } else if (file_length) {
    framing_ = Framing::content_length;
    length = *file_length;
  } else if (last) {
    framing_ = Framing::content_length;
    length = data.size();
  } else if (version_ == 11) {
    framing_ = Framing::chunked;
  } else if (version_ == 20) {
    framing_ = Framing::close_delimited;  // DATA frames until END_STREAM: no framing at all
  } else {
    framing_ = Framing::close_delimited;
    keep_alive_ = false;
  }
  has_length_ = framing_ == Framing::content_length && !head_request_;
  length_left_ = has_length_ ? length : 0;
  // A HEAD response has no body to frame; send no length at all.
  if (head_request_ && framing_ == Framing::chunked) framing_ = Framing::none;
  if (version_ == 20) {
    if (framing_ == Framing::content_length) out.content_length = length;
    out.head = std::move(head);
  } else {
    serialize_head(out.bytes, version_, head, framing_, length, keep_alive_);
  }
  Out body_out = frame(data, last);
  out.bytes.append(body_out.bytes);
  out.body_bytes = body_out.body_bytes;
  out.last = body_out.last;
  return out;
}

AppFraming::Out AppFraming::body(std::string data, bool last) {
  return frame(data, last);
}

AppFraming::Out AppFraming::frame(std::string_view data, bool last) {
  Out out;
  out.last = last;
  if (head_request_ || framing_ == Framing::none) return out;
  out.body_bytes = data.size();
  if (has_length_) {
    if (data.size() > length_left_) {
      log::warn("application sent more bytes than its Content-Length; extra bytes dropped");
      data = data.substr(0, length_left_);
    }
    length_left_ -= data.size();
    out.bytes.append(data);
    if (last && length_left_ > 0)
      log::warn("application sent fewer bytes than its Content-Length; closing the connection");
  } else if (framing_ == Framing::chunked) {
    if (!data.empty()) {
      append_hex(out.bytes, data.size());
      out.bytes.append(data);
      out.bytes.append("\r\n");
    }
    if (last) out.bytes.append("0\r\n\r\n");
  } else {
    out.bytes.append(data);
  }
  return out;
}

AppFraming::Out AppFraming::file(BodyFile f) {
  Out out;
  out.last = true;
  if (head_request_ || framing_ == Framing::none) {
    ::close(f.fd);
    return out;
  }
  if (has_length_) {
    // Never more than promised; fewer ends the connection (keep_alive() says so).
    if (f.length > length_left_) f.length = length_left_;
    length_left_ -= f.length;
  } else if (framing_ == Framing::chunked && f.length > 0) {
    append_hex(out.bytes, f.length);
    out.file_chunked = true;
  }
  out.body_bytes = f.length;
  if (f.length == 0) {
    ::close(f.fd);
    if (framing_ == Framing::chunked) out.bytes.append("0\r\n\r\n");
    return out;
  }
  out.file = f;
  return out;
}

}  // namespace w2p::server
