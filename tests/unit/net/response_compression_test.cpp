#include "server/net/response_compression.hpp"

#include <gtest/gtest.h>

#include "server/http/response_head.hpp"
#include "server/static/compress_cache.hpp"
#include "tests/unit/decoders.hpp"

using namespace w2p::server;
using w2p::test::gunzip;
using w2p::test::unbrotli;

namespace {

const std::vector<std::string> kTypes = default_compress_types();

CompressionOffer offer(Coding c) {
  CompressionOffer o;
  o.coding = c;
  o.types = &kTypes;
  o.min_size = 256;
  return o;
}

ResponseHead html(int status = 200, std::vector<Header> extra = {}) {
  ResponseHead h;
  h.status = status;
  h.reason = "X";
  h.headers = {{"Content-Type", "text/html; charset=utf-8"}};
  for (auto& e : extra) h.headers.push_back(e);
  return h;
}

std::string page(std::size_t n) {
  std::string s;
  while (s.size() < n) s += "<tr><td>row " + std::to_string(s.size()) + "</td></tr>\n";
  s.resize(n);
  return s;
}

std::string value(const ResponseHead& h, std::string_view name) {
  const std::string* v = find_header(h.headers, name);
  return v ? *v : "<none>";
}

}  // namespace

TEST(ChooseCoding, GzipThenBrotliAsTheClientAllows) {
  EXPECT_EQ(choose_coding(""), Coding::none);
  EXPECT_EQ(choose_coding("gzip, deflate, br"), Coding::gzip);
  EXPECT_EQ(choose_coding("br"), Coding::br);
  EXPECT_EQ(choose_coding("gzip;q=0, br"), Coding::br);
  EXPECT_EQ(choose_coding("gzip"), Coding::gzip);
  EXPECT_EQ(choose_coding("br;q=0, gzip"), Coding::gzip);
  EXPECT_EQ(choose_coding("gzip;q=0"), Coding::none);
  EXPECT_EQ(choose_coding("identity, deflate"), Coding::none);
  EXPECT_EQ(choose_coding("x-gzip-like, brotli"), Coding::none);
  EXPECT_EQ(choose_coding(" GZip ; q=0.5 ,"), Coding::gzip);
}

TEST(ResponseCompressor, WholeBodiesRoundTripInBothCodings) {
  std::string body = page(50000);
  for (Coding c : {Coding::gzip, Coding::br}) {
    ResponseHead h = html(200, {{"Content-Length", std::to_string(body.size())}});
    auto z = ResponseCompressor::start(offer(c), h, body.size());
    ASSERT_TRUE(z);
    std::string out = z->compress(body, true);
    EXPECT_TRUE((c == Coding::br ? unbrotli(out) : gunzip(out)) == body);
    EXPECT_LT(out.size(), body.size() / 4);
    EXPECT_EQ(value(h, "Content-Encoding"), c == Coding::br ? "br" : "gzip");
    EXPECT_EQ(value(h, "Content-Length"), "<none>");  // the framing sets the encoded length
    EXPECT_EQ(value(h, "Vary"), "Accept-Encoding");
  }
}

TEST(ResponseCompressor, EachPartIsFlushedAndTheStreamDecodesWhole) {
  std::string a = page(3000), b = page(70000), c = "tail";
  for (Coding coding : {Coding::gzip, Coding::br}) {
    ResponseHead h = html();
    auto z = ResponseCompressor::start(offer(coding), h, std::nullopt);
    ASSERT_TRUE(z);
    std::string first = z->compress(a, false);
    EXPECT_FALSE(first.empty());  // the first part is out before the next one is made
    std::string all = first;
    all += z->compress(b, false);
    all += z->compress("", false);
    all += z->compress(c, true);
    EXPECT_TRUE((coding == Coding::br ? unbrotli(all) : gunzip(all)) == a + b + c);
  }
}

