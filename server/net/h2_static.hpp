#pragma once
// HTTP/2 streams answered from the file system by the HTTP/2 layer itself: a GET or HEAD
// without a body whose route is a static file (or web2py's static file) gets the static
// responder's plan, the same one an HTTP/1.1 Session executes (conditionals, ranges, encoded
// variants, the fd cache, cache headers), sent as HEADERS and then DATA frames read from the
// file in flow-control-sized pieces straight into nghttp2's frame buffer. Anything else (the
// application, redirects, errors, the status page, bodies) goes through an HTTP/1.1 Session
// as before (h2_connection.cpp).

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/net/h2_translate.hpp"
#include "server/net/request_plan.hpp"

namespace w2p::server {

struct ServerContext;

class H2StaticAnswer {
 public:
  FieldViews fields;  // for HEADERS (":status" first): views into `head` and `names`
  bool has_body = false;
  RequestLog log;  // begun: counted and logged by the connection when the stream ends

  // Copies the body's next bytes (at most `n`) into `buf`; sets `eof` after the last. -1 when
  // the file ended before its planned length (it shrank): the stream is reset.
  ssize_t read(std::uint8_t* buf, std::size_t n, bool& eof);
  // The body bytes not yet read.
  std::uint64_t remaining() const;
  bool failed = false;  // a read came short (the file shrank): the stream is to be reset

  // The fields are in nghttp2's hands (it copies them): what they point into is freed.
  void head_sent();

  // Internal: the head (until sent) and the plan's parts still to send.
  ResponseHead head;
  std::optional<std::uint64_t> content_length;
  std::string names;  // the head's names in lower case
  char status[4] = {};
  char length_text[24] = {};
  void make_fields();
  std::string text;  // inline bytes from `text_at` (a small body, a multipart part head)
  std::size_t text_at = 0;
  std::shared_ptr<const CachedFile> file;
  std::uint64_t offset = 0, length = 0;
  std::vector<FilePlan::Segment> segments;
};

// The native answer for a request on a stream, or null when an HTTP/1.1 Session must serve it.
// `headers` are the request's regular fields (lower-case names), `head` is the method.
std::unique_ptr<H2StaticAnswer> h2_static_answer(std::string_view method, std::string_view path,
                                                 std::string_view authority,
                                                 const FieldList& headers, ServerContext& ctx,
                                                 StaticResponder& responder);

}  // namespace w2p::server
