#include "server/static_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "server/http_date.hpp"

namespace w2p::server {
namespace {

std::atomic<bool> g_openat2_missing{false};

// openat2 with RESOLVE_BENEATH makes the kernel refuse any path ("..", absolute or relative
// symlinks) that would resolve outside `dirfd`, in one system call.
int open_beneath(const std::string& root, const std::string& relative) {
  if (!g_openat2_missing.load(std::memory_order_relaxed)) {
    int dirfd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return -1;
    struct open_how how {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const char* rel = relative.empty() ? "." : relative.c_str();
    long fd = ::syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    int saved = errno;
    ::close(dirfd);
    if (fd >= 0 || saved != ENOSYS) {
      errno = saved;
      return static_cast<int>(fd);
    }
    g_openat2_missing = true;
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

OpenedFile open_regular(const std::string& root, const std::string& relative, bool allow_index) {
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
    if (!allow_index) return out;
    return open_regular(root, relative.empty() ? "index.html" : relative + "/index.html", false);
  }
  if (!S_ISREG(out.st.st_mode)) {
    ::close(fd);
    out.status = OpenStatus::forbidden;
    return out;
  }
  // The file was opened non-blocking so a FIFO could not hang the I/O thread; reads of regular
  // files ignore the flag, but sendfile does not need it either: clear it.
  ::fcntl(fd, F_SETFL, O_RDONLY);
  out.status = OpenStatus::ok;
  out.fd = fd;
  out.name = relative;
  return out;
}

}  // namespace

OpenedFile open_below(const std::string& root, const std::string& relative) {
  return open_regular(root, relative, true);
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
      while (i < if_none_match.size() && (if_none_match[i] == ' ' || if_none_match[i] == ',' ||
                                          if_none_match[i] == '\t'))
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
