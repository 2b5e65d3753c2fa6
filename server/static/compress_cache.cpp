#include "server/static/compress_cache.hpp"

#include <brotli/encode.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "server/fd_io.hpp"
#include "server/log.hpp"
#include "server/static/static_files.hpp"

namespace w2p::server {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxFailed = 4096;

// Reads the whole source in chunks and feeds them to `sink(data, size, last)`.
template <class Sink>
std::string pump(int src, std::uint64_t size, Sink&& sink) {
  std::vector<unsigned char> in(kChunk);
  std::uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(src, in.data(), std::min<std::uint64_t>(kChunk, size - done),
                        static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "the file changed while it was being compressed";
    done += static_cast<std::uint64_t>(n);
    if (!sink(in.data(), static_cast<std::size_t>(n), done == size)) return "compression failed";
  }
  if (size == 0 && !sink(in.data(), 0, true)) return "compression failed";
  return "";
}

std::string gzip_to(int src, std::uint64_t size, int out) {
  z_stream z{};
  // 15 window bits + 16: a gzip wrapper; level 9 (done once per file version).
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return "zlib init failed";
  std::vector<unsigned char> buf(kChunk);
  bool ok = true;
  std::string err = pump(src, size, [&](const unsigned char* data, std::size_t n, bool last) {
    z.next_in = const_cast<unsigned char*>(data);
    z.avail_in = static_cast<uInt>(n);
    int flush = last ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) return ok = false;
      if (!write_all(out, buf.data(), buf.size() - z.avail_out)) return ok = false;
    } while (z.avail_out == 0);
    return true;
  });
  deflateEnd(&z);
  if (!err.empty()) return err;
  return ok ? "" : "writing the compressed file failed";
}

std::string brotli_to(int src, std::uint64_t size, int out) {
  BrotliEncoderState* s = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
  if (!s) return "brotli init failed";
  // Quality 9 with a 256 KiB window: most of brotli's gain for web assets, a few MiB of
  // encoder memory for the moment it runs.
  BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, 9);
  BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, 18);
  BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT, static_cast<std::uint32_t>(size));
  std::vector<unsigned char> buf(kChunk);
  bool ok = true;
  std::string err = pump(src, size, [&](const unsigned char* data, std::size_t n, bool last) {
    std::size_t avail_in = n;
    const std::uint8_t* next_in = data;
    BrotliEncoderOperation op = last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS;
    while (true) {
      std::size_t avail_out = buf.size();
      std::uint8_t* next_out = buf.data();
      if (!BrotliEncoderCompressStream(s, op, &avail_in, &next_in, &avail_out, &next_out, nullptr))
        return ok = false;
      if (!write_all(out, buf.data(), buf.size() - avail_out)) return ok = false;
      if (avail_in == 0 && !BrotliEncoderHasMoreOutput(s) && (!last || BrotliEncoderIsFinished(s)))
        break;
    }
    return true;
  });
  BrotliEncoderDestroyInstance(s);
  if (!err.empty()) return err;
  return ok ? "" : "writing the compressed file failed";
}

}  // namespace

std::vector<std::string> default_compress_types() {
  return {"text/",
          "application/javascript",
          "application/json",
          "application/xml",
          "application/wasm",
          "image/svg+xml",
          "image/x-icon",
          "font/ttf",
          "font/otf"};
}

bool compressible_type(std::string_view type, const std::vector<std::string>& types) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  for (const auto& t : types)
    if (t.ends_with('/') ? type.starts_with(t) : type == t) return true;
  return false;
}

CompressCache::CompressCache(CompressSettings s) : settings_(std::move(s)) {}

CompressCache::~CompressCache() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool CompressCache::wants(std::string_view type, std::uint64_t size) const {
  if (settings_.dir.empty() || size < settings_.min_size || size > settings_.max_size) return false;
  return compressible_type(type, settings_.types);
}

std::string CompressCache::entry_name(const struct stat& st, std::string_view ext) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%lx-%lx-%lx-%lx.%09ld", static_cast<unsigned long>(st.st_dev),
                static_cast<unsigned long>(st.st_ino), static_cast<unsigned long>(st.st_size),
                static_cast<unsigned long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
  return std::string(buf).append(ext);
}

void CompressCache::request(const std::string& root, const std::string& relative,
                            const struct stat& st, std::string_view coding) {
  std::string name = entry_name(st, coding == "br" ? ".br" : ".gz");
  std::thread finished;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || pending_.count(name) || failed_.count(name)) return;
    pending_.insert(name);
    queue_.push_back({root, relative, name, st, std::string(coding)});
    if (running_ || !settings_.background) {
      cv_.notify_one();
      return;
    }
    // The previous worker ran out of work and ended: collect it, start a new one.
    if (thread_.joinable()) finished = std::move(thread_);
    running_ = true;
    thread_ = std::thread([this] { run(); });
  }
  if (finished.joinable()) finished.join();
}

