#include "server/net/response_compression.hpp"

#include <brotli/encode.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>

#include "server/http/response_head.hpp"
#include "server/static/compress_cache.hpp"
#include "server/static/static_responder.hpp"

namespace w2p::server {

namespace {

// A page is compressed while its client waits, on every request: the levels are the cheap end
// (nginx's default gzip level is 1 too). On a 12 KiB HTML page (tests/bench/compression.sh) gzip
// level 1 gives 2726 bytes in ~40 us, level 3 2563, level 5 2410 at two to four times the CPU;
// brotli quality 1 gives 2635 bytes at about gzip 1's cost, quality 4 2366 at three times it.
constexpr int kGzipLevel = 1;
constexpr int kBrotliQuality = 1;
// zlib's default window and memory level take 256 KiB per encoder; a 16 KiB window and memory
// level 6 take 96 KiB (what one response being compressed holds) and cost at most about 2% in
// size (measured on 64 KiB of HTML and 200 KiB of Python source).
constexpr int kGzipWindowBits = 14;
constexpr int kGzipMemLevel = 6;
constexpr std::size_t kOutChunk = 16 * 1024;

class Gzip final : public ResponseCompressor {
 public:
  explicit Gzip(std::uint64_t size_hint) {
    // A body of a known, smaller size gets a window and hash to its measure (as nginx does).
    int wbits = kGzipWindowBits, memlevel = kGzipMemLevel;
    if (size_hint)
      while (size_hint < (std::uint64_t{1} << (wbits - 1)) && wbits > 10) {
        --wbits;
        --memlevel;
      }
    memlevel = std::max(memlevel, 1);
    // + 16: a gzip wrapper.
    ok_ =
        deflateInit2(&z_, kGzipLevel, Z_DEFLATED, wbits + 16, memlevel, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Gzip() override {
    if (ok_) deflateEnd(&z_);
  }
  bool ok() const { return ok_; }
  std::string compress(std::string_view data, bool last) override {
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    unsigned char buf[kOutChunk];
    int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
    do {
      z_.next_out = buf;
      z_.avail_out = sizeof buf;
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) break;
      out.append(reinterpret_cast<char*>(buf), sizeof buf - z_.avail_out);
    } while (z_.avail_out == 0);
    return out;
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

class Brotli final : public ResponseCompressor {
 public:
  explicit Brotli(std::uint64_t size_hint)
      : s_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr)) {
    if (!s_) return;
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_QUALITY, kBrotliQuality);
    // A 64 KiB window, as small as brotli allows, for the same reason as gzip's: memory that
    // stays warm in the worker's heap (at quality 1 a larger one hardly compresses better).
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_LGWIN, 16);
    if (size_hint)
      BrotliEncoderSetParameter(
          s_, BROTLI_PARAM_SIZE_HINT,
          static_cast<std::uint32_t>(std::min<std::uint64_t>(size_hint, 1u << 30)));
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
  }
  ~Brotli() override {
    if (s_) BrotliEncoderDestroyInstance(s_);
  }
  bool ok() const { return s_ != nullptr; }
  std::string compress(std::string_view data, bool last) override {
    std::string out;
    std::size_t avail_in = data.size();
    const std::uint8_t* next_in = reinterpret_cast<const std::uint8_t*>(data.data());
    BrotliEncoderOperation op = last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
    std::uint8_t buf[kOutChunk];
    while (true) {
      std::size_t avail_out = sizeof buf;
      std::uint8_t* next_out = buf;
      if (!BrotliEncoderCompressStream(s_, op, &avail_in, &next_in, &avail_out, &next_out, nullptr))
        break;
      out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
      bool done =
          last ? BrotliEncoderIsFinished(s_) : (avail_in == 0 && !BrotliEncoderHasMoreOutput(s_));
      if (done) break;
    }
    return out;
  }

 private:
  BrotliEncoderState* s_;
};

}  // namespace

Coding choose_coding(std::string_view accept_encoding) {
  if (accept_encoding.empty()) return Coding::none;
  if (accepts_encoding(accept_encoding, "gzip")) return Coding::gzip;
  if (accepts_encoding(accept_encoding, "br")) return Coding::br;
  return Coding::none;
}

std::unique_ptr<ResponseCompressor> ResponseCompressor::start(
    const CompressionOffer& offer, ResponseHead& head, std::optional<std::uint64_t> whole_body) {
  if (offer.coding == Coding::none || !offer.types || status_has_no_body(head.status))
    return nullptr;
  if (head.status == 206) return nullptr;  // a part of a whole the client knows
  for (const char* name : {"Content-Encoding", "Content-Range", "X-Sendfile", "X-Accel-Redirect"})
    if (find_header(head.headers, name)) return nullptr;
  const std::string* cache_control = find_header(head.headers, "Cache-Control");
  if (cache_control && list_has_token(*cache_control, "no-transform")) return nullptr;
  const std::string* type = find_header(head.headers, "Content-Type");
  if (!type || !compressible_type(*type, *offer.types)) return nullptr;
  // A body of a known length: its own Content-Length, or the whole body given at once. An
  // invalid length is left for the framing to reject.
  if (const std::string* cl = find_header(head.headers, "Content-Length")) {
    std::uint64_t n = 0;
    auto r = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (r.ec != std::errc() || r.ptr != cl->data() + cl->size()) return nullptr;
    whole_body = n;
  }
  if (whole_body && *whole_body < offer.min_size) return nullptr;
  std::uint64_t length = whole_body.value_or(0);  // 0: unknown
  std::unique_ptr<ResponseCompressor> c;
  if (offer.coding == Coding::br) {
    auto b = std::make_unique<Brotli>(length);
    if (b->ok()) c = std::move(b);
  } else {
    auto g = std::make_unique<Gzip>(length);
    if (g->ok()) c = std::move(g);
  }
  if (!c) return nullptr;
  // The head of the encoded response: its length is the encoder's (the framing sets it), caches
  // keep the variants apart, and a strong validator of the identity body becomes weak.
  std::erase_if(head.headers, [](const Header& h) { return iequals(h.name, "Content-Length"); });
  head.headers.push_back({"Content-Encoding", offer.coding == Coding::br ? "br" : "gzip"});
  bool varied = false;
  for (auto& h : head.headers) {
    if (iequals(h.name, "Vary")) {
      if (!list_has_token(h.value, "Accept-Encoding") && !list_has_token(h.value, "*"))
        h.value += ", Accept-Encoding";
      varied = true;
    } else if (iequals(h.name, "ETag") && !h.value.starts_with("W/")) {
      h.value = "W/" + h.value;
    }
  }
  if (!varied) head.headers.push_back({"Vary", "Accept-Encoding"});
  return c;
}

}  // namespace w2p::server
