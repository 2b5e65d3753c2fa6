#include "embed/web2py_loader.hpp"

#include "embed/app_loader.hpp"
#include "embed/py_util.hpp"
#include "server/log.hpp"

namespace w2p::embed {
namespace {

py::module_ import_gluon_main(const std::string& root, bool lean = false, bool tls = false) {
  try {
    return py::module_::import("w2pserve.web2py").attr("import_gluon_main")(lean, tls);
  } catch (py::error_already_set& e) {
    std::string summary = e.what();
    e.restore();
    std::string tb = format_python_error();
    throw LoadError("--root " + root + ": cannot import web2py's gluon.main: " +
                        summary.substr(0, summary.find('\n')),
                    tb);
  }
}

}  // namespace

py::object load_web2py(const std::string& root, const Web2pyLoad& how) {
  py::module_ main = import_gluon_main(root, how.lean, how.tls);
  if (!py::hasattr(main, "wsgibase"))
    throw LoadError("--root " + root + ": gluon.main has no wsgibase (is this web2py?)", "");
  if (how.view_cache) {
    try {
      py::module_::import("w2pserve.web2py").attr("install_view_cache")();
    } catch (py::error_already_set& e) {
      // A gluon without compileapp.parse_template/compile2 (a stand-in, a very old web2py):
      // views are served as web2py does by itself.
      server::log::info(std::string("web2py views are not cached: ") +
                        std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
    }
  }
  return main.attr("wsgibase");
}

void save_admin_password(const std::string& root, const std::string& password, int port) {
  py::module_ main = import_gluon_main(root);
  try {
    main.attr("save_password")(password, port);
  } catch (py::error_already_set& e) {
    std::string summary = e.what();
    e.restore();
    std::string tb = format_python_error();
    throw LoadError("cannot save the admin password: " + summary.substr(0, summary.find('\n')), tb);
  }
}

}  // namespace w2p::embed
