#pragma once
// HTTP/2 streams answered from the file system by the HTTP/2 layer itself: a GET or HEAD
// without a body whose route is a static file (or web2py's static file) gets the static
// responder's plan, the same one an HTTP/1.1 Session executes (conditionals, ranges, encoded
// variants, the fd cache, cache headers), sent as HEADERS and then DATA frames read from the
// file in flow-control-sized pieces straight into the output. Also here: a stream's request
// checked and routed as a Session would (h2_route), which the application's streams share
// (h2_app.hpp). What only a Session answers (redirects, errors, the status page) goes through
// one (h2_streams.cpp).

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/net/h2_translate.hpp"
#include "server/net/request_plan.hpp"
#include "server/routing/route.hpp"

namespace w2p::server {

struct ServerContext;

class H2StaticAnswer {
 public:
  H2Head head;  // for HEADERS
  bool has_body = false;
  RequestLog log;  // begun: counted and logged by the connection when the stream ends

  // Copies the body's next bytes (at most `n`) into `buf`; sets `eof` after the last. -1 when
  // the file ended before its planned length (it shrank): the stream is reset.
  ssize_t read(std::uint8_t* buf, std::size_t n, bool& eof);
  // The body bytes not yet read.
  std::uint64_t remaining() const;
  bool failed = false;  // a read came short (the file shrank): the stream is to be reset

  // Internal: the plan's parts still to send.
  std::string text;  // inline bytes from `text_at` (a small body, a multipart part head)
  std::size_t text_at = 0;
  std::shared_ptr<const CachedFile> file;
  std::uint64_t offset = 0, length = 0;
  std::vector<FilePlan::Segment> segments;
};

// The request fields a static plan reads (Accept-Encoding, Range, the conditionals), as views
// into `headers`; the head kept structured for HEADERS (FileRequest::h2).
FileRequest h2_file_request(std::string_view method, const FieldList& headers);

// A stream's request counted (the server's and its site's) and its log begun.
RequestLog h2_request_log(ServerContext& ctx, const Site* site, std::string_view method,
                          std::string_view path);

// A static plan as a stream's answer; `log` (begun) gets the plan's status and kind.
std::unique_ptr<H2StaticAnswer> h2_answer(FilePlan plan, bool head_request, RequestLog log);

// A stream's request checked as an HTTP/1.1 Session checks a head, and routed: nothing when an
// HTTP/1.1 Session must see it (anything it would refuse or answer before routing, or unusual:
// several or no hosts, too many fields, a target over --max-uri).
struct H2Routed {
  RequestVerdict verdict;  // verdict.host: the authority
  Route route;
};
std::optional<H2Routed> h2_route(std::string_view method, std::string_view path,
                                 std::string_view authority, const FieldList& headers,
                                 bool has_body, ServerContext& ctx);

// The native answer for a routed GET or HEAD without a body, or null when it is not a static
// file's (or an HTTP/1.1 Session must serve it). `headers` are the request's regular fields
// (lower-case names).
std::unique_ptr<H2StaticAnswer> h2_static_answer(std::string_view method, std::string_view path,
                                                 H2Routed& routed, const FieldList& headers,
                                                 ServerContext& ctx, StaticResponder& responder);

}  // namespace w2p::server
