#pragma once
// Loading web2py the way handlers/wsgihandler.py does, and its admin password helper.

#include <pybind11/pybind11.h>

#include <string>

namespace w2p::embed {

namespace py = pybind11;

// Requires the GIL, the process's working directory at `root`, and `root` first on sys.path.
// Sets global_settings.web2py_runtime_handler, imports gluon.main (without what a server never
// uses: python/w2pserve/web2py.py) and returns wsgibase; with `view_cache`, compiled views are
// kept in memory. Throws LoadError with a one-line reason.
struct Web2pyLoad {
  bool view_cache = false;  // --web2py-compile cache
  bool lean = false;        // --lean
  bool tls = false;         // the server speaks TLS (OpenSSL is mapped anyway)
};
py::object load_web2py(const std::string& root, const Web2pyLoad& how = {});

// Writes parameters_<port>.py in `root` through gluon.main.save_password. Requires the GIL.
// Throws LoadError.
void save_admin_password(const std::string& root, const std::string& password, int port);

}  // namespace w2p::embed
