#include "server/static/static_responder.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/routing/site.hpp"

using namespace w2p::server;

namespace {

class Responder : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/w2p-responder-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/docs");
    std::ofstream(dir_ + "/a.txt") << "0123456789";
    std::ofstream(dir_ + "/docs/index.html") << "<p>docs</p>";
    std::ofstream(dir_ + "/big.bin") << std::string(100000, 'x');
    std::ofstream(dir_ + "/style.css") << "body{}";
    std::ofstream(dir_ + "/style.css.gz") << "GZ";
    site_.spec.name = "s";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  FilePlan serve(const std::string& rel, FileRequest rq = {}) {
    return responder_.serve(dir_, rel, site_, "/" + rel, "/" + rel, "", rq);
  }
  std::string dir_;
  FileCache files_{16};
  StaticResponder responder_{files_, nullptr, "", ""};
  Site site_;
};

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_F(Responder, SmallFileInlineWithValidators) {
  auto p = serve("a.txt");
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.file);  // sent with its head in one write
  EXPECT_TRUE(p.out.ends_with("\r\n\r\n0123456789"));
  EXPECT_TRUE(has(p.out, "ETag: \""));
  EXPECT_TRUE(has(p.out, "Accept-Ranges: bytes"));
  EXPECT_EQ(p.body_bytes, 10u);
}

TEST_F(Responder, LargeFileIsSentFromItsDescriptor) {
  auto p = serve("big.bin");
  ASSERT_TRUE(p.file);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.length, 100000u);
  EXPECT_TRUE(has(p.out, "Content-Length: 100000"));
}

TEST_F(Responder, ConditionalsAndRanges) {
  auto first = serve("a.txt");
  std::size_t at = first.out.find("ETag: ") + 6;
  std::string etag = first.out.substr(at, first.out.find("\r\n", at) - at);
  FileRequest rq;
  rq.if_none_match = etag;
  EXPECT_EQ(serve("a.txt", rq).status, 304);
  rq = {};
  rq.if_match = "\"other\"";
  EXPECT_EQ(serve("a.txt", rq).status, 412);
  rq = {};
  rq.range = "bytes=2-4";
  auto p = serve("a.txt", rq);
  EXPECT_EQ(p.status, 206);
  EXPECT_TRUE(p.out.ends_with("234"));
  rq.range = "bytes=0-0,5-6";
  p = serve("big.bin", rq);
  EXPECT_EQ(p.status, 206);
  EXPECT_TRUE(has(p.out, "multipart/byteranges"));
  EXPECT_EQ(p.length, 1u);
  EXPECT_EQ(p.segments.size(), 2u);  // the second part, then the closing boundary
  rq.range = "bytes=500000-";
  EXPECT_EQ(serve("big.bin", rq).status, 416);
  rq.head = true;
  rq.get = false;
  rq.range = "bytes=2-4";
  p = serve("a.txt", rq);
  EXPECT_EQ(p.status, 200);  // ranges are for GET
  EXPECT_TRUE(p.out.ends_with("\r\n\r\n"));
}

TEST_F(Responder, DirectoriesGetTheirIndexOrASlash) {
  auto p = responder_.serve(dir_, "docs", site_, "/docs", "/docs", "q=1", {});
  EXPECT_EQ(p.status, 301);
  EXPECT_TRUE(p.redirect);
  EXPECT_TRUE(has(p.out, "Location: /docs/?q=1"));
  p = responder_.serve(dir_, "docs", site_, "/docs/", "/docs/", "", {});
  EXPECT_EQ(p.status, 200);
  EXPECT_TRUE(p.out.ends_with("<p>docs</p>"));
  p = serve("missing.txt");
  EXPECT_EQ(p.status, 404);
  EXPECT_TRUE(p.error);
}

TEST_F(Responder, PrecompressedSiblingForClientsThatAcceptIt) {
  FileRequest rq;
  rq.accept_encoding = "gzip, deflate";
  auto p = serve("style.css", rq);
  EXPECT_TRUE(has(p.out, "Content-Encoding: gzip"));
  EXPECT_TRUE(has(p.out, "Vary: Accept-Encoding"));
  EXPECT_TRUE(p.out.ends_with("GZ"));
  rq.accept_encoding = "gzip;q=0";
  EXPECT_TRUE(serve("style.css", rq).out.ends_with("body{}"));
}

TEST_F(Responder, Web2pyHeaders) {
  FilePlan p;
  ASSERT_TRUE(responder_.serve_web2py(dir_, "a.txt", true, "attachment", {}, p));
  EXPECT_TRUE(has(p.out, "Cache-Control: max-age=315360000"));
  EXPECT_TRUE(has(p.out, "Content-Disposition: attachment"));
  ASSERT_TRUE(responder_.serve_web2py(dir_, "a.txt", false, "", {}, p));
  EXPECT_TRUE(has(p.out, "Cache-Control: private"));
  EXPECT_FALSE(responder_.serve_web2py(dir_, "docs", false, "", {}, p));  // web2py answers
  EXPECT_FALSE(responder_.serve_web2py(dir_, "none.css", false, "", {}, p));
}

TEST_F(Responder, PrivateWeb2pyFilesByTheirRealPath) {
  // A symlink in a served folder that leads into a web2py application's private data.
  std::string root = dir_ + "/web2py";
  std::filesystem::create_directories(root + "/applications/app/databases");
  std::filesystem::create_directories(root + "/applications/app/static");
  std::ofstream(root + "/applications/app/databases/x.sqlite") << "secret";
  std::ofstream(root + "/applications/app/static/ok.css") << "ok";
  // Relative: openat2(RESOLVE_BENEATH) refuses absolute links even to files below the folder.
  std::filesystem::create_symlink("web2py/applications/app/databases/x.sqlite", dir_ + "/link");
  StaticResponder guarded{files_, nullptr, root, root + "/applications"};
  EXPECT_EQ(guarded.open(dir_, "link")->status, OpenStatus::forbidden);
  EXPECT_EQ(guarded.open(root + "/applications/app/static", "ok.css")->status, OpenStatus::ok);
  EXPECT_EQ(responder_.open(dir_, "link")->status, OpenStatus::ok);  // not a web2py server
}

// HTTP/2 (FileRequest::h2): the head stays structured and no file bytes are copied into the
// plan; a status page's body is the plan's only text.
TEST_F(Responder, Http2PlansKeepTheHeadAndCopyNoFileBytes) {
  FileRequest rq;
  rq.h2 = true;
  auto p = serve("a.txt", rq);
  EXPECT_EQ(p.status, 200);
  EXPECT_TRUE(p.out.empty());
  ASSERT_TRUE(p.file);
  EXPECT_EQ(p.length, 10u);
  EXPECT_EQ(p.content_length, std::optional<std::uint64_t>(10));
  EXPECT_EQ(p.head.status, 200);
  bool etag = false;
  for (const auto& h : p.head.headers) etag = etag || h.name == "ETag";
  EXPECT_TRUE(etag);

  rq.range = "bytes=2-4";
  p = serve("a.txt", rq);
  EXPECT_EQ(p.status, 206);
  EXPECT_EQ(p.offset, 2u);
  EXPECT_EQ(p.length, 3u);
  EXPECT_EQ(p.content_length, std::optional<std::uint64_t>(3));

  rq = {};
  rq.h2 = true;
  p = serve("missing.txt", rq);
  EXPECT_EQ(p.status, 404);
  EXPECT_TRUE(p.out.starts_with("<!DOCTYPE html>"));  // the page's body only
  EXPECT_EQ(p.content_length, std::optional<std::uint64_t>(p.out.size()));
}
