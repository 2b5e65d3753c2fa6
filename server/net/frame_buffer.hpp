#pragma once
// The bytes an HTTP/2 connection is about to write: frames nghttp2 serialised, and DATA frames
// whose payload is read from a file straight into it (NGHTTP2_DATA_FLAG_NO_COPY). Grown with
// realloc, which often extends in place, and never zero-filled: room made for a pread is not
// written twice.

#include <cstdlib>
#include <cstring>
#include <new>

namespace w2p::server {

class FrameBuffer {
 public:
  FrameBuffer() = default;
  FrameBuffer(const FrameBuffer&) = delete;
  FrameBuffer& operator=(const FrameBuffer&) = delete;
  ~FrameBuffer() { std::free(data_); }

  const char* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // Gives the memory back.
  void release() {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::size_t grown = capacity_ * 2 > n ? capacity_ * 2 : n;
    void* p = std::realloc(data_, grown);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    capacity_ = grown;
  }
  // `n` more bytes at the end, to be written by the caller (uninitialised).
  char* extend(std::size_t n) {
    reserve(size_ + n);
    char* at = data_ + size_;
    size_ += n;
    return at;
  }
  void append(const void* bytes, std::size_t n) { std::memcpy(extend(n), bytes, n); }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace w2p::server
