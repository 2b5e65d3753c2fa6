#include "server/static/compress_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/decoders.hpp"

using namespace w2p::server;
using w2p::test::gunzip;
using w2p::test::unbrotli;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Compress : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/w2p-compress-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/www");
    std::filesystem::create_directories(dir_ + "/cache");
    for (int i = 0; i < 3000; ++i) text_ += "body { margin: " + std::to_string(i) + "px }\n";
    std::ofstream(dir_ + "/www/site.css") << text_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  struct stat stat_of(const std::string& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st;
  }
  std::string dir_, text_;
};

}  // namespace

TEST_F(Compress, GzipAndBrotliRoundTrip) {
  for (const char* coding : {"gzip", "br"}) {
    int fd = ::open((dir_ + "/www/site.css").c_str(), O_RDONLY);
    auto st = stat_of(dir_ + "/www/site.css");
    std::string name = std::string("x.") + coding;
    EXPECT_EQ(CompressCache::compress_file(fd, st, coding, dir_ + "/cache", name), "");
    ::close(fd);
    std::string packed = read(dir_ + "/cache/" + name);
    EXPECT_LT(packed.size(), text_.size() / 4) << coding;
    EXPECT_TRUE((std::string(coding) == "br" ? unbrotli(packed) : gunzip(packed)) == text_)
        << coding;
    // It carries the original's modification time (its Last-Modified).
    EXPECT_EQ(stat_of(dir_ + "/cache/" + name).st_mtim.tv_sec, st.st_mtim.tv_sec);
  }
  // No temporary files are left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_ + "/cache")) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST_F(Compress, EmptyFile) {
  std::ofstream(dir_ + "/www/empty.txt") << "";
  int fd = ::open((dir_ + "/www/empty.txt").c_str(), O_RDONLY);
  auto st = stat_of(dir_ + "/www/empty.txt");
  EXPECT_EQ(CompressCache::compress_file(fd, st, "gzip", dir_ + "/cache", "e.gz"), "");
  EXPECT_EQ(CompressCache::compress_file(fd, st, "br", dir_ + "/cache", "e.br"), "");
  ::close(fd);
  EXPECT_EQ(gunzip(read(dir_ + "/cache/e.gz")), "");
  EXPECT_EQ(unbrotli(read(dir_ + "/cache/e.br")), "");
}

TEST_F(Compress, WhatIsCompressed) {
  CompressSettings s;
  s.dir = dir_ + "/cache";
  s.types = default_compress_types();
  s.min_size = 100;
  CompressCache c(s);
  EXPECT_TRUE(c.wants("text/css; charset=utf-8", 1000));
  EXPECT_TRUE(c.wants("application/javascript; charset=utf-8", 1000));
  EXPECT_TRUE(c.wants("image/svg+xml", 1000));
  EXPECT_FALSE(c.wants("image/png", 1000));
  EXPECT_FALSE(c.wants("application/javascriptx", 1000));
  EXPECT_FALSE(c.wants("text/css", 99));
  EXPECT_FALSE(c.wants("text/css", 17u << 20));
  CompressCache off(CompressSettings{});
  EXPECT_FALSE(off.wants("text/css", 1000));
}

TEST_F(Compress, JobsOncePerVersionAndBounded) {
  CompressSettings s;
  s.dir = dir_ + "/cache";
  s.types = default_compress_types();
  s.cache_bytes = 1;  // everything but the newest entry goes
  s.background = false;
  CompressCache c(s);
  auto st = stat_of(dir_ + "/www/site.css");
  // Queued jobs run on drain() here (no background thread is needed for the test).
  c.request(dir_ + "/www", "site.css", st, "gzip");
  c.drain();
  std::string gz = dir_ + "/cache/" + CompressCache::entry_name(st, ".gz");
  EXPECT_TRUE(gunzip(read(gz)) == text_);
  // A version that is no longer on disk is not compressed.
  struct stat old = st;
  old.st_mtim.tv_sec -= 100;
  c.request(dir_ + "/www", "site.css", old, "br");
  c.drain();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cache/" + CompressCache::entry_name(old, ".br")));
  c.request(dir_ + "/www", "site.css", st, "br");
  c.drain();
  std::string br = dir_ + "/cache/" + CompressCache::entry_name(st, ".br");
  EXPECT_TRUE(std::filesystem::exists(br));
  EXPECT_FALSE(std::filesystem::exists(gz));  // trimmed to the bound
  EXPECT_NE(CompressCache::entry_name(st, ".gz"), CompressCache::entry_name(old, ".gz"));
}

TEST_F(Compress, TrimmingNeverRemovesFilesItDidNotMake) {
  // The folder given may hold other files (a mistake, or a shared cache folder).
  std::ofstream(dir_ + "/cache/index.html") << std::string(4096, 'x');
  std::ofstream(dir_ + "/cache/notes.gz") << std::string(4096, 'x');
  std::filesystem::create_directories(dir_ + "/cache/sub");
  CompressSettings s;
  s.dir = dir_ + "/cache";
  s.types = default_compress_types();
  s.cache_bytes = 1;
  s.background = false;
  CompressCache c(s);
  auto st = stat_of(dir_ + "/www/site.css");
  c.request(dir_ + "/www", "site.css", st, "gzip");
  c.drain();
  c.request(dir_ + "/www", "site.css", st, "br");
  c.drain();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/cache/index.html"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/cache/notes.gz"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/cache/sub"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cache/" + CompressCache::entry_name(st, ".gz")));
  EXPECT_TRUE(CompressCache::is_entry_name(CompressCache::entry_name(st, ".br")));
  EXPECT_FALSE(CompressCache::is_entry_name("notes.gz"));
  EXPECT_FALSE(CompressCache::is_entry_name("1-2-3.000000000.gz"));
  EXPECT_FALSE(CompressCache::is_entry_name("1-2-3-4.00000000x.br"));
}

TEST_F(Compress, BackgroundWorkerFinishes) {
  CompressSettings s;
  s.dir = dir_ + "/cache";
  s.types = default_compress_types();
  auto st = stat_of(dir_ + "/www/site.css");
  {
    CompressCache c(s);
    c.request(dir_ + "/www", "site.css", st, "gzip");
    c.request(dir_ + "/www", "site.css", st, "gzip");  // already queued: once
  }  // the destructor waits for the running job and stops the worker
  std::string gz = dir_ + "/cache/" + CompressCache::entry_name(st, ".gz");
  // Either the job ran before the stop, or it was dropped; never a partial file.
  if (std::filesystem::exists(gz)) {
    EXPECT_TRUE(gunzip(read(gz)) == text_);
  }
  for (auto& e : std::filesystem::directory_iterator(dir_ + "/cache"))
    EXPECT_NE(e.path().filename().string()[0], '.');
}
