#pragma once
// The one interface between the HTTP side (server/) and the application side (embed/).
// It carries no Boost and no Python types, so either side can be tested without the other.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace w2p::server {

struct Header {
  std::string name;
  std::string value;
};

// A request body already received in full: small bodies in memory, larger ones spooled to an
// unlinked temporary file, so a slow upload never holds a Python worker.
struct RequestBody {
  std::string memory;
  int fd = -1;  // owned; -1 when the body is in memory
  std::uint64_t length = 0;

  RequestBody() = default;
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;
  RequestBody(RequestBody&& o) noexcept;
  RequestBody& operator=(RequestBody&& o) noexcept;
  ~RequestBody();
};

struct AppRequest {
  std::string method;
  std::string target;  // raw request-target, as sent (REQUEST_URI)
  std::string path;    // percent-decoded path, bytes
  std::string query;   // raw query string, without '?'
  unsigned version = 11;
  std::vector<Header> headers;  // as received, minus untrusted forwarding headers
  std::string remote_addr;
  std::uint16_t remote_port = 0;
  std::string server_name;  // Host without its port, else the local address (SERVER_NAME)
  std::uint16_t server_port = 0;
  bool https = false;
  bool has_content_length = false;  // body framing was given by the client (length or chunked)
  RequestBody body;
};

struct ResponseHead {
  int status = 200;
  std::string reason;
  std::vector<Header> headers;  // validated by the producer: no CR, LF or NUL, names are tokens
};

// A file to send as the rest of the body; the descriptor is owned by the receiver.
struct BodyFile {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// Where an application writes its response. Called from one worker thread, never holding the
// GIL; each call may block until the connection has room (back-pressure) and returns false when
// the client has gone, so the producer can stop early.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The head plus the first part of the body; `last` says the body is complete.
  virtual bool start(ResponseHead head, std::string body, bool last) = 0;
  virtual bool body(std::string data, bool last) = 0;
  // The rest of the body is this file; it completes the response.
  virtual bool file(BodyFile file) = 0;
  // The head and the whole body as a file: the server frames it (a Content-Length of the file's
  // length unless the head gives one).
  virtual bool start_file(ResponseHead head, BodyFile file) = 0;
  // The response cannot be completed (an error after the head went out): close the connection.
  virtual void abort() = 0;
  // The request ran out of time (--request-timeout); may be called from any thread. The client
  // gets `status` if nothing was sent yet, else the connection is closed; later calls from the
  // producer return false at once.
  virtual void expire(int status) = 0;
};

// Figures the application side keeps for /server-status (written by workers, read by I/O
// threads; relaxed atomics: a status page needs no more).
struct AppStats {
  std::atomic<std::uint32_t> queued{0};               // requests waiting for a worker
  std::atomic<std::uint32_t> busy{0};                 // workers running a request
  std::atomic<std::uint64_t> gil_wait_ns{0};          // time spent waiting to take the GIL
  std::atomic<std::int64_t> allocated_blocks{0};      // sys.getallocatedblocks()
  std::atomic<std::int64_t> gc_count[3] = {0, 0, 0};  // gc.get_count()
  std::atomic<std::uint64_t> idle_trims{0};           // C heap given back after idle spells
};

// The interpreter's object arenas, as the application side allocates and frees them (through
// PyObject_SetArenaAllocator), so the memory report can tell Python's objects from the C heap.
// Thread-safe; cheap (an arena is 1 MiB).
void note_arena_allocated(void* start, std::size_t size);
void note_arena_freed(void* start);

// Python modules an application imported for the first time while serving a request for
// `app` (web2py: the URL's application; "(start-up)" for what was loaded before serving), and
// how much the resident memory grew during those requests (an estimate of what they cost).
void note_app_imports(const std::string& app, const std::vector<std::string>& modules,
                      std::int64_t rss_growth);

// Resident memory now, in bytes (/proc/self/statm; a few microseconds).
std::uint64_t resident_now();

// Gives memory nobody uses now back to the system: the C heap's free pages (malloc_trim) and
// this executable's clean read-only pages (code and constants, Python's core included, that
// start-up or a rare path touched; they come back from the page cache when run again). Called
// once serving starts and when the server goes idle; from any thread, without the GIL.
void release_idle_memory();

class Application {
 public:
  virtual ~Application() = default;
  // Queues a request; false when the queue is full (the caller answers 503).
  virtual bool submit(std::shared_ptr<AppRequest> request, std::shared_ptr<ResponseSink> sink) = 0;
  // Figures for the status page.
  virtual const AppStats& stats() const = 0;
};

// What the server accepts from an application (defined in server/, applied by both sides: the
// gateway raises them as Python errors, where the application can see its mistake).
// "200 OK" → {200, "OK"}; nullopt unless a final status (200..599), a space, and a reason with
// no control characters.
std::optional<ResponseHead> parse_status_line(std::string_view status);
// A header name is a token (RFC 9110 5.6.2).
bool is_token(std::string_view s);
// A header value has no CR, LF or NUL (header injection) nor other controls but tab.
bool is_safe_header_value(std::string_view s);

// web2py's cron jobs that run Python (`*script`, `**script`, `**controller/function`): the
// scheduler (server/cron/) decides when; embed/ runs them in the interpreter.
class ScriptRunner {
 public:
  virtual ~ScriptRunner() = default;
  struct Result {
    std::string status;  // "ok", "error" or "timeout"
    std::string output;  // what the job printed, or its traceback
  };
  // Runs on the scheduler's thread, which calls attach() first and detach() last.
  virtual void attach() = 0;
  virtual void detach() = 0;
  // `action`: a controller/function, else a script path; `models`: with the application's
  // models; past `timeout` seconds a TimeoutError is raised in the job.
  virtual Result run(const std::string& app, bool action, const std::string& target, bool models,
                     unsigned timeout) = 0;
};

}  // namespace w2p::server
