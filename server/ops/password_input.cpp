#include "server/ops/password_input.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace w2p::server {
namespace {

std::string prompt_tty(int fd, const char* prompt) {
  ::write(fd, prompt, std::char_traits<char>::length(prompt));
  termios old{};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::write(fd, "\n", 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::optional<std::string> read_password(std::string& error) {
  if (::isatty(STDIN_FILENO)) {
    int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) fd = STDIN_FILENO;
    std::string first = prompt_tty(fd, "web2py admin password: ");
    std::string second = prompt_tty(fd, "again: ");
    if (fd != STDIN_FILENO) ::close(fd);
    if (first != second) {
      error = "the two passwords differ; nothing was written";
      return std::nullopt;
    }
    if (first.empty()) {
      error = "empty password; nothing was written";
      return std::nullopt;
    }
    return first;
  }
  std::string line;
  if (!std::getline(std::cin, line) || line.empty() || line == "\r") {
    error = "no password on stdin (write it as the first line); nothing was written";
    return std::nullopt;
  }
  if (line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace w2p::server