TEST(ResponseCompressor, LeavesAloneWhatMustNotBeEncoded) {
  auto none = [](ResponseHead h, std::optional<std::uint64_t> size = 5000) {
    ResponseHead before = h;
    bool compressed = ResponseCompressor::start(offer(Coding::gzip), h, size) != nullptr;
    EXPECT_EQ(h.headers.size(), before.headers.size());  // untouched
    return !compressed;
  };
  EXPECT_TRUE(none(html(200), 100));  // below compress-min-size
  EXPECT_TRUE(none(html(200), 0));    // empty
  EXPECT_TRUE(none(html(200, {{"Content-Length", "100"}}), std::nullopt));
  EXPECT_TRUE(
      none(html(200, {{"Content-Length", "12x"}}), std::nullopt));  // the framing's to reject
  EXPECT_TRUE(none(html(204)));
  EXPECT_TRUE(none(html(304)));
  EXPECT_TRUE(none(html(101)));
  EXPECT_TRUE(none(html(206, {{"Content-Range", "bytes 0-9/100"}})));
  EXPECT_TRUE(none(html(200, {{"Content-Encoding", "gzip"}})));
  EXPECT_TRUE(none(html(200, {{"content-encoding", "identity"}})));
  EXPECT_TRUE(none(html(200, {{"Cache-Control", "private, No-Transform"}})));
  EXPECT_TRUE(none(html(200, {{"X-Sendfile", "/srv/a.txt"}})));
  ResponseHead png;
  png.status = 200;
  png.headers = {{"Content-Type", "image/png"}};
  EXPECT_TRUE(none(png));
  ResponseHead untyped;
  untyped.status = 200;
  EXPECT_TRUE(none(untyped));
  // Nothing is offered: no coding, or no types.
  ResponseHead h = html();
  EXPECT_FALSE(ResponseCompressor::start(offer(Coding::none), h, 5000));
  CompressionOffer no_types = offer(Coding::br);
  no_types.types = nullptr;
  EXPECT_FALSE(ResponseCompressor::start(no_types, h, 5000));
}

TEST(ResponseCompressor, TypesMatchWithoutParametersAndByFamily) {
  for (std::string type : {"text/plain", "text/csv; charset=utf-8", "application/json",
                           "application/json ;charset=utf-8", "image/svg+xml"}) {
    ResponseHead h;
    h.status = 200;
    h.headers = {{"Content-Type", type}};
    EXPECT_TRUE(ResponseCompressor::start(offer(Coding::gzip), h, 5000)) << type;
  }
  for (std::string type : {"application/jsonx", "texts/plain", "application/octet-stream"}) {
    ResponseHead h;
    h.status = 200;
    h.headers = {{"Content-Type", type}};
    EXPECT_FALSE(ResponseCompressor::start(offer(Coding::gzip), h, 5000)) << type;
  }
}

TEST(ResponseCompressor, VaryAndValidatorsOfTheEncodedVariant) {
  ResponseHead h = html(200, {{"Vary", "Cookie"}, {"ETag", "\"v1\""}});
  ASSERT_TRUE(ResponseCompressor::start(offer(Coding::br), h, 5000));
  EXPECT_EQ(value(h, "Vary"), "Cookie, Accept-Encoding");
  EXPECT_EQ(value(h, "ETag"), "W/\"v1\"");
  h = html(200, {{"Vary", "cookie, accept-encoding"}, {"ETag", "W/\"v2\""}});
  ASSERT_TRUE(ResponseCompressor::start(offer(Coding::br), h, 5000));
  EXPECT_EQ(value(h, "Vary"), "cookie, accept-encoding");
  EXPECT_EQ(value(h, "ETag"), "W/\"v2\"");
  h = html(200, {{"Vary", "*"}});
  ASSERT_TRUE(ResponseCompressor::start(offer(Coding::br), h, 5000));
  EXPECT_EQ(value(h, "Vary"), "*");
  // A 404 page is compressed like any other page.
  h = html(404);
  EXPECT_TRUE(ResponseCompressor::start(offer(Coding::gzip), h, 5000));
}
