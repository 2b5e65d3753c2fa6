#include "server/net/response_channel.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <vector>

#include "server/fd_io.hpp"

namespace w2p::server {

namespace net = boost::asio;

void ChannelHub::add(ResponseChannel* c) {
  std::lock_guard lock(mutex_);
  channels_.insert(c);
}

void ChannelHub::remove(ResponseChannel* c) {
  std::lock_guard lock(mutex_);
  channels_.erase(c);
}

bool ChannelHub::stopped() {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void ChannelHub::stop() {
  std::vector<std::shared_ptr<ChannelClient>> released;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (ResponseChannel* c : channels_)
      if (auto client = c->detach()) released.push_back(std::move(client));
  }
  // Destroyed here (the last owners may be these), after the hub's lock is released.
  released.clear();
}

ResponseChannel::ResponseChannel(std::shared_ptr<ChannelHub> hub,
                                 std::shared_ptr<ChannelClient> client, CompressionOffer offer)
    : hub_(std::move(hub)), client_(std::move(client)), offer_(offer) {
  hub_->add(this);
  if (hub_->stopped()) detach();
}

ResponseChannel::~ResponseChannel() {
  // Out of the hub first: from then on nothing else can reach this channel.
  hub_->remove(this);
  std::lock_guard lock(mutex_);
  // A request dropped without a response (the queue shut down) must not leave the client
  // hanging.
  if (!finished_ && client_) {
    ResponsePart p;
    p.kind = ResponsePart::abort;
    net::post(client_->executor(),
              [c = client_, p = std::move(p)]() mutable { c->on_part(std::move(p)); });
  }
}

bool ResponseChannel::start(ResponseHead head, std::string body, bool last) {
  compressor_ =
      ResponseCompressor::start(offer_, head, last ? std::optional(body.size()) : std::nullopt);
  if (compressor_) {
    body = compressor_->compress(body, last);
    if (last) compressor_.reset();
  }
  ResponsePart p;
  p.kind = ResponsePart::start;
  p.head = std::move(head);
  p.data = std::move(body);
  p.last = last;
  return push(std::move(p));
}

bool ResponseChannel::body(std::string data, bool last) {
  if (compressor_) {
    data = compressor_->compress(data, last);
    if (last) compressor_.reset();
  }
  ResponsePart p;
  p.kind = ResponsePart::body;
  p.data = std::move(data);
  p.last = last;
  return push(std::move(p));
}

// The rest of a compressed body is a file (a file wrapper after streamed parts): read and
// compressed like the parts before it, so the encoding never changes in the middle of a body.
bool ResponseChannel::compressed_file(BodyFile f) {
  std::string chunk(64 * 1024, '\0');
  std::uint64_t left = f.length, offset = f.offset;
  bool ok = true;
  while (ok && left > 0) {
    ssize_t n = pread_all(f.fd, chunk.data(), std::min<std::uint64_t>(chunk.size(), left),
                          static_cast<off_t>(offset));
    if (n <= 0) break;
    left -= static_cast<std::uint64_t>(n);
    offset += static_cast<std::uint64_t>(n);
    ok = body(std::string(chunk.data(), static_cast<std::size_t>(n)), false);
  }
  ::close(f.fd);
  return ok && body({}, true);
}

bool ResponseChannel::file(BodyFile f) {
  if (compressor_) return compressed_file(f);
  ResponsePart p;
  p.kind = ResponsePart::file;
  p.file_body = f;
  p.last = true;
  return push(std::move(p));
}

bool ResponseChannel::start_file(ResponseHead head, BodyFile f) {
  ResponsePart p;
  p.kind = ResponsePart::start;
  p.head = std::move(head);
  p.file_body = f;
  p.last = true;
  return push(std::move(p));
}

void ResponseChannel::abort() {
  ResponsePart p;
  p.kind = ResponsePart::abort;
  p.last = true;
  push(std::move(p));
}

void ResponseChannel::expire(int status) {
  std::lock_guard lock(mutex_);
  if (finished_) return;  // the whole response is already on its way
  gone_ = true;
  finished_ = true;
  cv_.notify_all();
  if (client_) net::post(client_->executor(), [c = client_, status] { c->on_expired(status); });
}

void ResponseChannel::done(bool ok) {
  std::lock_guard lock(mutex_);
  busy_ = false;
  if (!ok) gone_ = true;
  cv_.notify_all();
}

std::shared_ptr<ChannelClient> ResponseChannel::detach() {
  std::lock_guard lock(mutex_);
  gone_ = true;
  cv_.notify_all();
  return std::move(client_);
}

bool ResponseChannel::push(ResponsePart p) {
  std::unique_lock lock(mutex_);
  if (finished_) return false;
  cv_.wait(lock, [&] { return !busy_ || gone_; });  // blocking-ok: a worker, never an I/O thread
  if (gone_ || !client_) {
    if (p.file_body.fd >= 0) ::close(p.file_body.fd);
    finished_ = finished_ || p.last;
    return false;
  }
  busy_ = true;
  if (p.last) finished_ = true;
  // Posted under the lock: detach() cannot take the client (and its io_context cannot go) in
  // between.
  net::post(client_->executor(),
            [c = client_, p = std::move(p)]() mutable { c->on_part(std::move(p)); });
  return true;
}

}  // namespace w2p::server
