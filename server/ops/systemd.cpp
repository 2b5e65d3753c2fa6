#include "server/ops/systemd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace w2p::server::systemd {

bool notify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return true;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket
  // Non-blocking: called on the I/O thread, which must never wait on systemd.
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  ssize_t n =
      ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  ::close(fd);
  return n == static_cast<ssize_t>(state.size());
}

std::chrono::microseconds watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (!usec) return std::chrono::microseconds(0);
  if (pid && std::strtol(pid, nullptr, 10) != ::getpid()) return std::chrono::microseconds(0);
  return std::chrono::microseconds(std::strtoull(usec, nullptr, 10));
}

std::vector<int> take_listen_fds() {
  std::vector<int> fds;
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  if (pid && count && std::strtol(pid, nullptr, 10) == ::getpid()) {
    long n = std::strtol(count, nullptr, 10);
    for (long i = 0; i < n && i < 64; ++i) {
      int fd = 3 + static_cast<int>(i);
      if (::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) fds.push_back(fd);
    }
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return fds;
}

bool pass_listen_fds(const std::vector<int>& fds) {
  // First out of the way (above any target number), then into place: no fd is overwritten
  // before it was moved.
  std::vector<int> high;
  for (int fd : fds) {
    int h = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (h < 0) return false;
    high.push_back(h);
    ::close(fd);
  }
  for (std::size_t i = 0; i < high.size(); ++i) {
    int target = 3 + static_cast<int>(i);
    if (::dup2(high[i], target) < 0) return false;  // dup2 clears FD_CLOEXEC on target
    ::close(high[i]);
  }
  std::string n = std::to_string(fds.size());
  std::string pid = std::to_string(::getpid());
  return ::setenv("LISTEN_FDS", n.c_str(), 1) == 0 && ::setenv("LISTEN_PID", pid.c_str(), 1) == 0;
}

}  // namespace w2p::server::systemd
