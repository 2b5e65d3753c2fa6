#pragma once
// Compression of application responses (what lighttpd's mod_deflate did): HTML, JSON, ... sent
// with gzip or brotli to clients that accept it. Decided per response from its head: a
// compressible type, no Content-Encoding or Content-Range of its own, no "no-transform", a
// status with a body other than 206, and (when its length is known) at least the minimum size.
// A file handed over whole (wsgi.file_wrapper) goes out as it is: zero-copy, with ranges. The
// body is compressed as it comes, part by part, each part flushed so a streamed page still
// streams; memory is one encoder per response being compressed, freed at its end. It runs on the
// worker thread that produces the response (in its ResponseChannel), never on an I/O thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/app_interface.hpp"

namespace w2p::server {

enum class Coding { none, gzip, br };

// What the request and the settings allow; decided on the I/O thread when the request is
// handed over.
struct CompressionOffer {
  Coding coding = Coding::none;
  const std::vector<std::string>* types = nullptr;  // compressible MIME types ("text/": all text)
  std::uint64_t min_size = 256;
};

// The coding for `accept_encoding`: gzip, else br (the cheaper first), else none.
Coding choose_coding(std::string_view accept_encoding);

class ResponseCompressor {
 public:
  // Decides from the response's head; when it compresses, the head is changed (Content-Encoding,
  // Vary, no Content-Length, a weak ETag). `whole_body`: the length of a body given whole (none:
  // streamed). nullptr when the response goes out as it is.
  static std::unique_ptr<ResponseCompressor> start(const CompressionOffer& offer,
                                                   ResponseHead& head,
                                                   std::optional<std::uint64_t> whole_body);
  virtual ~ResponseCompressor() = default;
  // Compresses a part of the body; `last` ends the stream. The output may be empty.
  virtual std::string compress(std::string_view data, bool last) = 0;
};

}  // namespace w2p::server
