#include "server/ops/key_helper.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "server/fd_io.hpp"

namespace w2p::server::key_helper {

namespace {

constexpr const char* kEnv = "W2PSERVE_KEY_HELPER";  // the server's end, across exec
constexpr std::size_t kMaxFile = 1 << 20;            // certificates and keys are a few KiB

std::mutex g_mutex;  // one request at a time on the socket

// A message: 4 bytes of length, then the bytes.
bool send_message(int fd, std::string_view m) {
  std::uint32_t n = static_cast<std::uint32_t>(m.size());
  return write_all(fd, &n, sizeof n) && write_all(fd, m.data(), m.size());
}

std::optional<std::string> receive_message(int fd) {
  std::uint32_t n = 0;
  if (!read_all(fd, &n, sizeof n) || n > kMaxFile + 1) return std::nullopt;
  std::string m(n, '\0');
  if (!read_all(fd, m.data(), n)) return std::nullopt;
  return m;
}

// Reads a whole (small) file: "" and errno on failure.
std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
    if (out.size() > kMaxFile) {
      ::close(fd);
      errno = EFBIG;
      return std::nullopt;
    }
  }
  ::close(fd);
  return out;
}

// The helper's life: answer requests for the allowed files until the server goes.
[[noreturn]] void serve(int sock, const std::vector<std::string>& allowed) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::prctl(PR_SET_NAME, "w2pserve-keys");
  for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGQUIT})
    std::signal(sig, SIG_IGN);
  // Nothing but the socket and standard error (the listening sockets and logs are the server's).
  ::syscall(SYS_close_range, 3u, static_cast<unsigned>(sock) - 1, 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(sock) + 1, ~0u, 0u);
  while (auto request = receive_message(sock)) {
    std::string reply;
    if (std::find(allowed.begin(), allowed.end(), *request) == allowed.end()) {
      reply = "Enot one of the files named when the server started (restart to read others)";
    } else if (auto data = read_file(*request)) {
      reply = "D" + *data;
    } else {
      reply = std::string("E") + std::strerror(errno);
    }
    if (!send_message(sock, reply)) break;
  }
  std::_Exit(0);
}

int server_end() {
  static const int fd = [] {
    const char* v = std::getenv(kEnv);
    int n = v ? std::atoi(v) : -1;
    // Inherited across a reload: close-on-exec again, so no child of the application has it.
    if (n >= 0) ::fcntl(n, F_SETFD, FD_CLOEXEC);
    return n;
  }();
  // After start() in this image, or a move by keep_across_exec(): the variable is current.
  const char* v = std::getenv(kEnv);
  return v ? std::atoi(v) : fd;
}

}  // namespace

std::string start(const std::vector<std::string>& files) {
  if (::geteuid() != 0 || files.empty() || server_end() >= 0) return "";
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return std::string("key helper: socketpair: ") + std::strerror(errno);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pair[0]);
    ::close(pair[1]);
    return std::string("key helper: fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    ::close(pair[0]);
    serve(pair[1], files);
  }
  ::close(pair[1]);
  // Named for the next image of a reload (keep_across_exec() lets it through).
  ::setenv(kEnv, std::to_string(pair[0]).c_str(), 1);
  return "";
}

void keep_across_exec(int lowest) {
  int sock = server_end();
  if (sock < 0) return;
  // Out of the way of the listening sockets, which a reload passes on as 3, 4, ...
  if (sock < lowest) {
    int moved = ::fcntl(sock, F_DUPFD, lowest);
    if (moved < 0) return;
    ::close(sock);
    sock = moved;
    ::setenv(kEnv, std::to_string(sock).c_str(), 1);
  }
  ::fcntl(sock, F_SETFD, 0);
}

std::optional<std::string> read(const std::string& path, std::string& error) {
  if (auto direct = read_file(path)) return direct;
  int why = errno;
  int sock = server_end();
  if (why != EACCES || sock < 0) {
    error = std::strerror(why);
    return std::nullopt;
  }
  std::lock_guard lock(g_mutex);
  std::optional<std::string> reply;
  if (send_message(sock, path)) reply = receive_message(sock);
  if (!reply || reply->empty()) {
    error = "permission denied, and the key helper did not answer";
    return std::nullopt;
  }
  if ((*reply)[0] == 'E') {
    error = "permission denied (key helper: " + reply->substr(1) + ")";
    return std::nullopt;
  }
  return reply->substr(1);
}

}  // namespace w2p::server::key_helper
