#include "server/ops/access_log.hpp"

#include "server/ops/safe_open.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/fd_io.hpp"
#include "server/log.hpp"

namespace w2p::server {
namespace {

constexpr std::size_t kFlushAt = 32 * 1024;    // a burst is written in one go, at most this late
constexpr std::size_t kMaxBuffered = 4 << 20;  // beyond this (a stuck disk), lines are dropped

// Apache's escaping: quotes, backslashes and control bytes cannot forge fields or lines.
void append_escaped(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      out.append("\\x");
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

void append_time(std::string& out, std::time_t t) {
  // The same second is formatted once per thread.
  thread_local std::time_t last = -1;
  thread_local char text[40];
  if (t != last) {
    std::tm tm{};
    localtime_r(&t, &tm);
    char zone[16];
    int off = static_cast<int>((tm.tm_gmtoff / 60) % (24 * 60));
    std::snprintf(zone, sizeof zone, "%c%02d%02d", off < 0 ? '-' : '+', std::abs(off) / 60,
                  std::abs(off) % 60);
    std::size_t n = std::strftime(text, sizeof text, "[%d/%b/%Y:%H:%M:%S ", &tm);
    std::snprintf(text + n, sizeof text - n, "%s]", zone);
    last = t;
  }
  out.append(text);
}

}  // namespace

AccessFormat::AccessFormat(std::string_view format) {
  if (format == "combined" || format.empty())
    format = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
  else if (format == "extended")
    format = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{served}x %v";
  std::string literal;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      literal.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) throw AccessLogFormatError("the format ends with a lone '%'");
    char c = format[i];
    if (c == '%') {
      literal.push_back('%');
      continue;
    }
    Piece p;
    if (c == '>' && i + 1 < format.size() && format[i + 1] == 's') {
      ++i;
      c = 's';
    }
    if (c == '{') {
      std::size_t close = format.find('}', i);
      if (close == std::string_view::npos || close + 1 >= format.size())
        throw AccessLogFormatError("'%{' without '}NAME' closing it");
      p.text.assign(format.substr(i + 1, close - i - 1));
      c = format[close + 1];
      i = close + 1;
      if (c == 'x' && p.text != "served")
        throw AccessLogFormatError("unknown field %{" + p.text +
                                   "}x (the one there is: %{served}x)");
      if (c != 'i' && c != 'x')
        throw AccessLogFormatError(std::string("unknown field %{...}") + c + " (write %{Header}i)");
      if (c == 'x') c = 'X';
    } else if (std::string_view("hlutrsbBDTmUqHv").find(c) == std::string_view::npos) {
      throw AccessLogFormatError(std::string("unknown field %") + c +
                                 " (known: %h %l %u %t %r %s %>s %b %B %D %T %m %U %q %H %v "
                                 "%{Header}i %{served}x %%)");
    }
    if (!literal.empty()) pieces_.push_back({0, std::move(literal)});
    literal.clear();
    p.field = c;
    pieces_.push_back(std::move(p));
  }
  if (!literal.empty()) pieces_.push_back({0, std::move(literal)});
}

void AccessFormat::append(std::string& out, const AccessRecord& r) const {
  std::string_view path = r.target.substr(0, r.target.find('?'));
  std::size_t q = r.target.find('?');
  for (const auto& p : pieces_) {
    switch (p.field) {
      case 0:
        out.append(p.text);
        break;
      case 'h':
        out.append(r.remote.empty() ? std::string_view("-") : r.remote);
        break;
      case 'l':
      case 'u':
        out.push_back('-');
        break;
      case 't':
        append_time(out, r.when);
        break;
      case 'r':
        append_escaped(out, r.method);
        out.push_back(' ');
        append_escaped(out, r.target);
        out.append(r.version == 10 ? " HTTP/1.0" : r.version == 20 ? " HTTP/2.0" : " HTTP/1.1");
        break;
      case 's':
        out.append(r.status ? std::to_string(r.status) : "-");
        break;
      case 'b':
        out.append(r.bytes ? std::to_string(r.bytes) : "-");
        break;
      case 'B':
        out.append(std::to_string(r.bytes));
        break;
      case 'D':
        out.append(std::to_string(r.micros));
        break;
      case 'T':
        out.append(std::to_string(r.micros / 1000000));
        break;
      case 'm':
        append_escaped(out, r.method);
        break;
      case 'U':
        append_escaped(out, path);
        break;
      case 'q':
        if (q != std::string_view::npos) append_escaped(out, r.target.substr(q));
        break;
      case 'H':
        out.append(r.version == 10 ? "HTTP/1.0" : r.version == 20 ? "HTTP/2.0" : "HTTP/1.1");
        break;
      case 'v':
        append_escaped(out, r.site.empty() ? std::string_view("-") : r.site);
        break;
      case 'X':
        out.append(r.served.empty() ? std::string_view("-") : r.served);
        break;
      case 'i': {
        std::string_view v = r.header ? r.header(p.text) : std::string_view();
        if (v.empty())
          out.push_back('-');
        else
          append_escaped(out, v);
        break;
      }
    }
  }
  out.push_back('\n');
}

AccessLog::AccessLog(std::string path, std::string_view format)
    : path_(std::move(path)), format_(format) {
  fd_ = open_file();
  if (fd_ < 0) throw std::runtime_error("access log " + path_ + ": " + last_open_error_);
  thread_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

int AccessLog::open_file() {
  std::string why;
  int fd = open_for_append(path_, why);
  if (fd < 0) last_open_error_ = why;
  return fd;
}

void AccessLog::write(const AccessRecord& r) {
  thread_local std::string line;
  line.clear();
  format_.append(line, r);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (buffer_.size() + line.size() > kMaxBuffered) return;
    buffer_.append(line);
    wake = buffer_.size() >= kFlushAt;
  }
  if (wake) cv_.notify_one();
}

// Returns once the writer has written what was logged before and opened the file again (at
// most 2 s), so that every later line lands in the new file.
void AccessLog::reopen() {
  std::unique_lock lock(mutex_);
  reopen_ = true;
  std::uint64_t want = ++requested_;
  cv_.notify_one();
  // Bounded: the caller is the I/O thread, and a stalled disk must not stall the clients (a
  // line may then land in the old file).
  flushed_.wait_for(lock, std::chrono::seconds(2), [&] { return flushes_ >= want || stop_; });
}

void AccessLog::run() {
  std::string out;
  std::unique_lock lock(mutex_);
  while (true) {
    // At least once a second, so that `tail -f` shows recent requests.
    cv_.wait_for(lock, std::chrono::seconds(1), [&] {
      return stop_ || reopen_ || buffer_.size() >= kFlushAt || requested_ > flushes_;
    });
    out.swap(buffer_);
    bool reopen = reopen_;
    reopen_ = false;
    bool stop = stop_;
    std::uint64_t requested = requested_;
    lock.unlock();
    if (!write_all(fd_, out.data(), out.size()))
      log::error("access log " + path_ + ": " + std::strerror(errno) + "; lines dropped");
    out.clear();
    if (reopen) {
      int fd = open_file();
      if (fd < 0) {
        log::error("cannot reopen the access log " + path_ + ": " + last_open_error_ +
                   " (still writing to the old file)");
      } else {
        ::close(fd_);
        fd_ = fd;
      }
    }
    lock.lock();
    flushes_ = std::max(flushes_, requested);
    flushed_.notify_all();
    if (stop && buffer_.empty()) return;
  }
}

}  // namespace w2p::server