void CompressCache::drain() {
  while (true) {
    Job job;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    run_job(job);
  }
}

// The worker lives only while there is work: an idle server has no compression thread.
void CompressCache::run() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      if (queue_.empty() || stopping_) {
        running_ = false;
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    run_job(job);
  }
}

void CompressCache::run_job(const Job& job) {
  finish_job(job);
  std::lock_guard lock(mutex_);
  pending_.erase(job.name);
}

void CompressCache::finish_job(const Job& job) {
  std::string final_path = settings_.dir + "/" + job.name;
  struct stat existing {};
  if (::stat(final_path.c_str(), &existing) == 0) return;
  OpenedFile src = open_below(job.root, job.relative);
  if (src.status != OpenStatus::ok) return;
  // Only the version that was asked for: a file replaced since then gets its own job.
  if (src.st.st_ino != job.st.st_ino || src.st.st_size != job.st.st_size ||
      src.st.st_mtim.tv_sec != job.st.st_mtim.tv_sec ||
      src.st.st_mtim.tv_nsec != job.st.st_mtim.tv_nsec) {
    ::close(src.fd);
    return;
  }
  std::string err = compress_file(src.fd, src.st, job.coding, settings_.dir, job.name);
  ::close(src.fd);
  if (!err.empty()) {
    log::warn("cannot compress " + job.root + "/" + job.relative + " into " + settings_.dir + ": " +
              err);
    std::lock_guard lock(mutex_);
    if (failed_.size() > kMaxFailed) failed_.clear();
    failed_.insert(job.name);
    return;
  }
  trim(job.name);
}

std::string CompressCache::compress_file(int src, const struct stat& st, std::string_view coding,
                                         const std::string& dst_dir, const std::string& name) {
  std::string tmp = dst_dir + "/." + name + ".XXXXXX";
  int out = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (out < 0) return std::string("cannot create a file there: ") + std::strerror(errno);
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  std::string err = coding == "br" ? brotli_to(src, size, out) : gzip_to(src, size, out);
  // The variant carries the original's modification time (its Last-Modified).
  struct timespec times[2] = {st.st_mtim, st.st_mtim};
  if (err.empty() && ::futimens(out, times) != 0) err = std::strerror(errno);
  if (err.empty() && ::fchmod(out, 0644) != 0) err = std::strerror(errno);
  if (::close(out) != 0 && err.empty()) err = std::strerror(errno);
  if (err.empty() && ::rename(tmp.c_str(), (dst_dir + "/" + name).c_str()) != 0)
    err = std::strerror(errno);
  if (!err.empty()) ::unlink(tmp.c_str());
  return err;
}

bool CompressCache::is_entry_name(std::string_view name) {
  // entry_name(): four hex fields joined by '-', '.', nine digits, ".br" or ".gz".
  if (!(name.ends_with(".br") || name.ends_with(".gz"))) return false;
  name.remove_suffix(3);
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || name.size() - dot - 1 != 9) return false;
  for (char c : name.substr(dot + 1))
    if (c < '0' || c > '9') return false;
  std::string_view fields = name.substr(0, dot);
  int count = 0;
  std::size_t i = 0;
  while (i <= fields.size()) {
    std::size_t end = fields.find('-', i);
    if (end == std::string_view::npos) end = fields.size();
    std::string_view f = fields.substr(i, end - i);
    if (f.empty() || f.size() > 16) return false;
    for (char c : f)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    ++count;
    i = end + 1;
  }
  return count == 4;
}

// Keeps the folder under its bound: the entries written longest ago go first (never the one
// just written). Only files this cache made count and go: the folder may hold others (a
// mistaken --compress-cache /var/www must not empty a website).
void CompressCache::trim(const std::string& keep) {
  DIR* d = ::opendir(settings_.dir.c_str());
  if (!d) return;
  struct Entry {
    std::string name;
    std::uint64_t size;
    struct timespec written;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    if (keep == e->d_name || !is_entry_name(e->d_name)) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    entries.push_back({e->d_name, static_cast<std::uint64_t>(st.st_size), st.st_ctim});
    total += static_cast<std::uint64_t>(st.st_size);
  }
  if (total > settings_.cache_bytes) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.written.tv_sec != b.written.tv_sec ? a.written.tv_sec < b.written.tv_sec
                                                  : a.written.tv_nsec < b.written.tv_nsec;
    });
    for (const auto& e : entries) {
      if (total <= settings_.cache_bytes) break;
      if (::unlinkat(::dirfd(d), e.name.c_str(), 0) == 0) total -= e.size;
    }
  }
  ::closedir(d);
}

}  // namespace w2p::server
