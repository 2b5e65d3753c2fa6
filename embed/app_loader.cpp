#include "embed/app_loader.hpp"

#include "embed/py_util.hpp"

namespace w2p::embed {

py::object load_wsgi_app(const std::string& spec) {
  size_t colon = spec.find(':');
  std::string module = spec.substr(0, colon);
  std::string attr = colon == std::string::npos ? "application" : spec.substr(colon + 1);
  if (module.empty() || attr.empty())
    throw LoadError("--app " + spec + ": write module:callable, e.g. myapp:application", "");
  py::object obj;
  try {
    obj = py::module_::import(module.c_str());
  } catch (py::error_already_set& e) {
    std::string summary = e.what();
    e.restore();
    std::string tb = format_python_error();
    std::string first = summary.substr(0, summary.find('\n'));
    throw LoadError("cannot import '" + module + "' for --app " + spec + ": " + first, tb);
  }
  size_t start = 0;
  while (start <= attr.size()) {
    size_t dot = attr.find('.', start);
    std::string part =
        attr.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!py::hasattr(obj, part.c_str()))
      throw LoadError("--app " + spec + ": module '" + module + "' has no attribute '" + attr + "'",
                      "");
    obj = obj.attr(part.c_str());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!PyCallable_Check(obj.ptr()))
    throw LoadError("--app " + spec + ": '" + attr +
                        "' is not callable (a WSGI application is a "
                        "callable taking environ and start_response)",
                    "");
  return obj;
}

}  // namespace w2p::embed
