#include "server/http/mime.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

using namespace w2p::server;

TEST(Mime, BuiltInTypes) {
  EXPECT_EQ(mime_type_for("a/b/style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(mime_type_for("app.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mime_type_for("logo.png"), "image/png");
  EXPECT_EQ(mime_type_for("logo.svg"), "image/svg+xml; charset=utf-8");
  EXPECT_EQ(mime_type_for("f.woff2"), "font/woff2");
}

TEST(Mime, UnknownIsOctetStream) {
  EXPECT_EQ(mime_type_for("README"), "application/octet-stream");
  EXPECT_EQ(mime_type_for("x.unknownext"), "application/octet-stream");
  EXPECT_EQ(mime_type_for("dir.d/file"), "application/octet-stream");
  EXPECT_EQ(mime_type_for("trailing."), "application/octet-stream");
}

TEST(Mime, SystemTableDoesNotOverrideBuiltIns) {
  load_mime_types();
  EXPECT_EQ(mime_type_for("x.css"), "text/css; charset=utf-8");
  load_mime_types("/nonexistent/mime.types");  // a missing file is not an error
  EXPECT_EQ(mime_type_for("x.png"), "image/png");
}

TEST(Mime, SystemTableAddsTypes) {
  char path[] = "/tmp/w2p-mime-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text =
      "# comment\napplication/x-thing\tthing thg\ntext/x-other other\ntext/plain css\n";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  load_mime_types(path);
  ::unlink(path);
  EXPECT_EQ(mime_type_for("a.thing"), "application/x-thing");
  EXPECT_EQ(mime_type_for("a.THG"), "application/x-thing");
  EXPECT_EQ(mime_type_for("a.other"), "text/x-other; charset=utf-8");
  EXPECT_EQ(mime_type_for("a.css"), "text/css; charset=utf-8");  // built-in wins
  load_mime_types();
}
