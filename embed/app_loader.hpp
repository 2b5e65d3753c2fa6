#pragma once
// Importing the WSGI application named on the command line.

#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

namespace w2p::embed {

namespace py = pybind11;

// Raised when the application cannot be loaded: `what()` is a one-line reason, `traceback` the
// Python traceback (may be empty).
class LoadError : public std::runtime_error {
 public:
  LoadError(const std::string& reason, std::string tb)
      : std::runtime_error(reason), traceback(std::move(tb)) {}
  std::string traceback;
};

// "package.module:callable" (the callable may be a dotted attribute path). Requires the GIL.
py::object load_wsgi_app(const std::string& spec);

}  // namespace w2p::embed
