#include "embed/wsgi_streams.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/log.hpp"

namespace w2p::embed {
namespace {

constexpr std::size_t kLineBlock = 8192;

// Reads of None, a negative size, or no size at all mean "everything".
std::int64_t size_arg(const py::object& size) {
  if (size.is_none()) return -1;
  if (!py::isinstance<py::int_>(size)) throw py::type_error("size must be an integer or None");
  return size.cast<std::int64_t>();
}

}  // namespace

std::size_t InputStream::peek(char* dst, std::size_t n) const {
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining()));
  if (n == 0) return 0;
  const auto& body = req_->body;
  if (body.fd < 0) {
    std::memcpy(dst, body.memory.data() + pos_, n);
    return n;
  }
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(body.fd, dst + done, n - done, static_cast<off_t>(pos_ + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw std::runtime_error("cannot read the spooled request body");
    done += static_cast<std::size_t>(r);
  }
  return done;
}

py::bytes InputStream::read(const py::object& size) {
  std::int64_t want = size_arg(size);
  std::uint64_t n = want < 0 ? remaining() : std::min<std::uint64_t>(want, remaining());
  if (n == 0) return py::bytes("", 0);
  PyObject* b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
  if (!b) throw py::error_already_set();
  auto obj = py::reinterpret_steal<py::bytes>(b);
  std::size_t got = peek(PyBytes_AS_STRING(b), n);
  pos_ += got;
  return obj;
}

py::bytes InputStream::readline(const py::object& size) {
  std::int64_t limit = size_arg(size);
  std::uint64_t cap = limit < 0 ? remaining() : std::min<std::uint64_t>(limit, remaining());
  if (cap == 0) return py::bytes("", 0);
  const auto& body = req_->body;
  if (body.fd < 0) {
    const char* start = body.memory.data() + pos_;
    const void* nl = std::memchr(start, '\n', cap);
    std::size_t n = nl ? static_cast<const char*>(nl) - start + 1 : cap;
    pos_ += n;
    return py::bytes(start, n);
  }
  std::string line;
  char block[kLineBlock];
  while (line.size() < cap) {
    std::size_t want = std::min<std::uint64_t>(kLineBlock, cap - line.size());
    std::size_t got = peek(block, want);
    if (got == 0) break;
    const void* nl = std::memchr(block, '\n', got);
    std::size_t take = nl ? static_cast<const char*>(nl) - block + 1 : got;
    line.append(block, take);
    pos_ += take;
    if (nl) break;
  }
  return py::bytes(line);
}

py::list InputStream::readlines(const py::object& hint) {
  std::int64_t limit = size_arg(hint);
  py::list lines;
  std::uint64_t total = 0;
  while (remaining() > 0) {
    py::bytes line = readline(py::none());
    total += static_cast<std::uint64_t>(PyBytes_GET_SIZE(line.ptr()));
    lines.append(std::move(line));
    if (limit > 0 && total >= static_cast<std::uint64_t>(limit)) break;
  }
  return lines;
}

py::bytes InputStream::next() {
  if (remaining() == 0) throw py::stop_iteration();
  return readline(py::none());
}

void ErrorStream::write(const py::object& text) {
  if (py::isinstance<py::str>(text)) {
    pending_ += text.cast<std::string>();
  } else if (py::isinstance<py::bytes>(text)) {
    pending_ += text.cast<std::string>();
  } else {
    throw py::type_error("wsgi.errors.write() takes a str");
  }
  std::size_t nl;
  while ((nl = pending_.find('\n')) != std::string::npos) {
    server::log::error("wsgi.errors: " + pending_.substr(0, nl));
    pending_.erase(0, nl + 1);
  }
}

void ErrorStream::writelines(const py::iterable& lines) {
  for (auto line : lines) write(py::reinterpret_borrow<py::object>(line));
}

void ErrorStream::flush() {
  if (!pending_.empty()) {
    server::log::error("wsgi.errors: " + pending_);
    pending_.clear();
  }
}

py::object FileWrapper::next() {
  py::object data = filelike_.attr("read")(blksize_);
  if (!py::isinstance<py::bytes>(data) || PyBytes_GET_SIZE(data.ptr()) == 0)
    throw py::stop_iteration();
  return data;
}

void FileWrapper::close() {
  if (py::hasattr(filelike_, "close")) filelike_.attr("close")();
}

void register_stream_types(py::module_& m) {
  py::class_<InputStream>(m, "InputStream")
      .def("read", &InputStream::read, py::arg("size") = py::none())
      .def("readline", &InputStream::readline, py::arg("size") = py::none())
      .def("readlines", &InputStream::readlines, py::arg("hint") = py::none())
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", &InputStream::next);
  py::class_<ErrorStream>(m, "ErrorStream")
      .def("write", &ErrorStream::write)
      .def("writelines", &ErrorStream::writelines)
      .def("flush", &ErrorStream::flush);
  py::class_<FileWrapper>(m, "FileWrapper")
      .def(py::init<py::object, py::ssize_t>(), py::arg("filelike"), py::arg("blksize") = 8192)
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", &FileWrapper::next)
      .def("close", &FileWrapper::close)
      .def_property_readonly("filelike", &FileWrapper::filelike);
}

}  // namespace w2p::embed
