#pragma once
// Framing an application's response: the server owns the wire, so the application's head is
// cleaned (hop-by-hop headers out, its Content-Length checked) and its body framed with
// Content-Length, chunked or close-delimited (HTTP/1.0), nothing for HEAD, 204 and 304.
// X-Sendfile and X-Accel-Redirect turn the response into a hand-off. Pure: no sockets; the
// connection writes what comes out.

#include <cstdint>
#include <optional>
#include <string>

#include "server/app_interface.hpp"
#include "server/http/response_head.hpp"
#include "server/static/handoff.hpp"

namespace w2p::server {

class AppFraming {
 public:
  // What to send for one part.
  struct Out {
    std::string bytes;               // to write now
    BodyFile file;                   // then this file (fd >= 0; the connection owns it)
    bool file_chunked = false;       // the file is one chunk: "\r\n0\r\n\r\n" follows it
    bool last = false;               // the response is complete after this
    std::optional<Handoff> handoff;  // X-Sendfile / X-Accel-Redirect (from the head)
    int status = 0;                  // the response's status (head parts)
    std::uint64_t body_bytes = 0;    // body bytes in this part, for the access log
    // HTTP/2 (version 20): the cleaned head is given as it is, for a HEADERS frame, with the
    // Content-Length apart; `bytes` holds body bytes only (DATA frames need no framing).
    std::optional<ResponseHead> head;
    std::optional<std::uint64_t> content_length;
  };

  // A new response to a request of `version` (20: an HTTP/2 stream); `keep_alive` is what the
  // request allows.
  void begin(unsigned version, bool head_request, bool keep_alive);

  Out start(ResponseHead head, std::string data, bool last);
  // The head, and this file as the whole body (Content-Length: the file's, unless the head
  // says otherwise).
  Out start_file(ResponseHead head, BodyFile f);
  // A start part as a channel delivers it: the head with its first bytes, or with a file as
  // its whole body (`file.fd` >= 0).
  Out start_part(ResponseHead head, std::string data, BodyFile file, bool last) {
    return file.fd >= 0 ? start_file(std::move(head), file)
                        : start(std::move(head), std::move(data), last);
  }
  Out body(std::string data, bool last);
  Out file(BodyFile f);

  // Whether the connection may carry another request after this response.
  bool keep_alive() const { return keep_alive_ && !short_of_length(); }
  // The body ended before the Content-Length it promised (the application failed).
  bool short_of_length() const { return has_length_ && length_left_ > 0; }

 private:
  Out frame(std::string_view data, bool last);
  Out head(ResponseHead head, std::string data, bool last,
           std::optional<std::uint64_t> file_length);

  unsigned version_ = 11;
  bool head_request_ = false;
  bool keep_alive_ = true;
  Framing framing_ = Framing::none;
  bool has_length_ = false;
  std::uint64_t length_left_ = 0;  // Content-Length bytes still owed
};

}  // namespace w2p::server
