// `w2pserve memory-report [URL]`: fetches a running server's memory table
// (/server-status?format=memory) over plain HTTP and prints it. A short-lived command, so plain
// blocking sockets with a timeout.

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "cmd/commands.hpp"

namespace w2p::cmd {
namespace {

struct Url {
  std::string host, port, path;
};

bool parse_url(const std::string& text, Url& url) {
  const std::string scheme = "http://";
  if (text.rfind(scheme, 0) != 0) return false;
  std::string rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.path = slash == std::string::npos ? "/server-status" : rest.substr(slash);
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return false;
    url.host = authority.substr(1, close - 1);
    url.port = close + 2 <= authority.size() ? authority.substr(close + 2) : "80";
  } else {
    auto colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    url.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  if (url.host.empty() || url.port.empty()) return false;
  url.path += url.path.find('?') == std::string::npos ? "?format=memory" : "&format=memory";
  return true;
}

}  // namespace

int memory_report(const server::Options& options) {
  std::string text = options.command_file;
  if (text.empty()) {
    std::string port = options.listen.empty() ? "8000" : std::to_string(options.listen[0].port);
    text = "http://127.0.0.1:" + port + options.status_path;
  }
  Url url;
  if (!parse_url(text, url))
    return fail("memory-report: '" + text + "' is not an http://HOST[:PORT]/PATH URL");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found) != 0 || !found)
    return fail("memory-report: cannot resolve " + url.host, 1);
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  bool connected = fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  ::freeaddrinfo(found);
  if (!connected) {
    if (fd >= 0) ::close(fd);
    return fail("memory-report: no server answers at " + text + " (is it running? --listen?)", 1);
  }
  std::string request =
      "GET " + url.path + " HTTP/1.1\r\nHost: " + url.host + "\r\nConnection: close\r\n\r\n";
  std::string response;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0 && response.size() < (1 << 20);)
      response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto body_at = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 || body_at == std::string::npos) {
    std::string status = response.substr(0, response.find("\r\n"));
    return fail("memory-report: " + text + " answered " +
                    (status.empty() ? std::string("nothing") : "'" + status + "'") +
                    " (the status page answers loopback clients and --status-allow)",
                1);
  }
  std::string body = response.substr(body_at + 4);
  if (body.rfind("part ", 0) != 0)
    return fail("memory-report: " + text + " is not a w2pserve status page (--status-path?)", 1);
  std::fputs(body.c_str(), stdout);
  return 0;
}

}  // namespace w2p::cmd
