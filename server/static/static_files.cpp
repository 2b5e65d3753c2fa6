#include "server/static/static_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "server/http/http_date.hpp"

namespace w2p::server {
namespace {

std::atomic<bool> g_openat2_missing{false};

// Directory descriptors of the served roots, opened once: a static hit then costs one openat2
// instead of open + openat2 + close. Bounded; a root beyond the bound is opened per request.
constexpr std::size_t kMaxCachedRoots = 256;
std::mutex g_roots_mutex;
std::unordered_map<std::string, int> g_roots;

int root_fd(const std::string& root, bool refresh, bool& cached) {
  std::lock_guard lock(g_roots_mutex);
  auto it = g_roots.find(root);
  if (it != g_roots.end() && !refresh) {
    cached = true;
    return it->second;
  }
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (it != g_roots.end()) {
      ::close(it->second);
      g_roots.erase(it);
    }
    return -1;
  }
  if (it != g_roots.end()) {
    // The folder was replaced (an application reinstalled): forget the old one.
    ::close(it->second);
    it->second = fd;
    cached = true;
  } else if (g_roots.size() < kMaxCachedRoots) {
    g_roots.emplace(root, fd);
    cached = true;
  } else {
    cached = false;
  }
  return fd;
}

// openat2 with RESOLVE_BENEATH makes the kernel refuse any path ("..", absolute or relative
// symlinks) that would resolve outside the root, in one system call.
long openat2_beneath(int dirfd, const std::string& relative) {
  struct open_how how {};
  // Non-blocking so that a FIFO can never hang the I/O thread (regular files ignore the flag).
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const char* rel = relative.empty() ? "." : relative.c_str();
  return ::syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
}

int open_beneath(const std::string& root, const std::string& relative) {
  if (!g_openat2_missing.load(std::memory_order_relaxed)) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool cached = false;
      int dirfd = root_fd(root, attempt > 0, cached);
      if (dirfd < 0) return -1;
      long fd = openat2_beneath(dirfd, relative);
      int saved = errno;
      if (!cached) ::close(dirfd);
      if (fd < 0 && saved == ENOSYS) {
        g_openat2_missing = true;
        break;
      }
      // A cached root may be a folder that was since replaced: look again once before 404.
      if (fd < 0 && saved == ENOENT && cached && attempt == 0) continue;
      errno = saved;
      return static_cast<int>(fd);
    }
  }
  // Older kernels: resolve every symlink and check the result is still below the root.
  std::string full = relative.empty() ? root : root + "/" + relative;
  char resolved[PATH_MAX];
  char root_resolved[PATH_MAX];
  if (!::realpath(full.c_str(), resolved) || !::realpath(root.c_str(), root_resolved)) return -1;
  std::string r(resolved), base(root_resolved);
  if (r != base && !(r.size() > base.size() && r.compare(0, base.size(), base) == 0 &&
                     (base == "/" || r[base.size()] == '/'))) {
    errno = EXDEV;
    return -1;
  }
  return ::open(resolved, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

OpenedFile open_regular(const std::string& root, const std::string& relative) {
  OpenedFile out;
  int fd = open_beneath(root, relative);
  if (fd < 0) {
    out.status = (errno == EXDEV || errno == ELOOP || errno == EACCES || errno == EPERM)
                     ? OpenStatus::forbidden
                     : OpenStatus::not_found;
    return out;
  }
  if (::fstat(fd, &out.st) != 0) {
    ::close(fd);
    return out;
  }
  if (S_ISDIR(out.st.st_mode)) {
    ::close(fd);
    out.status = OpenStatus::directory;
    return out;
  }
  if (!S_ISREG(out.st.st_mode)) {
    ::close(fd);
    out.status = OpenStatus::forbidden;
    return out;
  }
  out.status = OpenStatus::ok;
  out.fd = fd;
  out.name = relative;
  return out;
}

}  // namespace

OpenedFile open_below(const std::string& root, const std::string& relative) {
  return open_regular(root, relative);
}

bool mount_match(const StaticMount& mount, std::string_view path, std::string& relative) {
  if (!path.starts_with(mount.prefix)) return false;
  std::string_view rest = path.substr(mount.prefix.size());
  if (!rest.empty() && rest[0] != '/') return false;
  relative.assign(rest);
  return true;
}

std::string make_etag(const struct stat& st) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "\"%lx-%lx-%lx\"", static_cast<unsigned long>(st.st_ino),
                static_cast<unsigned long>(st.st_size),
                static_cast<unsigned long>(st.st_mtim.tv_sec) * 1000UL +
                    static_cast<unsigned long>(st.st_mtim.tv_nsec / 1000000));
  return buf;
}

bool not_modified(std::string_view if_none_match, std::string_view if_modified_since,
                  std::string_view etag, std::time_t mtime) {
  if (!if_none_match.empty()) {
    // Weak comparison: W/"x" matches "x".
    std::string_view bare = etag;
    size_t i = 0;
    while (i < if_none_match.size()) {
      while (i < if_none_match.size() &&
             (if_none_match[i] == ' ' || if_none_match[i] == ',' || if_none_match[i] == '\t'))
        ++i;
      if (i >= if_none_match.size()) break;
      if (if_none_match[i] == '*') return true;
      if (if_none_match.substr(i, 2) == "W/") i += 2;
      if (i >= if_none_match.size() || if_none_match[i] != '"') return false;
      size_t end = if_none_match.find('"', i + 1);
      if (end == std::string_view::npos) return false;
      if (if_none_match.substr(i, end + 1 - i) == bare) return true;
      i = end + 1;
    }
    return false;
  }
  if (!if_modified_since.empty()) {
    auto t = parse_http_date(if_modified_since);
    return t && mtime <= *t;
  }
  return false;
}

}  // namespace w2p::server

namespace w2p::server {

bool precondition_failed(std::string_view if_match, std::string_view if_unmodified_since,
                         std::string_view etag, std::time_t mtime) {
  if (!if_match.empty()) {
    std::size_t i = 0;
    while (i < if_match.size()) {
      while (i < if_match.size() &&
             (if_match[i] == ' ' || if_match[i] == ',' || if_match[i] == '\t'))
        ++i;
      if (i >= if_match.size()) break;
      if (if_match[i] == '*') return false;
      // Strong comparison: a weak tag never matches.
      bool weak = if_match.substr(i, 2) == "W/";
      if (weak) i += 2;
      if (i >= if_match.size() || if_match[i] != '"') return true;
      std::size_t end = if_match.find('"', i + 1);
      if (end == std::string_view::npos) return true;
      if (!weak && if_match.substr(i, end + 1 - i) == etag) return false;
      i = end + 1;
    }
    return true;
  }
  if (!if_unmodified_since.empty()) {
    auto t = parse_http_date(if_unmodified_since);
    return t && mtime > *t;  // an invalid date is ignored
  }
  return false;
}

int evaluate_conditionals(const Conditionals& c, bool get_or_head, std::string_view etag,
                          std::time_t mtime) {
  if (precondition_failed(c.if_match, c.if_unmodified_since, etag, mtime)) return 412;
  if (get_or_head && not_modified(c.if_none_match, c.if_modified_since, etag, mtime)) return 304;
  return 0;
}

}  // namespace w2p::server
