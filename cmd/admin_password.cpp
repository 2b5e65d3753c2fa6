// `w2pserve --root DIR set-admin-password [--port N]`: web2py's admin password, written by
// web2py's own gluon.main.save_password to parameters_<port>.py, as the service account.

#include <unistd.h>

#include <cstdio>

#include "cmd/commands.hpp"
#include "embed/app_loader.hpp"
#include "embed/interpreter.hpp"
#include "embed/web2py_loader.hpp"
#include "server/ops/password_input.hpp"

namespace w2p::cmd {

int set_admin_password(const server::Options& options) {
  // It runs web2py's code: as the service account, like the server.
  if (std::string err = become_service_account(options); !err.empty()) return fail(err);
  int port = options.admin_port    ? options.admin_port
             : options.public_port ? options.public_port
                                   : options.listen.front().port;
  std::string error;
  auto password = server::read_password(error);
  if (!password) return fail(error);
  if (::chdir(options.root.c_str()) != 0) return fail("cannot enter " + options.root);
  std::vector<std::string> path{options.root};
  path.insert(path.end(), options.pythonpath.begin(), options.pythonpath.end());
  std::string message, traceback;
  try {
    embed::Interpreter interpreter({path, embed::find_python_dir()});
    interpreter.with_gil([&] {
      try {
        embed::save_admin_password(options.root, *password, port);
      } catch (const embed::LoadError& e) {
        message = e.what();
        traceback = e.traceback;
      }
    });
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (!message.empty()) {
    if (!traceback.empty()) std::fprintf(stderr, "%s\n", traceback.c_str());
    return fail(message);
  }
  std::printf(
      "admin password saved in %s/parameters_%d.py (admin opens from 127.0.0.1, or over "
      "HTTPS, on port %d)\n",
      options.root.c_str(), port, port);
  return 0;
}

}  // namespace w2p::cmd
