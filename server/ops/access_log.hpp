#pragma once
// The access log: one line per response (static hits included), in the combined format by
// default or in a format made of Apache-style fields. Lines are formatted on the I/O thread into
// a memory buffer; a writer thread that exists only while the log is open does the write(2)
// calls, so a slow disk never stalls a connection. SIGUSR1 reopens the file (logrotate).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace w2p::server {

struct AccessRecord {
  std::string_view remote;
  std::string_view method, target;
  unsigned version = 11;
  int status = 0;
  std::uint64_t bytes = 0;   // body bytes sent
  std::uint64_t micros = 0;  // from the request head to the end of the response
  std::string_view served;   // "static", "app", "redirect", "error"
  std::string_view site;
  std::time_t when = 0;  // when the request arrived
  // A request header by name ("" when absent).
  std::function<std::string_view(std::string_view)> header;
};

class AccessLogFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The fields: %h client address, %l and %u "-", %t [time], %r request line, %s or %>s status,
// %b body bytes ("-" for none), %B body bytes, %D microseconds, %T seconds, %m method, %U path,
// %q ?query, %H protocol, %v site, %{NAME}i request header, %{served}x static/app/redirect/error,
// %% a percent sign. "combined" and "extended" (combined plus %D %{served}x %v) are names for
// whole formats.
class AccessFormat {
 public:
  explicit AccessFormat(std::string_view format);  // throws AccessLogFormatError
  void append(std::string& out, const AccessRecord& r) const;

 private:
  struct Piece {
    char field = 0;    // 0: literal
    std::string text;  // literal, or the header name for %{...}i
  };
  std::vector<Piece> pieces_;
};

class AccessLog {
 public:
  // Opens (appends to) `path`; throws std::runtime_error naming the file.
  AccessLog(std::string path, std::string_view format);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const AccessRecord& r);
  // Reopen the file at its path (after logrotate renamed it); done by the writer thread, and
  // waited for.
  void reopen();

 private:
  void run();
  int open_file();
  std::string last_open_error_;  // why open_file() failed (written by whoever called it)

  std::string path_;
  AccessFormat format_;
  int fd_ = -1;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string buffer_;
  bool stop_ = false;
  bool reopen_ = false;
  std::uint64_t flushes_ = 0, requested_ = 0;
  std::condition_variable flushed_;
  std::thread thread_;
};

}  // namespace w2p::server
