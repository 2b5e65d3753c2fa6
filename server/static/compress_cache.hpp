#pragma once
// On-the-fly compression of static files, done once per file version and kept in a bounded
// cache folder (like lighttpd's compress.cache-dir). Compressing never happens on the request
// path: the first request for a version queues the job and is served uncompressed; a short-lived
// background thread compresses (gzip with zlib, brotli with libbrotli), renames the result into
// place, and removes the oldest entries beyond the size bound; later requests get the result.

#include <sys/stat.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace w2p::server {

std::vector<std::string> default_compress_types();

// Whether `content_type` (parameters ignored) is one of `types` ("text/": every text type).
bool compressible_type(std::string_view content_type, const std::vector<std::string>& types);

struct CompressSettings {
  std::string dir;                                            // empty: on-the-fly compression off
  std::vector<std::string> types = default_compress_types();  // "text/" matches every text type
  std::uint64_t min_size = 256;                               // smaller files are not worth it
  std::uint64_t max_size = 16 << 20;                          // larger ones are left alone
  std::uint64_t cache_bytes = 64 << 20;
  bool background = true;  // false: jobs wait for drain() (tests)
};

class CompressCache {
 public:
  explicit CompressCache(CompressSettings s);
  ~CompressCache();
  CompressCache(const CompressCache&) = delete;
  CompressCache& operator=(const CompressCache&) = delete;

  const std::string& dir() const { return settings_.dir; }
  // Whether a file of this type and size is compressed on the fly.
  bool wants(std::string_view content_type, std::uint64_t size) const;
  // The cache entry's name for this version of a file (device, inode, size, mtime).
  static std::string entry_name(const struct stat& st, std::string_view ext);
  // Whether a file name in the folder is one entry_name() makes (only those are ever removed).
  static bool is_entry_name(std::string_view name);
  // Queues compressing `relative` below `root` (expected to be the version `st`) with `coding`
  // ("br" or "gzip"). Returns at once; a job already queued or done is not queued again.
  void request(const std::string& root, const std::string& relative, const struct stat& st,
               std::string_view coding);
  // Runs the queued jobs now, on this thread (for tests).
  void drain();

  // One job, on any thread: compresses src (an open descriptor) into dst_dir/name. Returns an
  // error text, or "" on success.
  static std::string compress_file(int src, const struct stat& st, std::string_view coding,
                                   const std::string& dst_dir, const std::string& name);

 private:
  struct Job {
    std::string root, relative, name;
    struct stat st;
    std::string coding;
  };
  void run();
  void run_job(const Job& job);
  void finish_job(const Job& job);
  void trim(const std::string& keep);

  CompressSettings settings_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::set<std::string> pending_;  // names queued or being written
  std::set<std::string> failed_;   // not tried again (bounded: cleared when large)
  std::thread thread_;
  bool running_ = false;
  bool stopping_ = false;
};

}  // namespace w2p::server
