#pragma once
// The file-like objects of the WSGI environ: wsgi.input (the request body, from memory or a
// spooled file), wsgi.errors (to the error log) and wsgi.file_wrapper (a file the server sends
// natively when the application returns it). All methods run with the GIL held.

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "server/app_interface.hpp"

namespace w2p::embed {

namespace py = pybind11;

class InputStream {
 public:
  explicit InputStream(std::shared_ptr<server::AppRequest> request) : req_(std::move(request)) {}
  py::bytes read(const py::object& size);
  py::bytes readline(const py::object& size);
  py::list readlines(const py::object& hint);
  py::bytes next();  // iteration: a line, StopIteration at the end

 private:
  // Copies up to n bytes at pos_ into dst without moving pos_.
  std::size_t peek(char* dst, std::size_t n) const;
  std::uint64_t remaining() const { return req_->body.length - pos_; }

  std::shared_ptr<server::AppRequest> req_;
  std::uint64_t pos_ = 0;
};

class ErrorStream {
 public:
  void write(const py::object& text);
  void writelines(const py::iterable& lines);
  void flush();

 private:
  std::string pending_;
};

class FileWrapper {
 public:
  FileWrapper(py::object filelike, py::ssize_t blksize)
      : filelike_(std::move(filelike)), blksize_(blksize) {}
  py::object next();
  void close();
  const py::object& filelike() const { return filelike_; }
  py::ssize_t blksize() const { return blksize_; }

 private:
  py::object filelike_;
  py::ssize_t blksize_;
};

// Adds InputStream, ErrorStream and FileWrapper to the `_w2pserve` module.
void register_stream_types(py::module_& m);

}  // namespace w2p::embed
