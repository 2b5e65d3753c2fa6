#include "server/static/file_cache.hpp"

#include <unistd.h>

#include <cstdio>

#include "server/http/http_date.hpp"
#include "server/http/mime.hpp"

namespace w2p::server {

namespace {
constexpr auto kTrustFor = std::chrono::seconds(1);

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}
}  // namespace

CachedFile::~CachedFile() {
  if (fd >= 0) ::close(fd);
}

std::shared_ptr<const CachedFile> FileCache::load(const std::string& root,
                                                  const std::string& relative) {
  auto f = std::make_shared<CachedFile>();
  OpenedFile o = open_below(root, relative);
  f->status = o.status;
  f->fd = o.fd;
  f->st = o.st;
  if (o.status == OpenStatus::ok) {
    f->name = std::move(o.name);
    f->etag = make_etag(f->st);
    f->last_modified = format_http_date(f->st.st_mtim.tv_sec);
    f->content_type = mime_type_for(f->name);
    // Read from the open descriptor itself: the path may have changed since it was opened.
    char link[64], buf[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", f->fd);
    ssize_t n = ::readlink(link, buf, sizeof buf);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof buf)
      f->real_path.assign(buf, static_cast<std::size_t>(n));
  }
  return f;
}

std::shared_ptr<const CachedFile> FileCache::open(const std::string& root,
                                                  const std::string& relative) {
  if (capacity_ == 0) return load(root, relative);
  std::string key;
  key.reserve(root.size() + relative.size() + 2);
  key.append(root).push_back('\0');
  key.append(relative);
  auto now = std::chrono::steady_clock::now();
  std::shared_ptr<const CachedFile> stale;
  {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      if (now - it->second->checked < kTrustFor) return it->second->file;
      stale = it->second->file;
    }
  }
  // Outside the lock: resolve again (the path may now lead elsewhere) and compare.
  auto fresh = load(root, relative);
  if (stale && stale->status == fresh->status &&
      (fresh->status != OpenStatus::ok || same_file(stale->st, fresh->st)))
    fresh = stale;  // unchanged: keep the old entry, drop the new descriptor
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->file = fresh;
    it->second->checked = now;
  } else {
    lru_.push_front({key, fresh, now});
    index_.emplace(std::move(key), lru_.begin());
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
  }
  return fresh;
}

std::size_t FileCache::size() {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace w2p::server
