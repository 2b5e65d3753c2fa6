#pragma once
// A small bounded cache of open static files: descriptor, stat result and the header values
// derived from them, so a hot file costs no open/stat/close per hit. An entry is trusted for
// one second, then checked again (same inode, size and mtime, re-resolved below its root), as
// lighttpd's stat cache does; negative results (no such file) are cached the same way.

#include <sys/stat.h>

#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/static/static_files.hpp"

namespace w2p::server {

struct CachedFile {
  OpenStatus status = OpenStatus::not_found;
  int fd = -1;  // owned; shared by every response sending this file (sendfile uses offsets)
  struct stat st {};
  std::string name;       // the relative path opened
  std::string real_path;  // where it really is, every symlink resolved ("" if unknown)
  std::string etag, last_modified, content_type;

  CachedFile() = default;
  CachedFile(const CachedFile&) = delete;
  CachedFile& operator=(const CachedFile&) = delete;
  ~CachedFile();
};

class FileCache {
 public:
  explicit FileCache(std::size_t capacity) : capacity_(capacity) {}
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // Opens (or finds) `relative` below `root` with open_below's rules.
  std::shared_ptr<const CachedFile> open(const std::string& root, const std::string& relative);

  std::size_t size();

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedFile> file;
    std::chrono::steady_clock::time_point checked;
  };
  static std::shared_ptr<const CachedFile> load(const std::string& root,
                                                const std::string& relative);

  std::size_t capacity_;
  std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace w2p::server
