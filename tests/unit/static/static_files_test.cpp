#include "server/static/static_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "server/http/http_date.hpp"
#include "server/static/file_cache.hpp"

using namespace w2p::server;
namespace fs = std::filesystem;

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/w2p-static-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    fs::create_directories(root_ + "/css");
    fs::create_directories(root_ + "/sub");
    std::ofstream(root_ + "/css/a.css") << "body{}";
    std::ofstream(root_ + "/sub/index.html") << "<p>index</p>";
    std::ofstream(base_ + "/secret.txt") << "secret";
    fs::create_symlink(base_ + "/secret.txt", root_ + "/escape-abs");
    fs::create_symlink("../secret.txt", root_ + "/escape-rel");
    fs::create_symlink("css/a.css", root_ + "/inside-link.css");
    ::mkfifo((root_ + "/fifo").c_str(), 0600);
  }
  void TearDown() override { fs::remove_all(base_); }

  OpenedFile open(const std::string& rel) {
    OpenedFile f = open_below(root_, rel);
    if (f.fd >= 0) fds_.push_back(f.fd);
    return f;
  }
  ~StaticFiles() override {
    for (int fd : fds_) ::close(fd);
  }

  std::string base_, root_;
  std::vector<int> fds_;
};

TEST_F(StaticFiles, OpensRegularFiles) {
  auto f = open("css/a.css");
  ASSERT_EQ(f.status, OpenStatus::ok);
  EXPECT_EQ(f.st.st_size, 6);
  EXPECT_EQ(f.name, "css/a.css");
}

TEST_F(StaticFiles, MissingIsNotFound) {
  EXPECT_EQ(open("css/none.css").status, OpenStatus::not_found);
}

TEST_F(StaticFiles, DirectoryIsReportedNotOpened) {
  EXPECT_EQ(open("sub").status, OpenStatus::directory);
  EXPECT_EQ(open("sub").fd, -1);
  EXPECT_EQ(open("").status, OpenStatus::directory);
  EXPECT_EQ(open("sub/index.html").status, OpenStatus::ok);
}

TEST_F(StaticFiles, SymlinksOutOfTheRootAreRefused) {
  EXPECT_NE(open("escape-abs").status, OpenStatus::ok);
  EXPECT_NE(open("escape-rel").status, OpenStatus::ok);
  EXPECT_EQ(open("inside-link.css").status, OpenStatus::ok);
}

TEST_F(StaticFiles, DotDotNeverLeavesTheRoot) {
  EXPECT_NE(open("../secret.txt").status, OpenStatus::ok);
  EXPECT_NE(open("css/../../secret.txt").status, OpenStatus::ok);
}

TEST_F(StaticFiles, NonRegularFilesAreForbidden) {
  EXPECT_EQ(open("fifo").status, OpenStatus::forbidden);
}

TEST(MountMatch, MatchesWholeSegments) {
  StaticMount m{"/static", "/srv"};
  std::string rel;
  EXPECT_TRUE(mount_match(m, "/static/css/a.css", rel));
  EXPECT_EQ(rel, "/css/a.css");
  EXPECT_TRUE(mount_match(m, "/static", rel));
  EXPECT_EQ(rel, "");
  EXPECT_FALSE(mount_match(m, "/staticky/a.css", rel));
  EXPECT_FALSE(mount_match(m, "/other/static/a.css", rel));
  StaticMount root{"", "/srv"};
  EXPECT_TRUE(mount_match(root, "/anything", rel));
  EXPECT_EQ(rel, "/anything");
}

TEST(Validators, EtagChangesWithTheFile) {
  struct stat a {};
  a.st_ino = 10;
  a.st_size = 100;
  a.st_mtim.tv_sec = 1000;
  struct stat b = a;
  b.st_size = 101;
  struct stat c = a;
  c.st_mtim.tv_sec = 1001;
  EXPECT_NE(make_etag(a), make_etag(b));
  EXPECT_NE(make_etag(a), make_etag(c));
  EXPECT_EQ(make_etag(a).front(), '"');
  EXPECT_EQ(make_etag(a).back(), '"');
}

TEST(Validators, IfNoneMatch) {
  std::string etag = "\"abc\"";
  EXPECT_TRUE(not_modified("\"abc\"", "", etag, 0));
  EXPECT_TRUE(not_modified("W/\"abc\"", "", etag, 0));
  EXPECT_TRUE(not_modified("\"x\", \"abc\"", "", etag, 0));
  EXPECT_TRUE(not_modified("*", "", etag, 0));
  EXPECT_FALSE(not_modified("\"abcd\"", "", etag, 0));
  EXPECT_FALSE(not_modified("abc", "", etag, 0));
  // If-None-Match takes precedence over If-Modified-Since.
  EXPECT_FALSE(not_modified("\"zzz\"", format_http_date(2000), etag, 1000));
}

TEST(Validators, IfModifiedSince) {
  EXPECT_TRUE(not_modified("", format_http_date(1000), "\"e\"", 1000));
  EXPECT_TRUE(not_modified("", format_http_date(2000), "\"e\"", 1000));
  EXPECT_FALSE(not_modified("", format_http_date(999), "\"e\"", 1000));
  EXPECT_FALSE(not_modified("", "not a date", "\"e\"", 1000));
}

TEST_F(StaticFiles, CacheReusesAndNoticesChanges) {
  w2p::server::FileCache cache(8);
  auto a = cache.open(root_, "css/a.css");
  ASSERT_EQ(a->status, OpenStatus::ok);
  EXPECT_EQ(a->content_type, "text/css; charset=utf-8");
  EXPECT_FALSE(a->etag.empty());
  auto b = cache.open(root_, "css/a.css");
  EXPECT_EQ(a.get(), b.get());  // within a second: the same entry
  auto missing = cache.open(root_, "css/none.css");
  EXPECT_EQ(missing->status, OpenStatus::not_found);
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(StaticFiles, CacheIsBounded) {
  w2p::server::FileCache cache(2);
  for (const char* f : {"css/a.css", "sub/index.html", "inside-link.css", "css/a.css"})
    EXPECT_EQ(cache.open(root_, f)->status, OpenStatus::ok) << f;
  EXPECT_EQ(cache.size(), 2u);
  w2p::server::FileCache none(0);
  EXPECT_EQ(none.open(root_, "css/a.css")->status, OpenStatus::ok);
  EXPECT_EQ(none.size(), 0u);
}

TEST_F(StaticFiles, CacheKeepsTheRootConfinement) {
  w2p::server::FileCache cache(8);
  EXPECT_NE(cache.open(root_, "escape-rel")->status, OpenStatus::ok);
  EXPECT_NE(cache.open(root_, "../secret.txt")->status, OpenStatus::ok);
}
