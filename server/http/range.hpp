#pragma once
// Byte ranges (RFC 9110 section 14): parsing a Range header against a representation's size,
// If-Range, and the multipart/byteranges framing for several ranges.

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace w2p::server {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const { return last - first + 1; }
};

struct RangeRequest {
  enum Kind {
    ignore,         // no Range, another unit, bad syntax, too many ranges: send the whole file
    satisfiable,    // 206 with `ranges` (sorted, overlaps merged when there are several)
    unsatisfiable,  // 416 with Content-Range: bytes */size
  } kind = ignore;
  std::vector<ByteRange> ranges;
};

// Parses "bytes=0-99, 200-, -50" for a representation of `size` bytes. More than `max_ranges`
// ranges, or a header that is not valid, is ignored (the whole file is sent), as RFC 9110
// allows; this also bounds the work a client can ask for.
RangeRequest parse_range(std::string_view header, std::uint64_t size, std::size_t max_ranges = 32);

// If-Range: true when the Range header may be honoured: the value is a strong ETag equal to
// `etag`, or an HTTP date equal to the file's modification time. A weak ETag never matches.
bool if_range_matches(std::string_view if_range, std::string_view etag, std::time_t mtime);

// "bytes 0-99/1000"
std::string content_range(const ByteRange& r, std::uint64_t size);

// The parts of a multipart/byteranges body: the text before each range's bytes, and the
// closing text; `total` is the exact body length (for Content-Length).
struct Multipart {
  std::string boundary;
  std::vector<std::string> part_heads;  // one per range
  std::string tail;
  std::uint64_t total = 0;
};
Multipart make_multipart(const std::vector<ByteRange>& ranges, std::uint64_t size,
                         std::string_view content_type, std::string boundary);

}  // namespace w2p::server
