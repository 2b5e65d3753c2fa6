#include "server/log.hpp"

#include "server/ops/safe_open.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace w2p::server::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::info)};
std::mutex g_mutex;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "?";
}

std::string stamp(Level level) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03d [%s] ", static_cast<int>(ms), level_name(level));
  return buf;
}

// One write(2) per record so lines from several threads never interleave.
void emit(const std::string& record) {
  std::lock_guard lock(g_mutex);
  const char* p = record.data();
  size_t left = record.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

void set_min_level(Level level) {
  g_min_level = static_cast<int>(level);
}

// Control characters other than newline and tab are escaped, so that text from a client or an
// application cannot forge log lines or terminal sequences.
static void append_clean(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.append(buf);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

void write(Level level, std::string_view message) {
  if (static_cast<int>(level) < g_min_level) return;
  std::string record = stamp(level);
  append_clean(record, message);
  if (record.empty() || record.back() != '\n') record.push_back('\n');
  emit(record);
}

void block(Level level, std::string_view title, std::string_view text) {
  if (static_cast<int>(level) < g_min_level) return;
  std::string prefix = stamp(level);
  std::string record = prefix;
  append_clean(record, title);
  record.push_back('\n');
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    record.append(prefix);
    record.append("  ");
    append_clean(record, text.substr(start, end - start));
    record.push_back('\n');
    start = end + 1;
  }
  emit(record);
}

namespace {
std::string g_path;  // guarded by g_mutex
}

std::string to_file(const std::string& path) {
  std::string why;
  int fd = open_for_append(path, why);
  if (fd < 0) return "error log " + path + ": " + why;
  std::lock_guard lock(g_mutex);
  if (::dup2(fd, STDERR_FILENO) < 0) {
    ::close(fd);
    return "error log " + path + ": " + std::strerror(errno);
  }
  ::close(fd);
  g_path = path;
  return "";
}

void reopen() {
  std::string path;
  {
    std::lock_guard lock(g_mutex);
    path = g_path;
  }
  if (path.empty()) return;
  std::string err = to_file(path);
  if (!err.empty())
    write(Level::error, "cannot reopen the " + err + " (still writing to the old file)");
}

}  // namespace w2p::server::log
