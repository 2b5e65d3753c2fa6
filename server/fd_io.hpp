#pragma once
// Whole reads and writes on blocking descriptors (files, the key helper's socket pair), retried
// after EINTR and short counts. Never for the I/O threads' non-blocking sockets.

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace w2p::server {

// Writes all `n` bytes; false on an error (errno says which) or a write of nothing.
inline bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly `n` bytes; false on an error or an end of file before them.
inline bool read_all(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Reads up to `n` bytes at `offset`, as many as the file has: the count (less than `n` only at
// its end), or -1 on an error.
inline ssize_t pread_all(int fd, void* data, std::size_t n, off_t offset) {
  char* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, p + done, n - done, offset + static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace w2p::server
