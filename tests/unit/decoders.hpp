#pragma once
// Decoders for tests of the server's gzip and brotli output (reference implementations: zlib's
// inflate, libbrotli's decoder).

#include <brotli/decode.h>
#include <zlib.h>

#include <string>

namespace w2p::test {

// The data of a whole gzip stream; "<bad gzip>" when it is not one (or is cut short).
inline std::string gunzip(const std::string& data) {
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<bad gzip>";
}

// The data of a whole brotli stream (up to 4 MiB); "<bad brotli>" when it is not one.
inline std::string unbrotli(const std::string& data) {
  std::string out(1 << 22, '\0');
  size_t size = out.size();
  if (BrotliDecoderDecompress(data.size(), reinterpret_cast<const uint8_t*>(data.data()), &size,
                              reinterpret_cast<uint8_t*>(out.data())) !=
      BROTLI_DECODER_RESULT_SUCCESS)
    return "<bad brotli>";
  out.resize(size);
  return out;
}

}  // namespace w2p::test
