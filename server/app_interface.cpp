#include "server/app_interface.hpp"

#include <unistd.h>

#include <utility>

namespace w2p::server {

RequestBody::RequestBody(RequestBody&& o) noexcept
    : memory(std::move(o.memory)), fd(std::exchange(o.fd, -1)), length(o.length) {}

RequestBody& RequestBody::operator=(RequestBody&& o) noexcept {
  if (this != &o) {
    if (fd >= 0) ::close(fd);
    memory = std::move(o.memory);
    fd = std::exchange(o.fd, -1);
    length = o.length;
  }
  return *this;
}

RequestBody::~RequestBody() {
  if (fd >= 0) ::close(fd);
}

}  // namespace w2p::server
